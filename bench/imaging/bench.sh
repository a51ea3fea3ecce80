#!/usr/bin/env bash
# Benchmark (not a test): decode + window + letterbox of a 512×512 CT and a 2048×2048 CR,
# MedImaging (release build) next to pydicom + numpy in the same run. Usage: bench/imaging/bench.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${TMPDIR:-/tmp}/medimaging-bench"
mkdir -p "$WORK/Sources/bench" "$WORK/data"
for t in CLabZlib CPNG CJPEG COpenJPEG CCharLS MedImaging; do ln -sfn "$ROOT/Sources/$t" "$WORK/Sources/$t"; done
cp "$ROOT/bench/imaging/bench/main.swift" "$WORK/Sources/bench/main.swift"
sed -e 's/name: "fuzz"/name: "bench"/g' > "$WORK/Package.swift" <<'PKG'
// swift-tools-version:6.1
import PackageDescription
let package = Package(name: "fuzz", targets: [
    .systemLibrary(name: "CLabZlib", path: "Sources/CLabZlib"),
    .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
    .target(name: "CJPEG", path: "Sources/CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
    .systemLibrary(name: "COpenJPEG", path: "Sources/COpenJPEG"),
    .systemLibrary(name: "CCharLS", path: "Sources/CCharLS"),
    .target(name: "MedImaging", dependencies: ["CLabZlib", "CPNG", "CJPEG", "COpenJPEG", "CCharLS"]),
    .executableTarget(name: "fuzz", dependencies: ["MedImaging"]),
], swiftLanguageModes: [.v6])
PKG
(cd "$WORK" && swift build -c release --product bench >/dev/null)
"$ROOT/.venv/bin/python" "$ROOT/bench/imaging/bench_pydicom.py" "$WORK/data"
"$WORK/.build/release/bench" "$WORK/data/ct_512.dcm" "$WORK/data/cr_2048.dcm"
