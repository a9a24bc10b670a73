"""A/B of a kernel switch that the C++ reads per call from the environment (e.g.
FASTCONV_POOL_PREFETCH=0/1), on the rows of `fastconv bench`'s shape sets, with torch timed in
the same rounds on the same data.

Each round times every (case, phase) once per value of the switch and once for torch, the
order of the values alternating between rounds; a timing is the best of --calls calls. The
table gives the median over rounds of each and the median of the per-round ratios off / on (a
round's A and B ran seconds apart, so the ratio cancels most of this shared VM's drift), and
torch / on.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=python python benchmarks/env_switch_ab.py \
        --switch FASTCONV_POOL_PREFETCH --op pool [--phase forward] [--match 3x3] \
        [--rounds 12] [--calls 5] [--threads 2] [--out results.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import fastconv
from fastconv.bench import peers, shapes


def best_of(fn, calls: int) -> float:
    best = float("inf")
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--switch", required=True, help="environment variable read per call")
    ap.add_argument("--values", default="0,1", help="off,on (default 0,1)")
    ap.add_argument("--op", action="append", default=[], help="as fastconv bench --op")
    ap.add_argument("--phase", action="append", default=[],
                    help="forward, backward_data, backward_weight (default: all)")
    ap.add_argument("--match", default="", help="only cases whose label contains this")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="", help="also write the table here (Markdown)")
    ap.add_argument("--no-torch", action="store_true", help="time fastconv only")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    fastconv.set_num_threads(args.threads)
    off, on = args.values.split(",")
    ops = [t for item in args.op for t in item.split(",")]
    phases = [t for item in args.phase for t in item.split(",")] or [
        "forward", "backward_data", "backward_weight"]
    cases = [c for c in shapes.select(shapes.load(), ops) if args.match in c.label]
    rng = np.random.default_rng(0)
    loads = []
    for case in cases:
        for phase in phases:
            w = peers.build(case, phase, rng, torch)
            if w.skip is None and w.fastconv is not None:
                loads.append(w)

    times = {(i, v): [] for i in range(len(loads)) for v in (off, on, "torch")}
    for r in range(args.rounds):
        for i, w in enumerate(loads):
            order = (off, on) if r % 2 else (on, off)
            for v in order:
                os.environ[args.switch] = v
                w.fastconv()
                times[(i, v)].append(best_of(w.fastconv, args.calls))
            if "torch" in w.peers and not args.no_torch:
                w.peers["torch"]()
                times[(i, "torch")].append(best_of(w.peers["torch"], args.calls))
    os.environ.pop(args.switch, None)

    lines = [f"{args.switch} {off} -> {on}: {args.rounds} rounds, best of {args.calls} calls "
             f"each, {args.threads} threads; ms = median over rounds",
             "",
             f"| case | phase | {off} ms | {on} ms | {off} / {on} (median of rounds) | "
             f"torch ms | x torch ({on}) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for i, w in enumerate(loads):
        a, b, t = times[(i, off)], times[(i, on)], times[(i, "torch")]
        ratio = statistics.median(x / y for x, y in zip(a, b))
        tm = statistics.median(t) * 1e3 if t else float("nan")
        lines.append(f"| {w.case.label} | {w.phase} | {statistics.median(a) * 1e3:.3f} | "
                     f"{statistics.median(b) * 1e3:.3f} | {ratio:.3f} | {tm:.3f} | "
                     f"{tm / (statistics.median(b) * 1e3):.2f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
