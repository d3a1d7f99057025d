// Test service for the thrift captures (_dev/capture/thrift.sh).
namespace py calc

enum Operation {
  ADD = 1,
  SUBTRACT = 2,
  MULTIPLY = 3,
  DIVIDE = 4
}

struct Work {
  1: i32 num1 = 0,
  2: i32 num2,
  3: Operation op,
  4: optional string comment,
}

exception InvalidOperation {
  1: i32 whatOp,
  2: string why
}

struct Sample {
  1: bool flag,
  2: i8 b,
  3: i16 small,
  4: i32 medium,
  5: i64 big,
  6: double ratio,
  7: string name,
  8: binary blob,
  9: list<i32> nums,
  10: set<string> tags,
  11: map<string, i64> counts,
  12: Work work,
}

service Calculator {
  void ping(),
  i32 add(1: i32 num1, 2: i32 num2),
  i32 calculate(1: i32 logid, 2: Work w) throws (1: InvalidOperation ouch),
  string echo(1: string s),
  Sample roundtrip(1: Sample s),
  list<string> names(1: map<string, i32> m, 2: set<i16> ids),
  i64 big(1: i64 x, 2: double d, 3: bool b, 4: i8 y),
  string fail(1: string why),
  oneway void zip(1: i32 n)
}
