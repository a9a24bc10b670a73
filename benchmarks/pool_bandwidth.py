"""Pooling before / after a change, against torch, on the CPU: the rows of the bench suite's
pooling set (benchmarks/shapes/pooling.txt), forward and backward, float32. The build given by
--before (a folder holding a built `fastconv` package, e.g. main's python/ after
scripts/dev_build.sh) is imported as `fastconv_before`; before, after and torch run interleaved
in one process on the same data, each call timed `--repeats` times after a warm-up (best of the
repeats: a loaded machine only ever adds time), with `--threads` threads each.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=python python benchmarks/pool_bandwidth.py \
        --before /work/main/python [--threads 2] [--repeats 15]

GB/s: bytes the op must read and write once (input, output; indices read by max pooling's
backward, 8 bytes each), as `fastconv bench` counts them; % copy: that over the copy bandwidth
measured at the start (memcpy of 256 MiB on the same threads, bytes read + written), or
--copy-gbs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import fastconv
from fastconv import _C

sys.path.insert(0, str(Path(__file__).resolve().parent))
from depthwise_bench import import_before  # noqa: E402

CASES = [  # (label, op, shape, args)
    ("resnet50 max_pool 3x3/2 b8", "max", (8, 64, 112, 112), (3, 2, 1)),
    ("resnet50 max_pool 3x3/2 b1", "max", (1, 64, 112, 112), (3, 2, 1)),
    ("vgg16 max_pool 2x2/2 b8", "max", (8, 64, 224, 224), (2, 2, 0)),
    ("inception avg_pool 3x3/1 b8", "avg", (8, 256, 56, 56), (3, 1, 1)),
    ("densenet transition avg_pool 2x2/2 b8", "avg", (8, 256, 56, 56), (2, 2, 0)),
    ("resnet50 global avg pool b8", "adaptive", (8, 2048, 7, 7), (1,)),
    ("vgg16 adaptive avg pool 14->7 b8", "adaptive", (8, 512, 14, 14), (7,)),
]


def calls(fc, op, x, a, y, idx, gy):
    """(forward, backward) of module fc on the data."""
    if op == "max":
        return (lambda: fc.max_pool2d(x, *a), lambda: fc.max_pool2d_backward(gy, x, idx, *a))
    if op == "avg":
        return (lambda: fc.avg_pool2d(x, *a), lambda: fc.avg_pool2d_backward(gy, x, *a))
    return (lambda: fc.adaptive_avg_pool2d(x, a[0]), lambda: fc.adaptive_avg_pool2d_backward(gy, x))


def torch_calls(op, x, a, idx, gy):
    xt, gyt = torch.from_numpy(x), torch.from_numpy(gy)
    if op == "max":
        it = torch.from_numpy(idx)
        k, s, p = ([v] * 2 for v in a)
        return (lambda: F.max_pool2d(xt, *a), lambda: torch.ops.aten.max_pool2d_with_indices_backward(
            gyt, xt, k, s, p, [1, 1], False, it))
    if op == "avg":
        k, s, p = ([v] * 2 for v in a)
        return (lambda: F.avg_pool2d(xt, *a), lambda: torch.ops.aten.avg_pool2d_backward(
            gyt, xt, k, s, p, False, True, None))
    return (lambda: F.adaptive_avg_pool2d(xt, a[0]),
            lambda: torch.ops.aten._adaptive_avg_pool2d_backward(gyt, xt))


CLOCK = time.perf_counter


def best_of(fns, repeats):
    """Interleaved: every round times each function once (batched to >= 5 ms); the best round."""
    inner = {}
    for name, fn in fns.items():
        fn()
        t = time.perf_counter(); fn(); t = time.perf_counter() - t
        inner[name] = max(1, int(5e-3 / max(t, 1e-7)))
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = CLOCK()
            for _ in range(inner[name]):
                fn()
            best[name] = min(best[name], (CLOCK() - t) / inner[name])
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--copy-gbs", type=float, default=None,
                    help="the copy bandwidth for %% copy (GB/s, read + written), e.g. a quiet "
                         "machine's: benchmarks/results/full measured 28.9 (2 threads) and 25.9 "
                         "(NumPy, 1 thread); default: measured here (meaningless under load)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time CPU seconds of the process (time.process_time) instead of wall "
                         "time: with --threads 1, what other processes' load does not inflate")
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    before = import_before(args.before)
    for mod in (fastconv, before):
        mod.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    measured = max(_C.measure_copy_bandwidth(256 << 20, args.threads, 0.3)["gbps"] for _ in range(3))
    copy = args.copy_gbs or measured
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}; copy bandwidth used {copy:.1f} GB/s (measured now: "
          f"{measured:.1f}); torch {torch.__version__}; "
          f"{'CPU' if args.cpu_time else 'wall'} time")
    print("| case | phase | before ms | after ms | torch ms | % copy before | % copy after | "
          "x torch before | x torch after |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, op, shape, a in CASES:
        x = rng.standard_normal(shape).astype(np.float32)
        idx = None
        if op == "max":
            y, idx = fastconv.max_pool2d(x, *a, return_indices=True)
        elif op == "avg":
            y = fastconv.avg_pool2d(x, *a)
        else:
            y = fastconv.adaptive_avg_pool2d(x, a[0])
        gy = rng.standard_normal(y.shape).astype(np.float32)
        fb, fa, ft = calls(before, op, x, a, y, idx, gy), calls(fastconv, op, x, a, y, idx, gy), \
            torch_calls(op, x, a, idx, gy)
        for ph, phase in enumerate(("fwd", "bwd")):
            nbytes = 4 * (x.size + y.size) + (8 * y.size if op == "max" and ph == 1 else 0)
            t = best_of({"before": fb[ph], "after": fa[ph], "torch": ft[ph]}, args.repeats)
            pct = {k: 100 * nbytes / t[k] / 1e9 / copy for k in ("before", "after")}
            print(f"| {label} | {phase} | {t['before'] * 1e3:.3f} | {t['after'] * 1e3:.3f} | "
                  f"{t['torch'] * 1e3:.3f} | {pct['before']:.0f} | **{pct['after']:.0f}** | "
                  f"{t['torch'] / t['before']:.2f} | **{t['torch'] / t['after']:.2f}** |", flush=True)


if __name__ == "__main__":
    main()
