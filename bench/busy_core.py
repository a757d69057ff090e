#!/usr/bin/python3
# Latency under a competing CPU-bound process (issue 10, deliverable 4): hqp vs ONNX Runtime, each
# on a quiet machine and with one busy loop pinned to one core, alternating. Standard library only.
"""Slowdown of hqp and ONNX Runtime when another process takes one core.

Usage:
    /usr/bin/python3 bench/busy_core.py --hqp build/hqp [--threads 2] [--rounds 3] [--runs 40]
        [--busy-core 1] NAME=MODEL.onnx@SHAPE ...

Per round and model, in this order: quiet hqp, quiet hqp --fixed-threads, quiet ORT; then a busy
loop (`while :; do :; done`, pinned with taskset to --busy-core) is started and the same three run
again; then it is killed. hqp's default engine adapts its plan's thread count to the load
(SessionOptions::adapt_threads); --fixed-threads is the engine without it. Each figure is the
median of --runs timed runs after --warmup; the table shows medians over rounds and slowdown =
busy / quiet per engine. ONNX Runtime: bench/ort/ort_bench.js (npm onnxruntime-node, CPU EP).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hqp_ms(hqp, model, shape, threads, runs, warmup, fixed):
    cmd = [hqp, "bench", model, "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup),
           "--shape", shape, "--json"] + (["--fixed-threads"] if fixed else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    j = json.loads(p.stdout)
    return j["median_ms"], j.get("thread_switches", 0)


def ort_ms(model, shape, threads, runs, warmup):
    cmd = ["node", "ort_bench.js", model, "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup),
           "--shape", shape]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.join(REPO, "bench", "ort"))
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return json.loads(p.stdout)["median_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hqp", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--busy-core", type=int, default=1)
    ap.add_argument("models", nargs="+", help="NAME=MODEL.onnx@SHAPE")
    a = ap.parse_args()
    specs = []
    for s in a.models:
        name, rest = s.split("=", 1)
        path, shape = rest.rsplit("@", 1)
        specs.append((name, os.path.abspath(path), shape))
    engines = ("hqp", "hqp --fixed-threads", "ORT")
    rows = {}  # (name, engine, load) -> [ms]
    switches = {}
    for r in range(1, a.rounds + 1):
        for name, path, shape in specs:
            for load in ("quiet", "busy"):
                busy = None
                if load == "busy":
                    busy = subprocess.Popen(["taskset", "-c", str(a.busy_core), "/bin/sh", "-c", "while :; do :; done"])
                    time.sleep(0.5)
                try:
                    for e in engines:
                        if e == "ORT":
                            ms = ort_ms(path, shape, a.threads, a.runs, a.warmup)
                        else:
                            ms, sw = hqp_ms(a.hqp, path, shape, a.threads, a.runs, a.warmup, e != "hqp")
                            if e == "hqp":
                                switches.setdefault((name, load), []).append(sw)
                        rows.setdefault((name, e, load), []).append(ms)
                        print(f"round {r} {name:>16} {load:>5} {e:>20}: {ms:8.3f} ms", flush=True)
                finally:
                    if busy is not None:
                        busy.kill()
                        busy.wait()
    print()
    print(f"| model | engine | quiet ms | one core busy ms | slowdown |")
    print(f"|---|---|---:|---:|---:|")
    for name, _, _ in specs:
        for e in engines:
            q = statistics.median(rows[(name, e, "quiet")])
            b = statistics.median(rows[(name, e, "busy")])
            print(f"| {name} | {e} | {q:.2f} | {b:.2f} | {b / q:.2f}x |")
    print()
    for (name, load), v in switches.items():
        print(f"thread switches of hqp's adaptive plan, {name}, {load}: {v}")


if __name__ == "__main__":
    main()
