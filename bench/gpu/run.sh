#!/usr/bin/env bash
# The GPU benchmark of issue 7, on the machine with the GPU (no Swift, no network needed).
# Run from the repository root, after bench/gpu/prepare.sh filled bench/gpu/carry/ elsewhere:
#
#   bash bench/gpu/run.sh [OUT_DIR] [PHASE ...]
#
# PHASES (default: all of them, in this order)
#   build   llama.cpp (CUDA + one CPU plug-in, shared libs, GGML_BACKEND_DL) from the carried source,
#           into bench/gpu/work/prefix/{bin,lib}, with medlab unpacked beside it    (~5 min at -j16)
#   model   MedGemma-shaped random F16 text model + F16 projector, text quantised to Q4_K_M,
#           and 20 synthetic 512x512 PNGs                                          (~1-2 min)
#   hf      transformers bf16 baseline (W1 + W3 as batched generate)                (~3-4 min)
#   bench   W1 (medlab ask --json, llama-mtmd-cli, llama-server and medlab over HTTP), W3 (1/4/16/32/64
#           clients), W2 (medlab batch 20 images x 3 questions, and the article's sequential script
#           against llama-server)                                                   (~10-12 min: split it
#           over two calls with BENCH_EXTRA="--workloads w1,w3" then "--workloads w2 --keep")
#   structured  decode with and without a JSON Schema at 1 and 16 streams (bench/structured/decode.py)
#           into OUT_DIR/<date>-<tag>-structured.json; not in the default list     (~2 min)
#   report  merge into OUT_DIR/<date>-<tag>.json and draw OUT_DIR/<date>-<tag>.png
# Every phase is skipped when its output is already there (a second call on a warm machine reuses
# the build and the model). Each call ends by writing what exists so far to OUT_DIR: the report
# (JSON + PNG), run.log and logs.tar.xz.
#
# OUT_DIR defaults to $OUT, else bench/gpu/work/out (copy the JSON + PNG into bench/results). Environment:
#   BENCH_BUDGET_S=570   wall-clock budget of this call; workloads that would run past it are
#                        skipped or cut, with the reason recorded (the device allows 600 s a call)
#   BENCH_JOBS           build parallelism (default: nproc)
#   MEDLAB_BENCH_CPU=1   CPU only: no CUDA build; uses MEDLAB_BENCH_PREFIX (default .llama, the
#                        local llama.cpp prefix) unless MEDLAB_BENCH_BUILD=1 (build CPU-only here)
#   MEDLAB_BENCH_TINY=1  the tiny random model and tiny settings (a dry run of the harness)
#   MEDLAB_BIN           a medlab binary to use instead of bench/gpu/carry/medlab.xz
#   BENCH_TAG            the <tag> of the files (default: the card's model from nvidia-smi, h200, h100, ...)
#   BENCH_ASK_ARGS / BENCH_SERVE_ARGS / BENCH_BATCH_ARGS / BENCH_LLAMA_ARGS  extra flags
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
G="$ROOT/bench/gpu"
W="$G/work"
CARRY="$G/carry"
START=$(date +%s)
BUDGET=${BENCH_BUDGET_S:-570}
DEADLINE=$((START + BUDGET))
CPU=${MEDLAB_BENCH_CPU:-0}
TINY=${MEDLAB_BENCH_TINY:-0}
JOBS=${BENCH_JOBS:-$(nproc)}
PY=${PYTHON:-python3}
LLAMA_COMMIT=0c1e57098
LLAMA_BUILD_NUMBER=11312

OUTDIR=""
PHASES=()
for arg in "$@"; do
    case "$arg" in
        build|model|hf|bench|structured|report) PHASES+=("$arg") ;;
        all) PHASES+=(build model hf bench report) ;;
        *) OUTDIR="$arg" ;;
    esac
