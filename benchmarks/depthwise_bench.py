"""Depthwise convolution before / after a change, against torch (oneDNN), on the CPU: every
depthwise row of the suite (sets mobilenetv2, depthwise_large, conv1d), forward /
backward_data / backward_weight, float32, algorithm "auto".

Two builds of fastconv in one process: this checkout's (`fastconv`) and an earlier build given
by --before (a folder holding a built `fastconv` package, e.g. a copy of main's python/ after
scripts/dev_build.sh), imported as `fastconv_before`. The three calls (before, after, torch) are
interleaved in rounds, each timed over a batch of calls of >= 15 ms after a warm-up; a row
reports the median time of the rounds and the median of the per-round ratios, so that a change
of the machine's load between rounds moves all three alike.

With --threads 1 the clock is the CPU time of the calling thread (time.thread_time: one
OpenMP thread and torch's single intra-op thread both run on it), which other processes' load
does not inflate: the steady comparison on a shared machine. With more threads it is wall time.

    python benchmarks/depthwise_bench.py --before /tmp/main_build/python [--threads 1 2]
        [--rounds 7] [--out benchmarks/results/depthwise_cpu.md]
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import fastconv

# The suite's depthwise rows: label, batch, channels, size, kernel, stride, padding
SHAPES = [
    ("mobilenetv2 dw 3x3 32ch @112 b1", 1, 32, (112, 112), 3, 1, 1),
    ("mobilenetv2 dw 3x3 144ch @56 b8", 8, 144, (56, 56), 3, 1, 1),
    ("mobilenetv2 dw 3x3/2 144ch @56 b8", 8, 144, (56, 56), 3, 2, 1),
    ("mobilenetv2 dw 3x3 384ch @14 b8", 8, 384, (14, 14), 3, 1, 1),
    ("mobilenetv2 dw 3x3 960ch @7 b8", 8, 960, (7, 7), 3, 1, 1),
    ("depthwise 3x3 8x256x56x56", 8, 256, (56, 56), 3, 1, 1),
    ("convnext dw 7x7 96ch @56 b8", 8, 96, (56, 56), 7, 1, 3),
    ("convnext dw 7x7 384ch @14 b1", 1, 384, (14, 14), 7, 1, 3),
    ("replknet dw 31x31 128ch @56 b1", 1, 128, (56, 56), 31, 1, 15),
    ("causal depthwise conv1d k4 (mamba) b8", 8, 1024, (1024,), 4, 1, 3),
    ("single-channel FIR filter k63", 1, 1, (65536,), 63, 1, 31),
    ("tiny conv 1x1 on 4x4 (c=1: depthwise)", 1, 1, (4, 4), 1, 1, 0),
]
# The roofline of conventions / python/fastconv/bench/targets.py, at this machine's quiet
# ceilings: bytes of x + w + y at the copy bandwidth, or the flops at the FMA peak.
COPY_BYTES_PER_S, FMA_FLOPS_PER_S = 29.7e9, 227e9
PHASES = ("fwd", "bwd data", "bwd weight")


def import_before(folder: str):
    """The build in folder/fastconv, as the module fastconv_before (its imports are relative)."""
    tmp = Path(tempfile.mkdtemp(prefix="fastconv_before_"))
    shutil.copytree(Path(folder) / "fastconv", tmp / "fastconv_before")
    sys.path.insert(0, str(tmp))
    return importlib.import_module("fastconv_before")


def batch_time(fn, clock, budget=0.015):
    start, calls = clock(), 0
    while True:
        fn()
        calls += 1
        elapsed = clock() - start
        if elapsed > budget:
            return elapsed / calls * 1e3


def measure(before, threads, rounds, rng, cpu=False):
    torch.set_num_threads(threads)
    for mod in (fastconv, before):
        mod.set_num_threads(threads)
    clock = time.thread_time if threads == 1 else (time.process_time if cpu else time.perf_counter)
    rows = []
    for label, n, c, size, k, s, p in SHAPES:
        nd = len(size)
        x = rng.standard_normal((n, c) + size).astype(np.float32)
        w = rng.standard_normal((c, 1) + (k,) * nd).astype(np.float32)
        b = rng.standard_normal(c).astype(np.float32)
        tconv = getattr(torch.nn.functional, f"conv{nd}d")
        gy = rng.standard_normal(getattr(fastconv, f"conv{nd}d")(x, w, b, s, p, 1, c).shape)
        gy = gy.astype(np.float32)
        y_size = gy.size
        roof_ms = 1e3 * max((x.nbytes + w.nbytes + 4 * y_size) / COPY_BYTES_PER_S,
                            2 * y_size * k ** nd / FMA_FLOPS_PER_S)
        xt, wt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(w).requires_grad_(True)
        yt = tconv(xt, wt, torch.from_numpy(b), s, p, 1, c)
        gyt = torch.from_numpy(gy)

        def ours(mod, phase):
            conv = getattr(mod, f"conv{nd}d")
            conv_backward = getattr(mod, f"conv{nd}d_backward")
            if phase == 0:
                return lambda: conv(x, w, b, s, p, 1, c)
            mask = (True, False, False) if phase == 1 else (False, True, False)
            return lambda: conv_backward(gy, x, w, s, p, 1, c, output_mask=mask)

        def theirs(phase):
            if phase == 0:
                def fwd():
                    with torch.no_grad():
                        tconv(xt, wt, torch.from_numpy(b), s, p, 1, c)
                return fwd
            target = xt if phase == 1 else wt
            return lambda: torch.autograd.grad(yt, target, gyt, retain_graph=True)

        for phase, name in enumerate(PHASES):
            fns = {"before": ours(before, phase), "after": ours(fastconv, phase),
                   "torch": theirs(phase)}
            for fn in fns.values():
                fn()
            t = {key: [] for key in fns}
            for _ in range(rounds):
                for key, fn in fns.items():
                    t[key].append(batch_time(fn, clock))
            t = {key: np.array(v) for key, v in t.items()}
            rows.append(dict(
                case=label, phase=name, **{key: float(np.median(v)) for key, v in t.items()},
                x_before=float(np.median(t["torch"] / t["before"])),
                x_after=float(np.median(t["torch"] / t["after"])),
                gain=float(np.median(t["before"] / t["after"])),
                # CPU time of the process: over `threads` threads, at best 1/threads of it wall
                roof_before=roof_ms * (threads if cpu else 1) / float(np.min(t["before"])),
                roof_after=roof_ms * (threads if cpu else 1) / float(np.min(t["after"]))))
            r = rows[-1]
            print(f"{threads}t {label:40s} {name:10s} before {r['before']:8.3f} after "
                  f"{r['after']:8.3f} torch {r['torch']:8.3f} | x torch {r['x_before']:5.2f} -> "
                  f"{r['x_after']:5.2f}", flush=True)
    return rows


def table(rows, threads, cpu=False):
    clock = ("CPU ms of the calling thread" if threads == 1 else
             "CPU ms of the process, both threads" if cpu else "wall ms")
    out = [f"### {threads} thread{'s' if threads > 1 else ''} ({clock}, median of the rounds)", "",
           "| case | phase | before ms | after ms | torch ms | x torch before | x torch after | "
           "after / before speedup | % roofline before | % roofline after |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['case']} | {r['phase']} | {r['before']:.3f} | {r['after']:.3f} | "
                   f"{r['torch']:.3f} | {r['x_before']:.2f} | **{r['x_after']:.2f}** | "
                   f"{r['gain']:.2f} | {100 * r['roof_before']:.0f} | {100 * r['roof_after']:.0f} |")
    geo = lambda key: float(np.exp(np.mean([np.log(r[key]) for r in rows])))
    out += ["", f"Geometric mean x torch: before {geo('x_before'):.2f}, after "
            f"{geo('x_after'):.2f}; lowest after: {min(r['x_after'] for r in rows):.2f} "
            f"({min(rows, key=lambda r: r['x_after'])['case']}, "
            f"{min(rows, key=lambda r: r['x_after'])['phase']}).", ""]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="folder holding the earlier fastconv build")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default=None, help="write the markdown tables here")
    ap.add_argument("--cpu", action="store_true",
                    help="with more threads, time CPU time of the process (a loaded machine)")
    args = ap.parse_args()
    before = import_before(args.before)
    rng = np.random.default_rng(0)
    lines = [f"- load average at start: {os.getloadavg()}"]
    for threads in args.threads:
        lines += table(measure(before, threads, args.rounds, rng, args.cpu), threads, args.cpu)
    lines.append(f"- load average at end: {os.getloadavg()}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines.insert(0, f"- after: commit {commit}; torch {torch.__version__}; {platform.machine()}; "
                    f"fastconv ISA path {fastconv.build_info()['isa']}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
