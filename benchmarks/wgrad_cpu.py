"""im2col_gemm backward_weight against torch (aten.convolution_backward, grad_weight only) on the
layers of benchmarks/results/wgrad_cpu.md, interleaved in one process.

    FCT=1 PYTHONPATH=python python benchmarks/wgrad_cpu.py python 7   # 1 thread: min CPU time
    FCT=2 PYTHONPATH=python python benchmarks/wgrad_cpu.py python 9   # 2 threads: median wall time

argv[1] is the directory holding the fastconv package to time (to compare two builds).
"""
import sys, time, os, statistics, json
sys.path.insert(0, sys.argv[1])
import numpy as np, torch, fastconv
from fastconv import functional as F
TH=int(os.environ.get("FCT","2")); torch.set_num_threads(TH); fastconv.set_num_threads(TH)
os.environ.setdefault("OMP_NUM_THREADS", "2")
CASES = [
 ("resnet50 3x3 64 @56 b8", (8,64,56,56), (64,64,3,3), 1,1,1,1),
 ("resnet50 3x3 256 @14 b8", (8,256,14,14), (256,256,3,3), 1,1,1,1),
 ("resnet50 1x1 256->64 @56 b8", (8,256,56,56), (64,256,1,1), 1,0,1,1),
 ("vgg 3x3 64 @224 b1", (1,64,224,224), (64,64,3,3), 1,1,1,1),
 ("fmnist conv2 5x5 16->32 @14 b64", (64,16,14,14), (32,16,5,5), 1,2,1,1),
 ("resnext 3x3 g32 128 @56 b8", (8,128,56,56), (128,4,3,3), 1,1,1,32),
 ("wav2vec2 conv0 1->512 k10 s5 b8", (8,1,16000), (512,1,10), 5,0,1,1),
 ("3d 3x3x3 64 @8x28x28 b2", (2,64,8,28,28), (64,64,3,3,3), 1,1,1,1),
]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 7
print(sys.argv[1])
rows = []
for name, xs, ws, s, p, d, g in CASES:
    nd = len(xs) - 2
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32); w = rng.standard_normal(ws, dtype=np.float32)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    ty = torch.ops.aten.convolution(tx, tw, None, [s]*nd, [p]*nd, [d]*nd, False, [0]*nd, g)
    gy = np.ascontiguousarray(np.random.default_rng(1).standard_normal(ty.shape, dtype=np.float32))
    tgy = torch.from_numpy(gy)
    fn = getattr(F, f"conv{nd}d_backward")
    def fc():
        return fn(gy, x, w, stride=s, padding=p, dilation=d, groups=g, output_mask=(False, True, False), algorithm="im2col_gemm")[1]
    def tc():
        return torch.ops.aten.convolution_backward(tgy, tx, tw, None, [s]*nd, [p]*nd, [d]*nd, False, [0]*nd, g, [False, True, False])[1]
    r = fc(); e = tc().numpy()
    err = float(np.abs(r - e).max() / (np.abs(e).max() + 1e-30))
    ta, tb = [], []
    clock = time.process_time if TH == 1 else time.perf_counter
    for _ in range(reps):
        t0 = clock(); fc(); ta.append(clock() - t0)
        t0 = clock(); tc(); tb.append(clock() - t0)
    flops = 2 * np.prod(ty.shape) * np.prod(ws[1:])
    a, b = (min(ta), min(tb)) if TH == 1 else (statistics.median(ta), statistics.median(tb))
    print(f"{name:34s} fastconv {a*1e3:8.2f} ms {flops/a/1e9:6.1f} GF/s | torch {b*1e3:8.2f} ms {flops/b/1e9:6.1f} GF/s | ratio {b/a:5.2f}x  relerr {err:.1e}", flush=True)
