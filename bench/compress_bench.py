#!/usr/bin/python3
# The showcase of issue 13, written into docs/COMPRESS.md. Standard library + onnx (Debian
# python3-onnx); needs a built `hqp`, node and bench/ort/node_modules (npm install --ignore-scripts)
# for the ONNX Runtime columns, and chromium for the report screenshot.
"""hqp compress on trained Fashion-MNIST models, with the side-by-side latency of the results.

Usage:
    /usr/bin/python3 bench/compress_bench.py --hqp build/hqp \
        --model MobileNetV3-Small=models/fashion_mnist/mobilenet_v3_small.onnx [--model NAME=PATH ...] \
        [--extra NAME="--step 0.15 ..."] [--baselines NAME ...] [--time-budget 10] [--threads 2] \
        [--rounds 5] [--runs 100] [--work /tmp/compress_bench] [--doc docs/COMPRESS.md] \
        [--screenshot NAME] [--no-write]

Per model:
1. `hqp compress MODEL --data fashion-mnist -o W/NAME.int8.onnx --max-drop 1.0 --time-budget T
   --threads TH --report-dir W/NAME-report --json` (+ --baselines for the models named, + extra).
2. onnx.checker (full check) on the result.
3. Latency, batch 1, 1 and TH threads, alternating rounds, median of the per-round medians:
   `hqp bench` and bench/ort/ort_bench.js (ONNX Runtime; 1-thread runs pinned to CPU 0) on the original float model and the
   compressed INT8 file.
4. For --screenshot NAME: headless Chromium renders W/NAME-report/report.html into
   docs/compress_report.png.
Writes a markdown block between <!-- compress-bench:NAME:begin --> and <!-- compress-bench:NAME:end -->.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

import onnx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_DIR = os.path.join(REPO, "bench", "ort")


def run(cmd, **kw):
    print("$", " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r.stdout


def latency(a, files, threads_list):
    """{(key, engine, threads): median of per-round medians}."""
    t = {}
    for _ in range(a.rounds):
        for th in threads_list:
            for key, path in files.items():
                for engine in ("hqp", "ort"):
                    if engine == "ort":
                        cmd = ["node", os.path.join(ORT_DIR, "ort_bench.js"), path, "--threads", str(th), "--runs",
                               str(a.runs), "--warmup", "10", "--shape", "1x1x28x28"]
                    else:
                        cmd = [a.hqp, "bench", path, "--threads", str(th), "--shape", "1x1x28x28", "--runs",
                               str(a.runs), "--warmup", "10", "--json"]
                    if th == 1 and shutil.which("taskset"):
                        # One thread pinned to CPU 0: this VM's two vCPUs differ (docs/PERFORMANCE.md), and an
                        # unpinned round's median depends on which one the scheduler picked.
                        cmd = ["taskset", "-c", "0"] + cmd
                    t.setdefault((key, engine, th), []).append(json.loads(run(cmd))["median_ms"])
    return {k: statistics.median(v) for k, v in t.items()}


def pct(v):
    return "-" if v is None or v < 0 else f"{100.0 * v:.2f} %"


def mb(b):
    return f"{b / 1e6:.2f} MB"


def block(name, a, cmd, j, rep, lat, threads_list, wall, checker):
    o, r = rep["original"], rep["result"]
    lines = [f"### {name}: `hqp compress --max-drop {a.max_drop} --time-budget {a.time_budget}`", ""]
    lines.append(f"Measured {datetime.date.today().isoformat()} on {platform.machine()} ({os.cpu_count()} cores) "
                 f"by `bench/compress_bench.py`, wall time {wall / 60:.1f} min:")
    lines += ["", "```sh", " ".join(shlex.quote(c) for c in cmd), "```", ""]
    lines.append("| | original (float) | compressed (INT8) | change |")
    lines.append("|---|---|---|---|")
    lines.append(f"| val top-1 | {pct(o['val_top1'])} | {pct(r['val_top1'])} | drop {(o['val_top1'] - r['val_top1']) * 100:.2f} pp (bound {a.max_drop}) |")
    if o.get("test_top1") is not None and r.get("test_top1") is not None:
        lines.append(f"| test top-1 | {pct(o['test_top1'])} | {pct(r['test_top1'])} | drop {(o['test_top1'] - r['test_top1']) * 100:.2f} pp |")
    lines.append(f"| MACs (batch 1) | {o['macs'] / 1e6:.2f} M | {r['macs'] / 1e6:.2f} M | {r['macs'] / o['macs']:.3f}x |")
    lines.append(f"| params | {o['params'] / 1e6:.3f} M | {r['params'] / 1e6:.3f} M | {r['params'] / o['params']:.3f}x |")
    lines.append(f"| file size | {mb(o['bytes'])} | {mb(r['bytes'])} | **{100 * (1 - r['bytes'] / o['bytes']):.1f} % smaller** |")
    for th in threads_list:
        ho, hc = lat[("original", "hqp", th)], lat[("compressed", "hqp", th)]
        oo, oc = lat[("original", "ort", th)], lat[("compressed", "ort", th)]
        lines.append(f"| latency, hqp, batch 1, {th} thread{'s' if th > 1 else ''} | {ho:.3f} ms | {hc:.3f} ms | **{ho / hc:.2f}x faster** |")
        lines.append(f"| latency, ONNX Runtime, batch 1, {th} thread{'s' if th > 1 else ''} | {oo:.3f} ms | {oc:.3f} ms | {oo / oc:.2f}x |")
        lines.append(f"| hqp compressed vs ONNX Runtime running the original, {th} thread{'s' if th > 1 else ''} | {oo:.3f} ms | {hc:.3f} ms | **{oo / hc:.2f}x faster** |")
    lines.append("")
    kept = sum(1 for s in rep["pruning"]["steps"] if s["accepted"])
    lines.append(f"{kept} pruning steps kept of {len(rep['pruning']['steps'])}; stopped: {rep['pruning']['stop_reason']}. "
                 f"Layers left float: {', '.join(r['kept_float']) or 'none'}. onnx.checker (full_check): {checker}. "
                 f"The in-run latency (compress's own alternating rounds, {a.threads} threads): "
                 f"{o['latency_ms']:.3f} -> {r['latency_ms']:.3f} ms ({rep['summary']['speedup']:.2f}x).")
    if rep["baselines"]:
        lines += ["", f"Single techniques at the same bound and fine-tuning budget (from the run's report; latency "
                  f"measured by compress side by side, {a.threads} threads, batch 1):", ""]
        lines.append("| model | val top-1 | test top-1 | latency | speedup | size | MACs | steps kept | wall |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for m in [o] + rep["baselines"] + [r]:
            lines.append(f"| {m['name']} ({'INT8' if m['int8'] else 'FP32'}) | {pct(m['val_top1'])} | {pct(m.get('test_top1'))} | "
                         f"{m['latency_ms']:.3f} ms | {o['latency_ms'] / m['latency_ms']:.2f}x | {mb(m['bytes'])} | "
                         f"{m['macs'] / 1e6:.2f} M | {m['steps_kept']} | {m['seconds']:.0f} s |")
    return "\n".join(lines) + "\n"


def write_block(doc, name, text):
    begin, end = f"<!-- compress-bench:{name}:begin -->", f"<!-- compress-bench:{name}:end -->"
    body = open(doc).read() if os.path.exists(doc) else "# hqp compress\n"
    new = f"{begin}\n{text}{end}"
    if begin in body:
        body = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: new, body, flags=re.S)
    else:
        body = body.rstrip("\n") + "\n\n" + new + "\n"
    with open(doc, "w") as f:
        f.write(body)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hqp", required=True)
    p.add_argument("--model", action="append", required=True, help="NAME=PATH")
    p.add_argument("--extra", action="append", default=[], help='NAME="extra compress flags"')
    p.add_argument("--baselines", action="append", default=[], help="models to run with --baselines")
    p.add_argument("--max-drop", default="1.0")
    p.add_argument("--time-budget", default="10")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--work", default="/tmp/compress_bench")
    p.add_argument("--doc", default=os.path.join(REPO, "docs", "COMPRESS.md"))
    p.add_argument("--screenshot", default="", help="model whose report.html is rendered into docs/compress_report.png")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    extras = dict(e.split("=", 1) for e in a.extra)
    threads_list = sorted({1, a.threads})
    for spec in a.model:
        name, path = spec.split("=", 1)
        slug = re.sub(r"[^A-Za-z0-9]+", "_", name).lower()
        out = os.path.join(a.work, f"{slug}.int8.onnx")
        report = os.path.join(a.work, f"{slug}-report")
        shutil.rmtree(report, ignore_errors=True)
        cmd = [a.hqp, "compress", path, "--data", "fashion-mnist", "-o", out, "--max-drop", a.max_drop,
               "--time-budget", a.time_budget, "--threads", str(a.threads), "--report-dir", report, "--json"]
        if name in a.baselines:
            cmd.append("--baselines")
        cmd += shlex.split(extras.get(name, ""))
        t0 = time.time()
        j = json.loads(run(cmd))
        wall = time.time() - t0
        rep = json.load(open(os.path.join(report, "report.json")))
        try:
            onnx.checker.check_model(onnx.load(out), full_check=True)
            checker = "passes"
        except Exception as e:  # noqa: BLE001 - reported in the block
            checker = f"FAILS ({e})"
        lat = latency(a, {"original": path, "compressed": out}, threads_list)
        shown = [c if c != a.hqp else "build/hqp" for c in cmd]
        text = block(name, a, shown, j, rep, lat, threads_list, wall, checker)
        print(text)
        if a.screenshot == name and shutil.which("chromium"):
            png = os.path.join(REPO, "docs", "compress_report.png")
            run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--user-data-dir={os.path.join(a.work, 'chromium')}", "--window-size=1150,2400",
                 f"--screenshot={png}", "file://" + os.path.join(report, "report.html")])
            shutil.copy(os.path.join(report, "report.json"), os.path.join(REPO, "docs", "compress_report.json"))
        if not a.no_write:
            write_block(a.doc, name, text)


if __name__ == "__main__":
    main()
