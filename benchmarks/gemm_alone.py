"""One im2col-GEMM-bound conv pass timed alone (no torch in the process): CPU time (both threads)
and wall time of N calls. The A/B of gemm_cpu.md Round 4 (page faults of fresh workspace show only
when fastconv runs alone; interleaved with torch, glibc hands it torch's freed, mapped memory).

    OMP_WAIT_POLICY=PASSIVE FCT=2 PYP=python python benchmarks/gemm_alone.py unet 12 bwd_data

argv: case (unet: conv side of U-Net convT 2x2/2 1024->512 b1, res4p / res3p: ResNet-50
projections 1x1/2 b8, res4r: res4 1x1 reduce b8, dcgan: conv side of DCGAN convT 4x4/2 512->256
@4 b8), calls, pass of the conv (fwd | bwd_data | bwd_weight). PYP: the directory holding the
fastconv package; ALG: algorithm (default auto).
"""
import os
import sys, os, time
sys.path.insert(0, os.environ.get("PYP","python"))
import numpy as np, fastconv
from fastconv import functional as F
TH=int(os.environ.get("FCT","2")); fastconv.set_num_threads(TH)
case=sys.argv[1]; n=int(sys.argv[2]) if len(sys.argv)>2 else 20
C={"unet": ((1,512,56,56),(1024,512,2,2),2,0), "res4p": ((8,512,28,28),(1024,512,1,1),2,0),
   "res3p": ((8,256,56,56),(512,256,1,1),2,0), "res4r": ((8,1024,14,14),(256,1024,1,1),1,0),
   "dcgan": ((8,256,8,8),(512,256,4,4),2,1)}
xs,ws,s,p=C[case]; kind=sys.argv[3] if len(sys.argv)>3 else "bwd_data"
rng=np.random.default_rng(0); x=rng.standard_normal(xs,dtype=np.float32); w=rng.standard_normal(ws,dtype=np.float32)
y=F.conv2d(x,w,stride=s,padding=p); gy=rng.standard_normal(y.shape,dtype=np.float32)
alg=os.environ.get("ALG","auto")
if kind=="fwd": f=lambda: F.conv2d(x,w,stride=s,padding=p,algorithm=alg)
else:
    i=0 if kind=="bwd_data" else 1; m=(i==0,i==1,False)
    f=lambda: F.conv2d_backward(gy,x,w,stride=s,padding=p,output_mask=m,algorithm=alg)[i]
f()
ts=[]; ws_=[]
for _ in range(n):
    c=time.process_time(); w0=time.perf_counter(); f(); ws_.append(time.perf_counter()-w0); ts.append(time.process_time()-c)
print(case, kind, "cpu min %.2f med %.2f | wall min %.2f med %.2f" % (min(ts)*1e3, sorted(ts)[n//2]*1e3, min(ws_)*1e3, sorted(ws_)[n//2]*1e3))
