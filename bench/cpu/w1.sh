#!/usr/bin/env bash
# W1 of issue 7 on this CPU machine (no GPU): the same harness as bench/gpu/run.sh, the same
# MedGemma-shaped random model (generated here: ~8.6 GB written, then quantised to Q4_K_M, ~2.5 GB
# kept under bench/gpu/work/models), one request per system with 384 tokens forced:
# medlab in process (`ask --json`), llama-mtmd-cli, llama-server over HTTP, medlab serve over HTTP.
# It is slow (~1 min per request on 2 cores); the whole run takes ~10 minutes the first time.
#
#   bash bench/cpu/w1.sh            -> bench/results/<date>-cpu.json (+ .png when matplotlib is there)
#
# MEDLAB_BIN defaults to the release build (`swift build -c release`); the llama.cpp prefix to .llama.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if [ -z "${MEDLAB_BIN:-}" ]; then
    for c in "$ROOT/.build-bench/release/medlab" "$ROOT/.build/release/medlab"; do
        [ -x "$c" ] && { MEDLAB_BIN="$c"; break; }
    done
fi
[ -n "${MEDLAB_BIN:-}" ] || echo "note: no release medlab found (swift build -c release): medlab rows will be skipped" >&2
export MEDLAB_BIN="${MEDLAB_BIN:-}"
export MEDLAB_BENCH_CPU=1 BENCH_BUDGET_S="${BENCH_BUDGET_S:-5400}"
export PYTHON="${PYTHON:-python3}"
export BENCH_EXTRA="--workloads w1 --warmup 0 --reps ${CPU_REPS:-1} --http-reps ${CPU_REPS:-1} --np 1 --ctx-per-seq 4096"
tmp="$(mktemp -d)"
rc=0
bash bench/gpu/run.sh "$tmp" build model bench || rc=$?
date="$(date -u +%F)"
mkdir -p bench/results
if [ -f "$tmp/$date-cpu.json" ]; then
    cp "$tmp/$date-cpu.json" bench/results/
    [ -f "$tmp/$date-cpu.png" ] && cp "$tmp/$date-cpu.png" bench/results/
    echo "wrote bench/results/$date-cpu.json (logs: $tmp, exit $rc)"
else
    echo "no report written (exit $rc); logs in $tmp" >&2
    exit 1
fi
