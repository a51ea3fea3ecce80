#!/usr/bin/env bash
# Is the vision encoder faster without flash attention? (#21: 137 ms a warm image encode on the
# H200 against 17 ms for transformers; ggml-cuda's tensor-core flash-attention kernels skip head
# size 72, SigLIP's.) After `run.sh build model`, on the GPU machine, in about 90 s:
#   1. llama-mtmd-cli -fa on / -fa off, one run each with ENCODE_IMAGES images (its log says
#      "mtmd batch encoding done in N ms" per image; the first is cold, the others warm);
#   2. medlab serve with MEDLAB_VISION_FLASH_ATTN=on / off (MEDLAB_TRACE=1): its warm-up encode,
#      then ENCODE_IMAGES requests one after another, each with an image it has not seen (the
#      trace's `prefill enc=` is the encode's milliseconds).
# One summary line per variant; logs in $OUT/encode-*.txt.
#   bash bench/gpu/encode.sh                                  (env: ENCODE_IMAGES=3, ENCODE_VARIANTS="on off")
#   MEDLAB_BENCH_CPU=1 MEDLAB_BENCH_TINY=1 bash bench/gpu/encode.sh    (a dry run with the tiny models, as run.sh's)
#   ENCODE_MODEL=M.gguf ENCODE_MMPROJ=P.gguf                           (other files, e.g. bench/cpu/mid_mmproj.py's)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="$ROOT/bench/gpu/work"; P="$W/prefix"; M="$W/models"; MEDLAB="$P/bin/medlab"; NGL=(-ngl 999)
if [ "${MEDLAB_BENCH_CPU:-0}" = 1 ]; then  # run.sh's CPU layout: the local llama.cpp prefix, medlab beside the work tree
    P="$(cd "${MEDLAB_BENCH_PREFIX:-$ROOT/.llama}" && pwd -P)"; MEDLAB="$W/medlab-bin/bin/medlab"; NGL=(-ngl 0)
fi
[ "${MEDLAB_BENCH_TINY:-0}" = 1 ] && M="$W/models-tiny"
MEDLAB="${MEDLAB_BIN:-$MEDLAB}"
OUT="${OUT:-$W/out}"; mkdir -p "$OUT"
N=${ENCODE_IMAGES:-3}; VARIANTS=${ENCODE_VARIANTS:-on off}
export LD_LIBRARY_PATH="$P/lib:${LD_LIBRARY_PATH:-}" MEDLAB_BACKEND_DIR="$P/lib"
MODEL="${ENCODE_MODEL:-$M/medgemma-shaped-Q4_K_M.gguf}"; MMPROJ="${ENCODE_MMPROJ:-$M/mmproj-medgemma-shaped-f16.gguf}"
IMAGES="$W/images-encode"  # images of their own: no other run has seen them
[ "$(ls "$IMAGES"/*.png 2>/dev/null | wc -l)" -ge $((4 * N)) ] \
    || python3 "$ROOT/bench/gpu/make_images.py" "$IMAGES" --n $((4 * N)) --seed 9100 || exit 1
mapfile -t PNGS < <(ls "$IMAGES"/*.png | sort)
for f in "$MODEL" "$MMPROJ" "$P/bin/llama-mtmd-cli" "$MEDLAB"; do [ -e "$f" ] || { echo "missing $f (run.sh build model first)"; exit 1; }; done
wait_ok() { for _ in $(seq 1 600); do curl -sf "$1" 2>/dev/null | grep -q '"status":"ok"' && return 0; sleep 0.2; done; return 1; }
SUMMARY="$OUT/encode-summary.txt"; : > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
k=0  # next unused image
for fa in $VARIANTS; do
    log="$OUT/encode-mtmd-cli-fa-$fa.txt"; args=()
    for _ in $(seq 1 "$N"); do args+=(--image "${PNGS[$k]}"); k=$((k + 1)); done
    timeout 120 "$P/bin/llama-mtmd-cli" -m "$MODEL" --mmproj "$MMPROJ" "${NGL[@]}" -fa "$fa" "${args[@]}" \
        -p "Describe this image." -n 1 --temp 0 --chat-template gemma > "$log" 2>&1 || echo "llama-mtmd-cli -fa $fa exited with $? (see $log)"
    python3 - "$log" "$fa" <<'PY' | tee -a "$SUMMARY"
import re, statistics, sys
text = open(sys.argv[1], errors="replace").read()
ms = [int(x) for x in re.findall(r"mtmd batch encoding done in (\d+) ms", text)]
fa = re.findall(r"flash attention is (\w+)", text)
warm = ms[1:]
print(f"llama-mtmd-cli -fa {sys.argv[2]:3s}: encodes {ms} ms, warm p50 {statistics.median(warm) if warm else float('nan'):.0f} ms"
      + (f" (vision flash attention {fa[-1]})" if fa else ""))
PY
done
for fa in $VARIANTS; do
    log="$OUT/encode-medlab-fa-$fa.txt"; port=$((20000 + RANDOM % 10000))
    MEDLAB_TRACE=1 MEDLAB_LLAMA_LOG=1 MEDLAB_VISION_FLASH_ATTN=$fa "$MEDLAB" serve --model "$MODEL" --mmproj "$MMPROJ" \
        --port $port --parallel 1 --no-record --no-demo --log-format text > "$log" 2>&1 &
    pid=$!
    if wait_ok "http://127.0.0.1:$port/api/health"; then
        python3 - "$port" "${PNGS[@]:$k:$N}" <<'PY'
import base64, json, sys, urllib.request
for path in sys.argv[2:]:  # one after another: each encode has the device to itself
    url = "data:image/png;base64," + base64.b64encode(open(path, "rb").read()).decode()
    body = {"max_tokens": 1, "temperature": 0, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "Describe this image."}]}]}
    request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=120).read()
PY
    else
        echo "medlab serve (MEDLAB_VISION_FLASH_ATTN=$fa) did not start: $(tail -3 "$log")"
    fi
    k=$((k + N))
    kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null
    python3 - "$log" "$fa" <<'PY' | tee -a "$SUMMARY"
import re, statistics, sys
text = open(sys.argv[1], errors="replace").read()
enc = [float(x) for x in re.findall(r"prefill enc=([\d.]+)", text)]
warm = re.findall(r"warmup encode=([\d.]+)", text)
fa = re.findall(r"flash attention is (\w+)", text)
print(f"medlab MEDLAB_VISION_FLASH_ATTN={sys.argv[2]:3s}: warm-up {float(warm[0]):.0f} ms, " if warm else
      f"medlab MEDLAB_VISION_FLASH_ATTN={sys.argv[2]:3s}: no warm-up encode (CPU), ", end="")
print(f"encodes {[round(x) for x in enc]} ms, p50 {statistics.median(enc) if enc else float('nan'):.0f} ms"
      f" (vision flash attention {fa[-1] if fa else '?'})")
PY
done
echo "summary: $SUMMARY"
