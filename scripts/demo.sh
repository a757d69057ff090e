#!/usr/bin/env bash
# The main job on the built-in default: installs dependencies, builds, then shows the default
# model (a MobileNetV3-Small trained on Fashion-MNIST by `hqp train`, see README.md), measures its
# accuracy on the Fashion-MNIST test set and its latency on this CPU with hqp's fast runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
MODEL=models/fashion_mnist/mobilenet_v3_small.onnx
./build/hqp info "$MODEL" | sed -n "1,12p"  # the summary; the per-layer table follows in the full output
./build/hqp eval "$MODEL" --data fashion-mnist
./build/hqp bench "$MODEL" --threads "$(nproc)"
