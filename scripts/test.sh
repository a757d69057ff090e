#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs the CTest suite (label ci).
# HQP_SANITIZE_RUN=1 additionally builds with AddressSanitizer+UBSan in build-asan/ and runs the
# suite there too (the golden torchvision models excluded: they take minutes under ASan).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build -L ci --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 1500
if [ "${HQP_SANITIZE_RUN:-0}" = "1" ]; then
  BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo bash scripts/build.sh -DHQP_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L ci -LE slow --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 1500
fi
