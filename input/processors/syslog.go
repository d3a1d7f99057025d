package processors

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// syslog: {field: message, format: auto|rfc3164|rfc5424, timezone: Local,
// overwrite_keys: true, ignore_missing: false, ignore_failure: false, tag}.
// Parses a syslog line into log.syslog.* (priority, facility, severity,
// hostname, appname, procid, msgid, version, structured_data), @timestamp
// and message, as Beats' syslog processor does.

func init() { register("syslog", newSyslog) }

var syslogSeverities = []string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

var syslogFacilities = []string{"kernel", "user-level", "mail", "system", "security/authorization", "syslogd",
	"line printer", "network news", "UUCP", "clock", "security/authorization", "FTP daemon", "NTP", "log audit",
	"log alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

type syslogMsg struct {
	priority                         int
	version                          int // 0 for RFC 3164
	ts                               time.Time
	hasTS                            bool
	hostname, appname, procid, msgid string
	sd                               map[string]any
	msg                              string
}

func newSyslog(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "field", "format", "timezone", "overwrite_keys", "ignore_missing", "ignore_failure", "tag")
	if err != nil {
		return nil, err
	}
	field, err := stringOpt(cfg, "field", "message")
	if err != nil || field == "" {
		return nil, fmt.Errorf("field: required, a field name")
	}
	format, err := stringOpt(cfg, "format", "auto")
	if err != nil {
		return nil, err
	}
	switch format {
	case "auto", "rfc3164", "rfc5424":
	default:
		return nil, fmt.Errorf("format: %q is not one of auto, rfc3164, rfc5424", format)
	}
	tzName, err := stringOpt(cfg, "timezone", "Local")
	if err != nil {
		return nil, err
	}
	loc, err := parseTimezone(tzName)
	if err != nil {
		return nil, fmt.Errorf("timezone: %v", err)
	}
	overwrite, err := boolOpt(cfg, "overwrite_keys", true)
	if err != nil {
		return nil, err
	}
	if _, err := stringOpt(cfg, "tag", ""); err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		line, ok, err := o.str(doc, field)
		if !ok {
			return o.fail(err)
		}
		m, err := parseSyslog(line, format, loc, localNow())
		if err != nil {
			return o.fail(fmt.Errorf("error parsing syslog message: %v", err))
		}
		put := func(k string, val any) { _ = putUnlessSet(doc, k, val, overwrite) }
		sl := map[string]any{
			"priority": m.priority,
			"facility": map[string]any{"code": m.priority / 8, "name": syslogFacilities[m.priority/8]},
			"severity": map[string]any{"code": m.priority % 8, "name": syslogSeverities[m.priority%8]},
		}
		for k, s := range map[string]string{"hostname": m.hostname, "appname": m.appname, "procid": m.procid, "msgid": m.msgid} {
			if s != "" {
				sl[k] = s
			}
		}
		if m.version > 0 {
			sl["version"] = m.version
		}
		if len(m.sd) > 0 {
			sl["structured_data"] = m.sd
		}
		for k, val := range sl {
			put("log.syslog."+k, val)
		}
		if m.hasTS {
			put("@timestamp", m.ts.UTC().Format(time.RFC3339Nano))
		}
		if m.msg != "" {
			// The parsed line is replaced by its message, unless
			// overwrite_keys is off.
			put("message", m.msg)
		}
		return false, nil
	}, nil
}

func parseTimezone(s string) (*time.Location, error) {
	if s == "" || s == "Local" {
		return time.Local, nil
	}
	if len(s) == 5 && (s[0] == '+' || s[0] == '-') {
		h, err1 := strconv.Atoi(s[1:3])
		m, err2 := strconv.Atoi(s[3:])
		if err1 == nil && err2 == nil && h < 24 && m < 60 {
			off := h*3600 + m*60
			if s[0] == '-' {
				off = -off
			}
			return time.FixedZone(s, off), nil
		}
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("%q is neither an IANA zone nor an offset like +0200", s)
	}
	return loc, nil
}

func parseSyslog(line, format string, loc *time.Location, now time.Time) (*syslogMsg, error) {
	m := &syslogMsg{}
	if !strings.HasPrefix(line, "<") {
		return nil, fmt.Errorf("no <priority> at the start")
	}
	end := strings.IndexByte(line, '>')
	if end < 2 || end > 4 {
		return nil, fmt.Errorf("bad <priority>")
	}
	pri, err := strconv.Atoi(line[1:end])
	if err != nil || pri < 0 || pri > 191 {
		return nil, fmt.Errorf("priority %q is not 0 to 191", line[1:end])
	}
	m.priority = pri
	rest := line[end+1:]
	is5424 := len(rest) >= 2 && rest[0] >= '1' && rest[0] <= '9' && (rest[1] == ' ' || (rest[1] >= '0' && rest[1] <= '9'))
	switch {
	case format == "rfc5424" || (format == "auto" && is5424):
		return m, parse5424(m, rest)
	default:
		return m, parse3164(m, rest, loc, now)
	}
}

