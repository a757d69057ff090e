#!/usr/bin/python3
# hqp vs ONNX Runtime on torchvision's classifiers beyond the golden set (issue 10's list), written
# into docs/PERFORMANCE.md. Standard library only; needs a built `hqp`, node, bench/ort/node_modules
# (npm install --ignore-scripts) and the files of tests/golden/make_zoo.py.
"""FP32 latency of hqp's fast runtime and ONNX Runtime on the PyTorch-exported zoo, side by side.

Usage:
    /usr/bin/python3 bench/zoo_vs_ort.py --hqp build/hqp --zoo-dir build/zoo [--models a,b,...]
        [--golden-dir build/golden]   (also the golden set's opset-13 files, first in the table)
        [--threads 2] [--rounds 3] [--runs 20] [--warmup 5] [--doc docs/PERFORMANCE.md] [--no-write]
        [--layouts auto|nhwc,nchw8c]   (each hqp --f32-layout its own column, all alternating in one run)

Each row also gives the fast runtime's error against PyTorch on the file's own test_data_set_0
(`hqp run MODEL -i input_0.pb --threads T`, then max|hqp - torch| / max|torch| over the logits; the
golden tests require <= 1e-4).

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
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_BENCH = os.path.join(REPO, "bench", "ort", "ort_bench.js")
BEGIN = "<!-- zoo-ort:begin -->"
END = "<!-- zoo-ort:end -->"
GOLDEN = ["resnet18_op13", "mobilenet_v2_op13", "mobilenet_v3_small_op13", "mobilenet_v3_large_op13"]
MODELS = ["resnet50", "resnext50_32x4d", "densenet121", "squeezenet1_1", "shufflenet_v2_x1_0", "mnasnet1_0",
          "efficientnet_b0", "efficientnet_v2_s", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny", "googlenet",
          "inception_v3", "alexnet"]


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {shlex.join(cmd)}\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)


def read_tensor(path):
    """A TensorProto file as a flat list of floats (float data only: what the exports write)."""
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t).astype("float64").ravel()


def max_rel_err_vs_torch(hqp, model_dir, threads):
    """max|hqp - torch| / max|torch| of the fast runtime on the export's test_data_set_0."""
    import tempfile
    data = os.path.join(model_dir, "test_data_set_0")
    with tempfile.TemporaryDirectory(prefix="hqp_zoo_") as out:
        cmd = [hqp, "run", os.path.join(model_dir, "model.onnx"), "-i", os.path.join(data, "input_0.pb"),
               "-o", out, "--threads", str(threads)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"command failed ({r.returncode}): {shlex.join(cmd)}\n{r.stderr[-2000:]}")
        got = read_tensor(os.path.join(out, "output_0.pb"))
    want = read_tensor(os.path.join(data, "output_0.pb"))
    if got.shape != want.shape:
        sys.exit(f"{model_dir}: hqp's output has {got.size} values, PyTorch's {want.size}")
    return float(abs(got - want).max() / max(abs(want).max(), 1e-30))


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
    ap.add_argument("--golden-dir", help="also time the golden set (tests/golden/make_golden.py's *_op13 files)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "PERFORMANCE.md"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--wait-quiet", type=float, default=0,
                    help="first wait up to this many seconds for a 1-min load average below 1.0")
    ap.add_argument("--layouts", default="auto",
                    help="comma list of hqp --f32-layout values, each timed as its own engine (e.g. nhwc,nchw8c)")
    a = ap.parse_args(argv)
    layouts = [x for x in a.layouts.split(",") if x]
    engines = [f"hqp:{x}" for x in layouts] + ["ort"]
    waited = 0.0
    while a.wait_quiet > 0 and os.getloadavg()[0] >= 1.0 and waited < a.wait_quiet:
        time.sleep(5)
        waited += 5
    load_start = os.getloadavg()[0]
    rows = []
    cases = [(name, os.path.join(a.golden_dir, name)) for name in GOLDEN] if a.golden_dir else []
    cases += [(name, os.path.join(a.zoo_dir, name)) for name in a.models.split(",") if name]
    for name, model_dir in cases:
        path = os.path.join(model_dir, "model.onnx")
        with open(os.path.join(model_dir, "meta.json")) as f:
            dims = json.load(f)["input_shape"]
        shape = "x".join(str(d) for d in [1] + dims[1:])  # batch 1 (the golden exports hold a batch of 2)
        common = ["--threads", str(a.threads), "--runs", str(a.runs), "--warmup", str(a.warmup), "--shape", shape]
        t = {e: [] for e in engines}
        for r in range(a.rounds):
            order = engines if r % 2 == 0 else engines[::-1]
            for engine in order:
                cmd = [a.hqp, "bench", path] + common + ["--json", "--f32-layout", engine[4:]] \
                    if engine.startswith("hqp:") else ["node", ORT_BENCH, path] + common
                t[engine].append(run_json(cmd)["median_ms"])
        med = {e: statistics.median(v) for e, v in t.items()}
        err = max_rel_err_vs_torch(a.hqp, model_dir, a.threads)
        rows.append((name, shape, med, t, err))
        print(f"{name}: " + ", ".join(f"{e} {m:.2f} ms" for e, m in med.items()) + f", max rel err {err:.1e}",
              flush=True)
    cmd = "/usr/bin/python3 bench/zoo_vs_ort.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    lines = [BEGIN,
             f"Generated {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC by `{cmd}` on {cpu_name()} "
             f"({os.cpu_count()} vCPUs), {a.threads} threads, batch 1, {a.rounds} alternating rounds x {a.runs} runs "
             "(median of per-round medians). Files: tests/golden/make_zoo.py's exports (PyTorch, opset 13, "
             "random weights)" + (", and tests/golden/make_golden.py's opset-13 files (`*_op13`)" if a.golden_dir
                                  else "") + ". Max rel err: hqp's fast runtime against PyTorch's logits on the "
             "export's own input (`hqp run`, default layout, the export's batch), max|hqp - torch| / max|torch|. "
             f"1-min load average {load_start:.2f} at the start "
             f"(after {waited:.0f} s of waiting), {os.getloadavg()[0]:.2f} at the end.", "",
             "| model | input | max rel err vs PyTorch | " + " | ".join(f"hqp {x} ms" for x in layouts) +
             " | ONNX Runtime ms | " + " | ".join(f"hqp {x} / ORT" for x in layouts) + " |",
             "|---|---|" + "---|" * (2 * len(layouts) + 2)]
    for name, shape, med, _, err in rows:
        o = med["ort"]
        lines.append(f"| {name} | {shape} | {err:.1e} | " + " | ".join(f"{med['hqp:' + x]:.2f}" for x in layouts) +
                     f" | {o:.2f} | " + " | ".join(f"{med['hqp:' + x] / o:.2f}" for x in layouts) + " |")
    ratios = [med["hqp:" + layouts[0]] / med["ort"] for _, _, med, _, _ in rows]
    if ratios:
        lines += ["", f"hqp {layouts[0]} / ONNX Runtime over the {len(rows)} files: median "
                  f"{statistics.median(ratios):.2f}, max {max(ratios):.2f}; {sum(r <= 1.0 for r in ratios)} of "
                  f"{len(rows)} at or below 1.00."]
    lines += ["",
              "<details><summary>Per-round medians (ms), in the order run</summary>", "",
              "| model | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
    for name, _, _, t, _ in rows:
        lines.append(f"| {name} | " + " | ".join(" / ".join(f"{v:.2f}" for v in t[e]) for e in engines) + " |")
    lines += ["", "</details>", END]
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
