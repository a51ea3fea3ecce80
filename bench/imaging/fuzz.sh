#!/usr/bin/env bash
# Builds a libFuzzer binary over MedImaging's sources with `swiftc -sanitize=fuzzer,address`
# (one module, outside SwiftPM, whose executable entry-point renaming clashes with libFuzzer's
# main) and runs it for SECONDS (default 180) on a seed corpus of pydicom's small test files,
# after replaying every input it ever crashed on (Tests/MedImagingTests/FuzzFindings, also run
# by `swift test`). A new crash-* input belongs there, with its fix.
# Usage: bench/imaging/fuzz.sh [SECONDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${TMPDIR:-/tmp}/medimaging-fuzz"
rm -rf "$WORK/build"; mkdir -p "$WORK/build/CJPEG" "$WORK/corpus"
cp "$ROOT/Sources/CJPEG/include/cjpeg_shim.h" "$WORK/build/CJPEG/"
printf 'module CJPEG {\n    header "cjpeg_shim.h"\n    export *\n}\n' > "$WORK/build/CJPEG/module.modulemap"
clang -O1 -g -c "$ROOT/Sources/CJPEG/cjpeg_shim.c" -I "$ROOT/Sources/CJPEG/include" -o "$WORK/build/cjpeg_shim.o"
sed -e '/^import MedImaging$/d' "$ROOT/bench/imaging/fuzz/main.swift" > "$WORK/build/FuzzEntry.swift"
swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name MedImagingFuzz \
    $(find "$ROOT/Sources/MedImaging" -name '*.swift') "$WORK/build/FuzzEntry.swift" \
    -I "$ROOT/Sources/CLabZlib" -I "$ROOT/Sources/CPNG" -I "$ROOT/Sources/COpenJPEG" -I "$ROOT/Sources/CCharLS" \
    -I "$WORK/build/CJPEG" "$WORK/build/cjpeg_shim.o" -ljpeg -lpng16 -lz -lopenjp2 -lcharls \
    -o "$WORK/build/fuzz"
PY="$ROOT/.venv/bin/python"
SEEDS="$("$PY" -c 'import pydicom, os; print(os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files"))' 2>/dev/null || true)"
if [ -n "$SEEDS" ]; then find "$SEEDS" -maxdepth 1 -name '*.dcm' -size -100k -exec cp -n {} "$WORK/corpus/" \; ; fi
cd "$WORK"
build/fuzz -runs=1 "$ROOT"/Tests/MedImagingTests/FuzzFindings/* 2>&1 | tail -3
build/fuzz corpus -max_total_time="${1:-180}" -max_len=131072 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 | tail -30
