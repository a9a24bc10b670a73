"""Depthwise convolution: fastconv's direct `depthwise` algorithm against its `im2col_gemm`
and torch (oneDNN) on the CPU, forward / backward_data / backward_weight.

Same process, same float32 data, same thread count; the three calls are interleaved
(depthwise, im2col_gemm, torch, depthwise, ...) after one untimed warm-up each, and the median
of the repeats is reported. GB/s counts the bytes of the pass's two inputs and its output once
(input + weight + output), the traffic a perfect kernel cannot avoid. ratio = torch time /
fastconv depthwise time (> 1: fastconv faster).

    python benchmarks/depthwise_bench.py [--threads 2] [--repeats 7]

Writes benchmarks/results/depthwise_cpu.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import fastconv

# name, ndim, input shape, kernel, stride, padding
SHAPES = [
    ("dw 3x3 s1 8x256x56x56", 2, (8, 256, 56, 56), (3, 3), 1, 1),
    ("dw 3x3 s2 8x144x56x56", 2, (8, 144, 56, 56), (3, 3), 2, 1),
    ("dw 7x7 s1 8x384x28x28", 2, (8, 384, 28, 28), (7, 7), 1, 3),
    ("dw 31x31 s1 1x64x128x128", 2, (1, 64, 128, 128), (31, 31), 1, 15),
    ("causal conv1d k4 8x1024x4096", 1, (8, 1024, 4096), (4,), 1, 3),
]
PASSES = ("forward", "backward_data", "backward_weight")


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "depthwise_cpu.md"))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    fastconv.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for name, nd, xshape, kernel, stride, pad in SHAPES:
        c = xshape[1]
        x = rng.standard_normal(xshape).astype(np.float32)
        w = rng.standard_normal((c, 1) + kernel).astype(np.float32)
        conv = getattr(fastconv, f"conv{nd}d")
        conv_bw = getattr(fastconv, f"conv{nd}d_backward")
        y = conv(x, w, stride=stride, padding=pad, groups=c)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        X, W, GY = map(torch.from_numpy, (x, w, gy))
        tconv = getattr(torch.nn.functional, f"conv{nd}d")
        nbytes = 4 * (x.size + w.size + y.size)

        def ours(pass_, algorithm):
            if pass_ == "forward":
                return lambda: conv(x, w, stride=stride, padding=pad, groups=c, algorithm=algorithm)
            mask = (True, False, False) if pass_ == "backward_data" else (False, True, False)
            return lambda: conv_bw(gy, x, w, stride=stride, padding=pad, groups=c,
                                   output_mask=mask, algorithm=algorithm)

        def theirs(pass_):
            if pass_ == "forward":
                return lambda: tconv(X, W, None, stride, pad, 1, c)
            mask = [True, False, False] if pass_ == "backward_data" else [False, True, False]
            return lambda: torch.ops.aten.convolution_backward(
                GY, X, W, None, [stride] * nd, [pad] * nd, [1] * nd, False, [0] * nd, c, mask)

        for pass_ in PASSES:
            fns = {"depthwise": ours(pass_, "depthwise"), "im2col_gemm": ours(pass_, "im2col_gemm"),
                   "torch": theirs(pass_)}
            for f in fns.values():
                f()  # warm-up
            samples = {k: [] for k in fns}
            for _ in range(args.repeats):  # interleaved
                for k, f in fns.items():
                    samples[k].append(median_time(f, 1))
            med = {k: statistics.median(v) for k, v in samples.items()}
            row = (name, pass_, med, nbytes)
            rows.append(row)
            print(f"{name:32s} {pass_:16s} dw {med['depthwise']*1e3:8.2f} ms  im2col "
                  f"{med['im2col_gemm']*1e3:8.2f} ms  torch {med['torch']*1e3:8.2f} ms  "
                  f"{nbytes / med['depthwise'] / 1e9:6.2f} GB/s  x{med['torch'] / med['depthwise']:.2f}",
                  flush=True)

    lines = [
        "# Depthwise convolution on the CPU: fastconv `depthwise` vs `im2col_gemm` vs torch",
        "",
        f"float32, {args.threads} threads, median of {args.repeats} interleaved repeats, "
        f"one process; torch {torch.__version__}, fastconv ISA path "
        f"`{fastconv._C.isa() if hasattr(fastconv._C, 'isa') else 'best available'}`, "
        f"{platform.processor() or platform.machine()}.",
        "GB/s = (input + weight + output bytes of the pass) / time of fastconv depthwise; "
        "ratio = torch time / depthwise time (> 1: fastconv faster).",
        "",
        "**Noisy machine**: 2 cores shared with other engineers' builds and tests while this ran; "
        "treat single numbers as ±30 %. The lead reruns this table at the end.",
        "",
        "| shape | pass | depthwise ms | im2col_gemm ms | torch ms | depthwise GB/s | ratio vs torch | im2col / depthwise |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, pass_, med, nbytes in rows:
        lines.append(f"| {name} | {pass_} | {med['depthwise']*1e3:.2f} | {med['im2col_gemm']*1e3:.2f} "
                     f"| {med['torch']*1e3:.2f} | {nbytes / med['depthwise'] / 1e9:.2f} "
                     f"| {med['torch'] / med['depthwise']:.2f} "
                     f"| {med['im2col_gemm'] / med['depthwise']:.2f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
