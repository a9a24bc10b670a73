"""A/B of the depthwise paths in one process, against torch: each case and phase is timed with
FASTCONV_DEPTHWISE (rows | lanes | plane | auto) and FASTCONV_DEPTHWISE_STREAM (0 | 1) set per
call (the C++ reads them per call), interleaved in rounds, best of the rounds of batched calls;
% of a fixed roofline (BW, PEAK) and x torch (torch time / ours). The measurements behind
depthwise_plane_preferred (csrc/cpu/conv/conv_depthwise_plane.cc).

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=python THREADS=2 CPU=1 ROUNDS=5 \
        VARIANTS=lanes,rows,plane:0,plane:1 [ONLY=56] [PHASES=fwd,bwd_data] \
        python benchmarks/depthwise_paths_ab.py

THREADS=1 times the calling thread's CPU time; THREADS=2 wall time, or with CPU=1 the process's
CPU time (both threads: steadier on a loaded machine). A variant is path[:stream].
"""
import os, sys, time
import numpy as np, torch, fastconv
SHAPES = {
 "mbv2 32ch@112 b1": (1, 32, (112, 112), 3, 1, 1),
 "mbv2 144ch@56 b8": (8, 144, (56, 56), 3, 1, 1),
 "mbv2 s2 144ch@56 b8": (8, 144, (56, 56), 3, 2, 1),
 "mbv2 384ch@14 b8": (8, 384, (14, 14), 3, 1, 1),
 "mbv2 960ch@7 b8": (8, 960, (7, 7), 3, 1, 1),
 "dw 8x256x56x56": (8, 256, (56, 56), 3, 1, 1),
 "convnext 7x7 96ch@56 b8": (8, 96, (56, 56), 7, 1, 3),
 "convnext 7x7 384ch@14 b1": (1, 384, (14, 14), 7, 1, 3),
 "replknet 31x31 b1": (1, 128, (56, 56), 31, 1, 15),
 "mamba k4 b8": (8, 1024, (1024,), 4, 1, 3),
 "tiny 1x1 4x4": (1, 1, (4, 4), 1, 1, 0),
 "few 8x4x56x56": (8, 4, (56, 56), 3, 1, 1),
 "few 8x8x56x56": (8, 8, (56, 56), 3, 1, 1),
 "few 8x8x28x28 5x5": (8, 8, (28, 28), 5, 1, 2),
 "FIR k63": (1, 1, (65536,), 63, 1, 31),
 "1d 8x4x256 k4": (8, 4, (256,), 4, 1, 3),
}
BW, PEAK = float(os.environ.get("BW", 29.7e9)), float(os.environ.get("PEAK", 227e9))
variants = [v for v in os.environ.get("VARIANTS", "lanes,plane:0,plane:1").split(",")]
phases = os.environ.get("PHASES", "fwd,bwd_data,bwd_weight").split(",")
only = os.environ.get("ONLY")
threads = int(os.environ.get("THREADS", 2))
rounds = int(os.environ.get("ROUNDS", 5))
torch.set_num_threads(threads); fastconv.set_num_threads(threads)
rng = np.random.default_rng(0)
CLK = time.thread_time if threads == 1 else (time.process_time if os.environ.get("CPU") else time.perf_counter)
def btime(fn, budget=0.01):
    fn(); n = 1
    while True:
        t = CLK()
        for _ in range(n): fn()
        dt = CLK() - t
        if dt >= budget: return dt / n
        n *= 2
def setenv(v):
    p, _, s = v.partition(":")
    if p == "auto": os.environ.pop("FASTCONV_DEPTHWISE", None)
    else: os.environ["FASTCONV_DEPTHWISE"] = p
    if s: os.environ["FASTCONV_DEPTHWISE_STREAM"] = s
    else: os.environ.pop("FASTCONV_DEPTHWISE_STREAM", None)
print(f"threads {threads} load {os.getloadavg()[0]:.1f}; % of roofline at {BW/1e9:.1f} GB/s / {PEAK/1e9:.0f} GF; x torch = torch/ours")
print(f"{'case':26s} {'phase':10s} " + " ".join(f"{v:>18s}" for v in variants) + f" {'torch ms':>9s}")
for name, (n, c, size, k, s, p) in SHAPES.items():
    if only and only not in name: continue
    nd = len(size)
    x = rng.standard_normal((n, c) + size).astype(np.float32)
    w = rng.standard_normal((c, 1) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    conv = getattr(fastconv, f"conv{nd}d"); convb = getattr(fastconv, f"conv{nd}d_backward")
    y = conv(x, w, b, s, p, 1, c)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    tconv = getattr(torch.nn.functional, f"conv{nd}d")
    xt, wt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(w).requires_grad_(True)
    yt = tconv(xt, wt, torch.from_numpy(b), s, p, 1, c); gyt = torch.from_numpy(gy)
    flops = 2 * y.size * k ** nd
    byts = (x.nbytes + w.nbytes + y.nbytes)
    roof = max(byts / BW, flops / PEAK)
    for ph in phases:
        if ph == "fwd":
            ours = lambda: conv(x, w, b, s, p, 1, c)
            def th():
                with torch.no_grad(): tconv(xt, wt, torch.from_numpy(b), s, p, 1, c)
        else:
            mask = (True, False, False) if ph == "bwd_data" else (False, True, False)
            ours = lambda: convb(gy, x, w, s, p, 1, c, output_mask=mask)
            tgt = xt if ph == "bwd_data" else wt
            th = lambda: torch.autograd.grad(yt, tgt, gyt, retain_graph=True)
        best = {v: 1e9 for v in variants}; tb = 1e9
        for r in range(rounds):
            for v in variants:
                setenv(v); best[v] = min(best[v], btime(ours))
            tb = min(tb, btime(th))
        cells = " ".join(f"{best[v]*1e3:7.3f} {100*roof/best[v]:3.0f}% {tb/best[v]:4.2f}x" for v in variants)
        print(f"{name:26s} {ph:10s} {cells} {tb*1e3:9.3f}", flush=True)
