#!/bin/bash
# The grammar's cache of allowed sets (Grammar, MEDLAB_GRAMMAR_CACHE=0 turns it off) on a batch
# under a JSON Schema: N different images, one question, one request at a time, the cache on and
# off in alternation (ROUNDS times each), the same binary and model. Prints each run's wall time
# and its steps settled by a computed or a cached allowed set, then the medians and their ratio.
#
#   bash bench/structured/batch_cache.sh MEDLAB_BIN MODEL MMPROJ [N=30] [ROUNDS=2]
#
# The tiny random MedGemma-shaped model (bench/gpu/run.sh MEDLAB_BENCH_TINY=1 model) is the worst
# case: its likeliest tokens are almost never what the JSON needs next.
set -euo pipefail
BIN=$1 MODEL=$2 MMPROJ=$3 N=${4:-30} ROUNDS=${5:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# 32 px images of their own (bench/gpu/make_images.py, standard library): no two prompts alike.
python3 "$HERE/../gpu/make_images.py" "$WORK/images" --n "$N" --size 32 --seed 5000 > /dev/null
SCHEMA=$(cd "$HERE" && python3 -c 'import json; from decode import SCHEMA, QUESTION; print(json.dumps(SCHEMA))')
QUESTION=$(cd "$HERE" && python3 -c 'from decode import QUESTION; print(QUESTION)')
declare -A times
for round in $(seq "$ROUNDS"); do
    for cache in 1 0; do
        rm -f "$WORK/rows.jsonl"
        start=$(date +%s.%N)
        MEDLAB_GRAMMAR_CACHE=$cache MEDLAB_TRACE=1 "$BIN" batch "$WORK/images" -q "$QUESTION" -o "$WORK/rows.jsonl" \
            --model "$MODEL" --mmproj "$MMPROJ" --no-record --concurrency 1 --max-new-tokens 96 \
            --schema-inline "$SCHEMA" > /dev/null 2> "$WORK/trace.log"
        wall=$(python3 -c "import time; print(round(time.time() - $start, 2))")
        times[$cache]="${times[$cache]:-} $wall"
        grep -o 'tokens=[0-9]* grammar_full_passes=[0-9]* grammar_cached=[0-9]*' "$WORK/trace.log" | tr '=' ' ' \
            | awk -v c="$cache" -v w="$wall" '{t += $2; f += $4; k += $6; n++} END {printf "cache=%s: %d requests in %.2f s, %d tokens: %d computed an allowed set, %d took a cached one\n", c, n, w, t, f, k}'
    done
done
python3 - "${times[1]}" "${times[0]}" <<'PY'
import statistics, sys
on, off = (statistics.median(float(x) for x in s.split()) for s in sys.argv[1:])
print(f"median wall: cache on {on:.2f} s, off {off:.2f} s (x{off / on:.2f})")
PY
