#!/usr/bin/env bash
# Captures _dev/pcaps/tls/ja4.pcap: ClientHellos of real TLS client stacks
# against openssl s_server (ALPN h2,http/1.1) on 127.0.0.1:443 in a
# throwaway network namespace, one connection per client, then records the
# JA4 that a second implementation (the ja4plus package from PyPI, in a
# venv) computes for each connection, of this and the other tls captures,
# in _dev/pcaps/tls/ja4.expected (_dev/capture/ja4-expected.sh).
# decoders/tls/pcap_test.go checks our JA4 against that file.
#
# Clients, in order (TLS 1.2 and 1.3, with and without SNI and ALPN):
#   curl 1.3, SNI, ALPN http/1.1     curl 1.2 max, no SNI (IP URL), ALPN http/1.1
#   openssl 1.3, SNI, ALPN h2        openssl 1.2, no SNI, no ALPN
#   Go crypto/tls 1.3, SNI, ALPN h2  Go crypto/tls 1.2 max, no SNI, no ALPN
#   Python ssl 1.3, SNI, ALPN h2,http/1.1   Python ssl 1.2 max, no SNI, no ALPN
#
# Needs root, iproute2, tcpdump, openssl, curl, go, python3 (venv, pip).
# Run from the repo root:  sudo _dev/capture/ja4.sh
set -euo pipefail

repo=$(pwd)
out=${OUT:-_dev/pcaps/tls}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-ja4
work=$(mktemp -d)
VENV=${VENV:-$work/venv}
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q ja4plus==1.4.0

cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out cert.pem \
  -days 30 -subj "/CN=ja4.example.test" -addext "subjectAltName=DNS:ja4.example.test,IP:127.0.0.1" 2>/dev/null

# The Go client: crypto/tls with the standard library's defaults.
mkdir goclient && cat >goclient/main.go <<'GO'
package main

import (
	"crypto/tls"
	"os"
)

// usage: goclient ADDR SNI|- ALPN|- 12|13
func main() {
	cfg := &tls.Config{InsecureSkipVerify: true}
	if os.Args[2] != "-" {
		cfg.ServerName = os.Args[2]
	}
	if os.Args[3] != "-" {
		cfg.NextProtos = []string{os.Args[3]}
	}
	if os.Args[4] == "12" {
		cfg.MaxVersion = tls.VersionTLS12
	}
	c, err := tls.Dial("tcp", os.Args[1], cfg)
	if err != nil {
		os.Exit(1)
	}
	c.Close()
}
GO
(cd goclient && printf 'module goclient\n\ngo 1.22\n' >go.mod && go build -o ../goclient.bin .)

cat >pyclient.py <<'PY'
import socket, ssl, sys
# usage: pyclient.py HOST PORT SNI|- 12|13
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
sni = None if sys.argv[3] == "-" else sys.argv[3]
if sys.argv[4] == "12":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.set_alpn_protocols(["h2", "http/1.1"])
with socket.create_connection((sys.argv[1], int(sys.argv[2]))) as s:
    with ctx.wrap_socket(s, server_hostname=sni) as t:
        pass
PY

# Started with ip netns exec itself (not the in_ns function) so $! is the
# server's pid.
ip netns exec "$NS" openssl s_server -accept 127.0.0.1:443 -naccept 8 -quiet -cert cert.pem -key key.pem -alpn h2,http/1.1 \
  </dev/null >/dev/null 2>&1 &
PIDS+=($!)
sleep 1
ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$out/ja4.pcap" "tcp port 443" 2>/dev/null &
TPID=$!
sleep 1

curl_() { in_ns curl -sk --http1.1 "$@" -o /dev/null || true; }
ossl() { echo | in_ns openssl s_client -connect 127.0.0.1:443 "$@" >/dev/null 2>&1 || true; }
curl_ --tlsv1.3 --resolve ja4.example.test:443:127.0.0.1 https://ja4.example.test/
curl_ --tlsv1.2 --tls-max 1.2 https://127.0.0.1/
ossl -tls1_3 -servername ja4.example.test -alpn h2
ossl -tls1_2 -noservername
in_ns ./goclient.bin 127.0.0.1:443 ja4.example.test h2 13 || true
in_ns ./goclient.bin 127.0.0.1:443 - - 12 || true
in_ns python3 pyclient.py 127.0.0.1 443 ja4.example.test 13 || true
in_ns python3 pyclient.py 127.0.0.1 443 - 12 || true
sleep 1
kill "$TPID"; wait "$TPID" 2>/dev/null || true

# The second implementation's view of this and the other tls captures.
cd "$repo"
OUT="$out" VENV="$VENV" bash "$repo/_dev/capture/ja4-expected.sh"
ls -l "$out/ja4.pcap"
