#!/usr/bin/env bash
# Installs every system dependency of hqp from Debian 12 packages. Idempotent; run as root
# (or with sudo available). Does nothing else: no downloads besides the package registry.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev
  python3 python3-numpy python3-torch python3-torchvision python3-onnx
  libdnnl-dev ocl-icd-opencl-dev
  libtorch-dev
  # Gloo's headers for libtorch's c10d ProcessGroupGloo (data-parallel training, src/distributed)
  libgloo-dev
  # libtorch's (and numpy's) BLAS: Debian's default libblas3 is the unoptimized reference BLAS, and
  # its sgemm_ took 23 % of MobileNetV3 training time (perf); the OpenMP build of OpenBLAS takes
  # over the libblas.so.3 alternative and follows torch's thread count.
  libopenblas0-openmp
  dataset-fashion-mnist
  zlib1g-dev libpng-dev libturbojpeg0-dev
  # headless browser of the compress report test (tests/pipeline/report_test.cpp)
  chromium
  # the fuzz build (scripts/fuzz.sh, fuzz/): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev libfuzzer-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