done
[ ${#PHASES[@]} -gt 0 ] || PHASES=(build model hf bench report)
OUTDIR="${OUTDIR:-${OUT:-$W/out}}"
# Named after the card that ran it (a run asked for on an H200 may land on an H100): h200, h100, ...
TAG=${BENCH_TAG:-$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | grep -oE '\b[A-Z]+[0-9]+[A-Z]*\b' | head -1 | tr 'A-Z' 'a-z')}
TAG=${TAG:-gpu}; [ "$CPU" = 1 ] && TAG=cpu; [ "$TINY" = 1 ] && TAG="$TAG-tiny"
RESULTS="$W/results-$TAG"
mkdir -p "$OUTDIR" "$RESULTS/logs"
RUNLOG="$RESULTS/logs/run-$(date -u +%H%M%S).log"
exec > >(tee -a "$RUNLOG") 2>&1

DATE=$(date -u +%F)
log() { printf '[run %s +%4ds] %s\n' "$(date -u +%H:%M:%S)" "$(( $(date +%s) - START ))" "$*"; }
die() { log "FAILED: $*"; exit 1; }
left() { echo $((DEADLINE - $(date +%s))); }
has_phase() { local p; for p in "${PHASES[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

if [ "$CPU" = 1 ]; then
    if [ "${MEDLAB_BENCH_BUILD:-0}" = 1 ]; then PREFIX="$W/prefix-cpu"; else PREFIX="${MEDLAB_BENCH_PREFIX:-$ROOT/.llama}"; fi
    PREFIX="$(cd "$PREFIX" 2>/dev/null && pwd -P || echo "$PREFIX")"
else
    PREFIX="$W/prefix"
fi
if [ "$TINY" = 1 ]; then MODELS="$W/models-tiny"; else MODELS="$W/models"; fi
IMAGES="$W/images"
# W1/W3 over HTTP: enough images that no measured request repeats one (bench.py's offsets).
HTTP_IMAGES="$W/images-http"
HTTP_IMAGE_COUNT=${HTTP_IMAGE_COUNT:-220}
MODEL="$MODELS/medgemma-shaped-Q4_K_M.gguf"
MMPROJ="$MODELS/mmproj-medgemma-shaped-f16.gguf"
# Library path for llama.cpp's tools and medlab only (bench.py passes it to them): exporting it would
# let python/torch pick up these libraries (or the toolkit's CUDA ones) instead of their own.
export MEDLAB_BENCH_LD_PATH="$PREFIX/lib"
export MEDLAB_BACKEND_DIR="${MEDLAB_BACKEND_DIR:-$PREFIX/lib}"
ldrun() { LD_LIBRARY_PATH="$MEDLAB_BENCH_LD_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }

# ---- what comes back: report + logs, whatever happened -------------------------------------
collect() {
    local rc=$?
    set +e
    if [ -s "$RESULTS/llama.json" ] || [ -s "$RESULTS/hf.json" ]; then
        "$PY" "$G/bench.py" report --results "$RESULTS" --out "$OUTDIR" --tag "$TAG" --date "$DATE" \
            || log "report failed"
    fi
    local tmp; tmp=$(mktemp -d)
    mkdir -p "$tmp/logs"
    cp -r "$RESULTS/." "$tmp/logs/" 2>/dev/null
    for f in "$W"/build*.log "$W"/model*.log "$MODELS/gen_model.json" "$MODELS/medgemma-shaped.json" "$CARRY/manifest.json" "$W/env.txt"; do
        [ -f "$f" ] && tail -c 400000 "$f" > "$tmp/logs/$(basename "$f")"
    done
    tar -C "$tmp" -cJf "$OUTDIR/logs.tar.xz" logs 2>/dev/null
    cp "$RUNLOG" "$OUTDIR/run.log" 2>/dev/null
    rm -rf "$tmp"
    log "exit $rc; $OUTDIR now holds: $(cd "$OUTDIR" && ls | tr '\n' ' ')"
}
trap collect EXIT

log "phases: ${PHASES[*]}; out: $OUTDIR; budget ${BUDGET}s; cpu=$CPU tiny=$TINY; prefix $PREFIX"

# ---- environment facts ---------------------------------------------------------------------
find_cuda() {
    if ! command -v nvcc >/dev/null 2>&1; then
        for d in /usr/local/cuda/bin /usr/local/cuda-*/bin /opt/cuda/bin; do
            [ -x "$d/nvcc" ] && { export PATH="$d:$PATH"; break; }
        done
    fi
    command -v nvcc >/dev/null 2>&1 || return 1
    local root; root="$(cd "$(dirname "$(command -v nvcc)")/.." && pwd)"
    export CUDACXX="$root/bin/nvcc"
    for d in "$root/lib64" "$root/targets/x86_64-linux/lib"; do
        [ -d "$d" ] && MEDLAB_BENCH_LD_PATH="$MEDLAB_BENCH_LD_PATH:$d"
    done
    export MEDLAB_BENCH_LD_PATH
}
[ "$CPU" = 1 ] || find_cuda || log "WARNING: nvcc not found (PATH=$PATH)"
{
    echo "date: $(date -u)"; uname -a; echo "cpus: $(nproc)"; free -g | head -2
    ldd --version 2>&1 | head -1; cmake --version 2>&1 | head -1; ninja --version 2>&1; gcc --version 2>&1 | head -1
    command -v nvcc >/dev/null && nvcc --version | tail -2
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv
    "$PY" -c 'import sys, importlib.metadata as m
def v(p):
    try: return m.version(p)
    except Exception: return "-"
print("python", sys.version.split()[0], "torch", v("torch"), "transformers", v("transformers"), "matplotlib", v("matplotlib"))' 2>&1 | tail -1
    df -h "$ROOT" | tail -1
    [ -f "$CARRY/manifest.json" ] && cat "$CARRY/manifest.json"
} > "$W/env.txt" 2>&1
head -14 "$W/env.txt"

glibc_check() {
    local need have
    need=$("$PY" -c 'import json,sys; print((json.load(open(sys.argv[1])).get("medlab_glibc_needed") or "").replace("GLIBC_",""))' "$CARRY/manifest.json" 2>/dev/null)
    have=$(ldd --version 2>&1 | head -1 | grep -oE '[0-9]+\.[0-9]+$')
    if [ -n "$need" ] && [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
        log "WARNING: medlab needs glibc >= $need, this machine has $have: medlab will not start"
    fi
}

# ---- phase: build ----------------------------------------------------------------------------
phase_build() {
    local t0; t0=$(date +%s)
    if [ "$CPU" = 1 ] && [ "${MEDLAB_BENCH_BUILD:-0}" != 1 ]; then
        [ -x "$PREFIX/bin/llama-server" ] || die "no llama.cpp at $PREFIX (set MEDLAB_BENCH_PREFIX, or MEDLAB_BENCH_BUILD=1)"
        log "build: CPU mode, using the llama.cpp prefix at $PREFIX"
    else
        local src="$W/src/llama.cpp" build flags key
        [ -s "$CARRY/llama-src.tar.xz" ] || die "no $CARRY/llama-src.tar.xz: run bench/gpu/prepare.sh where Swift is, and carry bench/gpu/carry"
        flags=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF
               -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF
               -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON
               -DLLAMA_BUILD_COMMIT=$LLAMA_COMMIT -DLLAMA_BUILD_NUMBER=$LLAMA_BUILD_NUMBER)
        local targets=(llama mtmd llama-server llama-quantize llama-mtmd-cli ggml-cpu)
        if [ "$CPU" = 1 ]; then
            build="$W/build-cpu"
        else
            command -v nvcc >/dev/null || die "nvcc not found: CUDA toolkit needed for the build"
            flags+=(-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH:-90})
            targets+=(ggml-cuda)
            build="$W/build-cuda"
        fi
        key="$(sha256sum "$CARRY/llama-src.tar.xz" | cut -c1-16) ${flags[*]} ${targets[*]}"
        if [ -f "$PREFIX/.built" ] && [ "$(cat "$PREFIX/.built")" = "$key" ]; then
            log "build: already built ($PREFIX), skipping"
        else
            if [ ! -f "$src/.extracted" ] || [ "$(cat "$src/.extracted")" != "$(sha256sum "$CARRY/llama-src.tar.xz" | cut -c1-16)" ]; then
                log "build: extracting the llama.cpp source"
                rm -rf "$src"; mkdir -p "$src"
                tar -C "$src" -xJf "$CARRY/llama-src.tar.xz" || die "cannot extract llama-src.tar.xz"
                sha256sum "$CARRY/llama-src.tar.xz" | cut -c1-16 > "$src/.extracted"
            fi
            log "build: configure ($build)"
            cmake -S "$src" -B "$build" "${flags[@]}" > "$W/build-configure.log" 2>&1 \
                || { tail -40 "$W/build-configure.log"; die "cmake configure failed"; }
            log "build: ${targets[*]} at -j$JOBS (CUDA: ~250 s at -j16)"
            cmake --build "$build" -j "$JOBS" --target "${targets[@]}" > "$W/build.log" 2>&1 \
                || { grep -E "error|Error" "$W/build.log" | head -30; tail -20 "$W/build.log"; die "build failed"; }
            log "build: laying out $PREFIX"
            rm -rf "$PREFIX"; mkdir -p "$PREFIX/bin" "$PREFIX/lib"
            cp -a "$build"/bin/*.so* "$PREFIX/lib/"
            for t in llama-server llama-quantize llama-mtmd-cli; do cp -a "$build/bin/$t" "$PREFIX/bin/"; done
            # llama.cpp's own tools look for plug-ins beside the executable; medlab uses MEDLAB_BACKEND_DIR=lib
            for so in "$PREFIX"/lib/libggml-c[pu]*.so; do ln -sf "../lib/$(basename "$so")" "$PREFIX/bin/"; done
            echo "$key" > "$PREFIX/.built"
        fi
    fi
    # medlab: the carried release binary (or MEDLAB_BIN), with the libraries it needs beside it
    local mbin="$PREFIX/bin/medlab"
    [ "$CPU" = 1 ] && [ "${MEDLAB_BENCH_BUILD:-0}" != 1 ] && mbin="$W/medlab-bin/bin/medlab"
    if [ -n "${MEDLAB_BIN:-}" ]; then
        mkdir -p "$(dirname "$mbin")"; ln -sf "$MEDLAB_BIN" "$mbin"
    elif [ -s "$CARRY/medlab.xz" ]; then
        if [ ! -x "$mbin" ] || [ "$CARRY/medlab.xz" -nt "$mbin" ]; then
            mkdir -p "$(dirname "$mbin")"
            xz -dc "$CARRY/medlab.xz" > "$mbin.tmp" && chmod +x "$mbin.tmp" && mv "$mbin.tmp" "$mbin"
            local libdir; libdir="$(dirname "$mbin")/../lib"; mkdir -p "$libdir"
            [ -s "$CARRY/syslibs.tar.xz" ] && tar -C "$libdir" -xJf "$CARRY/syslibs.tar.xz"
            # medlab's run path is $ORIGIN/../lib: in CPU mode link the llama.cpp libraries there
            if [ ! -e "$libdir/libllama.so" ]; then for f in "$PREFIX"/lib/lib*.so*; do ln -sf "$f" "$libdir/"; done; fi
        fi
    else
        log "WARNING: no medlab (no $CARRY/medlab.xz, no MEDLAB_BIN): medlab workloads will be skipped"
    fi
    if [ -x "$mbin" ]; then
        glibc_check
        if ! ldrun "$mbin" --help > "$W/medlab-help.txt" 2>&1; then
            log "WARNING: medlab does not start:"; head -5 "$W/medlab-help.txt"
            ldrun ldd "$mbin" | grep "not found"
        else
            log "medlab: $(ldrun "$mbin" --version 2>/dev/null) ($(ldrun ldd "$mbin" | grep -c '=>') shared libraries, missing: $(ldrun ldd "$mbin" | grep -c 'not found'))"
        fi
    fi
    echo "$mbin" > "$W/medlab-path"
    ls -la "$PREFIX/bin" "$PREFIX/lib" | head -60 > "$W/build-layout.log"
    log "build: done in $(( $(date +%s) - t0 )) s"
}

ensure_images() {
    [ "$(ls "$IMAGES"/*.png 2>/dev/null | wc -l)" -ge 20 ] || "$PY" "$G/make_images.py" "$IMAGES" --n 20 \
        || die "cannot write test images"
    local n=$HTTP_IMAGE_COUNT; [ "$TINY" = 1 ] && n=40
    [ "$(ls "$HTTP_IMAGES"/*.png 2>/dev/null | wc -l)" -ge "$n" ] || "$PY" "$G/make_images.py" "$HTTP_IMAGES" --n "$n" --seed 5000 \
        || die "cannot write test images"
}

# ---- phase: model ----------------------------------------------------------------------------
phase_model() {
    local t0; t0=$(date +%s)
    ensure_images
    if [ -s "$MODEL" ] && [ -s "$MMPROJ" ]; then
        log "model: $MODEL already there, skipping"; return
    fi
    local tok="$CARRY/tokenizer-only.gguf"
    [ -s "$tok" ] || tok="$HOME/.cache/medlab/test-models/tokenizer-only.gguf"
    [ -s "$tok" ] || die "no tokenizer-only.gguf in $CARRY (run prepare.sh)"
    local tiny=(); [ "$TINY" = 1 ] && tiny=(--tiny)
    if [ "$TINY" != 1 ] && [ -f "$ROOT/scripts/gen_medgemma_shaped.py" ]; then
        log "model: generating the MedGemma-shaped F16 files (scripts/gen_medgemma_shaped.py)"
        "$PY" "$ROOT/scripts/gen_medgemma_shaped.py" --tokenizer "$tok" --out "$MODELS" 2>&1 | tee "$W/model-gen.log"
        [ "${PIPESTATUS[0]}" = 0 ] || die "model generation failed"
    else
        log "model: generating the MedGemma-shaped F16 files${tiny:+ (tiny)} (bench/gpu/gen_model.py)"
        "$PY" "$G/gen_model.py" --tokenizer "$tok" --out "$MODELS" "${tiny[@]}" 2>&1 | tee "$W/model-gen.log"
        [ "${PIPESTATUS[0]}" = 0 ] || die "model generation failed"
    fi
    [ -s "$MODELS/medgemma-shaped-f16.gguf" ] || die "model generation wrote nothing"
    log "model: llama-quantize -> Q4_K_M"
    ldrun "$PREFIX/bin/llama-quantize" --allow-requantize "$MODELS/medgemma-shaped-f16.gguf" "$MODEL.tmp" Q4_K_M "$JOBS" \
        > "$W/model-quantize.log" 2>&1 || { tail -20 "$W/model-quantize.log"; die "llama-quantize failed"; }
    mv "$MODEL.tmp" "$MODEL"
    [ "${KEEP_F16:-0}" = 1 ] || rm -f "$MODELS/medgemma-shaped-f16.gguf"
    ls -la "$MODELS"
    log "model: done in $(( $(date +%s) - t0 )) s"
}

# ---- phase: hf -------------------------------------------------------------------------------
phase_hf() {
    ensure_images
    local done_check='import json,sys
j = json.load(open(sys.argv[1]))
want = sys.argv[2].split(",")
sys.exit(0 if j.get("W1") and all((j.get("W3", {}).get(c) or {}).get("tps") is not None for c in want) else 1)'
    local batches="4,16,32"; [ "$TINY" = 1 ] && batches=4
    if [ -s "$RESULTS/hf.json" ] && [ "${BENCH_REDO:-0}" != 1 ] && "$PY" -c "$done_check" "$RESULTS/hf.json" "$batches" 2>/dev/null; then
        log "hf: all results already there ($RESULTS/hf.json), skipping (BENCH_REDO=1 to redo)"; return
    fi
    if [ "$(left)" -lt 90 ]; then log "hf: skipped, only $(left) s left"; return; fi
    local args=(--images "$IMAGES" --out "$RESULTS/hf.json" --deadline "$((DEADLINE - 10))" --batches "$batches")
    [ "${BENCH_REDO:-0}" = 1 ] || args+=(--resume)
    [ "$TINY" = 1 ] && args+=(--tiny --max-new-tokens 16 --reps 1 --batch-reps 1)
    [ "$CPU" = 1 ] && args+=(--device cpu)
    log "hf: transformers baseline ($(left) s left)"
    "$PY" "$G/hf_baseline.py" "${args[@]}" || log "hf: baseline failed or incomplete (see hf.json errors)"
}

# ---- phase: bench ----------------------------------------------------------------------------
phase_bench() {
    ensure_images
    [ -s "$MODEL" ] || die "no model at $MODEL: run the model phase first"
    [ -x "$PREFIX/bin/llama-server" ] || die "no llama-server in $PREFIX: run the build phase first"
    local mbin; mbin="$(cat "$W/medlab-path" 2>/dev/null)"
    local args=(llama --prefix "$PREFIX" --models "$MODELS" --images "$IMAGES" --http-images "$HTTP_IMAGES" --results "$RESULTS"
                --deadline "$((DEADLINE - 15))" --medlab "${mbin:-}")
    if [ "$CPU" = 1 ]; then args+=(--mode cpu); else args+=(--mode gpu); fi
    if [ "$TINY" = 1 ]; then
        args+=(--max-tokens 16 --reps 2 --http-reps 2 --levels 1,4 --requests 2,4 --np 4 --ctx-per-seq 1024)
    else
        args+=(--levels 1,4,16,32,64 --requests 4,8,32,32,64 --np 64)
    fi
    [ -n "${BENCH_EXTRA:-}" ] && args+=($BENCH_EXTRA)
    log "bench: $(left) s left"
    "$PY" "$G/bench.py" "${args[@]}"
    local rc=$?
    [ $rc = 2 ] && log "!!!!! medlab did not report backend cuda: see the errors in the report !!!!!"
    return $rc
}

# ---- phase: structured (issue #16): decode with and without a JSON Schema, 1 and 16 streams ------
phase_structured() {
    [ -s "$MODEL" ] || die "no model at $MODEL: run the model phase first"
    local mbin; mbin="$(cat "$W/medlab-path" 2>/dev/null)"
    [ -x "$mbin" ] || die "no medlab binary: run the build phase with a carried medlab.xz"
    local port; port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    local streams=${STRUCTURED_STREAMS:-1,16} rounds=${STRUCTURED_ROUNDS:-5} np=16
    [ "$TINY" = 1 ] && { streams=1,4; rounds=2; np=4; }
    log "structured: medlab serve (--parallel $np) on $MODEL, streams $streams, $rounds rounds"
    # MEDLAB_TRACE=1: each request's count of steps the grammar settled, below.
    MEDLAB_TRACE=1 ldrun "$mbin" serve --model "$MODEL" --mmproj "$MMPROJ" --port "$port" --parallel "$np" --queue 64 \
        --no-record --no-demo > "$RESULTS/logs/structured-serve.log" 2>&1 &
    local pid=$!
    "$PY" "$ROOT/bench/structured/decode.py" --url "http://127.0.0.1:$port" --streams "$streams" --rounds "$rounds" \
        --wait-ready 240 --out "$RESULTS/structured.json"
    local rc=$?
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    # Of the constrained requests' tokens, how many the greedy token did not settle: an allowed set
    # computed (grammar_full_passes) or taken from the cache of allowed sets (grammar_cached).
    grep -o 'tokens=[0-9]* grammar_full_passes=[0-9]* grammar_cached=[0-9]*' "$RESULTS/logs/structured-serve.log" | tr '=' ' ' \
        | awk '$4 + $6 > 0 {t += $2; f += $4; c += $6; n++} END {if (n) printf "structured: %d constrained requests, %d tokens: %d (%.0f%%) computed an allowed set, %d (%.0f%%) took a cached one\n", n, t, f, 100 * f / t, c, 100 * c / t}'
    cp "$RESULTS/structured.json" "$OUTDIR/$DATE-$TAG-structured.json" 2>/dev/null
    return $rc
}

RC=0
for p in "${PHASES[@]}"; do
    log "=== phase $p ($(left) s left) ==="
    case "$p" in
        build) phase_build ;;
        model) phase_model ;;
        hf) phase_hf ;;
        bench) phase_bench || RC=$? ;;
        structured) phase_structured || RC=$? ;;
        report) : ;;  # collect() writes the report at exit, whatever happened
    esac
done
exit $RC
