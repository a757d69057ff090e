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
   calibrator also with --cle, --bias-correction and both, with `--qdq-style trt`, and with
   `--max-drop 0.1` (the layers kept float).
2. ONNX Runtime agreement: the 10000 test images (preprocessed as the model's hqp.preprocess says)
   through `hqp run` and bench/ort/run_model.js on the same INT8 file: share of equal top-1 classes.
3. The reference for ONNX Runtime's own placement: bench/make_ort_qdq.py (Q->DQ on every activation,
   ranges measured by ONNX Runtime on N(0,1) inputs by bench/ort/ranges.js).
4. Latency, batch 1, 1 and `--threads` threads, alternating rounds: `hqp bench` (also with
   --fuse-requantize on hqp's ort file) and bench/ort/ort_bench.js on the float model, hqp's
   ort-placement file, hqp's trt-placement file and the reference file.
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


def timings(a, files, threads_list):
    """{(file, engine, threads): [per-round medians]}; engines: hqp, hqp-fused (hqp --fuse-requantize), ort."""
    t = {}
    for _ in range(a.rounds):
        for th in threads_list:
            for k, path in files.items():
                for engine in ("hqp", "hqp-fused", "ort"):
                    if engine == "hqp-fused" and k != "hqp ort placement":
                        continue
                    if engine == "ort":
                        cmd = ["node", os.path.join(ORT_DIR, "ort_bench.js"), path, "--threads", str(th), "--runs",
                               str(a.runs), "--warmup", "5", "--shape", "1x1x28x28"]
                    else:
                        cmd = [a.hqp, "bench", path, "--threads", str(th), "--shape", "1x1x28x28", "--runs", str(a.runs),
                               "--json"] + (["--fuse-requantize"] if engine == "hqp-fused" else [])
                    t.setdefault((k, engine, th), []).append(json.loads(run(cmd))["median_ms"])
    return t


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
        for label, flags in (("CLE", ["--cle"]), ("bias correction", ["--bias-correction"]),
                             ("CLE + bias correction", ["--cle", "--bias-correction"])):
            j, cmd = quantize(a, path, os.path.join(work, "repair.onnx"), a.default_calibrator, extra=flags)
            rows.append(("ort", f"{a.default_calibrator} + {label}", j))
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
        threads_list = sorted({1, a.threads})
        t = timings(a, files, threads_list)
        med = {key: statistics.median(v) for key, v in t.items()}

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
                 f"Latency in ms, batch 1, median of per-round medians ({a.rounds} alternating rounds of {a.runs} "
                 "runs; per-round medians in brackets). `hqp fused` = `hqp bench --fuse-requantize` (not the file's "
                 "exact QDQ semantics, see above). File sizes: the reference file also keeps the unused float "
                 "weights.", "",
                 "| file | bytes | " + " | ".join(f"{e} {th}T" for th in threads_list for e in ("hqp", "ORT")) + " |",
                 "|---|---|" + "---|" * (2 * len(threads_list))]

        def cell(k, e, th):
            v = t.get((k, e, th))
            return f"{statistics.median(v):.3f} [{' '.join(f'{x:.3f}' for x in v)}]" if v else "-"
        for k, p in files.items():
            lines.append(f"| {k} | {os.path.getsize(p):,} | " +
                         " | ".join(f"{cell(k, 'hqp', th)} | {cell(k, 'ort', th)}" for th in threads_list) + " |")
        lines.append("| hqp ort placement, hqp fused | | " +
                     " | ".join(f"{cell('hqp ort placement', 'hqp-fused', th)} | -" for th in threads_list) + " |")

        def best(k, e):
            return min(med[(k, e, th)] for th in threads_list)
        hqp_best, ort_best = best("hqp ort placement", "hqp"), best("hqp ort placement", "ort")
        ort_ref_best = best("ORT-placement reference", "ort")
        lines += ["", f"Each engine at its best thread count: ONNX Runtime on hqp's ort-placement file / on the "
                  f"reference placement **{ort_best / ort_ref_best:.2f}×** ({ort_best:.3f} / {ort_ref_best:.3f} ms); "
                  f"hqp / ONNX Runtime on hqp's file **{hqp_best / ort_best:.2f}×** ({hqp_best:.3f} / {ort_best:.3f} "
                  f"ms; hqp fused {best('hqp ort placement', 'hqp-fused'):.3f} ms); hqp INT8 / hqp FP32 "
                  f"**{hqp_best / best('float', 'hqp'):.2f}×**.",
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
