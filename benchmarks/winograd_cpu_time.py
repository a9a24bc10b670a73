"""CPU time per call of fastconv (algorithm auto) and torch on the 3x3 layers of the resnet50 and
vgg16 sets, for comparing two builds on a loaded machine (benchmarks/results/winograd_cpu.md,
table 1). Both threads' CPU time (time.process_time), minimum of --repeats, fastconv and torch
interleaved in one process on the same data. Run with waiting threads asleep, else a spinning
OpenMP thread bills its wait:

    export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
    for r in 1 2 3; do
      PYTHONPATH=<main>/python python benchmarks/winograd_cpu_time.py >> before.jsonl
      PYTHONPATH=python python benchmarks/winograd_cpu_time.py >> after.jsonl
    done
    python benchmarks/winograd_cpu_time.py --table before.jsonl after.jsonl

--table prints, per layer and pass, the median over rounds of torch / fastconv (minimum CPU
times) and 2 x FLOPs / CPU time (the 2-thread rate if the CPU time were split evenly).
"""

from __future__ import annotations

import argparse
import collections
import json
import time

import numpy as np

CASES = [("resnet50 res2 3x3 b8", 8, 64, 64, 56), ("resnet50 res2 3x3 b1", 1, 64, 64, 56),
         ("resnet50 res3 3x3 b8", 8, 128, 128, 28), ("resnet50 res4 3x3 b8", 8, 256, 256, 14),
         ("resnet50 res4 3x3 b1", 1, 256, 256, 14), ("resnet50 res5 3x3 b8", 8, 512, 512, 7),
         ("vgg16 conv1_1 b1", 1, 3, 64, 224), ("vgg16 conv1_2 b1", 1, 64, 64, 224),
         ("vgg16 conv2_2 b1", 1, 128, 128, 112), ("vgg16 conv3_x b1", 1, 256, 256, 56),
         ("vgg16 conv4_x b1", 1, 512, 512, 28), ("vgg16 conv5_x b8", 8, 512, 512, 14)]
PEAK = 227.0  # fp32 FMA GFLOP/s, 2 threads, quiet machine


def per_call(f):
    t, n = time.process_time(), 0
    while True:
        f()
        n += 1
        e = time.process_time() - t
        if e > 0.01:
            return e / n


def measure(repeats, threads):
    import torch
    import fastconv
    torch.set_num_threads(threads)
    fastconv.set_num_threads(threads)
    rng = np.random.default_rng(0)
    for name, n, c, k, hw in CASES:
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        w = rng.standard_normal((k, c, 3, 3)).astype(np.float32)
        gy = rng.standard_normal((n, k, hw, hw)).astype(np.float32)
        tx, tw, tgy = map(torch.from_numpy, (x, w, gy))
        for phase in ("fwd", "bwd data"):
            if phase == "fwd":
                f = lambda: fastconv.conv2d(x, w, padding=1)  # noqa: E731
                t = lambda: torch.nn.functional.conv2d(tx, tw, padding=1)  # noqa: E731
            else:
                f = lambda: fastconv.conv2d_backward(  # noqa: E731
                    gy, x, w, padding=1, output_mask=(True, False, False))
                t = lambda: torch.ops.aten.convolution_backward(  # noqa: E731
                    tgy, tx, tw, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                    [True, False, False])
            f(), t()
            tf, tt = [], []
            for _ in range(repeats):
                tf.append(per_call(f))
                tt.append(per_call(t))
            print(json.dumps(dict(case=name, phase=phase, fc_min=min(tf) * 1e3,
                                  torch_min=min(tt) * 1e3,
                                  flops=2 * n * c * k * 9 * hw * hw)), flush=True)


def table(before_path, after_path):
    def load(p):
        d = collections.defaultdict(list)
        for line in open(p):
            r = json.loads(line)
            d[(r["case"], r["phase"])].append(r)
        return d
    b, a = load(before_path), load(after_path)
    print("| layer | pass | before: fastconv ms | torch ms | x torch | after: fastconv ms | "
          "torch ms | x torch | after GFLOP/s (2 threads, if CPU time split evenly) | "
          f"% of {PEAK:.0f} GFLOP/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, rb in b.items():
        ra = a[key]
        x = [np.median([r["torch_min"] / r["fc_min"] for r in rs]) for rs in (rb, ra)]
        fb, tb = min(r["fc_min"] for r in rb), min(r["torch_min"] for r in rb)
        fa, ta = min(r["fc_min"] for r in ra), min(r["torch_min"] for r in ra)
        gf = 2 * ra[0]["flops"] / fa / 1e6
        print(f"| {key[0]} | {key[1]} | {fb:.3f} | {tb:.3f} | {x[0]:.2f} | {fa:.3f} | {ta:.3f} "
              f"| {x[1]:.2f} | {gf:.0f} | {100 * gf / PEAK:.0f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--table", nargs=2, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.table:
        table(*args.table)
    else:
        measure(args.repeats, args.threads)


if __name__ == "__main__":
    main()
