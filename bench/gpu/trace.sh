#!/usr/bin/env bash
# Diagnoses W3 (many clients) on the GPU machine, after `run.sh build model`: runs medlab serve
# with MEDLAB_TRACE=1 (per decode step: batch size, decode ms, sample ms; per prefill: each piece's
# ms, synchronised, the running sequences and whether an image encode ran meanwhile) and
# llama-server on the same model at 1 and 4 clients, and prints summaries. Output: $OUT/trace-*.txt.
#   bash bench/gpu/trace.sh [TOKENS]        (env: TRACE_VARIANTS="separate shared" TRACE_LEVELS=1,4)
# A variant KIND+exclusive runs --kv-cache KIND with MEDLAB_PREFILL_EXCLUSIVE=1 (prefills and image
# encodes take turns on the GPU), KIND+alone with MEDLAB_RIDE_ALONG=0 (every new request prefilled
# alone, the streams waiting, instead of riding along in their steps); +q8 / +f16 serve the text model
# quantised to Q8_0 / left in F16 (run.sh model with KEEP_F16=1, then llama-quantize ... Q8_0), +nographs
# sets GGML_CUDA_DISABLE_GRAPHS=1, +argmax8 / +argmax0 MEDLAB_PARALLEL_ARGMAX_ROWS=8 / 0 (greedy picks on 8
# threads, the default on 8 cores or more, / on one); TRACE_LLAMA_SERVER=0 skips llama-server.
# Step lines give `wait`, the part of `sample` spent waiting for the GPU (its compute and the logits' copy).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="$ROOT/bench/gpu/work"; P="$W/prefix"; M="$W/models"; MEDLAB="$P/bin/medlab"
if [ "${MEDLAB_BENCH_CPU:-0}" = 1 ]; then  # a dry run here, in run.sh's CPU layout (with MEDLAB_BENCH_TINY=1: its tiny models)
    P="$(cd "${MEDLAB_BENCH_PREFIX:-$ROOT/.llama}" && pwd -P)"; MEDLAB="$W/medlab-bin/bin/medlab"
