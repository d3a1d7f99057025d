package h2

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2/hpack"
)

// Message is one direction of a stream.
type Message struct {
	// Fields is the header list as decoded, pseudo-header fields first.
	Fields []hpack.HeaderField
	// Trailers is the trailing header list, if one was sent.
	Trailers []hpack.HeaderField

	Start, End time.Time // first and last frame of this direction
	// Bytes counts this stream's frames in this direction on the wire:
	// frame headers, header blocks, DATA payloads with their padding.
	// Connection-level frames (SETTINGS, PING, WINDOW_UPDATE) belong to no
	// stream and are not counted.
	Bytes int64
	// DataBytes is the DATA content (padding removed): the body.
	DataBytes int64
	EndStream bool

	// Body is the DATA content kept when Conn.KeepBody asked for it, at
	// most that many bytes (BodyTruncated: there was more).
	Body          []byte
	BodyTruncated bool
	keep          int

	// gRPC length-prefixed messages (only for gRPC streams).
	Messages, Compressed int
	grpc                 grpcReader

	HasHeaders bool // the (final) header list arrived
}

// Stream is one HTTP/2 stream: a request and its response.
type Stream struct {
	ID        uint32
	Req, Resp Message

	Method, Path, Authority, Scheme string
	Status                          int // :status of the final response, 0 if none

	Upgraded bool // stream 1 of an Upgrade: h2c connection (the request was HTTP/1.1)
	Pushed   bool // a server push (PUSH_PROMISE)

	Reset      bool
	ResetCode  uint32
	ResetBy    Dir
	GoAway     bool // a GOAWAY was sent while the stream was open
	GoAwayCode uint32

	GRPC          bool   // content-type application/grpc*
	GRPCService   string // from the path /package.Service/Method
	GRPCMethod    string
	GRPCStatus    int
	HasGRPCStatus bool
	GRPCMessage   string // grpc-message, percent-decoded
	GRPCEncoding  [2]string
	GRPCTimeout   time.Duration // the client's grpc-timeout (its deadline), 0 if none

	Notes []string

	held, heldBody int // bytes counted in Conn.held and Conn.heldBody
}

func (s *Stream) msg(dir Dir) *Message {
	if dir == 0 {
		return &s.Req
	}
	return &s.Resp
}

// setRequest takes the request pseudo-headers.
func (s *Stream) setRequest() {
	s.Req.HasHeaders = true
	for _, f := range s.Req.Fields {
		switch f.Name {
		case ":method":
			s.Method = f.Value
		case ":path":
			s.Path = f.Value
		case ":authority":
			s.Authority = f.Value
		case ":scheme":
			s.Scheme = f.Value
		case "host":
			if s.Authority == "" {
				s.Authority = f.Value
			}
		case "content-type":
			if strings.HasPrefix(f.Value, "application/grpc") {
				s.GRPC = true
			}
		case "grpc-encoding":
			s.GRPCEncoding[0] = f.Value
		case "grpc-timeout":
			s.GRPCTimeout = grpcTimeout(f.Value)
		}
	}
	if s.GRPC {
		// "/package.Service/Method" (gRPC over HTTP/2, Requests).
		p := strings.TrimPrefix(s.Path, "/")
		if i := strings.IndexByte(p, '/'); i > 0 {
			s.GRPCService, s.GRPCMethod = p[:i], p[i+1:]
		}
	}
}

// headerList handles a complete header list of a tracked stream.
func (c *Conn) headerList(s *Stream, dir Dir, fields []hpack.HeaderField, end bool, ts time.Time) {
	m := s.msg(dir)
	switch {
	case !m.HasHeaders && dir == 0:
		m.Fields = fields
		s.setRequest()
		if s.GRPC {
			c.stats.GRPCCalls.Add(1)
		}
		c.keepBody(s, dir)
	case !m.HasHeaders:
		status := 0
		for _, f := range fields {
			if f.Name == ":status" {
				status, _ = strconv.Atoi(f.Value)
				break
			}
		}
		if status >= 100 && status < 200 && !end {
			// Interim response (100 Continue, 103 Early Hints): the
			// final one follows on the same stream.
			c.stats.InterimResponses.Add(1)
			return
		}
		m.HasHeaders = true
		m.Fields = fields
		s.Status = status
		s.grpcFields(fields)
		for _, f := range fields {
			if f.Name == "grpc-encoding" {
				s.GRPCEncoding[1] = f.Value
			}
		}
		c.keepBody(s, dir)
	default:
		m.Trailers = fields
		if dir == 1 {
			s.grpcFields(fields)
		}
	}
	if end {
		c.endStream(s, dir, ts)
	}
}

// grpcFields takes grpc-status and grpc-message from a response header
// list: the trailers, or the headers of a Trailers-Only response.
func (s *Stream) grpcFields(fields []hpack.HeaderField) {
	for _, f := range fields {
		switch f.Name {
		case "grpc-status":
			if n, err := strconv.Atoi(f.Value); err == nil && n >= 0 {
				s.GRPCStatus, s.HasGRPCStatus = n, true
			}
		case "grpc-message":
			// Percent-encoded (gRPC over HTTP/2, Responses).
			if v, err := url.PathUnescape(f.Value); err == nil {
				s.GRPCMessage = v
			} else {
				s.GRPCMessage = f.Value
			}
		}
	}
}

// grpcTimeout parses a grpc-timeout value: at most 8 digits and a unit
// (gRPC over HTTP/2: H, M, S, m, u, n). Anything else is 0.
func grpcTimeout(v string) time.Duration {
	if len(v) < 2 || len(v) > 9 {
		return 0
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	}
	return time.Duration(n) * unit
}

func (s *Stream) finishGRPC() {
	if !s.GRPC {
		return
	}
	for dir := Dir(0); dir < 2; dir++ {
		m := s.msg(dir)
		m.Messages, m.Compressed = m.grpc.messages, m.grpc.compressed
		if m.grpc.partial() && !s.Reset {
			s.Notes = append(s.Notes, "gRPC message cut short")
		}
	}
}

// ErrorCodeName is the RFC 9113 7 name of an error code.
func ErrorCodeName(code uint32) string {
	if int(code) < len(errorCodes) {
		return errorCodes[code]
	}
	return "0x" + strconv.FormatUint(uint64(code), 16)
}

var errorCodes = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
	"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
	"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

// GRPCStatusName is the name of a gRPC status code.
func GRPCStatusName(code int) string {
	if code >= 0 && code < len(grpcCodes) {
		return grpcCodes[code]
	}
	return strconv.Itoa(code)
}

var grpcCodes = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}
