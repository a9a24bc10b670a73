"""What each benchmark case computes, for fastconv and for every peer: torch (oneDNN on the CPU,
through torch.nn.functional and the aten backward ops), SciPy and NumPy where they apply.

`build(case, phase, rng)` returns a Workload: the calls, all on the same float32 data, and the
amount of work (flops for convolutions: 2 * multiply-adds; bytes read + written for pooling and
activations). A peer that is not installed, or that does not compute this case, is absent.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

import fastconv

from .shapes import ACTIVATION_OPS, CONV_OPS, POOL_OPS, Case, conv_output_size, numel

PHASES = ("forward", "backward_data", "backward_weight")
_MASKS = {"backward_data": (True, False, False), "backward_weight": (False, True, False)}


def optional_module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def peer_versions() -> Dict[str, Optional[str]]:
    out = {}
    for name in ("torch", "scipy"):
        mod = optional_module(name)
        out[name] = getattr(mod, "__version__", None) if mod else None
    out["numpy"] = np.__version__
    return out


@dataclass
class Workload:
    case: Case
    phase: str
    fastconv: Optional[Callable] = None
    peers: Dict[str, Callable] = field(default_factory=dict)
    work: float = 0.0            # flops, or bytes read + written
    unit: str = "GFLOP/s"        # or "GB/s"
    skip: Optional[str] = None   # why fastconv cannot run this case (the row says so)
    # peers whose library keeps its own spinning thread pool (NumPy's OpenBLAS): timed apart
    # from the others, see runner.time_interleaved
    own_pool: set = field(default_factory=set)
    notes: List[str] = field(default_factory=list)


def _f32(rng, shape):
    return rng.standard_normal(shape, dtype=np.float32)


# ------------------------------------------------------------------------------ convolution

def _conv(case: Case, phase: str, rng, torch, algorithms: Sequence[str] = ()) -> Workload:
    p, nd = case.params, case.ndim
    transposed = case.op.startswith("conv_transpose")
    n, c, k, g = p["n"], p["c"], p["k"], p["groups"]
    sizes, kernel = case.input_shape()[2:], case.kernel()
    stride, pad, dil = p["stride"], p["pad"], p["dil"]
    opad = p.get("opad", (0,) * nd)
    if transposed:
        out_sizes = tuple((i - 1) * st - 2 * pd + dl * (kk - 1) + op + 1 for i, st, pd, dl, kk, op
                          in zip(sizes, stride, pad, dil, kernel, opad))
        wshape = (c, k // g) + kernel
    else:
        out_sizes = tuple(conv_output_size(i, kk, st, pd, dl) for i, kk, st, pd, dl
                          in zip(sizes, kernel, stride, pad, dil))
        wshape = (k, c // g) + kernel
    w_ = Workload(case, phase)
    if min(out_sizes) <= 0:
        w_.skip = f"empty output {out_sizes}"
        return w_
    x = _f32(rng, (n, c) + sizes)
    w = _f32(rng, wshape)
    gy = _f32(rng, (n, k) + out_sizes)
    # multiply-adds: every output of the underlying (non-transposed) convolution sums
    # (its input channels / groups) * kernel volume products
    conv_out = x.size if transposed else gy.size
    conv_cin = k if transposed else c
    w_.work = 2.0 * conv_out * (conv_cin // g) * numel(kernel)

    def fastconv_call(algorithm: str) -> Callable:
        if phase == "forward":
            fn = getattr(fastconv, case.op)
            if transposed:
                return lambda: fn(x, w, None, stride, pad, opad, g, dil, algorithm=algorithm)
            return lambda: fn(x, w, None, stride, pad, dil, g, algorithm=algorithm)
        back = getattr(fastconv, case.op + "_backward")
        mask = _MASKS[phase]
        if transposed:
            return lambda: back(gy, x, w, stride, pad, opad, g, dil, output_mask=mask,
                                algorithm=algorithm)
        return lambda: back(gy, x, w, stride, pad, dil, g, output_mask=mask,
                            algorithm=algorithm)

    w_.fastconv = fastconv_call("auto")
    # Forced algorithms, timed like peers ("fastconv:<name>"): studies of the auto rule.
    for name in algorithms:
        extra = {"output_padding": opad} if transposed else {}
        plan = fastconv.explain(case.op, x.shape, w.shape, stride=stride, padding=pad,
                                dilation=dil, groups=g, algorithm=name, **extra)
        if plan["passes"][phase]["algorithm"] is None:
            w_.notes.append(f"{name} cannot compute this pass")
        else:
            w_.peers[f"fastconv:{name}"] = fastconv_call(name)

    if torch is not None:
        F = torch.nn.functional
        xt, wt, gyt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)
        if phase == "forward":
            fn = getattr(F, case.op)
            if transposed:
                w_.peers["torch"] = lambda: fn(xt, wt, None, stride, pad, opad, g, dil)
            else:
                w_.peers["torch"] = lambda: fn(xt, wt, None, stride, pad, dil, g)
        else:
            mask = list(_MASKS[phase])
            args = (list(stride), list(pad), list(dil), transposed, list(opad), g, mask)
            w_.peers["torch"] = lambda: torch.ops.aten.convolution_backward(
                gyt, xt, wt, None, *args)

    if phase == "forward" and not transposed:
        _conv_numpy_scipy_peers(w_, x, w, n, c, k, g, sizes, kernel, stride, pad, dil)
    return w_


def _conv_numpy_scipy_peers(w_, x, w, n, c, k, g, sizes, kernel, stride, pad, dil):
    nd = len(sizes)
    unit_stride = all(s == 1 for s in stride) and all(d == 1 for d in dil)
    depthwise = g == c == k  # includes the single-channel case c = k = g = 1
    single = c == k == 1
    if unit_stride and (depthwise or single):
        signal = optional_module("scipy.signal")
        if signal is not None:
            widths = ((0, 0), (0, 0)) + tuple((pd, pd) for pd in pad)
            # oaconvolve convolves along `axes` and broadcasts over the other axes: with the
            # weight as (1, C, *kernel), flipped for convolution, that is a depthwise conv.
            wflip = np.ascontiguousarray(w[(slice(None), 0) + (slice(None, None, -1),) * nd][None])
            axes = tuple(range(2, 2 + nd))
            w_.peers["scipy"] = lambda: signal.oaconvolve(np.pad(x, widths), wflip, mode="valid",
                                                          axes=axes)
        if single and nd == 1:
            w1 = w[0, 0]
            w_.peers["numpy"] = lambda: np.stack([np.correlate(np.pad(x[i, 0], pad[0]), w1,
                                                               "valid") for i in range(n)])[:, None]
    if (g == 1 and all(kk == 1 for kk in kernel) and all(pd == 0 for pd in pad)
            and all(s == 1 for s in stride)):
        w2 = w.reshape(k, c)
        xr = x.reshape(n, c, -1)
        # 1x1 convolution as a batched matrix product through NumPy's BLAS (its own threads)
        w_.peers["numpy"] = lambda: np.matmul(w2, xr).reshape((n, k) + tuple(sizes))
        w_.own_pool.add("numpy")


# ---------------------------------------------------------------------------------- pooling

def _pool(case: Case, phase: str, rng, torch) -> Workload:
    p = case.params
    w_ = Workload(case, phase, unit="GB/s")
    if phase == "backward_weight":
        w_.skip = "not applicable"
        return w_
    if not hasattr(fastconv, case.op):
        w_.skip = f"fastconv.{case.op} does not exist in this build"
    x = _f32(rng, case.input_shape())
    n, c, h, wd = x.shape
    kernel = (p["r"], p["s"]) if "r" in p else None
    if case.op == "adaptive_avg_pool2d":
        out = p["out"]
    else:
        dil = p.get("dil", (1, 1))
        out = tuple(conv_output_size(i, kk, st, pd, dl) for i, kk, st, pd, dl
                    in zip((h, wd), kernel, p["stride"], p["pad"], dil))
    gy = _f32(rng, (n, c) + tuple(out))
    itemsize = 4
    F = torch.nn.functional if torch is not None else None
    xt, gyt = (torch.from_numpy(x), torch.from_numpy(gy)) if torch is not None else (None, None)
    have = w_.skip is None

    if case.op == "max_pool2d":
        args = (kernel, p["stride"], p["pad"], p["dil"])
        if phase == "forward":
            w_.work = (x.size + gy.size) * itemsize
            if have:
                w_.fastconv = lambda: fastconv.max_pool2d(x, *args)
            if torch is not None:
                w_.peers["torch"] = lambda: F.max_pool2d(xt, *args)
        else:
            # reads grad_output and the int64 indices, writes grad_input
            w_.work = gy.size * (itemsize + 8) + x.size * itemsize
            if have:
                _, idx = fastconv.max_pool2d(x, *args, return_indices=True)
                w_.fastconv = lambda: fastconv.max_pool2d_backward(gy, x, idx, *args)
            if torch is not None:
                _, it = F.max_pool2d(xt, *args, return_indices=True)
                w_.peers["torch"] = lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                    gyt, xt, list(kernel), list(p["stride"]), list(p["pad"]), list(p["dil"]),
                    False, it)
    elif case.op == "avg_pool2d":
        args = (kernel, p["stride"], p["pad"])
        w_.work = (x.size + gy.size) * itemsize
        if phase == "forward":
            if have:
                w_.fastconv = lambda: fastconv.avg_pool2d(x, *args)
            if torch is not None:
                w_.peers["torch"] = lambda: F.avg_pool2d(xt, *args)
        else:
            if have:
                w_.fastconv = lambda: fastconv.avg_pool2d_backward(gy, x, *args)
            if torch is not None:
                w_.peers["torch"] = lambda: torch.ops.aten.avg_pool2d_backward(
                    gyt, xt, list(kernel), list(p["stride"]), list(p["pad"]), False, True, None)
    else:  # adaptive_avg_pool2d
        w_.work = (x.size + gy.size) * itemsize
        if phase == "forward":
            if have:
                w_.fastconv = lambda: fastconv.adaptive_avg_pool2d(x, out)
            if torch is not None:
                w_.peers["torch"] = lambda: F.adaptive_avg_pool2d(xt, out)
            if out == (1, 1):
                w_.peers["numpy"] = lambda: x.mean(axis=(2, 3), keepdims=True)
        else:
            if have:
                w_.fastconv = lambda: fastconv.adaptive_avg_pool2d_backward(gy, x)
            if torch is not None:
                w_.peers["torch"] = lambda: torch.ops.aten._adaptive_avg_pool2d_backward(gyt, xt)
    return w_


# ------------------------------------------------------------------------------ activations

def _activation(case: Case, phase: str, rng, torch) -> Workload:
    w_ = Workload(case, phase, unit="GB/s")
    if phase == "backward_weight":
        w_.skip = "not applicable"
        return w_
    x = _f32(rng, case.input_shape())
    gy = _f32(rng, x.shape)
    op = case.op
    w_.work = x.size * 4 * (2 if phase == "forward" else 3)
    F = torch.nn.functional if torch is not None else None
    xt, gyt = (torch.from_numpy(x), torch.from_numpy(gy)) if torch is not None else (None, None)
    if phase == "forward":
        w_.fastconv = lambda: getattr(fastconv, op)(x)
        if torch is not None:
            tfn = {"relu": F.relu, "sigmoid": torch.sigmoid, "gelu": F.gelu}[op]
            w_.peers["torch"] = lambda: tfn(xt)
        if op == "relu":
            w_.peers["numpy"] = lambda: np.maximum(x, np.float32(0))
    else:
        back = getattr(fastconv, op + "_backward")
        if op == "sigmoid":  # the saved tensor is the forward's output
            y = fastconv.sigmoid(x)
            w_.fastconv = lambda: back(gy, y)
            if torch is not None:
                yt = torch.from_numpy(y)
                w_.peers["torch"] = lambda: torch.ops.aten.sigmoid_backward(gyt, yt)
        else:
            w_.fastconv = lambda: back(gy, x)
            if torch is not None:
                if op == "relu":
                    w_.peers["torch"] = lambda: torch.ops.aten.threshold_backward(gyt, xt, 0)
                else:
                    w_.peers["torch"] = lambda: torch.ops.aten.gelu_backward(gyt, xt)
        if op == "relu":
            zero = np.float32(0)
            w_.peers["numpy"] = lambda: np.where(x > zero, gy, zero)
    return w_


def build(case: Case, phase: str, rng, torch=None, algorithms: Sequence[str] = ()) -> Workload:
    """The calls of one case and phase on fresh data from rng. torch: the module, or None;
    algorithms: convolution algorithms to time besides "auto", as peers "fastconv:<name>"."""
    if case.op in CONV_OPS:
        if not hasattr(fastconv, case.op):
            return Workload(case, phase, skip=f"fastconv.{case.op} does not exist in this build")
        return _conv(case, phase, rng, torch, algorithms)
    if case.op in POOL_OPS:
        return _pool(case, phase, rng, torch)
    assert case.op in ACTIVATION_OPS
    if not hasattr(fastconv, case.op):
        return Workload(case, phase, unit="GB/s",
                        skip=f"fastconv.{case.op} does not exist in this build")
    return _activation(case, phase, rng, torch)
