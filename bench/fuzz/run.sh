#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harness (bench/fuzz/medlab-fuzz, every parser of outside input)
# once with AddressSanitizer and coverage in .build-fuzz, writes the seeds, then runs each target
# for FUZZ_SECONDS (default 60) at nice 10, after replaying every input it ever crashed on.
# Prints each target's executions and the total; exits non-zero on any crash, hang over 10 s,
# out-of-memory or leak. A finding is left in .build-fuzz/fuzz/findings/: fix its cause, then commit
# it under the target's findings folder (below), which the ordinary tests replay.
# Usage: FUZZ_SECONDS=N bench/fuzz/run.sh [TARGET...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
ALL=(imaging dataurl multipart predict-json chat-json set-yaml set-zip study-zip)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi
SCRATCH=.build-fuzz
WORK="$SCRATCH/fuzz"

# libFuzzer without its main: the harness's main picks the target and calls LLVMFuzzerRunDriver.
SWIFT_BIN="$(dirname "$(command -v swift)")"
LIBFUZZER="$(ls "$SWIFT_BIN"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)"
# -enable-testing: the harness reaches the server's internal request types by @testable import.
MEDLAB_FUZZ="$LIBFUZZER" swift build -c release --scratch-path "$SCRATCH" --product medlab-fuzz --sanitize=address \
    -Xswiftc -sanitize-coverage=edge,indirect-calls,trace-cmp,inline-8bit-counters,pc-table -Xswiftc -enable-testing
BIN="$SCRATCH/release/medlab-fuzz"

# Rewritten in place (not removed first), so a second run beside this one keeps its seeds.
.venv/bin/python bench/fuzz/seeds.py "$WORK/seeds"
mkdir -p "$WORK/findings" "$WORK/logs"

# Swift's backtracer would hold each crashing run for up to 30 s; libFuzzer and ASan report instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:handle_abort=1}"

# Where each target's past crash inputs live (replayed here first, and by `swift test`).
findings_folder() {
    case "$1" in
        imaging) echo Tests/MedImagingTests/FuzzFindings ;;
        *) echo "Tests/MedLabServerTests/Fuzz/FuzzFindings/$1" ;;
    esac
}

max_len() {
    case "$1" in
        imaging) echo 131072 ;;
        set-zip | study-zip) echo 65536 ;;
        *) echo 16384 ;;
    esac
}

failed=0
total=0
summary="$WORK/summary-$(date -u +%Y%m%dT%H%M%S)-$$.txt"
printf '%-13s %12s %9s %8s %8s  %s\n' target executions exec/s seconds corpus result | tee "$summary"
for target in "${TARGETS[@]}"; do
    corpus="$WORK/corpus/$target"
    log="$WORK/logs/$target.log"
    mkdir -p "$corpus"
    inputs=("$corpus" "$WORK/seeds/$target")
    past="$(findings_folder "$target")"
    if [ -d "$past" ]; then inputs+=("$past"); fi
    echo "== $target: ${SECONDS_EACH}s (log: $log)"
    status=0
    nice -n 10 "$BIN" "$target" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len "$target")" -print_final_stats=1 -artifact_prefix="$WORK/findings/$target-" \
        "${inputs[@]}" > "$log" 2>&1 || status=$?
    # A stopped run prints no "Done" line: `|| true` keeps pipefail from ending the script there.
    executions="$(awk '/stat::number_of_executed_units/ {print $2}' "$log" || true)"
    rate="$(awk '/stat::average_exec_per_sec/ {print $2}' "$log" || true)"
    elapsed="$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | awk '{print $5}' | tail -1 || true)"
    units="$(find "$corpus" -type f | wc -l)"
    result=ok
    if [ "$status" -ne 0 ] || grep -q -e 'ERROR: libFuzzer' -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'SUMMARY: libFuzzer' "$log"; then
        result="FAILED (exit $status): $(grep -m1 -e 'ERROR:' -e 'SUMMARY:' -e 'Fatal error' "$log" || true)"
        failed=1
        tail -40 "$log"
    fi
    total=$((total + ${executions:-0}))
    printf '%-13s %12s %9s %8s %8s  %s\n' "$target" "${executions:-?}" "${rate:-?}" "${elapsed:-?}" "$units" "$result" \
        | tee -a "$summary"
done
printf '%-13s %12s\n' total "$total" | tee -a "$summary"
echo "summary: $summary"
exit "$failed"
