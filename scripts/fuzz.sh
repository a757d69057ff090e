#!/usr/bin/env bash
# The fuzz build and long fuzzing campaigns (docs/RELIABILITY.md).
#   scripts/fuzz.sh --build-only              configure + build build-fuzz/ (clang, libFuzzer, ASan+UBSan)
#   scripts/fuzz.sh [--runs N | --seconds S] [TARGET...]
#       runs each target (default: all of fuzz/CMakeLists.txt's list) for N executions (default
#       100000) or S seconds, one after another, on its committed corpus (tests/fuzz/corpus/<t>) and
#       ONNX's conformance files; prints one table row per target. A crash stops with the input
#       under build-fuzz/fuzz-campaign/<t>/artifacts: minimize it (fuzz_<t> -minimize_crash=1),
#       fix the bug and commit the input as tests/fuzz/corpus/<t>/crash-<what>.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${FUZZ_BUILD_DIR:-build-fuzz}"
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHQP_FUZZ=ON \
  -DHQP_FUZZ_SECONDS="${HQP_FUZZ_SECONDS:-30}" >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
if [ "${1:-}" = "--build-only" ]; then exit 0; fi

table="${FUZZ_TABLE:-$BUILD_DIR/fuzz-campaign.md}"  # the campaign table (markdown)
limit=(--runs 100000)
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) limit=(--runs "$2"); shift 2 ;;
    --seconds) limit=(--seconds "$2"); shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^ *"\([a-z_]*\):hqp_[a-z_]*".*/\1/p' fuzz/CMakeLists.txt)
fi
printf '| target | executions | accepted | clean errors | crashes | seconds | corpus after |\n|---|---|---|---|---|---|---|\n' \
  >"$table"
for t in "${targets[@]}"; do
  seeds=(tests/fuzz/corpus/"$t")
  case "$t" in onnx_model|tensor_proto) [ -d /usr/share/libonnx-testdata/data/node ] && seeds+=(/usr/share/libonnx-testdata/data/node) ;; esac
  work="$BUILD_DIR/fuzz-campaign/$t"
  mkdir -p "$work"
  fuzz/run_fuzzer.sh "$BUILD_DIR/fuzz/fuzz_$t" "${limit[@]}" --work "$work" "${seeds[@]}" | tee "$work.out" | tail -n 1
  execs=$(sed -n 's/^fuzz: [a-z_]* \([0-9]*\) execs in \([0-9]*\) s, ok$/\1/p' "$work.out")
  secs=$(sed -n 's/^fuzz: [a-z_]* \([0-9]*\) execs in \([0-9]*\) s, ok$/\2/p' "$work.out")
  accepted=$(sed -n 's/^hqp-fuzz: [0-9]* inputs, \([0-9]*\) accepted, [0-9]* clean errors$/\1/p' "$work.out")
  errors=$(sed -n 's/^hqp-fuzz: [0-9]* inputs, [0-9]* accepted, \([0-9]*\) clean errors$/\1/p' "$work.out")
  printf '| %s | %s | %s | %s | 0 | %s | %s |\n' "$t" "$execs" "$accepted" "$errors" "$secs" \
    "$(ls "$work/corpus" | wc -l)" >>"$table"
done
cat "$table"
