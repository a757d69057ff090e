#!/usr/bin/python3
# Batched inference throughput (issue 10): hqp's fast runtime vs PyTorch eager (NCHW and
# channels_last) vs ONNX Runtime, on the Fashion-MNIST architectures, same file, alternating.
"""Batch-B inference throughput of the Fashion-MNIST ResNet-18 and MobileNetV3-Small.

Usage:
    /usr/bin/python3 bench/batch_eval.py --hqp build/hqp [--batch 128] [--threads 2] [--rounds 3]
        [--runs 10] [--arch resnet18 --arch mobilenet_v3_small]

PyTorch (Debian python3-torch) builds torchvision's architecture with the small-input stem that
`hqp train --small-input` uses (1x28x28 input, 10 classes; bench/train_vs_torch.py's twin), in eval
mode with its random initial weights, and exports it to ONNX (opset 13): hqp and ONNX Runtime run
that PyTorch export, PyTorch runs the module itself -- the same weights everywhere. Per round and
architecture, alternating: `hqp bench FILE --shape Bx1x28x28 --threads T` (default layouts, and again
with --f32-layout nhwc), ONNX Runtime
(bench/ort/ort_bench.js, CPU EP, intra-op threads T), PyTorch eager under no_grad in its default
NCHW layout, and PyTorch with channels_last model and input. Each figure: samples/s from the median
of --runs timed batches after 2 warm-up batches; the table gives medians over rounds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))
from train_vs_torch import torch_model, NAMES  # noqa: E402  (the small-input twins)


def hqp_rate(hqp, path, batch, threads, runs, layout="auto"):
    cmd = [hqp, "bench", path, "--shape", f"{batch}x1x28x28", "--threads", str(threads), "--runs", str(runs),
           "--warmup", "2", "--json", "--f32-layout", layout]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return batch * 1000.0 / json.loads(p.stdout)["median_ms"]


def ort_rate(path, batch, threads, runs):
    cmd = ["node", "ort_bench.js", path, "--shape", f"{batch}x1x28x28", "--threads", str(threads), "--runs",
           str(runs), "--warmup", "2"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.join(REPO, "bench", "ort"))
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return batch * 1000.0 / json.loads(p.stdout)["median_ms"]


def torch_rate(torch, model, batch, runs, channels_last):
    x = torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.no_grad():
        for i in range(runs + 2):
            t0 = time.perf_counter()
            model(x)
            if i >= 2:
                times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hqp", required=True)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--arch", action="append")
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    archs = a.arch or ["resnet18", "mobilenet_v3_small"]
    tmp = tempfile.mkdtemp(prefix="hqp_batch_eval_")
    models, files = {}, {}
    for arch in archs:
        torch.manual_seed(0)
        m = torch_model(torch, arch).eval()
        files[arch] = os.path.join(tmp, f"{arch}.onnx")
        torch.onnx.export(m, torch.zeros(1, 1, 28, 28), files[arch], opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        models[arch] = m
    engines = ("hqp", "hqp nhwc", "ONNX Runtime", "PyTorch", "PyTorch channels_last")
    rates = {}
    for r in range(1, a.rounds + 1):
        for arch in archs:
            order = engines if r % 2 else tuple(reversed(engines))
            for e in order:
                if e.startswith("hqp"):
                    v = hqp_rate(a.hqp, files[arch], a.batch, a.threads, a.runs, "nhwc" if e.endswith("nhwc") else "auto")
                elif e == "ONNX Runtime":
                    v = ort_rate(files[arch], a.batch, a.threads, a.runs)
                else:
                    torch.manual_seed(0)
                    m = torch_model(torch, arch).eval()
                    m.load_state_dict(models[arch].state_dict())
                    v = torch_rate(torch, m, a.batch, a.runs, e.endswith("channels_last"))
                rates.setdefault((arch, e), []).append(v)
                print(f"round {r} {arch:>20} {e:>22}: {v:9.1f} samples/s", flush=True)
    print()
    print(f"Batch {a.batch}, {a.threads} threads, {a.rounds} alternating rounds x {a.runs} batches "
          f"(median), samples/s; files: PyTorch exports (opset 13) of the small-input twins")
    print()
    print("| model | hqp | hqp --f32-layout nhwc | ONNX Runtime | PyTorch | PyTorch channels_last | hqp / ORT | "
          "hqp / PyTorch | hqp / PyTorch channels_last |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for arch in archs:
        med = {e: statistics.median(rates[(arch, e)]) for e in engines}
        h = med["hqp"]
        print(f"| {NAMES.get(arch, arch)} | {h:.0f} | {med['hqp nhwc']:.0f} | {med['ONNX Runtime']:.0f} | {med['PyTorch']:.0f} | "
              f"{med['PyTorch channels_last']:.0f} | {h / med['ONNX Runtime']:.2f}x | {h / med['PyTorch']:.2f}x | "
              f"{h / med['PyTorch channels_last']:.2f}x |")


if __name__ == "__main__":
    main()
