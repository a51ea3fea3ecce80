#!/usr/bin/env bash
# Experiment (#21, the encoder): without flash attention, llama.cpp's SigLIP attention multiplies F32
# Q, K and V, which ggml-cuda hands to cuBLAS as F32 GEMMs (no tensor cores): 2 x 4,096^2 x 72 x 16
# multiply-adds a layer, 27 layers. This builds libmtmd with K and V cast to a half type before those
# two products (ggml-cuda then runs them as F16 or BF16 GEMMs), swaps it into the prefix for one
# encode.sh run per type, and restores the original. After `run.sh build model`, on the GPU machine:
#   bash bench/gpu/clip_attn.sh [TYPE ...]      (TYPE: F16, BF16; default both; ~1 min a type)
# Summaries in $OUT/clip-attn-TYPE.txt (encode.sh's); the llama.cpp source is left as it was.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="$ROOT/bench/gpu/work"; SRC="$W/src/llama.cpp"; B="$W/build-cuda"; P="$W/prefix"
OUT="${OUT:-$W/out}"; mkdir -p "$OUT"
CLIP="$SRC/tools/mtmd/clip.cpp"
[ -f "$CLIP" ] && [ -d "$B" ] && [ -d "$P/lib" ] || { echo "clip_attn: run bench/gpu/run.sh build model first" >&2; exit 1; }
cp "$CLIP" "$W/clip.cpp.orig"; mkdir -p "$W/lib-orig"; cp -a "$P"/lib/libmtmd.so* "$W/lib-orig/"
restore() {
    cp "$W/clip.cpp.orig" "$CLIP"; touch "$CLIP"
    cp -a "$W"/lib-orig/libmtmd.so* "$P/lib/"
}
trap restore EXIT
for type in ${@:-F16 BF16}; do
    cp "$W/clip.cpp.orig" "$CLIP"
    python3 - "$CLIP" "$type" <<'PY' || exit 1
import sys
path, kind = sys.argv[1], sys.argv[2]
text = open(path).read()
anchor = "        ggml_tensor * kq = ggml_mul_mat(ctx0, k, q);\n"
assert text.count(anchor) == 1, "the non-flash attention of clip.cpp changed: the patch no longer applies"
cast = f"        k = ggml_cast(ctx0, k, GGML_TYPE_{kind});\n        v = ggml_cast(ctx0, v, GGML_TYPE_{kind});\n"
open(path, "w").write(text.replace(anchor, cast + anchor))
PY
    echo "[clip_attn] building libmtmd with K and V in $type"
    cmake --build "$B" -j "$(nproc)" --target mtmd > "$W/clip-attn-$type.build.log" 2>&1 \
        || { tail -20 "$W/clip-attn-$type.build.log"; exit 1; }
    cp -a "$B"/bin/libmtmd.so* "$P/lib/"
    OUT="$W/clip-attn-$type" ENCODE_VARIANTS=off bash "$ROOT/bench/gpu/encode.sh" 2>&1 | tee "$OUT/clip-attn-$type.txt"
    cp -a "$W"/lib-orig/libmtmd.so* "$P/lib/"
done
