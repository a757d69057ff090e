#!/usr/bin/python3
# Gloo all-reduce time by element type (issue 14: would fp16 gradient compression, as DDP's
# fp16_compress_hook does it, pay on this stack?). Debian's python3-torch: the same c10d /
# ProcessGroupGloo as the libtorch hqp links. Two processes on loopback, one thread each.
"""Median time of one Gloo all-reduce of N elements, float32 vs float16, 2 ranks on 127.0.0.1.

Usage:
    /usr/bin/python3 bench/gloo_allreduce_dtype.py [--numel 1540000] [--reps 30] [--port 29611]

1.54 M elements is MobileNetV3-Small's (Fashion-MNIST) gradient: 6.2 MB in float32, 3.1 MB in
float16. Prints rank 0's median of --reps timed calls per type after 5 warm-up calls.
"""
import argparse
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def work(rank, a):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{a.port}", rank=rank, world_size=2)
    for dtype in (torch.float32, torch.float16):
        t = torch.randn(a.numel).to(dtype)
        for _ in range(5):
            dist.all_reduce(t)
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        times.sort()
        if rank == 0:
            mb = a.numel * t.element_size() / 1e6
            print(f"{str(dtype):>13}: {mb:5.1f} MB, median {1000 * times[len(times) // 2]:7.2f} ms", flush=True)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--numel", type=int, default=1540000)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--port", type=int, default=29611)
    a = ap.parse_args()
    mp.spawn(work, args=(a,), nprocs=2)


if __name__ == "__main__":
    main()
