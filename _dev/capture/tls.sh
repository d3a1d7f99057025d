#!/usr/bin/env bash
# Captures the TLS test pcaps under _dev/pcaps/tls/ from real handshakes, on
# the loopback of a throwaway network namespace. Certificates are made fresh
# on every run (a private CA, an RSA and an ECDSA server certificate, a
# client certificate), so tests read expected values from the pcap through
# tshark instead of hard-coding them.
#
#   tls12.pcap     openssl s_server -tls1_2 on 127.0.0.1:443 (RSA leaf + CA
#                  chain), s_client with SNI example.test and ALPN h2,http/1.1:
#                  a full handshake (session saved), then a resumption with
#                  the saved session ticket.
#   tls13.pcap     nginx (ECDSA P-256 leaf) on 127.0.0.1:8443, curl --tlsv1.3
#                  with SNI www.example.test, ALPN http/1.1; then s_client
#                  -tls1_3 to the RSA s_server on 443 (no SNI: -noservername,
#                  session saved) and a PSK resumption with that session; then
#                  s_client -groups P-384:X25519 against an X25519-only
#                  s_server on 9243 (HelloRetryRequest).
#   mtls.pcap      s_server -tls1_2 -Verify 1 on 127.0.0.1:993 and s_client
#                  presenting a client certificate (TLS 1.2, so both
#                  certificates travel in the clear).
#   alert.pcap     handshake failures: s_client -tls1_2 against a TLS 1.3-only
#                  s_server on 995 (protocol_version alert), and a cipher
#                  mismatch against a TLS 1.2 s_server on 5223 that only
#                  accepts AES128-SHA (handshake_failure alert).
#
# Needs root, iproute2, tcpdump, openssl, nginx, curl.
# Run from the repo root:  sudo _dev/capture/tls.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/tls}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-tls
work=$(mktemp -d)
chmod 755 "$work" # nginx workers run unprivileged
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

# --- certificates ----------------------------------------------------------------
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -sha256 \
  -subj "/C=US/O=Network Traffic Test/OU=Test CA/CN=Network Traffic Test Root CA" 2>/dev/null
leaf() { # name key-args subject san
  openssl req -new -newkey "$2" -nodes -keyout "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  cat "$1.pem" ca.pem >"$1.chain.pem"
}
leaf rsa rsa:2048 "/C=US/ST=California/L=Los Angeles/O=Example Org/OU=Web/CN=example.test" \
  "DNS:example.test,DNS:www.example.test,IP:127.0.0.1,email:admin@example.test"
openssl ecparam -name prime256v1 -out ec.param
leaf ec ec:ec.param "/C=DE/O=Example Org/CN=www.example.test" "DNS:www.example.test"
leaf client rsa:2048 "/C=US/O=Example Org/CN=client.example.test" "DNS:client.example.test"

# --- servers ---------------------------------------------------------------------
serve() { # port args...
  local port=$1; shift
  ip netns exec "$NS" openssl s_server -accept "127.0.0.1:$port" -quiet -naccept 2 \
    -cert rsa.pem -key rsa.key -cert_chain ca.pem "$@" </dev/null >/dev/null 2>&1 &
  PIDS+=($!)
}
serve 443 -alpn h2,http/1.1
serve 993 -tls1_2 -Verify 1 -CAfile ca.pem
serve 995 -tls1_3
serve 5223 -tls1_2 -cipher AES128-SHA
serve 9243 -tls1_3 -groups X25519
mkdir -p www logs && echo hello >www/index.html
cat >nginx.conf <<NGX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 16; }
http {
  access_log off;
  server {
    listen 127.0.0.1:8443 ssl;
    ssl_certificate $work/ec.chain.pem;
    ssl_certificate_key $work/ec.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $work/www;
  }
}
NGX
in_ns nginx -c "$work/nginx.conf" -p "$work"
sleep 1

capture() { # file filter
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$out/$1" "$2" 2>/dev/null &
  TPID=$!
  sleep 1
}
stop() { sleep 1; kill "$TPID"; wait "$TPID" 2>/dev/null || true; }
client() { echo | in_ns openssl s_client -connect "$@" >/dev/null 2>&1 || true; }

# --- tls12.pcap: full handshake, then ticket resumption ---------------------------
capture tls12.pcap "tcp port 443"
client 127.0.0.1:443 -tls1_2 -servername example.test -alpn h2,http/1.1 -sess_out sess.pem -CAfile ca.pem
client 127.0.0.1:443 -tls1_2 -servername example.test -alpn h2,http/1.1 -sess_in sess.pem -CAfile ca.pem
stop

# --- tls13.pcap --------------------------------------------------------------------
kill "${PIDS[0]}" 2>/dev/null || true # a fresh 443 server for the TLS 1.3 runs
sleep 1
serve 443 -alpn h2,http/1.1
sleep 1
capture tls13.pcap "tcp port 8443 or tcp port 443 or tcp port 9243"
in_ns curl -s --tlsv1.3 --http1.1 --cacert ca.pem --resolve www.example.test:8443:127.0.0.1 \
  https://www.example.test:8443/index.html >/dev/null
# -ign_eof + a short sleep: the client must stay to read the session ticket
# TLS 1.3 servers send after the handshake.
(echo; sleep 1) | in_ns openssl s_client -connect 127.0.0.1:443 -tls1_3 -noservername -CAfile ca.pem \
  -sess_out sess13.pem -ign_eof >/dev/null 2>&1 || true
client 127.0.0.1:443 -tls1_3 -noservername -CAfile ca.pem -sess_in sess13.pem
client 127.0.0.1:9243 -tls1_3 -groups P-384:X25519 -servername example.test -CAfile ca.pem
stop

# --- mtls.pcap ---------------------------------------------------------------------
capture mtls.pcap "tcp port 993"
client 127.0.0.1:993 -tls1_2 -servername example.test -cert client.pem -key client.key -CAfile ca.pem
stop

# --- alert.pcap --------------------------------------------------------------------
capture alert.pcap "tcp port 995 or tcp port 5223"
client 127.0.0.1:995 -tls1_2 -servername example.test
client 127.0.0.1:5223 -tls1_2 -cipher AES256-SHA -servername example.test
stop
ls -l "$out"
