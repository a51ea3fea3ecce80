#!/usr/bin/env bash
# What shared image prefixes save (#21 item 3), on this machine with the demo model: `medlab batch`
# asks the article's 3 questions about each of N images with 3 questions in flight, once with
# prefix sharing off (MEDLAB_PREFIX_SHARING=0, every prompt prefilled whole) and once on, in
# alternation, ROUNDS times; prints each wall time, the medians and their ratio, and the prompt
# tokens the shared runs copied instead of computing.
#   MEDLAB_BIN=.build/release/medlab bash bench/cpu/prefix.sh [N_IMAGES] [ROUNDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${MEDLAB_BIN:-$ROOT/.build/release/medlab}"
N=${1:-6}; ROUNDS=${2:-2}
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
python3 "$ROOT/bench/gpu/make_images.py" "$WORK/images" --n "$N" >/dev/null
run() {  # $1 = 0|1: prefix sharing; prints the wall seconds
    local out="$WORK/rows-$1-$RANDOM.jsonl" t0 t1
    t0=$(python3 -c 'import time; print(time.time())')
    MEDLAB_PREFIX_SHARING=$1 "$BIN" batch "$WORK/images" --demo --no-record --concurrency 3 --parallel 3 \
        -q "请判断是否存在肺实变" -q "请描述支气管充气征是否明显" -q "请评估胸腔积液量(少量/中量/大量)" \
        --max-new-tokens 16 --ignore-eos -o "$out" >/dev/null 2>&1
    t1=$(python3 -c 'import time; print(time.time())')
    [ "$(grep -c '"answer"' "$out")" = $((3 * N)) ] || { echo "batch wrote $(wc -l < "$out") rows, expected $((3 * N))" >&2; exit 1; }
    python3 -c "print(round($t1 - $t0, 2))"
}
off=(); on=()
for r in $(seq "$ROUNDS"); do
    off+=("$(run 0)"); on+=("$(run 1)")
    echo "round $r: whole prefill ${off[-1]} s, shared prefixes ${on[-1]} s"
done
python3 - "${off[*]}" "${on[*]}" <<'PY'
import statistics, sys
off = [float(x) for x in sys.argv[1].split()]; on = [float(x) for x in sys.argv[2].split()]
a, b = statistics.median(off), statistics.median(on)
print(f"median: whole prefill {a:.2f} s, shared prefixes {b:.2f} s, ratio {a / b:.2f}x")
PY