fi
[ "${MEDLAB_BENCH_TINY:-0}" = 1 ] && M="$W/models-tiny"
MEDLAB="${MEDLAB_BIN:-$MEDLAB}"
OUT="${OUT:-$W/out}"; mkdir -p "$OUT"
TOKENS=${1:-128}; LEVELS=${TRACE_LEVELS:-1,4}; REQS=${TRACE_REQUESTS:-3,8}
export LD_LIBRARY_PATH="$P/lib:${LD_LIBRARY_PATH:-}" MEDLAB_BACKEND_DIR="$P/lib"
MODEL="$M/medgemma-shaped-Q4_K_M.gguf"; MMPROJ="$M/mmproj-medgemma-shaped-f16.gguf"
wait_up() { for _ in $(seq 1 300); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
summarise() {  # TRACE lines -> per batch size: steps, median decode ms, median sample ms
    python3 - "$1" <<'PY'
import sys, re, statistics, collections
steps = collections.defaultdict(list); pre = []; pieces = collections.defaultdict(list)
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"step n=(\d+) decode=([\d.]+) sample=([\d.]+)(?: ride=\d+ piece=(\w+))?(?: wait=([\d.]+))?", line)
    if m: steps[(int(m[1]), "" if m[4] in (None, "none") else f" + a rider's {m[4]}")].append((float(m[2]), float(m[3]), float(m[5] or "nan")))
    m = re.search(r"prefill enc=([\d.]+) prefill=([\d.]+)", line)
    if m: pre.append((float(m[1]), float(m[2])))
    m = re.search(r"prefill=([\d.]+) cached=\d+ text_before=([\d.]+) image=([\d.]+) text_after=([\d.]+) tokens=\d+ "
                  r"active=(\d+) kv_cells=(\d+) encoding=(\d)(?: ride=(\d))?", line)
    if m: pieces[(int(m[7]), "rode along" if m[8] == "1" else "alone" if m[5] == "0" else "under load")].append(
        [float(x) for x in m.groups()[:6]])
for n, rider in sorted(steps):
    d = [a for a, _, _ in steps[n, rider]]; s = [b for _, b, _ in steps[n, rider]]; w = [c for _, _, c in steps[n, rider]]
    print(f"  n={n:2d}{rider} steps={len(d):5d} decode_ms p50={statistics.median(d):7.2f} p90={sorted(d)[int(.9*len(d))]:7.2f} "
          f"sample_ms p50={statistics.median(s):6.2f} (waiting for the GPU {statistics.median(w):6.2f}) step_ms p50={statistics.median(a + b for a, b, _ in steps[n, rider]):6.2f}")
if pre:
    print(f"  prefills={len(pre)} encode_ms p50={statistics.median(a for a,_ in pre):.1f} prefill_ms p50={statistics.median(b for _,b in pre):.1f}")
for (enc, load), rows in sorted(pieces.items()):
    p = [statistics.median(r[i] for r in rows) for i in range(6)]
    print(f"  prefill {load:10s} encoding={enc}: n={len(rows):3d} ms p50={p[0]:7.1f} (text before {p[1]:.1f}, image {p[2]:.1f}, "
          f"text after {p[3]:.1f}) active p50={p[4]:.0f} kv_cells p50={p[5]:.0f}")
PY
}
for variant in ${TRACE_VARIANTS:-separate shared}; do
    port=$((20000 + RANDOM % 10000)); log="$OUT/trace-medlab-$variant.txt"
    exclusive=0; [[ "$variant" == *+exclusive* ]] && exclusive=1
    ride=1; [[ "$variant" == *+alone* ]] && ride=0
    model="$MODEL"; [[ "$variant" == *+q8* ]] && model="$M/medgemma-shaped-Q8_0.gguf"; [[ "$variant" == *+f16* ]] && model="$M/medgemma-shaped-f16.gguf"
    extra=()  # ggml-cuda turns graphs off when GGML_CUDA_DISABLE_GRAPHS is set at all, even to 0
    [[ "$variant" == *+nographs* ]] && extra+=(GGML_CUDA_DISABLE_GRAPHS=1)
    [[ "$variant" == *+argmax8* ]] && extra+=(MEDLAB_PARALLEL_ARGMAX_ROWS=8)
    [[ "$variant" == *+argmax0* ]] && extra+=(MEDLAB_PARALLEL_ARGMAX_ROWS=0)
    env "${extra[@]}" MEDLAB_RIDE_ALONG=$ride MEDLAB_PREFILL_EXCLUSIVE=$exclusive MEDLAB_TRACE=1 "$MEDLAB" serve --kv-cache "${variant%%+*}" --model "$model" --mmproj "$MMPROJ" --port $port --ctx 2048 \
        --parallel ${TRACE_PARALLEL:-8} --queue 128 --timeout 900 --no-demo --log-format text ${TRACE_SERVE_ARGS:-} > "$log.server" 2>&1 &
    pid=$!
    wait_up "http://127.0.0.1:$port/api/health" && sleep 3
    python3 "$ROOT/bench/gpu/loadgen.py" --api openai --url "http://127.0.0.1:$port" --images "$W/images" \
        --question "Describe this image." --max-tokens "$TOKENS" --levels "$LEVELS" --requests "$REQS" --out "$log.json" 2>&1 | grep "c=" | tee "$log"
    kill -INT $pid; wait $pid 2>/dev/null
    echo "medlab $variant" >> "$log"; summarise "$log.server" | tee -a "$log"
done
[ "${TRACE_LLAMA_SERVER:-1}" = 0 ] && exit 0
port=$((30000 + RANDOM % 10000)); log="$OUT/trace-llama-server.txt"
"$P/bin/llama-server" -m "$MODEL" --mmproj "$MMPROJ" --port $port -np 8 -c 16384 --no-cache-prompt --cache-ram 0 --no-webui \
    --temp 0 -ngl 999 > "$log.server" 2>&1 &
pid=$!
wait_up "http://127.0.0.1:$port/health" && sleep 1
python3 "$ROOT/bench/gpu/loadgen.py" --api openai --url "http://127.0.0.1:$port" --images "$W/images" \
    --question "Describe this image." --max-tokens "$TOKENS" --levels "$LEVELS" --requests "$REQS" --out "$log.json" 2>&1 | grep "c=" | tee "$log"
kill -INT $pid; wait $pid 2>/dev/null
grep -E "eval time|prompt eval" "$log.server" | tail -6 >> "$log"
