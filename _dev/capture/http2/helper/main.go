// Command helper makes the HTTP/2 and gRPC test traffic of
// _dev/capture/http2.sh: real Go net/http (golang.org/x/net/http2/h2c) and
// grpc-go servers and clients on loopback.
//
//	helper serve-h2c ADDR     h2c server (prior knowledge and Upgrade: h2c)
//	helper h2c-client ADDR    prior-knowledge requests, one reset by the client
//	helper upgrade ADDR       one HTTP/1.1 request with Upgrade: h2c
//	helper serve-grpc ADDR    grpc-go server: health service plus a raw echo service
//	helper grpc-client ADDR   unary, server-streaming, bidi, errors, deadline, gzip
package main

import (
	"bufio"
	gz "compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: helper serve-h2c|h2c-client|upgrade|serve-grpc|grpc-client ADDR")
		os.Exit(2)
	}
	addr := os.Args[2]
	var err error
	switch os.Args[1] {
	case "serve-h2c":
		err = serveH2C(addr)
	case "h2c-client":
		err = h2cClient(addr)
	case "upgrade":
		err = upgrade(addr)
	case "serve-grpc":
		err = serveGRPC(addr)
	case "grpc-client":
		err = grpcClient(addr)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
}

func serveH2C(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello %s over %s\n", r.URL.Query().Get("name"), r.Proto)
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "{\"received\":%d}\n", n)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// Larger than the initial 64 KiB flow-control window: the client
		// has to send WINDOW_UPDATE frames.
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte(strings.Repeat("x", 66_000)))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select { // the client gives up first: RST_STREAM CANCEL
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/trailer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "body with a trailer")
		w.Header().Set("X-Checksum", "abc123")
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gz.NewWriter(w)
		fmt.Fprint(zw, `{"items":[1,2,3],"name":"gzip over h2"}`)
		zw.Close()
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "welcome %s\n", r.PostForm.Get("user"))
	})
	mux.HandleFunc("/", http.NotFound)
	srv := &http.Server{Addr: addr, Handler: h2c.NewHandler(mux, &http2.Server{})}
	return srv.ListenAndServe()
}

// h2cTransport speaks HTTP/2 over cleartext TCP from the first byte.
func h2cTransport() *http2.Transport {
	return &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

func h2cClient(addr string) error {
	c := &http.Client{Transport: h2cTransport()}
	base := "http://" + addr
	get := func(path string, hdr map[string]string) error {
		req, _ := http.NewRequest("GET", base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := get("/hello?name=alice", map[string]string{"User-Agent": "h2c-client/1", "Authorization": "Bearer s3cr3t", "Cookie": "a=1"}); err != nil {
		return err
	}
	if err := get("/big", nil); err != nil {
		return err
	}
	if err := get("/missing", nil); err != nil {
		return err
	}
	if err := get("/trailer", nil); err != nil {
		return err
	}
	resp, err := c.Post(base+"/upload", "application/octet-stream", strings.NewReader(strings.Repeat("u", 3000)))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/slow", nil)
	if _, err := c.Do(req); err == nil {
		return errors.New("/slow: expected the deadline to cancel the request")
	}
	time.Sleep(100 * time.Millisecond) // let the RST_STREAM go out
	if err := get("/gzip", nil); err != nil {
		return err
	}
	req, _ = http.NewRequest("POST", base+"/login?from=h2", strings.NewReader("user=bob&password=secret"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	resp, err = c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.CloseIdleConnections()
	return nil
}

// upgrade sends one HTTP/1.1 request asking for h2c (net/http's client does
// not do this), completes the switch with the preface and a SETTINGS frame,
// and reads the response to stream 1.
func upgrade(addr string) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	// HTTP2-Settings: an empty SETTINGS payload, base64url.
	fmt.Fprintf(conn, "GET /hello?name=upgrade HTTP/1.1\r\nHost: %s\r\nUser-Agent: upgrade-client/1\r\n"+
		"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: \r\n\r\n", addr)
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, " 101 ") {
		return fmt.Errorf("upgrade refused: %q %v", line, err)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if l == "\r\n" {
			break
		}
	}
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		return err
	}
	fr := http2.NewFramer(conn, br)
	if err := fr.WriteSettings(); err != nil {
		return err
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.DataFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				fr.WriteGoAway(1, http2.ErrCodeNo, nil)
				time.Sleep(50 * time.Millisecond)
				return nil
			}
		case *http2.HeadersFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				return nil
			}
		}
	}
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "test.Echo",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName: "Chat", ServerStreams: true, ClientStreams: true,
		Handler: func(_ any, ss grpc.ServerStream) error {
			n := 0
			for {
				m := new(wrapperspb.StringValue)
				if err := ss.RecvMsg(m); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				n++
				if m.Value == "fail" {
					return status.Errorf(codes.InvalidArgument, "bad message %d: 100%% wrong", n)
				}
				if err := ss.SendMsg(wrapperspb.String("echo: " + m.Value)); err != nil {
					return err
				}
			}
		},
	}},
}

