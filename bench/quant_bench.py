#!/usr/bin/python3
# Quantization benchmark of issue 12, written into docs/QUANTIZATION.md. Standard library + numpy +
# onnx (Debian python3-onnx) only; needs a built `hqp`, node and bench/ort/node_modules
# (npm install --ignore-scripts) for the ONNX Runtime parts.
"""hqp quantize on trained Fashion-MNIST models: calibrators, the strict bound, ONNX Runtime
agreement on the test set, and the speed of the INT8 files in hqp and ONNX Runtime side by side.

Usage:
    /usr/bin/python3 bench/quant_bench.py --hqp build/hqp \
        --model MobileNetV3-Small=models/fashion_mnist/mobilenet_v3_small.onnx [--model NAME=PATH ...] \
        [--threads 2] [--calibrators minmax,percentile,entropy,mse] [--rounds 3] [--runs 50] \
        [--work /tmp/quant_bench] [--doc docs/QUANTIZATION.md] [--no-write]

Per model:
1. `hqp quantize MODEL --data fashion-mnist -o W/C.onnx --calibrator C --max-drop 0 --json` for each
   calibrator C (measure only: no fallback), both in ONNX Runtime's placement; the default
   calibrator also with `--qdq-style trt`, and with `--max-drop 0.1` (the layers kept float).
2. ONNX Runtime agreement: the 10000 test images (preprocessed as the model's hqp.preprocess says)
   through `hqp run` and bench/ort/run_model.js on the same INT8 file: share of equal top-1 classes.
3. The reference for ONNX Runtime's own placement: bench/make_ort_qdq.py (Q->DQ on every activation,
   ranges measured by ONNX Runtime on N(0,1) inputs by bench/ort/ranges.js).
4. Latency, batch 1, `--threads` threads, alternating rounds: `hqp bench` and bench/ort/ort_bench.js
   on the float model, hqp's ort-placement file, hqp's trt-placement file and the reference file.
Writes a markdown block between <!-- quant-bench:NAME:begin --> and <!-- quant-bench:NAME:end -->.
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_DIR = os.path.join(REPO, "bench", "ort")
TEST_IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
TEST_LABELS = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"


def run(cmd, **kw):
    print("$", " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r.stdout


def quantize(a, model, out, calibrator, style="ort", max_drop="0", extra=()):
    cmd = [a.hqp, "quantize", model, "--data", "fashion-mnist", "-o", out, "--calibrator", calibrator,
           "--qdq-style", style, "--max-drop", max_drop, "--threads", str(a.threads), "--latency-runs", "5",
           "--json", *extra]
    return json.loads(run(cmd)), " ".join(shlex.quote(c) for c in cmd)


def test_inputs(model_path, work):
    """The test set as the model's preprocessing gives it (normalize only, eval mode) and labels."""
    m = onnx.load(model_path, load_external_data=False)
    meta = {p.key: p.value for p in m.metadata_props}
    mean, std = 0.0, 1.0
    mm = re.search(r"normalize\(mean=([0-9.eE+-]+),std=([0-9.eE+-]+)\)", meta.get("hqp.preprocess", ""))
    if mm:
        mean, std = float(mm.group(1)), float(mm.group(2))
    with gzip.open(TEST_IMAGES) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0
    with gzip.open(TEST_LABELS) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    x = ((x - mean) / std).astype(np.float32)
    raw = os.path.join(work, "test.f32")
    x.tofile(raw)
    pb = os.path.join(work, "test.pb")
    with open(pb, "wb") as f:
        f.write(numpy_helper.from_array(x, "input").SerializeToString())
    return raw, pb, x.shape, y


