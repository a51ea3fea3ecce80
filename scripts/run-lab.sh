#!/usr/bin/env bash
# What `make run` starts: the web lab on http://127.0.0.1:7860 — MedGemma when its files are
# found (~/.cache/medlab/models, MEDLAB_MODEL/MEDLAB_MMPROJ), otherwise the demo model.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)/medlab"
echo "MedGemma Vision Lab: open http://127.0.0.1:7860/ (Ctrl+C stops it)" >&2
exec "$BIN" serve "$@"
