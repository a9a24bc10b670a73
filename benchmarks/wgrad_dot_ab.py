"""1x1 backward_weight A/B behind im2col_gemm's dot-kernel rule (use_dot in conv_im2col_gemm.cc):
the packed GEMM (FASTCONV_WGRAD_DOT=0) against the dot-product kernel (FASTCONV_WGRAD_DOT=1, at
each FASTCONV_DOT_SPAN), interleaved in one process with torch (aten.convolution_backward,
grad_weight only); prints ratio x torch / % of the 2-thread fp32 peak (227 GFLOP/s), min of REP.

    OMP_NUM_THREADS=1 REP=7 SPANS=1024 OMP_WAIT_POLICY=PASSIVE PYTHONPATH=python \
        python benchmarks/wgrad_dot_ab.py [case ...]
"""
import os, sys, time, numpy as np, torch
import fastconv
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS","2")))
cases = {
 "res2_expand": ((8,64,56,56),256,1),
 "res2_reduce": ((8,256,56,56),64,1),
 "res3_proj": ((8,256,56,56),512,2),
 "res4_proj": ((8,512,28,28),1024,2),
 "res4_reduce_b8": ((8,1024,14,14),256,1),
 "mnv2_pw": ((8,144,56,56),24,1),
 "mnv2_16_96": ((8,16,112,112),96,1),
 "mnv2_96_24": ((8,96,56,56),24,1),
 "mnv2_32_192": ((8,32,28,28),192,1),
 "mnv2_160_960": ((8,160,7,7),960,1),
 "c64_64": ((8,64,56,56),64,1),
 "c128_32_odd": ((4,128,27,27),32,1),
}
tcases = {"unet_128_64": ((8,128,28,28),64), "unet_1024_512": ((1,1024,28,28),512)}
spans = os.environ.get("SPANS", "1024").split(",")
sel = sys.argv[1:] or list(cases) + list(tcases)
rng = np.random.default_rng(0)
for name in sel:
    if name in tcases:
        xs, co = tcases[name]
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal((xs[1], co, 2, 2)).astype(np.float32)
        gy = rng.standard_normal((xs[0], co, 2*xs[2], 2*xs[3])).astype(np.float32)
        tx, tgy = torch.from_numpy(x), torch.from_numpy(gy)
        f = lambda: fastconv.conv_transpose2d_backward(gy, x, w, stride=2, output_mask=(False, True, False), algorithm="im2col_gemm")[1]
        t = lambda: torch.ops.aten.convolution_backward(tgy, tx, torch.from_numpy(w), None, [2,2],[0,0],[1,1],True,[0,0],1,[False,True,False])[1]
        fl = 2*xs[0]*co*xs[1]*4*xs[2]*xs[3]
    else:
      xs, co, s = cases[name]
      x = rng.standard_normal(xs).astype(np.float32)
      w = rng.standard_normal((co, xs[1], 1, 1)).astype(np.float32)
      ho = (xs[2]-1)//s+1
      gy = rng.standard_normal((xs[0], co, ho, ho)).astype(np.float32)
      tx, tgy = torch.from_numpy(x), torch.from_numpy(gy)
      f = lambda: fastconv.conv2d_backward(gy, x, w, stride=s, output_mask=(False, True, False), algorithm="im2col_gemm")[1]
      t = lambda: torch.ops.aten.convolution_backward(tgy, tx, torch.from_numpy(w), None, [s,s],[0,0],[1,1],False,[0,0],1,[False,True,False])[1]
      fl = 2*xs[0]*co*xs[1]*ho*ho
    variants = [("gemm", "0", "1024")] + [("dot"+sp, "1", sp) for sp in spans]
    times = {v[0]: [] for v in variants}; tt = []
    for r in range(int(os.environ.get("REP","5"))):
        for v, d, sp in variants:
            os.environ["FASTCONV_WGRAD_DOT"] = d; os.environ["FASTCONV_DOT_SPAN"] = sp
            t0=time.perf_counter(); f(); times[v].append(time.perf_counter()-t0)
        t0=time.perf_counter(); t(); tt.append(time.perf_counter()-t0)
    mt = min(tt)
    print(f"{name:15s} torch {mt*1e3:6.2f}ms " + " ".join(f"{v} {mt/min(ts):4.2f}x/{fl/min(ts)/227e9*100:3.0f}%" for v, ts in times.items()), flush=True)
