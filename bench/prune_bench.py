#!/usr/bin/python3
# Pruning benchmark of issue 11, written into docs/PRUNING.md. Standard library + numpy + onnx
# (Debian python3-onnx) only; needs a built `hqp`, and for the ONNX Runtime check node and
# bench/ort/node_modules (npm install --ignore-scripts).
"""hqp prune on a trained model: the gated run, criteria at equal MACs, latency, ORT agreement.

Usage:
    /usr/bin/python3 bench/prune_bench.py --hqp build/hqp --model models/fashion_mnist/mobilenet_v3_small.onnx \
        --name MobileNetV3-Small [--data fashion-mnist] [--time-budget 20] [--threads 2] \
        [--criteria fisher,taylor,l1,l2,bn_scale,random] [--criteria-target 0.6] [--criteria-finetune 100] \
        [--criteria-args '--precision bf16'] [--main-args '...'] [--reuse-main] \
        [--work /tmp/prune_bench] [--doc docs/PRUNING.md] [--no-write]

1. `hqp prune MODEL --data D -o W/pruned.onnx --max-drop 1.0 --time-budget T --threads N --report W/report.json --json`
2. for each criterion C: `hqp prune MODEL --criterion C --target-macs F --max-drop 100 --step 0.1
   --finetune-steps K --threads N --json` -- every step kept, stopped at the same MACs, the same
   fine-tuning budget: the criteria differ only in which channels go.
3. `hqp bench` of the original and the pruned model, FP32, batch 1 and batch 64, alternating rounds.
4. onnx.checker (full_check) on the pruned file, and its outputs in hqp (`hqp run`) and ONNX
   Runtime (bench/ort/run_model.js) on the same random batch: max relative error.
Writes a markdown block between <!-- prune-bench:NAME:begin --> and <!-- prune-bench:NAME:end -->.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    print("$", " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def bench(hqp, model, threads, batch, rounds, shape):
    cmd = [hqp, "bench", model, "--threads", str(threads), "--runs", "100", "--warmup", "10", "--json",
           "--shape", "x".join(str(d) for d in [batch] + shape[1:])]
    return json.loads(run(cmd).stdout)["median_ms"]


def model_input_shape(path):
    m = onnx.load(path)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value if d.dim_value > 0 else 1 for d in dims]


def ort_agreement(hqp, model, work, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal([8] + shape[1:]).astype(np.float32)
    inp = os.path.join(work, "agree_in.pb")
    with open(inp, "wb") as f:
        f.write(numpy_helper.from_array(x, "input").SerializeToString())
    outdir = os.path.join(work, "agree_hqp")
    os.makedirs(outdir, exist_ok=True)
    run([hqp, "run", model, "-i", inp, "-o", outdir])
    t = onnx.TensorProto()
    with open(os.path.join(outdir, sorted(os.listdir(outdir))[0]), "rb") as f:
        t.ParseFromString(f.read())
    y_hqp = numpy_helper.to_array(t)
    raw_in, raw_out = os.path.join(work, "agree_in.f32"), os.path.join(work, "agree_ort.f32")
    x.tofile(raw_in)
    run(["node", os.path.join(REPO, "bench", "ort", "run_model.js"), model, raw_in,
         "x".join(str(d) for d in x.shape), raw_out])
    y_ort = np.fromfile(raw_out, dtype=np.float32).reshape(y_hqp.shape)
    rel = float(np.max(np.abs(y_hqp - y_ort)) / max(float(np.max(np.abs(y_ort))), 1e-30))
    return rel, list(y_hqp.shape)


def criteria_table(a, crit_rows):
    lines = [f"Criteria at equal MACs (target {a.criteria_target:g} of the original, every step kept, "
             f"--step 0.1, {a.criteria_finetune} fine-tuning batches per step; same seed and data):\n",
             "| criterion | MACs | params | val top-1 | test top-1 | wall |\n|---|---|---|---|---|---|"]
    for c, r, _ in crit_rows:
        t = r["after"].get("test_top1")
        test = f"{100 * t:.2f} %" if t is not None else ""
        lines.append(f"| {c} | {r['after']['macs'] / 1e6:.2f} M | {r['after']['params'] / 1e6:.3f} M | "
                     f"{100 * r['after']['val_top1']:.2f} % | {test} | {r['seconds']:.0f} s |")
    first = " ".join(shlex.quote(x) for x in crit_rows[0][2])
    lines.append("\nCommand per criterion:\n\n```sh\n" +
                 first.replace("--criterion " + crit_rows[0][0], "--criterion C") + "\n```")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hqp", default=os.path.join(REPO, "build", "hqp"))
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--time-budget", type=float, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--criteria", default="fisher,taylor,l1,l2,bn_scale,random")
    ap.add_argument("--criteria-target", type=float, default=0.6)
    ap.add_argument("--criteria-finetune", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", default="/tmp/prune_bench")
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "PRUNING.md"))
    ap.add_argument("--main-args", default="", help="extra flags of the gated run, e.g. '--step 0.15 --precision bf16'")
    ap.add_argument("--criteria-args", default="", help="extra flags of the criteria runs, e.g. '--precision bf16'")
    ap.add_argument("--reuse-main", action="store_true",
                    help="take the gated run from WORK/report.json and WORK/pruned.onnx of an earlier call")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--criteria-only", action="store_true",
                    help="run the criteria comparison alone and print its table (no gated run, latency or doc)")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    pruned = os.path.join(a.work, "pruned.onnx")
    report = os.path.join(a.work, "report.json")
    main_cmd = [a.hqp, "prune", a.model, "--data", a.data, "-o", pruned, "--max-drop", "1.0", "--time-budget",
                str(a.time_budget), "--threads", str(a.threads), "--report", report, "--json"] + shlex.split(a.main_args)
    if a.criteria_only:
        main_res = None
    elif not a.reuse_main:
        shutil.rmtree(pruned + ".prune-checkpoint", ignore_errors=True)
        main_res = json.loads(run(main_cmd).stdout)
    elif a.reuse_main and os.path.exists(report) and os.path.exists(pruned):
        main_res = json.load(open(report))  # the report holds the --json summary and more
    else:
        main_res = json.loads(run(main_cmd).stdout)

    crit_rows = []
    for c in [c for c in a.criteria.split(",") if c]:
        out = os.path.join(a.work, f"crit_{c}.onnx")
        shutil.rmtree(out + ".prune-checkpoint", ignore_errors=True)  # a killed earlier bench's: start afresh
        cmd = [a.hqp, "prune", a.model, "--data", a.data, "-o", out, "--criterion", c, "--target-macs",
               str(a.criteria_target), "--max-drop", "100", "--step", "0.1", "--finetune-steps",
               str(a.criteria_finetune), "--threads", str(a.threads), "--json"] + shlex.split(a.criteria_args)
        r = json.loads(run(cmd).stdout)
        crit_rows.append((c, r, cmd))

    if a.criteria_only:
        if crit_rows:
            print(criteria_table(a, crit_rows))
        return 0

    shape = model_input_shape(a.model)
    lat = {}
    combos = [(1, 1), (a.threads, 1), (a.threads, 64)] if a.threads != 1 else [(1, 1), (1, 64)]
    for threads, batch in combos:
        per = {"original": [], "pruned": []}
        for k in range(a.rounds):
            order = [("original", a.model), ("pruned", pruned)]
            if k % 2:
                order.reverse()
            for key, path in order:
                per[key].append(bench(a.hqp, path, threads, batch, a.rounds, shape))
        lat[(threads, batch)] = {k: statistics.median(v) for k, v in per.items()}

    onnx.checker.check_model(onnx.load(pruned), full_check=True)
    try:
        rel, out_shape = ort_agreement(a.hqp, pruned, a.work, shape)
        ort_line = (f"hqp vs ONNX Runtime on the pruned file, the same random batch of 8: max relative "
                    f"error **{rel:.2e}** (bound 1e-4) on output {out_shape}")
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        ort_line = f"ONNX Runtime check not run: {e}"

    b, f = main_res["before"], main_res["after"]
    rep = json.load(open(report))
    kept = sum(1 for s in rep["steps"] if s["accepted"])
    lines = []
    lines.append(f"### {a.name}: `hqp prune --max-drop 1.0 --time-budget {a.time_budget:g}`\n")
    lines.append(f"Measured {datetime.date.today()} on {platform.machine()} ({os.cpu_count()} cores), "
                 f"{a.threads} threads, by `bench/prune_bench.py`:\n")
    lines.append("```sh\n" + " ".join(shlex.quote(x) for x in main_cmd) + "\n```\n")
    lines.append("| | original | pruned | ratio |\n|---|---|---|---|")
    lines.append(f"| MACs (batch 1) | {b['macs']/1e6:.2f} M | {f['macs']/1e6:.2f} M | {f['macs']/b['macs']:.3f} |")
    lines.append(f"| params | {b['params']/1e6:.3f} M | {f['params']/1e6:.3f} M | {f['params']/b['params']:.3f} |")
    lines.append(f"| file size | {b['bytes']/1e6:.2f} MB | {f['bytes']/1e6:.2f} MB | {f['bytes']/b['bytes']:.3f} |")
    for (threads, batch), v in lat.items():
        o, p = v["original"], v["pruned"]
        lines.append(f"| latency FP32, batch {batch}, {threads} thread{'s' if threads > 1 else ''} (fast runtime, "
                     f"median of {a.rounds} alternating rounds) | {o:.3f} ms | {p:.3f} ms | **{o / p:.2f}x faster** |")
    lines.append(f"| val top-1 | {100*b['val_top1']:.2f} % | {100*f['val_top1']:.2f} % | drop {main_res['val_drop_pp']:.2f} pp |")
    if "test_top1" in b:
        lines.append(f"| test top-1 | {100*b['test_top1']:.2f} % | {100*f['test_top1']:.2f} % | drop {main_res['test_drop_pp']:.2f} pp |")
    lines.append(f"\n{kept} steps kept of {len(rep['steps'])}, wall time {main_res['seconds']/60:.1f} min; "
                 f"stopped: {main_res['stop_reason']}. onnx.checker (full_check) passes on the pruned file; {ort_line}.\n")
    if crit_rows:
        lines.append(criteria_table(a, crit_rows))
    block = "\n".join(lines) + "\n"
    print(block)
    if a.no_write:
        return 0
    begin, end = f"<!-- prune-bench:{a.name}:begin -->", f"<!-- prune-bench:{a.name}:end -->"
    text = open(a.doc).read() if os.path.exists(a.doc) else "# Pruning\n"
    if begin in text and end in text:
        text = text[:text.index(begin)] + begin + "\n" + block + end + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + begin + "\n" + block + end + "\n"
    with open(a.doc, "w") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
