// Package http decodes HTTP/1.x over TCP into request/response transactions
// with the fields of Packetbeat's http data stream (http.*, url.*,
// user_agent.*, and the root method/query/path/status summary).
//
// Files: config.go (options and defaults), parser.go (incremental message
// parser over byte slices), transactions.go (per-connection pairing, gaps,
// timeouts), event.go (the ECS document), body.go (content decoding and
// parameter hiding).
package http

import (
	"fmt"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Packetbeat's defaults.
var (
	defaultPorts = []uint16{80, 8080, 8000, 5000, 8002}
)

const (
	defaultTimeout = 10 * time.Second
	// defaultMaxMessageSize is Packetbeat's tcp.TCPMaxDataInStream.
	defaultMaxMessageSize = 10 << 20
	// maxHeaderBytes bounds a start line plus header block. Real servers
	// refuse far less (nginx: 4 x 8 KiB); anything bigger is garbage or an
	// attack, and waiting for it would pin up to max_message_size per stream.
	maxHeaderBytes = 64 << 10
	// maxLineBytes bounds a chunk-size line or a trailer line.
	maxLineBytes = 4 << 10
)

// Config holds the http-specific options (the common ones live in
// protocol.Common).
type Config struct {
	// SendHeaders lists header names (any case) written to
	// http.{request,response}.headers besides content-length/content-type.
	SendHeaders protocol.StringList `yaml:"send_headers"`
	// SendAllHeaders writes every header.
	SendAllHeaders bool `yaml:"send_all_headers"`
	// RedactHeaders lists headers whose value is replaced by "REDACTED".
	RedactHeaders protocol.StringList `yaml:"redact_headers"`
	// RedactAuthorization replaces Authorization and Proxy-Authorization
	// values by "*" in headers and in the raw request text.
	RedactAuthorization bool `yaml:"redact_authorization"`
	// HideKeywords lists query/form parameter names whose values become
	// "xxxxx" in url.query.
	HideKeywords protocol.StringList `yaml:"hide_keywords"`
	// SplitCookie writes Cookie/Set-Cookie as an object of name -> value.
	SplitCookie bool `yaml:"split_cookie"`
	// RealIPHeader names the header (e.g. X-Forwarded-For) whose first
	// address becomes network.forwarded_ip.
	RealIPHeader string `yaml:"real_ip_header"`
	// Include*BodyFor list Content-Type substrings whose bodies are kept in
	// http.*.body.content.
	IncludeBodyFor         protocol.StringList `yaml:"include_body_for"`
	IncludeRequestBodyFor  protocol.StringList `yaml:"include_request_body_for"`
	IncludeResponseBodyFor protocol.StringList `yaml:"include_response_body_for"`
	// DecodeBody gunzips/inflates kept bodies (default true).
	DecodeBody *bool `yaml:"decode_body"`
	// MaxMessageSize bounds a kept body (and decompressed output).
	MaxMessageSize int `yaml:"max_message_size"`
}

// settings is Config resolved into the shapes the hot path wants.
type settings struct {
	common protocol.Common

	sendHeaders    bool
	sendAllHeaders bool
	headerAllow    map[string]bool // lowercased send_headers
	redact         map[string]bool // lowercased redact_headers
	redactAuth     bool
	hideKeywords   []string // lowercased
	splitCookie    bool
	realIPHeader   string // lowercased
	reqBodyFor     [][]byte
	respBodyFor    [][]byte
	decodeBody     bool
	maxMessageSize int
	maxHeaderBytes int
}

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{
		common:         common,
		sendAllHeaders: c.SendAllHeaders,
		redactAuth:     c.RedactAuthorization,
		splitCookie:    c.SplitCookie,
		decodeBody:     c.DecodeBody == nil || *c.DecodeBody,
		maxMessageSize: c.MaxMessageSize,
	}
	if s.maxMessageSize == 0 {
		s.maxMessageSize = defaultMaxMessageSize
	}
	if s.maxMessageSize < 0 {
		return nil, fmt.Errorf("max_message_size: must be positive, got %d", c.MaxMessageSize)
	}
	s.maxHeaderBytes = min(maxHeaderBytes, s.maxMessageSize)
	if len(c.SendHeaders) > 0 && !s.sendAllHeaders {
		s.sendHeaders = true
		s.headerAllow = map[string]bool{}
		for _, h := range c.SendHeaders {
			s.headerAllow[strings.ToLower(strings.TrimSpace(h))] = true
		}
	}
	s.sendHeaders = s.sendHeaders || s.sendAllHeaders
	if len(c.RedactHeaders) > 0 {
		s.redact = map[string]bool{}
		for _, h := range c.RedactHeaders {
			s.redact[strings.ToLower(strings.TrimSpace(h))] = true
		}
	}
	for _, k := range c.HideKeywords {
		s.hideKeywords = append(s.hideKeywords, strings.ToLower(strings.TrimSpace(k)))
	}
	if h := strings.TrimSpace(c.RealIPHeader); h != "" {
		s.realIPHeader = strings.ToLower(h)
	}
	for _, ct := range append(append(protocol.StringList(nil), c.IncludeBodyFor...), c.IncludeRequestBodyFor...) {
		s.reqBodyFor = append(s.reqBodyFor, []byte(strings.ToLower(ct)))
	}
	for _, ct := range append(append(protocol.StringList(nil), c.IncludeBodyFor...), c.IncludeResponseBodyFor...) {
		s.respBodyFor = append(s.respBodyFor, []byte(strings.ToLower(ct)))
	}
	return s, nil
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "http",
		TCP:            true,
		DefaultPorts:   defaultPorts,
		Probe:          probe,
		Resync:         resyncProbe,
		DefaultTimeout: defaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	p := &Protocol{cfg: s, pub: pub}
	return &protocol.Instance{Name: "http", Common: common, TCP: p}, nil
}
