#!/usr/bin/python3
"""Calculator client for the thrift captures: client.py PORT socket|framed [nonstrict]."""
import sys
sys.path.insert(0, sys.argv[4] if len(sys.argv) > 4 else 'gen-py')
from calc import Calculator
from calc.ttypes import InvalidOperation, Operation, Sample, Work
from thrift.Thrift import TApplicationException
from thrift.transport import TSocket, TTransport
from thrift.protocol import TBinaryProtocol

port, transport = int(sys.argv[1]), sys.argv[2]
strict = not (len(sys.argv) > 3 and sys.argv[3] == 'nonstrict')
sock = TSocket.TSocket('127.0.0.1', port)
t = TTransport.TFramedTransport(sock) if transport == 'framed' else TTransport.TBufferedTransport(sock)
proto = TBinaryProtocol.TBinaryProtocol(t, strictRead=False, strictWrite=strict)
c = Calculator.Client(proto)
t.open()

c.ping()
print('add', c.add(1, 2))
print('calc', c.calculate(1, Work(num1=7, num2=6, op=Operation.MULTIPLY, comment='times')))
try:
    c.calculate(2, Work(num1=1, num2=0, op=Operation.DIVIDE))
except InvalidOperation as e:
    print('ouch', e.why)
print('echo', c.echo('héllo "thrift"'))
c.zip(5)
if strict:
    print('rt', c.roundtrip(Sample(flag=True, b=-7, small=-300, medium=123456, big=-9876543210,
                                   ratio=0.25, name='sample', blob=b'\x00\x01\xfe\xff',
                                   nums=list(range(20)), tags={'a', 'b'}, counts={'x': 1},
                                   work=Work(num1=1, num2=2, op=Operation.ADD))))
    print('names', c.names({'k1': 1, 'k2': 2}, {3, 1}))
    print('big', c.big(2**40, 1.5, False, 127))
    print('echo long', len(c.echo('x' * 5000)))
    try:
        c.fail('boom')
    except TApplicationException as e:
        print('app exception', e.type, e.message)
t.close()
