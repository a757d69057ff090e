#!/usr/bin/env bash
# The main job on the built-in default: installs dependencies, builds, shows the default model (a
# MobileNetV3-Small trained on Fashion-MNIST by `hqp train`, see README.md) and its accuracy and
# latency, then compresses it with `hqp compress` (Fisher pruning gated on the quantized model,
# INT8 quantization, the final model verified within --max-drop of the original) and prints the
# before / after table. A few minutes on 2 cores; the report lands in build/demo/report/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
MODEL=models/fashion_mnist/mobilenet_v3_small.onnx
THREADS="$(nproc)"
./build/hqp info "$MODEL" | sed -n "1,12p"  # the summary; the per-layer table follows in the full output
./build/hqp eval "$MODEL" --data fashion-mnist
./build/hqp bench "$MODEL" --threads "$THREADS"
mkdir -p build/demo
rm -rf build/demo/mobilenet_v3_small.int8.onnx.compress-work  # checkpoints of an interrupted earlier demo
./build/hqp compress "$MODEL" --data fashion-mnist -o build/demo/mobilenet_v3_small.int8.onnx \
    --max-drop 1.0 --time-budget 2 --finetune-steps 100 --threads "$THREADS" --report-dir build/demo/report
