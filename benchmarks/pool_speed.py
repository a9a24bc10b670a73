"""Pooling speed after row vectorisation: fastconv vs torch, same process, same data, 2 threads
each, interleaved runs, median of repeats. Prints one line per case and writes the Markdown table
to benchmarks/results/pool_speed_cpu.md.table (the committed pool_speed_cpu.md is written from it by
hand, with the machine's load noted).

    PYTHONPATH=python python benchmarks/pool_speed.py [--repeats 21] [--copy-gbs 38]

GB/s counts the bytes each op must read and write once (input, output, indices where the op
reads or writes them); "of copy" divides by the copy bandwidth measured here (bytes read +
written by a large memcpy-like NumPy copy, 2 threads: np.copyto of 256 MiB), or --copy-gbs.
The ratio is torch time / fastconv time (> 1: fastconv faster).
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

import fastconv as fc

THREADS = 2
ROOT = pathlib.Path(__file__).resolve().parent


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _copy_gbs(repeats: int) -> float:
    a = np.ones(64 << 20, dtype=np.float32)
    b = torch.empty(64 << 20)
    at = torch.from_numpy(a)
    ts = [_time(lambda: b.copy_(at)) for _ in range(repeats)]  # torch copy: threaded
    return 2 * a.nbytes / statistics.median(ts) / 1e9


def _cases(rng):
    x = rng.standard_normal((8, 64, 112, 112)).astype(np.float32)
    xt = torch.from_numpy(x)
    g = rng.standard_normal((8, 2048, 7, 7)).astype(np.float32)
    gt = torch.from_numpy(g)
    f = 4
    cases = []
    for k, s, p in ((3, 2, 1), (2, 2, 0)):
        v, idx = fc.max_pool2d(x, k, s, p, return_indices=True)
        gy = rng.standard_normal(v.shape).astype(np.float32)
        gyt, it = torch.from_numpy(gy), torch.from_numpy(idx)
        nb_in, nb_out = x.size * f, v.size * f
        cases.append((f"max_pool2d {k}x{k}/{s} pad {p}", nb_in + nb_out,
                      lambda k=k, s=s, p=p: fc.max_pool2d(x, k, s, p),
                      lambda k=k, s=s, p=p: F.max_pool2d(xt, k, s, p)))
        cases.append((f"max_pool2d {k}x{k}/{s} pad {p} + indices", nb_in + 3 * nb_out,
                      lambda k=k, s=s, p=p: fc.max_pool2d(x, k, s, p, return_indices=True),
                      lambda k=k, s=s, p=p: F.max_pool2d(xt, k, s, p, return_indices=True)))
        cases.append((f"max_pool2d {k}x{k}/{s} pad {p} backward", nb_in + 3 * nb_out,
                      lambda k=k, s=s, p=p, gy=gy, idx=idx:
                          fc.max_pool2d_backward(gy, x, idx, k, s, p),
                      lambda k=k, s=s, p=p, gyt=gyt, it=it:
                          torch.ops.aten.max_pool2d_with_indices_backward(
                              gyt, xt, [k, k], [s, s], [p, p], [1, 1], False, it)))
        va = fc.avg_pool2d(x, k, s, p)
        gya = rng.standard_normal(va.shape).astype(np.float32)
        gyat = torch.from_numpy(gya)
        cases.append((f"avg_pool2d {k}x{k}/{s} pad {p}", nb_in + nb_out,
                      lambda k=k, s=s, p=p: fc.avg_pool2d(x, k, s, p),
                      lambda k=k, s=s, p=p: F.avg_pool2d(xt, k, s, p)))
        cases.append((f"avg_pool2d {k}x{k}/{s} pad {p} backward", nb_in + nb_out,
                      lambda k=k, s=s, p=p, gya=gya: fc.avg_pool2d_backward(gya, x, k, s, p),
                      lambda k=k, s=s, p=p, gyat=gyat:
                          torch.ops.aten.avg_pool2d_backward(gyat, xt, [k, k], [s, s], [p, p],
                                                             False, True, None)))
    gy1 = rng.standard_normal((8, 2048, 1, 1)).astype(np.float32)
    gy1t = torch.from_numpy(gy1)
    nb = g.size * f + gy1.size * f
    cases.append(("adaptive_avg_pool2d 8x2048x7x7 -> 1x1", nb,
                  lambda: fc.adaptive_avg_pool2d(g, 1), lambda: F.adaptive_avg_pool2d(gt, 1)))
    cases.append(("adaptive_avg_pool2d 8x2048x7x7 -> 1x1 backward", nb,
                  lambda: fc.adaptive_avg_pool2d_backward(gy1, g),
                  lambda: torch.ops.aten._adaptive_avg_pool2d_backward(gy1t, gt)))
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--copy-gbs", type=float, default=None)
    ap.add_argument("--out", default=str(ROOT / "results" / "pool_speed_cpu.md"))
    a = ap.parse_args()
    torch.set_num_threads(THREADS)
    fc.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    copy = a.copy_gbs or _copy_gbs(9)
    rows = []
    with torch.no_grad():
        for name, nbytes, f_fc, f_t in _cases(rng):
            for _ in range(2):
                f_fc(), f_t()
            tf, tt = [], []
            for _ in range(a.repeats):  # interleaved
                tf.append(_time(f_fc))
                tt.append(_time(f_t))
            mf, mt = statistics.median(tf), statistics.median(tt)
            gbs = nbytes / mf / 1e9
            rows.append((name, mf * 1e3, mt * 1e3, mt / mf, gbs, gbs / copy))
            print(f"{name:50s} fc {mf*1e3:8.3f} ms  torch {mt*1e3:8.3f} ms  x{mt/mf:5.2f}  "
                  f"{gbs:5.1f} GB/s  {100*gbs/copy:4.0f}% of copy", flush=True)
    lines = ["| case (float32, 8x64x112x112 unless named) | fastconv ms | torch ms | speedup | "
             "fastconv GB/s | of copy |", "|---|---:|---:|---:|---:|---:|"]
    for name, mf, mt, r, gbs, frac in rows:
        lines.append(f"| {name} | {mf:.3f} | {mt:.3f} | {r:.2f} | {gbs:.1f} | {100*frac:.0f}% |")
    pathlib.Path(a.out + ".table").write_text(
        f"copy bandwidth {copy:.1f} GB/s (read + write)\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
