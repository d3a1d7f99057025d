package processors

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

func TestAddID(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - add_id: ~
`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		m, err := process(t, c, `{"type":"dns"}`)
		if err != nil {
			t.Fatal(err)
		}
		id := c.DocID()
		if len(id) != 20 || seen[id] {
			t.Fatalf("id %q (len %d, repeated %v)", id, len(id), seen[id])
		}
		if _, err := base64.RawURLEncoding.DecodeString(id); err != nil {
			t.Fatalf("id %q not URL-safe base64", id)
		}
		seen[id] = true
		if _, ok := m["@metadata"]; ok {
			t.Fatal("@metadata published")
		}
	}
	field := chainFromYAML(t, `
processors:
  - add_id: {target_field: event.id}
`)
	m, _ := process(t, field, `{}`)
	if id, _ := getPath(m, "event.id"); len(fmt.Sprint(id)) != 20 || field.DocID() != "" {
		t.Errorf("event.id %v, DocID %q", id, field.DocID())
	}
	// The clock going back does not repeat an ID.
	g := newESIDGen()
	t0 := time.Unix(1_800_000_000, 0)
	g.now = func() time.Time { return t0 }
	a := g.next()
	g.now = func() time.Time { return t0.Add(-time.Hour) }
	if b := g.next(); a == b {
		t.Error("same id after the clock stepped back")
	}
	wantConfigError(t, `processors: [{add_id: {type: uuid}}]`, "(add_id)", `type: "uuid"`)
}

func TestAddLocale(t *testing.T) {
	defer func() { localNow = time.Now }()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no zoneinfo:", err)
	}
	localNow = func() time.Time { return time.Date(2026, 1, 15, 12, 0, 0, 0, ny) }
	c := chainFromYAML(t, `
processors:
  - add_locale: ~
  - add_locale: {format: abbreviation}
  - copy_fields: {fields: [{from: event.timezone, to: abbrev}]}
`)
	m, _ := process(t, c, `{}`)
	wantFields(t, m, map[string]any{"event.timezone": "EST", "abbrev": "EST"})
	off := chainFromYAML(t, "processors: [{add_locale: {format: offset}}]")
	m, _ = process(t, off, `{}`)
	wantFields(t, m, map[string]any{"event.timezone": "-05:00"})
	localNow = func() time.Time { return time.Date(2026, 7, 1, 0, 0, 0, 0, time.FixedZone("IST", 5*3600+1800)) }
	m, _ = process(t, off, `{}`)
	wantFields(t, m, map[string]any{"event.timezone": "+05:30"})
	wantConfigError(t, `processors: [{add_locale: {format: name}}]`, "(add_locale)", "format")
}

func TestFingerprint(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - fingerprint:
      fields: ["source.ip", "destination.ip", "network.transport"]
      target_field: "fingerprint"
`)
	m, err := process(t, c, echoDoc)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("|destination.ip|10.99.0.2|network.transport|icmp|source.ip|10.99.0.1|"))
	wantFields(t, m, map[string]any{"fingerprint": hex.EncodeToString(sum[:])})

	others := chainFromYAML(t, `
processors:
  - fingerprint: {fields: [status, source.bytes], method: md5, encoding: base64, target_field: fp.md5}
  - fingerprint: {fields: [status], method: xxhash, target_field: fp.xx}
  - fingerprint: {fields: [status, nope], ignore_missing: true, target_field: fp.sparse}
`)
	m, _ = process(t, others, echoDoc)
	md := md5.Sum([]byte("|source.bytes|56|status|OK|"))
	xx := xxhash.Sum64String("|status|OK|")
	sp := sha256.Sum256([]byte("|status|OK|"))
	wantFields(t, m, map[string]any{"fp.md5": base64.StdEncoding.EncodeToString(md[:]),
		"fp.xx": fmt.Sprintf("%016x", xx), "fp.sparse": hex.EncodeToString(sp[:])})

	_, err = process(t, chainFromYAML(t, "processors: [{fingerprint: {fields: [icmp]}}]"), echoDoc)
	if err == nil {
		t.Error("object field hashed")
	}
	_, err = process(t, chainFromYAML(t, "processors: [{fingerprint: {fields: [nope]}}]"), echoDoc)
	if err == nil {
		t.Error("missing field hashed")
	}
	wantConfigError(t, `processors: [{fingerprint: {fields: [a], method: crc32}}]`, "(fingerprint)", "method")
}

