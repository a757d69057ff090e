#!/usr/bin/env bash
# Runs one libFuzzer target of the HQP_FUZZ build for a fixed time or number of executions, on a
# fresh working corpus seeded from the directories given (read-only; new inputs go to the working
# corpus). A crash, leak, timeout or out-of-memory leaves its input in WORK/artifacts and fails.
#   run_fuzzer.sh BINARY (--seconds S | --runs N) --work DIR [--seed K] SEED_DIR...
# --seed fixes libFuzzer's random seed (CTest passes 1, so a CI run explores the same inputs every
# time, up to how many fit in the time); without it every campaign explores anew.
# Prints the target's final stats; the last line is "fuzz: <name> <executions> execs in <s> s, ok".
set -euo pipefail
bin="$1"; shift
seconds=""; runs=""; work=""; seed=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    *) break ;;
  esac
done
if [ -z "$work" ] || { [ -z "$seconds" ] && [ -z "$runs" ]; }; then
  echo "usage: run_fuzzer.sh BINARY (--seconds S | --runs N) --work DIR SEED_DIR..." >&2
  exit 2
fi
name="$(basename "$bin")"
rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/artifacts"
limit=()
if [ -n "$seconds" ]; then limit+=("-max_total_time=$seconds"); fi
if [ -n "$runs" ]; then limit+=("-runs=$runs"); fi
if [ -n "$seed" ]; then limit+=("-seed=$seed"); fi
seeds=()
for d in "$@"; do [ -d "$d" ] && seeds+=("$d"); done
log="$work/fuzz.log"
start=$(date +%s)
set +e
# -rss_limit_mb / -malloc_limit_mb: one input may not take more than 2.5 GB (the readers' limits
# keep every allocation far below); -timeout: one input may not take more than 25 s under ASan.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  "$bin" "${limit[@]}" -timeout=25 -rss_limit_mb=2560 -malloc_limit_mb=2560 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "${seeds[@]}" >"$log" 2>&1
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
if [ "$rc" -ne 0 ]; then
  tail -n 60 "$log"
  echo "fuzz: $name FAILED (exit $rc) after ${execs:-?} execs in ${elapsed} s; inputs in $work/artifacts" >&2
  exit 1
fi
grep -E '^(stat::|#[0-9]+ +DONE|hqp-fuzz:)' "$log" || true
echo "fuzz: $name ${execs:-0} execs in ${elapsed} s, ok"