def agreement(a, qfile, raw, pb, shape, labels, work):
    out_dir = os.path.join(work, "hqp_out")
    run([a.hqp, "run", qfile, "-i", pb, "-o", out_dir, "--threads", str(a.threads)])
    t = onnx.TensorProto()
    with open(os.path.join(out_dir, "output_0.pb"), "rb") as f:
        t.ParseFromString(f.read())
    hqp_logits = numpy_helper.to_array(t)
    ort_out = os.path.join(work, "ort_out.f32")
    run(["node", os.path.join(ORT_DIR, "run_model.js"), qfile, raw, "x".join(map(str, shape)), ort_out])
    ort_logits = np.fromfile(ort_out, np.float32).reshape(hqp_logits.shape)
    h, o = hqp_logits.argmax(1), ort_logits.argmax(1)
    return {"agree": float((h == o).mean()), "hqp_top1": float((h == labels).mean()),
            "ort_top1": float((o == labels).mean()), "n": int(len(labels))}


def ort_reference(a, float_model, work):
    allp = os.path.join(work, "all_outputs.onnx")
    ranges = os.path.join(work, "ort_ranges.json")
    out = os.path.join(work, "ortref_qdq.onnx")
    run(["/usr/bin/python3", os.path.join(REPO, "bench", "ort_ranges.py"), float_model, allp])
    with open(ranges, "w") as f:
        f.write(run(["node", os.path.join(ORT_DIR, "ranges.js"), allp, "1x1x28x28"]))
    run(["/usr/bin/python3", os.path.join(REPO, "bench", "make_ort_qdq.py"), float_model, ranges, out])
    return out


def timings(a, files):
    hqp_t = {k: [] for k in files}
    ort_t = {k: [] for k in files}
    for _ in range(a.rounds):
        for k, path in files.items():
            j = json.loads(run([a.hqp, "bench", path, "--threads", str(a.threads), "--shape", "1x1x28x28",
                                "--runs", str(a.runs), "--json"]))
            hqp_t[k].append(j["median_ms"])
            j = json.loads(run(["node", os.path.join(ORT_DIR, "ort_bench.js"), path, "--threads", str(a.threads),
                                "--runs", str(a.runs), "--warmup", "5", "--shape", "1x1x28x28"]))
            ort_t[k].append(j["median_ms"])
    return hqp_t, ort_t


