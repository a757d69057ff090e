#!/usr/bin/python3
# hqp vs ONNX Runtime on torchvision's classifiers beyond the golden set (issue 10's list), written
# into docs/PERFORMANCE.md. Standard library only; needs a built `hqp`, node, bench/ort/node_modules
# (npm install --ignore-scripts) and the files of tests/golden/make_zoo.py.
"""FP32 latency of hqp's fast runtime and ONNX Runtime on the PyTorch-exported zoo, side by side.

Usage:
    /usr/bin/python3 bench/zoo_vs_ort.py --hqp build/hqp --zoo-dir build/zoo [--models a,b,...]
        [--threads 2] [--rounds 3] [--runs 20] [--warmup 5] [--doc docs/PERFORMANCE.md] [--no-write]
        [--layouts auto|nhwc,nchw8c]   (each hqp --f32-layout its own column, all alternating in one run)

Per model and round: `hqp bench MODEL --threads T --runs R --warmup W --shape 1x3xSxS --json` and
`node bench/ort/ort_bench.js MODEL ...` one after the other, the first engine alternating between
rounds. The figure per engine is the median of the per-round medians; ratio = hqp / ONNX Runtime
(below 1: hqp faster). Writes a markdown block between <!-- zoo-ort:begin --> and <!-- zoo-ort:end -->.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_BENCH = os.path.join(REPO, "bench", "ort", "ort_bench.js")
BEGIN = "<!-- zoo-ort:begin -->"
END = "<!-- zoo-ort:end -->"
MODELS = ["resnet50", "resnext50_32x4d", "densenet121", "squeezenet1_1", "shufflenet_v2_x1_0", "mnasnet1_0",
          "efficientnet_b0", "efficientnet_v2_s", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny", "googlenet",
          "inception_v3", "alexnet"]


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {shlex.join(cmd)}\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hqp", required=True)
    ap.add_argument("--zoo-dir", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "PERFORMANCE.md"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--layouts", default="auto",
                    help="comma list of hqp --f32-layout values, each timed as its own engine (e.g. nhwc,nchw8c)")
    a = ap.parse_args(argv)
    layouts = [x for x in a.layouts.split(",") if x]
    engines = [f"hqp:{x}" for x in layouts] + ["ort"]
    rows = []
    for name in [m for m in a.models.split(",") if m]:
        path = os.path.join(a.zoo_dir, name, "model.onnx")
        with open(os.path.join(a.zoo_dir, name, "meta.json")) as f:
            shape = "x".join(str(d) for d in json.load(f)["input_shape"])
        common = ["--threads", str(a.threads), "--runs", str(a.runs), "--warmup", str(a.warmup), "--shape", shape]
        t = {e: [] for e in engines}
        for r in range(a.rounds):
            order = engines if r % 2 == 0 else engines[::-1]
            for engine in order:
                cmd = [a.hqp, "bench", path] + common + ["--json", "--f32-layout", engine[4:]] \
                    if engine.startswith("hqp:") else ["node", ORT_BENCH, path] + common
                t[engine].append(run_json(cmd)["median_ms"])
        med = {e: statistics.median(v) for e, v in t.items()}
        rows.append((name, shape, med))
        print(f"{name}: " + ", ".join(f"{e} {m:.2f} ms" for e, m in med.items()), flush=True)
    cmd = "/usr/bin/python3 bench/zoo_vs_ort.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    lines = [BEGIN,
             f"Generated {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC by `{cmd}` on {cpu_name()} "
             f"({os.cpu_count()} vCPUs), {a.threads} threads, batch 1, {a.rounds} alternating rounds x {a.runs} runs "
             "(median of per-round medians). Files: tests/golden/make_zoo.py's exports (PyTorch, opset 13, "
             "random weights).", "",
             "| model | input | " + " | ".join(f"hqp {x} ms" for x in layouts) + " | ONNX Runtime ms | " +
             " | ".join(f"hqp {x} / ORT" for x in layouts) + " |",
             "|---|---|" + "---|" * (2 * len(layouts) + 1)]
    for name, shape, med in rows:
        o = med["ort"]
        lines.append(f"| {name} | {shape} | " + " | ".join(f"{med['hqp:' + x]:.2f}" for x in layouts) +
                     f" | {o:.2f} | " + " | ".join(f"{med['hqp:' + x] / o:.2f}" for x in layouts) + " |")
    lines.append(END)
    block = "\n".join(lines)
    print(block)
    if not a.no_write:
        with open(a.doc) as f:
            doc = f.read()
        if BEGIN in doc:
            doc = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.S)
        else:
            doc = doc.rstrip("\n") + "\n\n" + block + "\n"
        with open(a.doc, "w") as f:
            f.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
