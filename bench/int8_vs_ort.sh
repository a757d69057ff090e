#!/bin/bash
# hqp vs ONNX Runtime, alternating per model and round, on any ONNX files (FP32 or QDQ INT8).
# Usage: bench/int8_vs_ort.sh THREADS ROUNDS NAME=PATH@SHAPE...   (needs build/hqp, node and
# bench/ort/node_modules). Prints one line per round and model: hqp and ORT median ms (40 runs
# after 10 warm-up runs each), then the median over rounds per model.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
T=$1; R=$2; shift 2
median() { /usr/bin/python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["median_ms"])'; }
out=$(mktemp)
for r in $(seq "$R"); do
  for spec in "$@"; do
    n=${spec%%=*}; rest=${spec#*=}; f=$(realpath "${rest%@*}"); shape=${rest##*@}
    h=$("$REPO/build/hqp" bench "$f" --threads "$T" --runs 40 --warmup 10 --shape "$shape" --json | median)
    o=$(cd "$REPO/bench/ort" && node ort_bench.js "$f" --threads "$T" --runs 40 --warmup 10 --shape "$shape" 2>/dev/null | median)
    echo "$r $n $h $o" | tee -a "$out"
  done
done
echo "model hqp_ms ort_ms hqp/ort (median over $R rounds, $T threads)"
/usr/bin/python3 - "$out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    _, n, h, o = line.split(); rows.setdefault(n, []).append((float(h), float(o)))
for n, v in rows.items():
    h = statistics.median(x[0] for x in v); o = statistics.median(x[1] for x in v)
    print(f"{n} {h:.3f} {o:.3f} {h / o:.2f}")
PY
rm -f "$out"
