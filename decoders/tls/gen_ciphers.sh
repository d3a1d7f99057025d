#!/usr/bin/env bash
# Regenerates ciphers.go from tshark's value strings (IANA registry names).
set -euo pipefail
cd "$(dirname "$0")"
{
  sed -n '1,9p' ciphers.go
  tshark -G values 2>/dev/null | awk -F'\t' '$1=="V" && $2=="tls.handshake.ciphersuite" && $4 ~ /^(TLS|SSL)_/ {printf "\t0x%04X: \"%s\",\n", $3, $4}'
  echo "}"
} >ciphers.go.new
mv ciphers.go.new ciphers.go
gofmt -w ciphers.go
