"""Baseline speed of fastconv's CPU pooling against torch (same process, same data, 2 threads each,
interleaved runs, median of repeats). Writes benchmarks/results/pool_baseline_cpu.{md,json}.

    PYTHONPATH=python python benchmarks/pool_baseline.py [--repeats 15]

GB/s counts the bytes each op must read and write once (input, output, indices where the op
reads or writes them); the ratio is torch time / fastconv time (> 1: fastconv faster).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import time

import numpy as np
import torch
import torch.nn.functional as F

import fastconv as fc

THREADS = 2
ROOT = pathlib.Path(__file__).resolve().parent


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _cases(rng):
    x = rng.standard_normal((8, 64, 112, 112)).astype(np.float32)
    xt = torch.from_numpy(x)
    v, idx = fc.max_pool2d(x, 3, 2, 1, return_indices=True)
    gy = rng.standard_normal(v.shape).astype(np.float32)
    gyt, idxt = torch.from_numpy(gy), torch.from_numpy(idx)
    xa = rng.standard_normal((8, 2048, 7, 7)).astype(np.float32)
    xat = torch.from_numpy(xa)
    b = 4  # float32
    return [
        ("max_pool2d 3x3/2 pad 1, 8x64x112x112 (values only)",
         lambda: fc.max_pool2d(x, 3, 2, 1), lambda: F.max_pool2d(xt, 3, 2, 1),
         (x.size + v.size) * b),
        ("max_pool2d 3x3/2 pad 1, 8x64x112x112 (with indices)",
         lambda: fc.max_pool2d(x, 3, 2, 1, return_indices=True),
         lambda: F.max_pool2d(xt, 3, 2, 1, return_indices=True),
         (x.size + v.size) * b + v.size * 8),
        ("avg_pool2d 3x3/2 pad 1, 8x64x112x112",
         lambda: fc.avg_pool2d(x, 3, 2, 1), lambda: F.avg_pool2d(xt, 3, 2, 1),
         (x.size + v.size) * b),
        ("adaptive_avg_pool2d to 1x1, 8x2048x7x7",
         lambda: fc.adaptive_avg_pool2d(xa, 1), lambda: F.adaptive_avg_pool2d(xat, 1),
         (xa.size + 8 * 2048) * b),
        ("max_pool2d backward 3x3/2 pad 1, 8x64x112x112",
         lambda: fc.max_pool2d_backward(gy, x, idx, 3, 2, 1),
         lambda: torch.ops.aten.max_pool2d_with_indices_backward(gyt, xt, [3, 3], [2, 2], [1, 1],
                                                                 [1, 1], False, idxt),
         gy.size * b + idx.size * 8 + x.size * b),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    fc.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    rows = []
    with torch.no_grad():
        for name, ours, theirs, nbytes in _cases(rng):
            for _ in range(2):  # warm-up
                ours()
                theirs()
            t_ours, t_theirs = [], []
            for _ in range(args.repeats):
                t_ours.append(_time(ours))
                t_theirs.append(_time(theirs))
            mo, mt = statistics.median(t_ours), statistics.median(t_theirs)
            rows.append(dict(op=name, fastconv_ms=mo * 1e3, torch_ms=mt * 1e3,
                             fastconv_gbps=nbytes / mo / 1e9, torch_gbps=nbytes / mt / 1e9,
                             ratio_torch_over_fastconv=mt / mo, bytes=nbytes))
            print(f"{name}: fastconv {mo * 1e3:.2f} ms, torch {mt * 1e3:.2f} ms, "
                  f"ratio {mt / mo:.2f}")
    machine = dict(cpu=_cpu_model(), threads=THREADS, cpus=os.cpu_count(),
                   load_average_after=os.getloadavg(), torch=torch.__version__,
                   numpy=np.__version__, fastconv_commit=_commit(),
                   fastconv_build=fc.build_info(), repeats=args.repeats, dtype="float32")
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "pool_baseline_cpu.json").write_text(json.dumps(dict(machine=machine, results=rows),
                                                           indent=2, default=str) + "\n")
    lines = ["# Pooling baseline (CPU, float32)", "",
             f"CPU: {machine['cpu']}; {THREADS} threads for both libraries; torch "
             f"{machine['torch']}; fastconv commit {machine['fastconv_commit']}; median of "
             f"{args.repeats} interleaved runs. GB/s: bytes read + written once per call; "
             f"ratio: torch time / fastconv time (> 1: fastconv faster). Machine: "
             f"{machine['cpus']} CPUs, load average {machine['load_average_after'][0]:.1f} when the "
             f"run ended (a shared machine: absolute times vary by 2-3x between runs; the "
             f"interleaved ratios are steadier).", "",
             "| op | fastconv ms | torch ms | fastconv GB/s | torch GB/s | ratio |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['op']} | {r['fastconv_ms']:.2f} | {r['torch_ms']:.2f} | "
                     f"{r['fastconv_gbps']:.1f} | {r['torch_gbps']:.1f} | "
                     f"{r['ratio_torch_over_fastconv']:.2f} |")
    (out / "pool_baseline_cpu.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
