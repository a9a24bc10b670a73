"""Study behind the stride_phases rules of conv.cc (benchmarks/results/stride_phases_cpu.md):
strided backward_data / backward_weight, forced algorithms and torch interleaved in one process,
minimum CPU time (time.process_time: both threads, not inflated by preemption) over rounds.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=python python benchmarks/stride_phases_cpu.py [names]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

import fastconv

# name: (label, x shape, w shape, stride, padding) of the convolution (for a transposed conv:
# its output is this x, its input this y)
CASES = {
    "ds2": ("DeepSpeech conv2 5x10/2 32->32 b4", (4, 32, 79, 341), (32, 32, 5, 10), 2, 0),
    "ds1": ("DeepSpeech conv1 5x20/2 1->32 b4", (4, 1, 161, 700), (32, 1, 5, 20), 2, 0),
    "s3_16": ("3x3/2 32->16 @64 b4", (4, 32, 64, 64), (16, 32, 3, 3), 2, 1),
    "s3_32": ("3x3/2 32->32 @64 b4", (4, 32, 64, 64), (32, 32, 3, 3), 2, 1),
    "s3_64": ("3x3/2 64->64 @64 b4", (4, 64, 64, 64), (64, 64, 3, 3), 2, 1),
    "s3_128": ("3x3/2 64->128 @56 b8", (8, 64, 56, 56), (128, 64, 3, 3), 2, 1),
    "s3_4": ("3x3/2 4->64 @64 b4", (4, 4, 64, 64), (64, 4, 3, 3), 2, 1),
    "s5_8": ("5x5/2 16->8 @96 b4", (4, 16, 96, 96), (8, 16, 5, 5), 2, 2),
    "s5_32": ("5x5/2 64->32 @64 b4", (4, 64, 64, 64), (32, 64, 5, 5), 2, 2),
    "s4_64": ("4x4/2 64->64 @32 b8", (8, 64, 32, 32), (64, 64, 4, 4), 2, 1),
    "c1d": ("conv1d k9/2 64->32 b8", (8, 64, 4000), (32, 64, 9), 2, 4),
    "stem8": ("ResNet stem 7x7/2 3->64 b8", (8, 3, 224, 224), (64, 3, 7, 7), 2, 3),
    "dcgan256": ("DCGAN convT 4x4/2 256->128 @16 b8", (8, 128, 32, 32), (256, 128, 4, 4), 2, 1),
    "unet128": ("U-Net convT 2x2/2 128->64 b8", (8, 64, 56, 56), (128, 64, 2, 2), 2, 0),
    "unet1024": ("U-Net convT 2x2/2 1024->512 b1", (1, 512, 56, 56), (1024, 512, 2, 2), 2, 0),
    "unet3d": ("3-D U-Net convT 2x2x2/2 b1", (1, 32, 32, 64, 64), (64, 32, 2, 2, 2), 2, 0),
}
ALGORITHMS = ("im2col_gemm", "implicit_gemm", "stride_phases")


def cpu_ms(f, repeats=5):
    f()
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        f()
        best = min(best, time.process_time() - t)
    return best * 1e3


def study(name, rounds=3):
    label, xs, ws, s, p = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    nd = len(xs) - 2
    back = getattr(fastconv, f"conv{nd}d_backward")
    y = getattr(fastconv, f"conv{nd}d")(x, w, stride=s, padding=p)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    tx, tw, tgy = map(torch.from_numpy, (x, w, gy))
    for index, pass_ in enumerate(("backward_data", "backward_weight")):
        mask = tuple(i == index for i in range(3))
        plan = fastconv.explain(f"conv{nd}d", xs, ws, stride=s, padding=p)["passes"][pass_]
        times = {}
        for _ in range(rounds):
            times.setdefault("torch", []).append(cpu_ms(lambda: torch.ops.aten.convolution_backward(
                tgy, tx, tw, None, [s] * nd, [p] * nd, [1] * nd, False, [0] * nd, 1, list(mask))))
            for a in ("auto",) + ALGORITHMS:
                if a == "implicit_gemm" and pass_ == "backward_data":
                    continue  # stride 1 only
                times.setdefault(a, []).append(cpu_ms(lambda: back(
                    gy, x, w, stride=s, padding=p, output_mask=mask, algorithm=a)))
        best = {a: min(v) for a, v in times.items()}
        cells = " | ".join(f"{best[a]:.2f}" if a in best else "-" for a in ALGORITHMS)
        print(f"| {label} | {pass_} | {plan['algorithm']} | {best['auto']:.2f} | {cells} | "
              f"{best['torch']:.2f} | {best['torch'] / best['auto']:.2f} |", flush=True)


if __name__ == "__main__":
    torch.set_num_threads(fastconv.get_num_threads())
    print("| layer | pass | auto picks | auto ms | im2col_gemm | implicit_gemm | stride_phases "
          "| torch ms | auto x torch |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name in sys.argv[1:] or CASES:
        study(name)
