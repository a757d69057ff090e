#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs the CTest suite (label ci).
# HQP_SANITIZE_RUN=1 additionally builds with AddressSanitizer+UBSan in build-asan/ and runs the
# suite there too (the golden torchvision models excluded: they take minutes under ASan).
# Then the fuzz targets run for a short fixed time each (build-fuzz/, label fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build -L ci --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 1500
# The fuzz targets (fuzz/, clang + libFuzzer, ASan+UBSan), each for HQP_FUZZ_SECONDS (30 s);
# HQP_FUZZ_RUN=0 skips them. Long campaigns: scripts/fuzz.sh.
if [ "${HQP_FUZZ_RUN:-1}" = "1" ]; then
  bash scripts/fuzz.sh --build-only
  ctest --test-dir build-fuzz -L fuzz --output-on-failure -j "${JOBS:-$(nproc)}"
fi
if [ "${HQP_SANITIZE_RUN:-0}" = "1" ]; then
  BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo bash scripts/build.sh -DHQP_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L ci -LE slow --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 1500
fi
