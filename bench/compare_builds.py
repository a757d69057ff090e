#!/usr/bin/env python3
"""Latency and memory of two hqp builds side by side (e.g. the previous commit and this one).

For every model, `hqp bench MODEL --json` of build A and build B run alternately, ROUNDS times each
(so both see the same machine state), and the medians of their per-round medians are compared.
Each bench run also reports the weights it holds and the resident-memory growth from import to the
end of the runs (hqp bench's `resident_growth_bytes`, when the build reports it). Prints a Markdown table (ratio = B / A latency).

  /usr/bin/python3 bench/compare_builds.py --a OLD/hqp --b build/hqp --models M1.onnx M2.onnx \
      --threads 2 --runs 30 --rounds 5
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def bench(hqp, model, threads, runs):
    out = subprocess.run([hqp, "bench", model, "--threads", str(threads), "--runs", str(runs), "--warmup", "5",
                          "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="hqp binary A (baseline)")
    ap.add_argument("--b", required=True, help="hqp binary B (candidate)")
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    rows = []
    for model in args.models:
        a_ms, b_ms = [], []
        a_last = b_last = None
        for r in range(args.rounds):
            order = [("a", args.a), ("b", args.b)] if r % 2 == 0 else [("b", args.b), ("a", args.a)]
            for name, hqp in order:
                j = bench(hqp, model, args.threads, args.runs)
                if name == "a":
                    a_ms.append(j["median_ms"])
                    a_last = j
                else:
                    b_ms.append(j["median_ms"])
                    b_last = j
        ma, mb = statistics.median(a_ms), statistics.median(b_ms)
        rows.append((os.path.relpath(model), ma, mb, mb / ma, a_last.get("weight_bytes"), b_last.get("weight_bytes"),
                     b_last.get("peak_bytes"), b_last.get("resident_growth_bytes")))
        print(f"{model}: A {ma:.3f} ms, B {mb:.3f} ms", file=sys.stderr)

    print(f"threads {args.threads}, {args.runs} timed runs per bench, {args.rounds} alternating rounds; "
          "latency = median over rounds of each round's median")
    print()
    print("| model | A ms | B ms | B/A | A weights MB | B weights MB | B activations MB | B resident growth MB |")
    print("|---|---|---|---|---|---|---|---|")
    mb = lambda v: f"{v / 1e6:.1f}" if isinstance(v, (int, float)) and v >= 0 else "-"
    for name, ma, mbv, ratio, wa, wb, act, rss in rows:
        print(f"| {name} | {ma:.3f} | {mbv:.3f} | {ratio:.3f} | {mb(wa)} | {mb(wb)} | {mb(act)} | {mb(rss)} |")


if __name__ == "__main__":
    main()