def pct(v):
    return f"{100.0 * v:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hqp", default=os.path.join(REPO, "build", "hqp"))
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calibrators", default="minmax,percentile,entropy,mse")
    ap.add_argument("--default-calibrator", default="percentile")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--work", default="/tmp/quant_bench")
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "QUANTIZATION.md"))
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    for spec in a.model:
        name, path = spec.split("=", 1)
        work = os.path.join(a.work, re.sub(r"[^A-Za-z0-9_.-]", "_", name))
        os.makedirs(work, exist_ok=True)
        started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
        rows, cmds = [], []
        for c in a.calibrators.split(","):
            j, cmd = quantize(a, path, os.path.join(work, f"ort_{c}.onnx"), c)
            rows.append(("ort", c, j))
            cmds.append(cmd)
        dflt = os.path.join(work, f"ort_{a.default_calibrator}.onnx")
        trt = os.path.join(work, f"trt_{a.default_calibrator}.onnx")
        j, cmd = quantize(a, path, trt, a.default_calibrator, style="trt")
        rows.append(("trt", a.default_calibrator, j))
        cmds.append(cmd)
        strict, strict_cmd = quantize(a, path, os.path.join(work, "strict.onnx"), a.default_calibrator, max_drop="0.1")
        raw, pb, shape, labels = test_inputs(path, work)
        agree = agreement(a, dflt, raw, pb, shape, labels, work)
        ref = ort_reference(a, path, work)
        agree_ref = agreement(a, ref, raw, pb, shape, labels, work)
        files = {"float": path, "hqp ort placement": dflt, "hqp trt placement": trt, "ORT-placement reference": ref}
        hqp_t, ort_t = timings(a, files)

        lines = [f"<!-- quant-bench:{name}:begin -->", f"### {name}", "",
                 f"`{path}`, {started}, {platform.node()} ({os.cpu_count()} CPUs), {a.threads} threads. "
                 f"Generated by `/usr/bin/python3 bench/quant_bench.py --model {name}={path} --threads {a.threads}`.",
                 "", "Accuracy (`--max-drop 0`: every quantizable layer INT8, no fallback; 512 calibration samples "
                 "from the train split; val = the model's 5000-sample val split, test = the 10000 test images):", "",
                 "| placement | calibrator | float val | INT8 val | val drop pp | float test | INT8 test | test drop pp |",
                 "|---|---|---|---|---|---|---|---|"]
        for style, c, j in rows:
            lines.append(f"| {style} | {c} | {pct(j['float']['val_top1'])} | {pct(j['int8']['val_top1'])} | "
                         f"{j['val_drop_pp']:.2f} | {pct(j['float']['test_top1'])} | {pct(j['int8']['test_top1'])} | "
                         f"{j['test_drop_pp']:.2f} |")
        lines += ["", f"`--max-drop 0.1` ({a.default_calibrator}): val drop {strict['val_drop_pp']:.2f} pp, test drop "
                  f"{strict['test_drop_pp']:.2f} pp, layers kept float: "
                  f"{', '.join(strict['kept_float']) if strict['kept_float'] else 'none'} "
                  f"(all-INT8 val top-1 was {pct(strict['all_int8_val_top1'])} %).", "",
                  f"Same INT8 file in hqp and ONNX Runtime, {agree['n']} test images: top-1 classes equal on "
                  f"**{pct(agree['agree'])} %** (hqp's ort-placement file; test top-1 hqp {pct(agree['hqp_top1'])} %, "
                  f"ORT {pct(agree['ort_top1'])} %); on the ORT-placement reference file {pct(agree_ref['agree'])} % "
                  f"(test top-1 hqp {pct(agree_ref['hqp_top1'])} %, ORT {pct(agree_ref['ort_top1'])} %; its ranges "
                  "come from N(0,1) inputs, so its accuracy says nothing about calibration).", "",
                 f"Latency, batch 1, {a.threads} threads, median of per-round medians ({a.rounds} alternating rounds "
                 f"of {a.runs} runs; per-round medians in brackets):", "",
                 "| file | bytes | hqp ms | ONNX Runtime ms | hqp / ORT |", "|---|---|---|---|---|"]
        for k, p in files.items():
            h, o = statistics.median(hqp_t[k]), statistics.median(ort_t[k])
            lines.append(f"| {k} | {os.path.getsize(p):,} | {h:.3f} [{' '.join(f'{v:.3f}' for v in hqp_t[k])}] | "
                         f"{o:.3f} [{' '.join(f'{v:.3f}' for v in ort_t[k])}] | {h / o:.2f} |")
        ort_mine, ort_ref = statistics.median(ort_t["hqp ort placement"]), statistics.median(ort_t["ORT-placement reference"])
        hqp_mine = statistics.median(hqp_t["hqp ort placement"])
        lines += ["", f"ONNX Runtime on hqp's ort-placement file / on the reference placement: "
                  f"**{ort_mine / ort_ref:.2f}×**; hqp / ONNX Runtime on hqp's file: **{hqp_mine / ort_mine:.2f}×**.",
                  "", "<details><summary>quantize commands</summary>", "", "```"] + cmds + [strict_cmd, "```", "</details>",
                 f"<!-- quant-bench:{name}:end -->"]
        block = "\n".join(lines)
        print(block)
        if a.no_write:
            continue
        doc = open(a.doc).read() if os.path.exists(a.doc) else "# Quantization\n"
        pat = re.compile(rf"<!-- quant-bench:{re.escape(name)}:begin -->.*?<!-- quant-bench:{re.escape(name)}:end -->", re.S)
        doc = pat.sub(lambda _: block, doc) if pat.search(doc) else doc.rstrip("\n") + "\n\n" + block + "\n"
        with open(a.doc, "w") as f:
            f.write(doc)


if __name__ == "__main__":
    main()
