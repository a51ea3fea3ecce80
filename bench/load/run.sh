#!/usr/bin/env bash
# The loopback load test of issue #19 against this checkout's `medlab` (debug build unless
# MEDLAB_BIN says otherwise). Arguments go to load.py, e.g.
#   bash bench/load/run.sh                          # 64 clients, 60 s, --queue 8
#   bash bench/load/run.sh --soak-seconds 600       # the 10-minute soak with the memory rule
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
BIN="${MEDLAB_BIN:-$(cd "$ROOT" && swift build --show-bin-path)/medlab}"
exec "$ROOT/.venv/bin/python" "$ROOT/bench/load/load.py" --medlab "$BIN" "$@"
