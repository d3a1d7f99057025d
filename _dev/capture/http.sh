#!/usr/bin/env bash
# Captures the HTTP test pcaps under _dev/pcaps/http/ from real traffic, on
# the loopback of a throwaway network namespace (so other servers on this
# machine's 127.0.0.1 neither collide nor leak into the captures).
#
#   nginx.pcap     nginx 127.0.0.1:8080 (static files, gzip on) and curl --http1.1:
#                  GET 2k file, GET gzip'd text (chunked), 404, HEAD, 301
#                  redirect, GET with ?user=..&password=.. and Basic auth,
#                  X-Forwarded-For, Cookie and Referer headers.
#   pipeline.pcap  three GETs written in one segment on one connection to nginx
#                  (pipelining), then the three responses.
#   goserver.pcap  Go net/http on 127.0.0.1:8000: POST with Expect: 100-continue
#                  (100 Continue, then 201), a chunked response with a trailer,
#                  a url-encoded form POST, a gzip'd JSON response.
#   close.pcap     HTTP/1.0 server on 127.0.0.1:5000 answering without
#                  Content-Length: the body ends when the server closes.
#   load.pcap      (only with LOAD=1, not checked in) wrk -t1 -c4 -d3s against
#                  nginx, for benchmarks.
#
# Needs root, iproute2, tcpdump, nginx, curl, go (and wrk for LOAD=1).
# Run from the repo root:  sudo _dev/capture/http.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/http}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-http
work=$(mktemp -d)
chmod 755 "$work" # nginx workers run unprivileged

cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  [[ -n "${GPID:-}" ]] && kill "$GPID" 2>/dev/null || true
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
# (background jobs call ip netns exec directly so $! is the process itself)
in_ns() { ip netns exec "$NS" "$@"; }

# --- servers -------------------------------------------------------------------
mkdir -p "$work/www" "$work/logs"
printf '<html><body>hello from nginx</body></html>\n' >"$work/www/index.html"
head -c 2048 /dev/zero | tr '\0' 'a' >"$work/www/2k.txt"
for i in $(seq 1 200); do echo "line $i of a compressible text file"; done >"$work/www/big.txt"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  default_type application/octet-stream;
  types { text/html html; text/plain txt; }
  gzip on;
  gzip_min_length 100;
  gzip_types text/plain;
  keepalive_requests 1000;
  server {
    listen 127.0.0.1:8080;
    root $work/www;
    location = /redirect { return 301 /index.html; }
  }
}
EOF
in_ns nginx -c "$work/nginx.conf" -p "$work"

mkdir -p "$work/helper"
cat >"$work/helper/go.mod" <<'EOF'
module helper

go 1.22
EOF
cat >"$work/helper/main.go" <<'EOF'
// helper: "serve" runs the Go net/http (8000) and HTTP/1.0 (5000) servers;
// "pipeline ADDR" sends three pipelined GETs and reads the responses.
package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	switch os.Args[1] {
	case "serve":
		serve()
	case "pipeline":
		pipeline(os.Args[2])
	}
}

func serve() {
	mux := http.NewServeMux()
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body) // reading sends 100 Continue
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "{\"received\":%d}\n", n)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Trailer", "X-Checksum")
		for i := 1; i <= 3; i++ {
			fmt.Fprintf(w, "chunk number %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		w.Header().Set("X-Checksum", "abc123")
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Set-Cookie", "session=s3cr3t; Path=/")
		fmt.Fprintf(w, "welcome %s\n", r.PostForm.Get("user"))
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		fmt.Fprint(zw, `{"items":[1,2,3],"name":"gzip test"}`)
		zw.Close()
	})
	go http.ListenAndServe("127.0.0.1:8000", mux)

	ln, err := net.Listen("tcp", "127.0.0.1:5000")
	if err != nil {
		panic(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				l, err := br.ReadString('\n')
				if err != nil || l == "\r\n" {
					break
				}
			}
			io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nServer: close-server\r\n\r\n")
			for i := 0; i < 3; i++ {
				fmt.Fprintf(c, "body line %d, length comes from the close\n", i)
				time.Sleep(10 * time.Millisecond)
			}
		}(c)
	}
}

func pipeline(addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	req := "GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: pipeliner/1\r\n\r\n" +
		"GET /missing HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: pipeliner/1\r\n\r\n" +
		"HEAD /2k.txt HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: pipeliner/1\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil { // one write: one segment
		panic(err)
	}
	io.Copy(io.Discard, c)
}
EOF
(cd "$work/helper" && GOFLAGS= go build -o helper .)
ip netns exec "$NS" "$work/helper/helper" serve &
GPID=$!
sleep 1

capture() { # file filter
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" "$2" 2>"$work/tcpdump.err" &
  TPID=$!
  # Start only once tcpdump is listening (it can take seconds on a busy box).
  for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop() { sleep 1; kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }
c() { in_ns curl -sS --http1.1 -o /dev/null "$@"; }

# --- nginx -----------------------------------------------------------------------
capture "$out/nginx.pcap" 'tcp port 8080'
c http://localhost:8080/2k.txt
c -H 'Accept-Encoding: gzip' -H 'Referer: http://localhost:8080/index.html' http://localhost:8080/big.txt
c http://localhost:8080/nothing-here
c -I http://localhost:8080/index.html
c http://localhost:8080/redirect
c -u alice:wonderland -H 'X-Forwarded-For: 203.0.113.7, 10.0.0.1' -H 'Cookie: a=1; theme="dark"' \
  'http://localhost:8080/index.html?user=alice&password=hunter2&q=x'
stop

# --- pipelining -------------------------------------------------------------------
capture "$out/pipeline.pcap" 'tcp port 8080'
in_ns "$work/helper/helper" pipeline 127.0.0.1:8080
stop

# --- Go net/http --------------------------------------------------------------------
head -c 3000 /dev/zero | tr '\0' 'b' >"$work/upload.bin"
capture "$out/goserver.pcap" 'tcp port 8000'
c -H 'Expect: 100-continue' -H 'Content-Type: application/octet-stream' \
  --data-binary @"$work/upload.bin" http://127.0.0.1:8000/upload
c http://127.0.0.1:8000/chunked
c -d 'user=bob&password=secret&remember=1' http://127.0.0.1:8000/login
c http://127.0.0.1:8000/json
stop

# --- HTTP/1.0, body until close -----------------------------------------------------
capture "$out/close.pcap" 'tcp port 5000'
in_ns curl -sS --http1.0 -o /dev/null http://127.0.0.1:5000/old
stop

if [[ -n "${LOAD:-}" ]]; then
  capture "${LOAD_OUT:-/tmp/http-load.pcap}" 'tcp port 8080'
  in_ns wrk -t1 -c4 -d3s http://127.0.0.1:8080/index.html >/dev/null
  stop
fi
ls -l "$out"
