"""Baseline: fastconv's plain-C++ im2col/GEMM convolution against torch (oneDNN) on the CPU.

Same process, same data, same thread count; calls interleaved (fastconv, torch, fastconv, ...);
warm cache (one untimed call first); the median of the repeats is reported with GFLOP/s
(2 * multiply-adds / time) and the ratio torch_time / fastconv_time (> 1: fastconv faster).

    python benchmarks/conv_baseline.py [--threads 2] [--repeats 5] [--quick]

Writes benchmarks/results/conv_baseline_cpu.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

import fastconv

# name, op, (N, C_in, *spatial), (C_out, k...), stride, padding, dilation, groups
SHAPES = [
    ("resnet50 stem 7x7/2", 2, (8, 3, 224, 224), (64, 7, 7), 2, 3, 1, 1),
    ("resnet50 3x3 64", 2, (8, 64, 56, 56), (64, 3, 3), 1, 1, 1, 1),
    ("resnet50 3x3 256 @14", 2, (8, 256, 14, 14), (256, 3, 3), 1, 1, 1, 1),
    ("resnet50 1x1 256->64", 2, (8, 256, 56, 56), (64, 1, 1), 1, 0, 1, 1),
    ("resnet50 1x1/2 512->1024", 2, (8, 512, 28, 28), (1024, 1, 1), 2, 0, 1, 1),
    ("vgg16 3x3 128 @112", 2, (1, 128, 112, 112), (128, 3, 3), 1, 1, 1, 1),
    ("deeplab dilated 3x3 d2", 2, (8, 256, 28, 28), (256, 3, 3), 1, 2, 2, 1),
    ("resnext 3x3 g32", 2, (8, 128, 56, 56), (128, 3, 3), 1, 1, 1, 32),
    ("mobilenetv2 dw 3x3", 2, (8, 144, 56, 56), (144, 3, 3), 1, 1, 1, 144),
    ("mobilenetv2 dw 3x3/2", 2, (8, 144, 56, 56), (144, 3, 3), 2, 1, 1, 144),
    ("fashion-mnist conv2 5x5", 2, (64, 16, 14, 14), (32, 5, 5), 1, 2, 1, 1),
    ("deepspeech 5x20", 2, (8, 1, 161, 200), (32, 5, 20), 2, 0, 1, 1),
    ("audio conv1d k9", 1, (8, 256, 4000), (256, 9), 1, 4, 1, 1),
    ("video conv3d 3x3x3", 3, (2, 64, 8, 28, 28), (64, 3, 3, 3), 1, 1, 1, 1),
]
# transposed: (N, C_in, *spatial), (C_out, k...), stride, padding
TRANSPOSED = [
    ("dcgan convT 4x4/2", 2, (8, 256, 16, 16), (128, 4, 4), 2, 1),
    ("unet convT 2x2/2", 2, (8, 128, 28, 28), (64, 2, 2), 2, 0),
]
QUICK = {"resnet50 3x3 64", "resnet50 1x1 256->64", "mobilenetv2 dw 3x3", "dcgan convT 4x4/2",
         "fashion-mnist conv2 5x5"}


def _median_interleaved(fns, repeats):
    for fn in fns:
        fn()  # warm-up: caches, allocator, thread pools
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times], [min(t) for t in times]


def _git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(threads, repeats, quick):
    import torch
    torch.set_num_threads(threads)
    fastconv.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    cases = [(n, nd, x, w, s, p, d, g, False) for n, nd, x, w, s, p, d, g in SHAPES] + \
            [(n, nd, x, w, s, p, 1, 1, True) for n, nd, x, w, s, p in TRANSPOSED]
    for name, nd, xshape, wspec, stride, padding, dilation, groups, transposed in cases:
        if quick and name not in QUICK:
            continue
        c_in, c_out, k = xshape[1], wspec[0], wspec[1:]
        x = rng.standard_normal(xshape, dtype=np.float32)
        wshape = (c_in, c_out // groups) + k if transposed else (c_out, c_in // groups) + k
        w = rng.standard_normal(wshape, dtype=np.float32)
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        if transposed:
            ours = getattr(fastconv, f"conv_transpose{nd}d")
            theirs = getattr(torch.nn.functional, f"conv_transpose{nd}d")
            fwd = (lambda: ours(x, w, None, stride, padding),
                   lambda: theirs(xt, wt, None, stride, padding))
        else:
            ours = getattr(fastconv, f"conv{nd}d")
            theirs = getattr(torch.nn.functional, f"conv{nd}d")
            fwd = (lambda: ours(x, w, None, stride, padding, dilation, groups),
                   lambda: theirs(xt, wt, None, stride, padding, dilation, groups))
        y = fwd[0]()
        gy = rng.standard_normal(y.shape, dtype=np.float32)
        gyt = torch.from_numpy(gy)
        # multiply-adds: every output of the (non-transposed) conv sums C_in/g * kvol products
        conv_out = x if transposed else y
        conv_cin = c_out if transposed else c_in
        macs = conv_out.size * (conv_cin // groups) * int(np.prod(k))
        nd_ = len(k)
        if transposed:
            back = getattr(fastconv, f"conv_transpose{nd}d_backward")
            bargs = (stride, padding)
        else:
            back = getattr(fastconv, f"conv{nd}d_backward")
            bargs = (stride, padding, dilation, groups)
        aten_args = ([stride] * nd_, [padding] * nd_, [dilation] * nd_, transposed, [0] * nd_,
                     groups)
        for phase, mask in (("forward", None), ("backward_data", (True, False, False)),
                            ("backward_weight", (False, True, False))):
            if mask is None:
                fns = fwd
            else:
                fns = (lambda m=mask: back(gy, x, w, *bargs, output_mask=m),
                       lambda m=mask: torch.ops.aten.convolution_backward(
                           gyt, xt, wt, None, *aten_args, list(m)))
            (t_ours, t_torch), _ = _median_interleaved(fns, repeats)
            rows.append(dict(shape=name, phase=phase, input=list(xshape), weight=list(w.shape),
                             stride=stride, padding=padding, dilation=dilation, groups=groups,
                             transposed=transposed, gflop=2 * macs / 1e9,
                             fastconv_ms=t_ours * 1e3, torch_ms=t_torch * 1e3,
                             fastconv_gflops=2 * macs / t_ours / 1e9,
                             torch_gflops=2 * macs / t_torch / 1e9,
                             speedup=t_torch / t_ours))
            r = rows[-1]
            print(f"{name:28} {phase:16} fastconv {r['fastconv_ms']:8.2f} ms "
                  f"{r['fastconv_gflops']:6.1f} GF/s | torch {r['torch_ms']:8.2f} ms "
                  f"{r['torch_gflops']:6.1f} GF/s | x{r['speedup']:.2f}", flush=True)
    meta = dict(cpu=_cpu_name(), threads=threads, repeats=repeats, torch=torch.__version__,
                fastconv=fastconv.__version__, commit=_git_commit(),
                isa=fastconv.build_info()["isa"], numpy=np.__version__, dtype="float32",
                cache="warm", statistic="median")
    return meta, rows


def write(meta, rows, out_dir: Path, stem: str):
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=1))
    speedups = [r["speedup"] for r in rows]
    geo = float(np.exp(np.mean(np.log(speedups))))
    lines = [f"# Convolution baseline, CPU ({meta['dtype']}, {meta['threads']} threads)", "",
             f"fastconv {meta['fastconv']} ({meta['commit']}, ISA path {meta['isa']}) vs torch "
             f"{meta['torch']} on {meta['cpu']}; {meta['statistic']} of {meta['repeats']} "
             f"interleaved runs, {meta['cache']} cache. speedup = torch time / fastconv time.", "",
             "| shape | phase | GFLOP | fastconv ms | fastconv GFLOP/s | torch ms | torch GFLOP/s | speedup |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['shape']} | {r['phase']} | {r['gflop']:.2f} | {r['fastconv_ms']:.2f} | "
                     f"{r['fastconv_gflops']:.1f} | {r['torch_ms']:.2f} | {r['torch_gflops']:.1f} | "
                     f"{r['speedup']:.2f} |")
    lines += ["", f"Geometric-mean speedup: {geo:.3f} over {len(rows)} rows."]
    (out_dir / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"geometric-mean speedup {geo:.3f}; wrote {out_dir / stem}.md/.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a few shapes only")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    meta, rows = run(args.threads, args.repeats, args.quick)
    write(meta, rows, args.out, "conv_baseline_cpu" + ("_quick" if args.quick else ""))


if __name__ == "__main__":
    main()
