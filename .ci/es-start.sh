#!/usr/bin/env bash
# Start the test search engine for CI (builds it first when needed) and wait until healthy.
# Exports nothing: tests read NT_ES_URL (default http://127.0.0.1:9200); set NT_REQUIRE_ES=1
# so a missing engine fails the tests instead of skipping them.
set -euo pipefail
exec bash "$(dirname "$0")/../_dev/es/start.sh" "$@"
