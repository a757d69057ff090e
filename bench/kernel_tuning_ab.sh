#!/bin/bash
# INT8 convolution implementation tuning on / off (hqp bench vs hqp bench --first-kernels), alternating
# per file and round, on any ONNX files. One-thread runs are pinned to CPU 0 (this VM's two vCPUs
# differ; docs/PERFORMANCE.md).
# Usage: bench/kernel_tuning_ab.sh THREADS ROUNDS NAME=PATH@SHAPE...   (needs build/hqp; HQP=... to
# use another binary). Prints one line per round and file (first-choice and tuned median ms, 200 runs
# after 20 warm-up runs each), then the median over rounds per file and the speedup.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
HQP=${HQP:-$REPO/build/hqp}
T=$1; R=$2; shift 2
PIN=(); [ "$T" = 1 ] && PIN=(taskset -c 0)
median() { /usr/bin/python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["median_ms"])'; }
out=$(mktemp)
for r in $(seq "$R"); do
  for spec in "$@"; do
    n=${spec%%=*}; rest=${spec#*=}; f=$(realpath "${rest%@*}"); shape=${rest##*@}
    a=$("${PIN[@]}" "$HQP" bench "$f" --threads "$T" --runs 200 --warmup 20 --shape "$shape" --json --first-kernels | median)
    b=$("${PIN[@]}" "$HQP" bench "$f" --threads "$T" --runs 200 --warmup 20 --shape "$shape" --json | median)
    echo "$r $n $a $b" | tee -a "$out"
  done
done
echo "file first_choice_ms tuned_ms speedup (median over $R rounds, $T threads)"
/usr/bin/python3 - "$out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    _, n, a, b = line.split(); rows.setdefault(n, []).append((float(a), float(b)))
for n, v in rows.items():
    a = statistics.median(x[0] for x in v); b = statistics.median(x[1] for x in v)
    print(f"{n} {a:.4f} {b:.4f} {a / b:.2f}x")
PY
rm -f "$out"