func serveGRPC(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("test.Echo", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	s.RegisterService(&echoDesc, nil)
	go func() { // status changes for the streaming Watch call
		for {
			time.Sleep(150 * time.Millisecond)
			hs.SetServingStatus("flappy", healthpb.HealthCheckResponse_NOT_SERVING)
			time.Sleep(150 * time.Millisecond)
			hs.SetServingStatus("flappy", healthpb.HealthCheckResponse_SERVING)
		}
	}()
	return s.Serve(ln)
}

func grpcClient(addr string) error {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "r-1")
	h := healthpb.NewHealthClient(cc)
	// Unary, OK.
	if _, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: "test.Echo"}); err != nil {
		return err
	}
	// Unary, gzip-compressed both ways.
	if _, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: "test.Echo"}, grpc.UseCompressor(gzip.Name)); err != nil {
		return err
	}
	// Unary error: NOT_FOUND, with a grpc-message.
	if _, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.Such"}); status.Code(err) != codes.NotFound {
		return fmt.Errorf("Check(no.Such): %v", err)
	}
	// Unimplemented method.
	if err := cc.Invoke(ctx, "/grpc.health.v1.Health/Nope", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}); status.Code(err) != codes.Unimplemented {
		return fmt.Errorf("Nope: %v", err)
	}
	// Server streaming until the deadline: DEADLINE_EXCEEDED.
	dctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	w, err := h.Watch(dctx, &healthpb.HealthCheckRequest{Service: "flappy"})
	if err != nil {
		return err
	}
	n := 0
	for {
		if _, err := w.Recv(); err != nil {
			if status.Code(err) != codes.DeadlineExceeded {
				return fmt.Errorf("Watch: %v", err)
			}
			break
		}
		n++
	}
	if n < 2 {
		return fmt.Errorf("Watch: only %d updates", n)
	}
	// Bidi streaming, three messages each way, then a clean end.
	desc := &echoDesc.Streams[0]
	chat := func(msgs ...string) error {
		st, err := cc.NewStream(ctx, desc, "/test.Echo/Chat")
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := st.SendMsg(wrapperspb.String(m)); err != nil {
				return err
			}
		}
		st.CloseSend()
		for {
			if err := st.RecvMsg(new(wrapperspb.StringValue)); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	if err := chat("one", "two", "three"); err != nil {
		return fmt.Errorf("chat: %v", err)
	}
	if err := chat("one", "fail"); status.Code(err) != codes.InvalidArgument {
		return fmt.Errorf("chat fail: %v", err)
	}
	// A call the client cancels: RST_STREAM CANCEL.
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	w2, err := h.Watch(cctx, &healthpb.HealthCheckRequest{Service: "test.Echo"})
	if err != nil {
		return err
	}
	if _, err := w2.Recv(); err != nil {
		return err
	}
	ccancel()
	w2.Recv()
	time.Sleep(100 * time.Millisecond)
	return nil
}
