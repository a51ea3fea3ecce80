#!/usr/bin/env bash
# #21's CPU target, W1 no slower than llama-mtmd-cli on the same files, in alternation: medlab in
# process (`ask --json`) and llama-mtmd-cli, REPS times each on a fresh image, 384 tokens forced,
# the MedGemma-shaped Q4_K_M + F16 files that bench/cpu/w1.sh generates. One run each is within
# this shared host's noise (±10 % in decode speed), hence the alternation. Prints one line a run:
#   medlab TOTAL_S FIRST_TOKEN_S IMAGE_MS PREFILL_MS TOKENS_PER_S
#   mtmd prompt eval time = MS (encode included) ... eval time = MS / 383 runs (MS per token, TOKENS_PER_S)
#   bash bench/cpu/w1_vs_mtmd.sh [REPS]     (env: MEDLAB_BIN, LLAMA_PREFIX)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
P="$(cd "${LLAMA_PREFIX:-.llama}" && pwd -P)"
BIN="${MEDLAB_BIN:-.build/release/medlab}"
M=bench/gpu/work/models/medgemma-shaped-Q4_K_M.gguf; J=bench/gpu/work/models/mmproj-medgemma-shaped-f16.gguf
[ -f "$M" ] && [ -f "$J" ] || { echo "no MedGemma-shaped files: run bash bench/cpu/w1.sh first" >&2; exit 1; }
Q="请描述这张胸片中肺野透亮度、心脏大小及纵隔位置是否正常"
imgs=(bench/gpu/work/images-http/*.png)
for i in $(seq 1 "${1:-3}"); do
    img=${imgs[$((i + 40))]}
    LD_LIBRARY_PATH="$P/lib" MEDLAB_BACKEND_DIR="$P/lib" "$BIN" ask --json --model "$M" --mmproj "$J" --image "$img" \
        --max-new-tokens 384 --ignore-eos "$Q" 2>/dev/null | python3 -c "import json, sys; t = json.load(sys.stdin)['timings']; \
print('medlab', t.get('total_s'), t.get('first_token_s'), t.get('image_ms'), t.get('prefill_ms'), t.get('tokens_per_s'))"
    LD_LIBRARY_PATH="$P/lib" "$P/bin/llama-mtmd-cli" -m "$M" --mmproj "$J" --image "$img" -p "$Q" -n 384 --ignore-eos --temp 0 \
        --perf -lv 4 -c 4096 2>&1 | grep -E "prompt eval time|eval time" | sed 's/^.*llama_perf_context_print: *//' | tr '\n' ' ' | sed 's/^/mtmd /'
    echo
done
