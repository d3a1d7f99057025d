#!/usr/bin/env bash
# Stop the test search engine started by es-start.sh.
set -euo pipefail
exec bash "$(dirname "$0")/../_dev/es/stop.sh" "$@"
