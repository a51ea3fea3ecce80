#!/usr/bin/env bash
# Idempotent set-up for MedGemma Vision Lab on Debian 12: system packages, the pinned
# llama.cpp build (from PyPI's llama-cpp-python sdist), a Python venv for the test tools,
# and the test models. A second run on the same machine finishes in seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${MEDLAB_CACHE:-$HOME/.cache/medlab}"
LLAMA_PY_VERSION="0.3.36"
LLAMA_PY_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
LLAMA_COMMIT="0c1e57098"
LLAMA_BUILD_NUMBER="11312"
JOBS="${MEDLAB_JOBS:-$(nproc)}"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

# ---- system packages -------------------------------------------------------------------
APT_PACKAGES=(cmake ninja-build pkg-config libgomp1 python3-venv
              zlib1g-dev libpng-dev libjpeg62-turbo-dev libopenjp2-7-dev libcharls-dev libsqlite3-dev chromium chromium-driver fonts-noto-cjk dcmtk)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing apt packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- llama.cpp source, pinned and checked -----------------------------------------------
SRC_DIR="$CACHE/src/llama.cpp-$LLAMA_COMMIT"
if [ ! -f "$SRC_DIR/.medlab-extracted" ]; then
    dl="$CACHE/downloads"; mkdir -p "$dl"
    tarball="$dl/llama_cpp_python-$LLAMA_PY_VERSION.tar.gz"
    if [ ! -f "$tarball" ] || ! echo "$LLAMA_PY_SHA256  $tarball" | sha256sum -c --status; then
        log "downloading llama-cpp-python $LLAMA_PY_VERSION sdist from PyPI"
        rm -f "$tarball"
        python3 -m pip download -q --no-deps --no-build-isolation --no-binary llama-cpp-python \
            "llama-cpp-python==$LLAMA_PY_VERSION" -d "$dl" 2>/dev/null \
        || python3 -m pip download -q --no-deps --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_PY_VERSION" -d "$dl"
    fi
    echo "$LLAMA_PY_SHA256  $tarball" | sha256sum -c --status \
        || { log "SHA-256 mismatch for $tarball"; exit 1; }
    log "extracting vendor/llama.cpp"
    rm -rf "$SRC_DIR" "$SRC_DIR.tmp"; mkdir -p "$SRC_DIR.tmp"
    tar -xzf "$tarball" -C "$SRC_DIR.tmp" --strip-components=3 "llama_cpp_python-$LLAMA_PY_VERSION/vendor/llama.cpp"
    mv "$SRC_DIR.tmp" "$SRC_DIR"
    touch "$SRC_DIR/.medlab-extracted"
fi

# ---- llama.cpp build (shared libs, backends as run-time plug-ins) ------------------------
CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON
             -DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=ON -DLLAMA_BUILD_SERVER=ON
             -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF
             -DLLAMA_OPENSSL=OFF
             -DLLAMA_BUILD_COMMIT="$LLAMA_COMMIT" -DLLAMA_BUILD_NUMBER="$LLAMA_BUILD_NUMBER"
             "-DCMAKE_INSTALL_RPATH=\$ORIGIN/../lib")
KEY="$(printf '%s\n' "$LLAMA_COMMIT" "${CMAKE_FLAGS[@]}" | sha256sum | cut -c1-12)"
PREFIX="$CACHE/llama.cpp/$LLAMA_COMMIT-cpu-$KEY"
if [ ! -f "$PREFIX/.medlab-built" ]; then
    log "building llama.cpp $LLAMA_COMMIT (cpu plug-ins, -j$JOBS); this takes a few minutes once"
    BUILD="$CACHE/build/llama.cpp-$KEY"; mkdir -p "$CACHE/build"
    cmake -S "$SRC_DIR" -B "$BUILD" -G Ninja "${CMAKE_FLAGS[@]}" -DCMAKE_INSTALL_PREFIX="$PREFIX" >"$BUILD.configure.log" 2>&1 \
        || { tail -30 "$BUILD.configure.log"; exit 1; }
    cmake --build "$BUILD" -j "$JOBS" >"$BUILD.build.log" 2>&1 || { tail -40 "$BUILD.build.log"; exit 1; }
    cmake --install "$BUILD" >"$BUILD.install.log" 2>&1 || { tail -30 "$BUILD.install.log"; exit 1; }
    # The CPU plug-ins install into bin/; keep a copy beside libggml so lib/ is self-contained.
    cp -f "$PREFIX"/bin/libggml-*.so "$PREFIX/lib/" 2>/dev/null || true
    cp -f "$SRC_DIR"/tools/mtmd/mtmd-helper.h "$PREFIX/include/" 2>/dev/null || true
    touch "$PREFIX/.medlab-built"
fi
# The JSON-Schema-to-grammar converter of llama.cpp's common library (installed as
# libllama-common.so): its three headers, for the small C shim in Sources/CLlamaGrammar.
if [ ! -f "$PREFIX/include/common/json-schema-to-grammar.h" ]; then
    mkdir -p "$PREFIX/include/common"
    cp -f "$SRC_DIR"/common/json.h "$SRC_DIR"/common/json-schema.h "$SRC_DIR"/common/json-schema-to-grammar.h "$PREFIX/include/common/"
fi
# llama.cpp's grammar header (internal API, exported by libllama): Sources/CLlamaGrammar reads a
# grammar's state through it to cache the tokens each state allows.
if [ ! -f "$PREFIX/include/llama-grammar.h" ]; then
    cp -f "$SRC_DIR"/src/llama-grammar.h "$PREFIX/include/"
fi
ln -sfn "$PREFIX" "$ROOT/.llama"

# ---- Python tools (gguf writer, test clients) --------------------------------------------
VENV="$CACHE/venv"
PY_REQS="$ROOT/scripts/requirements.txt"
PY_STAMP=$(sha256sum "$PY_REQS" | cut -c1-16)
if [ ! -f "$VENV/.medlab-ok" ] || [ "$(cat "$VENV/.medlab-ok")" != "$PY_STAMP" ]; then
    log "preparing Python venv at $VENV (pinned versions from scripts/requirements.txt)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r "$PY_REQS"
    echo "$PY_STAMP" > "$VENV/.medlab-ok"
fi
ln -sfn "$VENV" "$ROOT/.venv"

# ---- test models ---------------------------------------------------------------------------
"$VENV/bin/python" "$ROOT/scripts/prepare_test_models.py" --out "$CACHE/test-models"
ln -sfn "$CACHE/test-models" "$ROOT/.test-models"
log "ready: llama.cpp at $PREFIX"
