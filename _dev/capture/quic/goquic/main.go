// Command goquic is the quic-go side of _dev/capture/quic.sh: an HTTP/3
// server and client on quic-go, with the QUIC versions and address
// validation (Retry) the capture asks for.
//
//	goquic server ADDR CERT KEY VERSIONS RETRY   (VERSIONS: 1, 2 or 2,1; RETRY: retry|noretry)
//	goquic client URL VERSIONS SNI
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

func versions(s string) []quic.Version {
	var out []quic.Version
	for _, v := range strings.Split(s, ",") {
		switch v {
		case "1":
			out = append(out, quic.Version1)
		case "2":
			out = append(out, quic.Version2)
		}
	}
	return out
}

func main() {
	switch os.Args[1] {
	case "server":
		server(os.Args[2], os.Args[3], os.Args[4], versions(os.Args[5]), os.Args[6] == "retry")
	case "client":
		client(os.Args[2], versions(os.Args[3]), os.Args[4])
	}
}

func server(addr, cert, key string, vs []quic.Version, retry bool) {
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		panic(err)
	}
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		panic(err)
	}
	tr := &quic.Transport{Conn: udp}
	if retry {
		tr.VerifySourceAddress = func(net.Addr) bool { return true }
	}
	tlsConf := http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{c}})
	ln, err := tr.ListenEarly(tlsConf, &quic.Config{Versions: vs})
	if err != nil {
		panic(err)
	}
	srv := &http3.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from quic-go over %s\n", r.Proto)
	})}
	fmt.Println("listening")
	_ = srv.ServeListener(ln)
}

func client(url string, vs []quic.Version, sni string) {
	rt := &http3.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: sni},
		QUICConfig:      &quic.Config{Versions: vs},
	}
	defer rt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.Status, " ", string(body))
}
