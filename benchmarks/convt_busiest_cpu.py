"""Transposed-conv rows (benchmarks/shapes/transposed.txt) timed by the busiest thread's CPU time:
for each call, the largest increase of any thread's run time (/proc/self/task/*/schedstat).
On a machine whose cores are shared with other jobs, wall time mostly measures the other jobs
(preemption) and process CPU time hides an idle thread (OMP_WAIT_POLICY=PASSIVE sleeps it); the
busiest thread's CPU time is what the wall time would be on a quiet machine (it reproduced the
quiet full run's ratios: DCGAN convT 256->128 backward_weight 0.67 vs 0.66, U-Net 1024->512
0.74 vs 0.72). fastconv (auto, and optionally a baseline build) and torch are interleaved in a
random order per round (the call after torch's ran up to 25% slower), minimum over rounds.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=python python benchmarks/convt_busiest_cpu.py \
        dcgan256,unet1024 bw,bd,fw [auto,old]

Passes are those of the convolution whose geometry is listed (for a transposed conv its output
is x): fw = convT backward_data, bd = convT forward, bw = convT backward_weight. "old" times a
copy of another build's python/fastconv package renamed fastconv_old, found in the directory
named by FASTCONV_BASELINE. Rounds: R (default 15).
"""

import os
import random
import sys
import time

import numpy as np
import torch

import fastconv

if os.environ.get("FASTCONV_BASELINE"):
    sys.path.insert(0, os.environ["FASTCONV_BASELINE"])
    import fastconv_old
else:
    fastconv_old = None

# name: x shape, w shape, stride, padding of the convolution
CASES = {
    "dcgan512": ((8, 256, 8, 8), (512, 256, 4, 4), 2, 1),
    "dcgan256": ((8, 128, 32, 32), (256, 128, 4, 4), 2, 1),
    "dcgan64": ((8, 3, 64, 64), (64, 3, 4, 4), 2, 1),
    "unet128": ((8, 64, 56, 56), (128, 64, 2, 2), 2, 0),
    "unet1024": ((1, 512, 56, 56), (1024, 512, 2, 2), 2, 0),
    "unet3d": ((1, 32, 32, 64, 64), (64, 32, 2, 2, 2), 2, 0),
    "melgan": ((8, 256, 1024), (512, 256, 16), 8, 4),
}


def snapshot():
    runtime = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                runtime[tid] = int(f.read().split()[0])
        except OSError:
            pass
    return runtime


def busiest_ms(f):
    before = snapshot()
    f()
    after = snapshot()
    return max(after[k] - before.get(k, 0) for k in after) / 1e6


def main():
    torch.set_num_threads(fastconv.get_num_threads())
    names = sys.argv[1].split(",")
    passes = sys.argv[2].split(",") if len(sys.argv) > 2 else ["bw"]
    algorithms = sys.argv[3].split(",") if len(sys.argv) > 3 else ["auto"]
    rounds = int(os.environ.get("R", "15"))
    for name in names:
        xs, ws, s, p = CASES[name]
        nd = len(xs) - 2
        rng = np.random.default_rng(0)
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        y = getattr(fastconv, f"conv{nd}d")(x, w, stride=s, padding=p)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        tx, tw, tgy = map(torch.from_numpy, (x, w, gy))
        for pass_ in passes:
            calls = {}
            if pass_ == "fw":
                tf = getattr(torch.nn.functional, f"conv{nd}d")
                calls["torch"] = lambda: tf(tx, tw, stride=s, padding=p)
                for a in algorithms:
                    mod = fastconv_old if a == "old" else fastconv
                    fwd = getattr(mod, f"conv{nd}d")
                    kw = {} if a == "old" else {"algorithm": a}
                    calls[a] = lambda fwd=fwd, kw=kw: fwd(x, w, stride=s, padding=p, **kw)
            else:
                mask = [pass_ == "bd", pass_ == "bw", False]
                calls["torch"] = lambda: torch.ops.aten.convolution_backward(
                    tgy, tx, tw, None, [s] * nd, [p] * nd, [1] * nd, False, [0] * nd, 1, mask)
                for a in algorithms:
                    mod = fastconv_old if a == "old" else fastconv
                    back = getattr(mod, f"conv{nd}d_backward")
                    kw = {} if a == "old" else {"algorithm": a}
                    calls[a] = lambda back=back, kw=kw: back(gy, x, w, stride=s, padding=p,
                                                             output_mask=tuple(mask), **kw)
            times = {k: [] for k in calls}
            for f in calls.values():
                f()
            for _ in range(rounds):
                order = list(calls)
                random.shuffle(order)
                for k in order:
                    times[k].append(busiest_ms(calls[k]))
            best = {k: min(v) for k, v in times.items()}
            cells = " ".join(f"{k} {v:.2f} (x{best['torch'] / v:.2f})" for k, v in best.items()
                             if k != "torch")
            print(f"{name} {pass_}: torch {best['torch']:.2f} ms, {cells}", flush=True)


if __name__ == "__main__":
    main()
