"""Winograd F(4x4,3x3) vs im2col_gemm vs torch (oneDNN) on 3x3 stride-1 layers, forward and
backward_data, in one process, interleaved, median of repeats. GFLOP/s count direct-conv FLOPs
(2 * N * C_out * C_in * 9 * H * W). Prints the rows; --out FILE also writes them as a markdown
table (benchmarks/results/winograd_cpu.md is written by hand from winograd_cpu_time.py and the
suite).

    PYTHONPATH=python python benchmarks/winograd_cpu.py [--repeats 7] [--threads 2] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastconv

SHAPES = [  # name, N, C_in, C_out, H (= W)
    ("resnet50 3x3 56x56 64->64", 8, 64, 64, 56),
    ("resnet50 3x3 28x28 128->128", 8, 128, 128, 28),
    ("resnet50 3x3 14x14 256->256", 8, 256, 256, 14),
    ("resnet50 3x3 7x7 512->512", 8, 512, 512, 7),
    ("vgg16 3x3 112x112 128->128", 1, 128, 128, 112),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    fastconv.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for name, n, ci, co, hw in SHAPES:
        x = rng.standard_normal((n, ci, hw, hw), dtype=np.float32)
        w = rng.standard_normal((co, ci, 3, 3), dtype=np.float32) * np.float32(0.05)
        gy = rng.standard_normal((n, co, hw, hw), dtype=np.float32)
        tx, tw, tgy = map(torch.from_numpy, (x, w, gy))
        flops = 2.0 * n * co * ci * 9 * hw * hw
        for pass_ in ("forward", "backward_data"):
            if pass_ == "forward":
                runs = {
                    "winograd": lambda: fastconv.conv2d(x, w, padding=1, algorithm="winograd"),
                    "im2col_gemm": lambda: fastconv.conv2d(x, w, padding=1, algorithm="im2col_gemm"),
                    "torch": lambda: F.conv2d(tx, tw, padding=1),
                }
            else:
                runs = {
                    "winograd": lambda: fastconv.conv2d_backward(
                        gy, x, w, padding=1, output_mask=(True, False, False), algorithm="winograd"),
                    "im2col_gemm": lambda: fastconv.conv2d_backward(
                        gy, x, w, padding=1, output_mask=(True, False, False),
                        algorithm="im2col_gemm"),
                    "torch": lambda: torch.ops.aten.convolution_backward(
                        tgy, tx, tw, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                        [True, False, False]),
                }
            times = {k: [] for k in runs}
            for f in runs.values():
                f()  # warm up
            for _ in range(1 if args.quick else args.repeats):
                for k, f in runs.items():
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) for k, v in times.items()}
            rows.append((name, pass_, med, flops))
            print(f"{name:32s} {pass_:14s} " + "  ".join(
                f"{k} {med[k]*1e3:8.2f} ms {flops/med[k]/1e9:6.1f} GF/s" for k in med) +
                f"  wino/torch {med['torch']/med['winograd']:.2f}x"
                f"  wino/im2col {med['im2col_gemm']/med['winograd']:.2f}x", flush=True)
    if not args.out:
        return
    with open(args.out, "w") as fh:
        fh.write("# Winograd F(4x4,3x3) on the CPU\n\n")
        fh.write(f"{args.threads} threads, float32, median of {args.repeats} interleaved repeats "
                 f"in one process; torch {torch.__version__}; fastconv ISA "
                 f"{fastconv.build_info()['isa']}. GFLOP/s count direct-convolution FLOPs "
                 "(2 N C_out C_in 9 H W), so Winograd can exceed the FMA peak.\n\n")
        fh.write("| layer (N x C x H x W) | pass | winograd ms | GF/s | im2col_gemm ms | GF/s | "
                 "torch ms | GF/s | winograd vs torch | winograd vs im2col |\n")
        fh.write("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for name, pass_, med, flops in rows:
            cells = []
            for k in ("winograd", "im2col_gemm", "torch"):
                cells += [f"{med[k]*1e3:.2f}", f"{flops/med[k]/1e9:.1f}"]
            fh.write(f"| {name} | {pass_} | " + " | ".join(cells) +
                     f" | {med['torch']/med['winograd']:.2f}x | "
                     f"{med['im2col_gemm']/med['winograd']:.2f}x |\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
