"""im2col_gemm against torch on raw GEMM-bound shapes (1x1 convs, small planes, backward_weight),
interleaved in one process.

    FCT=1 PYTHONPATH=python python benchmarks/gemm_cpu.py python 7   # 1 thread: min CPU time
    FCT=2 PYTHONPATH=python python benchmarks/gemm_cpu.py python 9   # 2 threads: median wall time

argv[1]: directory holding the fastconv package to time; argv[2]: repeats; argv[3] (optional):
comma-separated substrings selecting cases. % peak uses the fp32 FMA peak per thread
(116.8 GFLOP/s, half the 2-thread 233.6 measured by the suite's ceilings).
"""
import sys, time, os, statistics
sys.path.insert(0, sys.argv[1])
import numpy as np, torch, fastconv
from fastconv import functional as F
TH = int(os.environ.get("FCT", "2")); torch.set_num_threads(TH); fastconv.set_num_threads(TH)
PEAK = 116.8 * TH
# name, x shape, w shape, stride, padding (int or pair), pass (fwd | bwd_data | bwd_weight)[, dilation]
CASES = [
 ("1x1 1024->256 @14 b8", (8,1024,14,14), (256,1024,1,1), 1, 0, "fwd"),
 ("1x1 1024->256 @14 b1", (1,1024,14,14), (256,1024,1,1), 1, 0, "fwd"),
 ("1x1 512->512 @7 b8", (8,512,7,7), (512,512,1,1), 1, 0, "fwd"),
 ("1x1 2048->512 @7 b8", (8,2048,7,7), (512,2048,1,1), 1, 0, "fwd"),
 ("1x1 256->64 @56 b8", (8,256,56,56), (64,256,1,1), 1, 0, "fwd"),
 ("1x1 64->256 @56 b8", (8,64,56,56), (256,64,1,1), 1, 0, "fwd"),
 ("3x3 256 @14 b8", (8,256,14,14), (256,256,3,3), 1, 1, "fwd"),
 ("3x3 512 @7 b8", (8,512,7,7), (512,512,3,3), 1, 1, "fwd"),
 ("convT 4x4/2 512->256 @4 b8 (bwd_data)", (8,256,8,8), (512,256,4,4), 2, 1, "bwd_data"),
 ("1x1 512->512 @7 b8 bwd_data", (8,512,7,7), (512,512,1,1), 1, 0, "bwd_data"),
 ("1x1 1024->256 @14 b8 bwd_data", (8,1024,14,14), (256,1024,1,1), 1, 0, "bwd_data"),
 ("1x1 256->64 @56 b8 bwd_data", (8,256,56,56), (64,256,1,1), 1, 0, "bwd_data"),
 ("1x1 1024->256 @14 b1 bwd_data", (1,1024,14,14), (256,1024,1,1), 1, 0, "bwd_data"),
 ("3x3 64 @56 b8 bwd_data", (8,64,56,56), (64,64,3,3), 1, 1, "bwd_data"),
 ("stem 7x7/2 3->64 @224 b1 bwd_data", (1,3,224,224), (64,3,7,7), 2, 3, "bwd_data"),
 ("3x3 64 @56 b8 bwd_weight", (8,64,56,56), (64,64,3,3), 1, 1, "bwd_weight"),
 ("3x3 256 @14 b8 bwd_weight", (8,256,14,14), (256,256,3,3), 1, 1, "bwd_weight"),
 ("3x3 512 @7 b8 bwd_weight", (8,512,7,7), (512,512,3,3), 1, 1, "bwd_weight"),
 ("1x1/2 512->1024 @28 b8 bwd_weight", (8,512,28,28), (1024,512,1,1), 2, 0, "bwd_weight"),
 ("1x1 1024->256 @14 b8 bwd_weight", (8,1024,14,14), (256,1024,1,1), 1, 0, "bwd_weight"),
 ("convT 4x4/2 512->256 @4 b8 bwd_weight", (8,256,8,8), (512,256,4,4), 2, 1, "bwd_weight"),
 ("stem 7x7/2 3->64 @224 b8 bwd_weight", (8,3,224,224), (64,3,7,7), 2, 3, "bwd_weight"),
 ("res4 proj 1x1/2 512->1024 @28 b8", (8,512,28,28), (1024,512,1,1), 2, 0, "fwd"),
 ("res4 proj 1x1/2 512->1024 @28 b8 bwd_data", (8,512,28,28), (1024,512,1,1), 2, 0, "bwd_data"),
 ("res3 proj 1x1/2 256->512 @56 b8", (8,256,56,56), (512,256,1,1), 2, 0, "fwd"),
 ("res3 proj 1x1/2 256->512 @56 b8 bwd_data", (8,256,56,56), (512,256,1,1), 2, 0, "bwd_data"),
 ("res3 proj 1x1/2 256->512 @56 b8 bwd_weight", (8,256,56,56), (512,256,1,1), 2, 0, "bwd_weight"),
 ("inception 1x7 160 @17 b8 bwd_weight", (8,160,17,17), (160,160,1,7), 1, (0,3), "bwd_weight"),
 ("inception 7x1 160->192 @17 b8 bwd_weight", (8,160,17,17), (192,160,7,1), 1, (3,0), "bwd_weight"),
 ("deeplab 3x3 d2 256 @28 b8 bwd_weight", (8,256,28,28), (256,256,3,3), 1, 2, "bwd_weight", 2),
 ("3x3 64 @56 b1 bwd_weight", (1,64,56,56), (64,64,3,3), 1, 1, "bwd_weight"),
 ("3x3 256 @56 b1 bwd_weight", (1,256,56,56), (256,256,3,3), 1, 1, "bwd_weight"),
]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 7
sel = sys.argv[3].split(",") if len(sys.argv) > 3 else None
print(sys.argv[1], "threads", TH, "load", os.getloadavg())
for name, xs, ws, s, p, kind, *dil in CASES:
    d = dil[0] if dil else 1
    pp = list(p) if isinstance(p, tuple) else [p]*2
    if sel and not any(t in name for t in sel):
        continue
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32); w = rng.standard_normal(ws, dtype=np.float32)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    ty = torch.ops.aten.convolution(tx, tw, None, [s]*2, pp, [d]*2, False, [0]*2, 1)
    gy = np.ascontiguousarray(rng.standard_normal(ty.shape, dtype=np.float32)); tgy = torch.from_numpy(gy)
    if kind == "fwd":
        fc = lambda: F.conv2d(x, w, stride=s, padding=p, dilation=d, algorithm="im2col_gemm")
        tc = lambda: torch.ops.aten.convolution(tx, tw, None, [s]*2, pp, [d]*2, False, [0]*2, 1)
    else:
        i = 0 if kind == "bwd_data" else 1
        mask = (i == 0, i == 1, False)
        fc = lambda: F.conv2d_backward(gy, x, w, stride=s, padding=p, dilation=d, output_mask=mask, algorithm="im2col_gemm")[i]
        tc = lambda: torch.ops.aten.convolution_backward(tgy, tx, tw, None, [s]*2, pp, [d]*2, False, [0]*2, 1, list(mask))[i]
    r = np.asarray(fc()); e = tc().numpy()
    err = float(np.abs(r - e).max() / (np.abs(e).max() + 1e-30))
    clock = time.process_time if TH == 1 else time.perf_counter
    inner = 1
    t0 = clock(); fc(); dt = clock() - t0
    inner = max(1, int(0.02 / max(dt, 1e-6)))
    ta, tb = [], []
    for _ in range(reps):
        t0 = clock()
        for _ in range(inner): fc()
        ta.append((clock() - t0) / inner)
        t0 = clock()
        for _ in range(inner): tc()
        tb.append((clock() - t0) / inner)
    flops = 2 * np.prod(ty.shape) * np.prod(ws[1:])
    a, b = (min(ta), min(tb)) if TH == 1 else (statistics.median(ta), statistics.median(tb))
    print(f"{name:40s} fc {a*1e3:7.3f} ms {flops/a/1e9:6.1f} GF/s {100*flops/a/1e9/PEAK:4.0f}% | torch {b*1e3:7.3f} ms {flops/b/1e9:6.1f} GF/s | x torch {b/a:5.2f}  err {err:.0e}", flush=True)
