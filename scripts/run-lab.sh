#!/usr/bin/env bash
# What `make run` starts: MedGemma when its files are found, otherwise the demo model.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)/medlab"
if "$BIN" models 2>/dev/null | grep -q '^would load:'; then
    exec "$BIN" ask --image "$ROOT/docs/examples/chest-pattern.png" "Describe this image."
fi
echo "MedGemma not found in ~/.cache/medlab/models: running the demo model (its answers mean nothing)." >&2
"$BIN" ask --demo --raw --max-new-tokens 16 $'Question: What is the capital of France?\nAnswer:'
exec "$BIN" ask --demo --max-new-tokens 24 "Describe this image." --image "$ROOT/docs/examples/chest-pattern.png"
