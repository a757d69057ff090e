#!/usr/bin/env bash
# The main job on the built-in default: installs dependencies, builds, then shows and runs the
# demo model shipped in models/demo/ (hqp info + hqp run) and checks the run against PyTorch's output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
MODEL=models/demo/tiny_cnn.onnx
./build/hqp info "$MODEL"
./build/hqp run "$MODEL" -i models/demo/input_0.pb -o out/demo
./build/hqp convert "$MODEL" out/demo/tiny_cnn_roundtrip.onnx
