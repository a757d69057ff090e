#!/usr/bin/python3
# Data-parallel training throughput (issue 14): `hqp train` of MobileNetV3-Small on a Fashion-MNIST
# subset, one process × 1 thread against `hqp launch -n 2` × 1 thread each. Standard library only.
"""Training throughput, 1 worker vs 2 data-parallel workers (c10d / Gloo on loopback).

Usage:
    /usr/bin/python3 bench/dist_train_bench.py --hqp build/hqp [--train 12288] [--rounds 3] [--epochs 2]
        [--arch mobilenet_v3_small] [--batch 128] [--bucket-mb 1,4]

Writes a Fashion-MNIST subset (the first --train training images, IDX) into a temp dir, then per
round runs, alternating which goes first:
  single  hqp train --threads 1 --batch-size B
  2x B/2  hqp launch -n 2 -- hqp train --threads 1 --batch-size B/2   (same global batch: same math)
  2x B    hqp launch -n 2 -- hqp train --threads 1 --batch-size B     (same per-worker batch)
  2 independent  two `single` runs at once, their throughputs summed: what this machine gives two
          processes without any communication (the ceiling of any data-parallel scheme here)
  2x B, bucket M   (with --bucket-mb) the 2x B run with `hqp train --bucket-mb M`, one per value
Throughput = training samples per second of the last epoch (training only: `hqp train --json`'s
epochs[-1].samples_per_s, all ranks' samples). Prints the per-round figures, the medians and
the ratios to `single`.
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile

FMNIST = "/usr/share/datasets/fashion-mnist"


def write_subset(out_dir, n_train, n_test):
    os.makedirs(out_dir, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        with gzip.open(os.path.join(FMNIST, f"{prefix}-images-idx3-ubyte.gz"), "rb") as f:
            magic, total, rows, cols = struct.unpack(">IIII", f.read(16))
            n = min(n, total)
            pixels = f.read(n * rows * cols)
        with open(os.path.join(out_dir, f"{prefix}-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", magic, n, rows, cols) + pixels)
        with gzip.open(os.path.join(FMNIST, f"{prefix}-labels-idx1-ubyte.gz"), "rb") as f:
            magic, total = struct.unpack(">II", f.read(8))
            labels = f.read(n)
        with open(os.path.join(out_dir, f"{prefix}-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", magic, n) + labels)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return json.loads(p.stdout)


def run_two_independent(cmd_a, cmd_b):
    """Two single-process trainings at once (no communication): this machine's 2-process ceiling."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in (cmd_a, cmd_b)]
    outs = [p.communicate() for p in procs]
    for p, (out, err) in zip(procs, outs):
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}): {err}")
    js = [json.loads(out) for out, _ in outs]
    return {"epochs": [{"samples_per_s": sum(j["epochs"][-1]["samples_per_s"] for j in js)}]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hqp", required=True)
    ap.add_argument("--train", type=int, default=12288)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--arch", default="mobilenet_v3_small")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--loader-workers", type=int, default=0,
                    help="hqp train --workers (decode threads); 0 decodes on the training thread, so that "
                         "'1 thread per worker' is one thread")
    ap.add_argument("--bucket-mb", default="",
                    help="comma-separated gradient bucket sizes (MiB): one more 2 x B configuration per value "
                         "(hqp train --bucket-mb; the others use the default, 25)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hqp_dist_bench_")
    data = os.path.join(tmp, "fmnist")
    write_subset(data, a.train, 2000)

    def train_cmd(out, batch):
        return [a.hqp, "train", "--arch", a.arch, "--small-input", "--data", data, "-o", out, "--epochs",
                str(a.epochs), "--batch-size", str(batch), "--val-size", "1024", "--threads", "1", "--workers", str(a.loader_workers),
                "--seed", "0", "--json"]

    configs = {
        "single": lambda out: train_cmd(out, a.batch),
        f"2x{a.batch // 2}": lambda out: [a.hqp, "launch", "-n", "2", "--"] + train_cmd(out, a.batch // 2),
        f"2x{a.batch}": lambda out: [a.hqp, "launch", "-n", "2", "--"] + train_cmd(out, a.batch),
        "2 independent": None,  # two `single` runs at once, summed: the machine's ceiling for 2 processes
    }
    for mb in filter(None, a.bucket_mb.split(",")):
        configs[f"2x{a.batch} bucket {mb}"] = (
            lambda out, mb=mb: [a.hqp, "launch", "-n", "2", "--"] + train_cmd(out, a.batch) + ["--bucket-mb", mb])
    results = {k: [] for k in configs}
    names = list(configs)
    for r in range(a.rounds):
        order = names if r % 2 == 0 else list(reversed(names))
        for name in order:
            if configs[name] is None:
                j = run_two_independent(configs["single"](os.path.join(tmp, "ind_a.onnx")),
                                        configs["single"](os.path.join(tmp, "ind_b.onnx")))
            else:
                j = run(configs[name](os.path.join(tmp, f"{name.replace(' ', '_')}.onnx")))
            sps = j["epochs"][-1]["samples_per_s"]
            results[name].append(sps)
            print(f"round {r + 1} {name:>18}: {sps:8.1f} samples/s",
                  flush=True)
    base = statistics.median(results["single"])
    print(f"\n{a.arch}, {a.train} Fashion-MNIST training images (28x28), {a.epochs} epochs, last epoch, "
          f"1 thread per worker (--threads 1 --workers {a.loader_workers}), {a.rounds} rounds alternating")
    print("| workers x batch | samples/s (median) | vs 1 worker |")
    print("|---|---:|---:|")
    for name in names:
        m = statistics.median(results[name])
        label = {"single": f"1 x {a.batch}", "2 independent": f"2 independent 1 x {a.batch} (no communication)"}.get(
            name, name.replace("x", " x ", 1).replace(" bucket ", ", --bucket-mb ") + " (data-parallel)")
        print(f"| {label} | {m:.1f} | {m / base:.2f}x |")


if __name__ == "__main__":
    main()