func TestRateLimit(t *testing.T) {
	// Beats' documentation example: 3 events a minute per source.ip.
	lim, err := parseRateLimit(map[string]any{"fields": []any{"source.ip"}, "limit": "3/m"})
	if err != nil {
		t.Fatal(err)
	}
	rl := lim.run
	now := time.Unix(1_800_000_000, 0)
	lim.now = func() time.Time { return now }
	kept := map[string]int{}
	for i := 0; i < 10; i++ {
		for _, ip := range []string{"10.0.0.1", "10.0.0.2"} {
			drop, _ := rl(map[string]any{"source": map[string]any{"ip": ip}})
			if !drop {
				kept[ip]++
			}
		}
	}
	if kept["10.0.0.1"] != 3 || kept["10.0.0.2"] != 3 {
		t.Errorf("kept %v, want 3 each", kept)
	}
	now = now.Add(20 * time.Second) // one token back at 3/m
	if drop, _ := rl(map[string]any{"source": map[string]any{"ip": "10.0.0.1"}}); drop {
		t.Error("refilled token not used")
	}
	if drop, _ := rl(map[string]any{"source": map[string]any{"ip": "10.0.0.1"}}); !drop {
		t.Error("second event after 20s kept")
	}
	burst := chainFromYAML(t, `
processors:
  - rate_limit: {limit: "2/s", algorithm: {token_bucket: {burst_multiplier: 2.5}}}
`)
	n := 0
	for i := 0; i < 20; i++ {
		if m, _ := process(t, burst, `{}`); m != nil {
			n++
		}
	}
	if n != 5 {
		t.Errorf("burst kept %d, want 5", n)
	}
	wantConfigError(t, `processors: [{rate_limit: {limit: "10/d"}}]`, "(rate_limit)", "limit")
	wantConfigError(t, `processors: [{rate_limit: {limit: "10/s", algorithm: {leaky_bucket: {}}}}]`, "(rate_limit)", "algorithm")
}

// The examples of Beats' rate_limit documentation, the last with the
// dotted `if.equals...` shorthand.
func TestRateLimitDocExamples(t *testing.T) {
	for _, y := range []string{`
processors:
- rate_limit:
   limit: "10000/m"
`, `
processors:
- rate_limit:
   fields:
   - "cloudfoundry.org.name"
   limit: "400/s"
`, `
processors:
- if.equals.cloudfoundry.org.name: "acme"
  then:
  - rate_limit:
      limit: "500/s"
`} {
		c := chainFromYAML(t, y)
		kept := map[string]int{}
		for i := 0; i < 1000; i++ {
			for _, org := range []string{"acme", "other"} {
				if m, _ := process(t, c, `{"cloudfoundry":{"org":{"name":"`+org+`"}}}`); m != nil {
					kept[org]++
				}
			}
		}
		// Within well under a second: the burst is the limit per unit.
		switch {
		case strings.Contains(y, "10000/m"):
			if kept["acme"]+kept["other"] != 2000 {
				t.Errorf("10000/m kept %v", kept)
			}
		case strings.Contains(y, "400/s"):
			if kept["acme"] < 400 || kept["acme"] > 450 || kept["other"] < 400 || kept["other"] > 450 {
				t.Errorf("400/s per org kept %v", kept)
			}
		default:
			if kept["acme"] < 500 || kept["acme"] > 600 || kept["other"] != 1000 {
				t.Errorf("if acme then 500/s kept %v", kept)
			}
		}
	}
	c := chainFromYAML(t, "processors: [{add_tags: {tags: [x], when.equals.status: OK}}]")
	m, _ := process(t, c, echoDoc)
	wantFields(t, m, map[string]any{"tags": []any{"x"}})
}