// nextField cuts the next space-separated field; "-" is RFC 5424's nil.
func nextField(s string) (field, rest string, ok bool) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, "", s != ""
	}
	return s[:i], s[i+1:], true
}

func nilValue(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func parse5424(m *syslogMsg, s string) error {
	ver, s, ok := nextField(s)
	v, err := strconv.Atoi(ver)
	if !ok || err != nil || v < 1 || v > 999 {
		return fmt.Errorf("bad version %q", ver)
	}
	m.version = v
	var ts string
	if ts, s, ok = nextField(s); !ok {
		return fmt.Errorf("no timestamp")
	}
	if ts != "-" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return fmt.Errorf("bad timestamp %q", ts)
		}
		m.ts, m.hasTS = t, true
	}
	for _, dst := range []*string{&m.hostname, &m.appname, &m.procid, &m.msgid} {
		var f string
		if f, s, ok = nextField(s); !ok {
			return fmt.Errorf("header ends early")
		}
		*dst = nilValue(f)
	}
	if s == "" {
		return fmt.Errorf("no structured data")
	}
	if strings.HasPrefix(s, "-") {
		s = strings.TrimPrefix(s[1:], " ")
	} else {
		sd, rest, err := parseSD(s)
		if err != nil {
			return err
		}
		m.sd, s = sd, strings.TrimPrefix(rest, " ")
	}
	m.msg = strings.TrimPrefix(s, "\ufeff")
	return nil
}

// parseSD reads [id k="v" ...]... with RFC 5424's escapes.
func parseSD(s string) (map[string]any, string, error) {
	sd := map[string]any{}
	for strings.HasPrefix(s, "[") {
		s = s[1:]
		i := strings.IndexAny(s, " ]")
		if i <= 0 {
			return nil, "", fmt.Errorf("bad structured data id")
		}
		id := s[:i]
		s = s[i:]
		params := map[string]any{}
		for strings.HasPrefix(s, " ") {
			s = strings.TrimLeft(s, " ")
			eq := strings.Index(s, `="`)
			if eq <= 0 {
				return nil, "", fmt.Errorf("bad structured data parameter in %s", id)
			}
			name := s[:eq]
			s = s[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(s); j++ {
				c := s[j]
				if c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\' || s[j+1] == ']') {
					val.WriteByte(s[j+1])
					j++
					continue
				}
				if c == '"' {
					s = s[j+1:]
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, "", fmt.Errorf("unterminated value of %s in %s", name, id)
			}
			params[name] = val.String()
		}
		if !strings.HasPrefix(s, "]") {
			return nil, "", fmt.Errorf("structured data element %s not closed", id)
		}
		s = s[1:]
		sd[id] = params
	}
	return sd, s, nil
}

// parse3164 reads "Mmm dd hh:mm:ss host tag[pid]: msg". The year is the
// current one (last year when that would put the line in the future).
func parse3164(m *syslogMsg, s string, loc *time.Location, now time.Time) error {
	if len(s) >= 15 {
		if t, err := time.ParseInLocation(time.Stamp, s[:15], loc); err == nil {
			nowIn := now.In(loc)
			t = time.Date(nowIn.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
			if t.After(nowIn.Add(24 * time.Hour)) {
				t = t.AddDate(-1, 0, 0)
			}
			m.ts, m.hasTS = t, true
			s = strings.TrimPrefix(s[15:], " ")
		}
	}
	if !m.hasTS {
		// An RFC 3339 stamp, as rsyslog writes with its default template.
		if f, rest, ok := nextField(s); ok {
			if t, err := time.Parse(time.RFC3339Nano, f); err == nil {
				m.ts, m.hasTS, s = t, true, rest
			}
		}
	}
	if !m.hasTS {
		return fmt.Errorf("no timestamp")
	}
	// host, then "tag[pid]:" or "tag:"
	if f, rest, ok := nextField(s); ok && !strings.HasSuffix(f, ":") {
		m.hostname, s = f, rest
	}
	if f, rest, ok := nextField(s); ok && strings.HasSuffix(f, ":") {
		tag := strings.TrimSuffix(f, ":")
		if i := strings.IndexByte(tag, '['); i > 0 && strings.HasSuffix(tag, "]") {
			m.procid = tag[i+1 : len(tag)-1]
			tag = tag[:i]
		}
		m.appname, s = tag, rest
	}
	m.msg = s
	return nil
}
