package processors

import (
	"testing"
	"time"
)

// The example of Beats' syslog documentation, field by field.
func TestSyslogDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - syslog:
      field: message
`)
	m, err := process(t, c, `{"message":"<165>1 2022-01-11T22:14:15.003Z mymachine.example.com eventslog 1024 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"] this is the message"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@timestamp":"2022-01-11T22:14:15.003Z","log":{"syslog":{"appname":"eventslog","facility":{"code":20,"name":"local4"},"hostname":"mymachine.example.com","msgid":"ID47","priority":165,"procid":"1024","severity":{"code":5,"name":"Notice"},"structured_data":{"examplePriority@32473":{"class":"high"},"exampleSDID@32473":{"eventID":"1011","eventSource":"Application","iut":"3"}},"version":1}},"message":"this is the message"}`
	if js(m) != want {
		t.Errorf("got  %s\nwant %s", js(m), want)
	}
}

// RFC 3164's own example, with a fixed-offset timezone; the year is the
// current one.
func TestSyslogRFC3164(t *testing.T) {
	defer func() { localNow = time.Now }()
	localNow = func() time.Time { return time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) }
	c := chainFromYAML(t, `
processors:
  - syslog: {timezone: "+0200", format: rfc3164}
`)
	m, err := process(t, c, `{"message":"<34>Oct 11 22:14:15 mymachine su[210]: 'su root' failed for lonvick on /dev/pts/8"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"@timestamp": "2026-10-11T20:14:15Z", "log.syslog.priority": 34,
		"log.syslog.facility.name": "security/authorization", "log.syslog.severity.name": "Critical",
		"log.syslog.hostname": "mymachine", "log.syslog.appname": "su", "log.syslog.procid": "210",
		"message": "'su root' failed for lonvick on /dev/pts/8", "log.syslog.version": nil})
	// December in November: last year's.
	m, _ = process(t, c, `{"message":"<13>Dec 31 23:59:59 h app: x"}`)
	wantFields(t, m, map[string]any{"@timestamp": "2025-12-31T21:59:59Z"})
}

func TestSyslogFailures(t *testing.T) {
	c := chainFromYAML(t, "processors: [{syslog: {}}]")
	for _, bad := range []string{`not syslog`, `<999>1 - - - - - -`, `<13>1 2022-13-99 h a p m -`, `<13>1 - h a p m [unterminated x="1"`} {
		m, err := process(t, c, `{"message":`+js(bad)+`}`)
		if err == nil {
			t.Errorf("%q parsed", bad)
			continue
		}
		wantFields(t, m, map[string]any{"message": bad, "log": nil})
	}
	keep := chainFromYAML(t, "processors: [{syslog: {overwrite_keys: false, ignore_missing: true}}]")
	m, _ := process(t, keep, `{"@timestamp":"t","message":"<13>1 2022-01-11T22:14:15Z h a - - - hello"}`)
	wantFields(t, m, map[string]any{"@timestamp": "t", "message": "<13>1 2022-01-11T22:14:15Z h a - - - hello", "log.syslog.appname": "a", "log.syslog.procid": nil})
	wantConfigError(t, `processors: [{syslog: {timezone: Mars/Olympus}}]`, "(syslog)", "timezone")
	wantConfigError(t, `processors: [{syslog: {format: rfc1234}}]`, "(syslog)", "format")
}

func FuzzSyslog(f *testing.F) {
	f.Add("<165>1 2022-01-11T22:14:15.003Z h a 1 ID [x@1 a=\"b\\\"c\"] msg")
	f.Add("<34>Oct 11 22:14:15 mymachine su: 'su root' failed")
	now := time.Now()
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseSyslog(s, "auto", time.UTC, now) })
}
