"""Pooling on NumPy arrays, mirroring torch.nn.functional's CPU semantics, with backward functions.

Inputs are (N, C, *spatial) or unbatched (C, *spatial), float32 or float64 (non-contiguous inputs
are copied; inputs are never modified). Every op has a ``*_backward`` function returning
grad_input. One private implementation per family serves 1D, 2D and 3D.

Semantics, as torch 2.13 on CPU:

* **Max pooling**: stride defaults to kernel_size; padding at most kernel_size // 2 (torch compares
  with the undilated kernel); padded cells count as -inf; with ceil_mode the last window must
  start inside the input or the left padding. Indices are int64 offsets in the unpadded (n, c)
  plane. Ties go to the first occurrence (scan order d, h, w). NaN: torch takes a cell when
  ``value > max or isnan(value)``, so a window holding NaN gives NaN with the index of its *last*
  NaN. The gradient flows through the saved index only (overlapping windows add up). A geometry
  where some dilated window holds no input cell (torch returns -inf and an index outside the
  plane there) is refused with ValueError.
* **Average pooling**: divisor_override if given (torch accepts negative divisors, not 0); else
  with count_include_pad the window clipped to the padded input (so a ceil_mode window that runs
  past the padding is divided by its clipped size); else the number of input cells in it.
* **Lp pooling** is torch's composition, quirks included: ``avg_pool(x ** p) * prod(kernel_size)``
  then ``(sign(.) * relu(|.|)) ** (1 / p)``. So it sums x**p, not |x|**p (odd p with negative
  inputs can give a negative sum and then NaN, p = 1 gives the signed sum); a ceil_mode edge
  window is divided by its clipped size and multiplied by the full kernel area, i.e. its sum is
  scaled up by area / clipped; x ** p of a negative x with non-integer p is NaN. norm_type=inf is
  max pooling of |x|. The gradient is torch's autograd of that composition: zero where the
  pooled sum is 0 (torch's documented rule), p * x**(p-1) * ... elsewhere.
* **TensorFlow padding** (``padding="same"`` / ``"valid"`` for max, avg and Lp pooling): "same"
  gives ceil(L / stride) outputs with total padding max((out - 1) * stride + (k - 1) * dilation +
  1 - L, 0), the odd cell after (e.g. 2x2 stride 2 takes 28x28 to 14x14); "valid" is padding 0
  (floor mode). Max pooling treats padded cells as -inf; average pooling with "same" divides by
  the number of real (unpadded) cells of the window, as TensorFlow does, whatever
  count_include_pad says (divisor_override still wins); Lp pooling with "same" sums x**p over the
  real cells (padding adds 0) with no rescaling. ceil_mode must be False with "same".
* **Adaptive pooling**: output i reads [floor(i * L / out), ceil((i + 1) * L / out)); output_size
  entries may be None (keep that size). Adaptive max pooling has max pooling's tie and NaN rules.
  Global average pooling (output size 1 in every dim) sums each plane in a fixed order that
  vectorises: 32 float32 / 16 float64 partial sums (partial j takes cells j, j + 32, j + 64, ...
  in order), then a fixed pairwise tree (partial j += partial j + w for w = 16, 8, 4, 2, 1), then
  divides by D, H and W in turn as torch does. The result is the same bits on every ISA path and
  thread count, and differs from a strict sequential sum by rounding only.
* **max_unpool**: output zero except output[indices] = input (for repeated indices the last one
  in scan order wins); default output size (L - 1) * stride - 2 * padding + kernel_size, or
  output_size (spatial, or with N and C) strictly within stride of it. Indices are checked
  before the kernel runs. Its backward is a gather: every position gets grad_output at its index.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Tuple

import numpy as np

from . import _C
from ._memory import empty as _empty
from ._validation import validate_pool as _validate_pool
from ._validation import (PoolProblem, check_bool, check_divisor_override, check_grad_output,
                          check_index_range, check_indices, check_norm_type, validate_adaptive,
                          validate_unpool, as_float_array, check_ndim, _fmt)

__all__ = [f"{name}{n}d{suffix}" for name in ("max_pool", "avg_pool", "lp_pool",
                                               "adaptive_avg_pool", "adaptive_max_pool",
                                               "max_unpool")
           for n in (1, 2, 3) for suffix in ("", "_backward")]


def _plane(shape) -> int:
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1


def _unbatch(batched: bool, a: Optional[np.ndarray]) -> Optional[np.ndarray]:
    return a if a is None or batched else a[0]


def _as_5d(a: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) -> (N, C, D, H, W), contiguous; a view where a already is contiguous."""
    a = np.ascontiguousarray(a)
    return a.reshape(a.shape[:2] + (1,) * (5 - a.ndim) + a.shape[2:])


def _triple(values, fill: int) -> Tuple[int, int, int]:
    return (fill,) * (3 - len(values)) + tuple(values)


def _geometry(p: PoolProblem):
    return (_triple(p.kernel, 1), _triple(p.stride, 1), _triple(p.pad_before, 0),
            _triple(p.pad_after, 0))


def _plain(value) -> bool:
    kind = type(value)
    return value is None or kind in (int, bool, str) or \
        (kind is tuple and all(type(v) is int for v in value))


_POOL_CACHE: dict = {}


def validate_pool(op, ndim, input, kernel_size, stride, padding, dilation, ceil_mode, *, kind):
    """_validation.validate_pool, its geometry cached per (input shape and dtype, arguments and
    their types) for plain NumPy inputs and plain arguments: a batch-1 pooling spends ~15% of
    its time validating otherwise. Only successful validations are cached, without their input
    (the cache keeps no user data alive); anything else validates fully."""
    args = (kernel_size, stride, padding, dilation, ceil_mode)
    if type(input) is not np.ndarray or not all(_plain(a) for a in args):
        return _validate_pool(op, ndim, input, *args, kind=kind)
    key = (op, ndim, kind, input.shape, input.dtype) + args + tuple(type(a) for a in args)
    template = _POOL_CACHE.get(key)
    if template is None:
        problem = _validate_pool(op, ndim, input, *args, kind=kind)
        if len(_POOL_CACHE) >= 512:
            _POOL_CACHE.clear()
        _POOL_CACHE[key] = dataclasses.replace(problem, input=None)
        return problem
    return dataclasses.replace(template, input=input if template.batched else input[np.newaxis])


# ----------------------------------------------------------------------------- max pooling

def _max_pool_indices(p: PoolProblem, x: np.ndarray, want_indices: bool):
    """Max pooling of a batched input x (the problem's geometry): (values, indices or None)."""
    out = _empty(p.output_shape, x.dtype)
    idx = _empty(p.output_shape, np.int64) if want_indices else None
    kernel, stride, pad_before, _ = _geometry(p)
    _C.max_pool_forward(_as_5d(x), _as_5d(out), None if idx is None else _as_5d(idx), kernel,
                        stride, pad_before, _triple(p.dilation, 1))
    return out, idx


def _max_pool(op, ndim, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    p = validate_pool(op, ndim, input, kernel_size, stride, padding, dilation, ceil_mode,
                      kind="max")
    want = check_bool(op, "return_indices", return_indices)
    out, idx = _max_pool_indices(p, p.input, want)
    if want:
        return _unbatch(p.batched, out), _unbatch(p.batched, idx)
    return _unbatch(p.batched, out)


def _checked_index_call(kernel, op: str, idx: np.ndarray, plane: int, plane_what: str) -> None:
    """Runs an index kernel on indices whose range is unchecked (check_indices(...,
    check_range=False)): the kernel skips and counts indices outside the plane and raises; then
    the range check names the first bad index (a valid call makes no extra pass over them)."""
    try:
        kernel()
    except ValueError:
        check_index_range(op, "indices", idx, plane, plane_what)
        raise


def _scatter_add(gy: np.ndarray, idx: np.ndarray, in_shape, op: str = "",
                 plane_what: str = "", shown: Optional[np.ndarray] = None) -> np.ndarray:
    """gx = 0, gx[plane, idx] += gy; a bad index is reported as a position in `shown` (the
    caller's indices, unbatched or not) or idx."""
    gx = _empty(in_shape, gy.dtype)
    _checked_index_call(
        lambda: _C.index_scatter_add(_as_5d(gy), _as_5d(np.ascontiguousarray(idx)), _as_5d(gx)),
        op, idx if shown is None else shown, _plane(in_shape[2:]), plane_what)
    return gx


def _max_pool_backward(op, ndim, grad_output, input, indices, kernel_size, stride, padding,
                       dilation, ceil_mode):
    p = validate_pool(op, ndim, input, kernel_size, stride, padding, dilation, ceil_mode,
                      kind="max")
    gy = check_grad_output(op, grad_output, p.output_shape, p.batched, p.input.dtype)
    shape = p.output_shape if p.batched else p.output_shape[1:]
    what = f"input plane {_fmt(p.input.shape[2:])}"
    idx = check_indices(op, "indices", indices, shape, _plane(p.input.shape[2:]), what,
                        check_range=False)
    batched_idx = np.ascontiguousarray(idx if p.batched else idx[np.newaxis])
    gx = _empty(p.input.shape, gy.dtype)
    kernel, stride, pad_before, _ = _geometry(p)
    _checked_index_call(
        lambda: _C.max_pool_backward(_as_5d(gy), _as_5d(batched_idx), _as_5d(gx), kernel, stride,
                                     pad_before, _triple(p.dilation, 1)),
        op, idx, _plane(p.input.shape[2:]), what)
    return _unbatch(p.batched, gx)


# ------------------------------------------------------------------------- average pooling

def _avg_setup(op, ndim, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
               divisor_override):
    p = validate_pool(op, ndim, input, kernel_size, stride, padding, 1, ceil_mode, kind="avg")
    include = check_bool(op, "count_include_pad", count_include_pad)
    if p.tf_padding == "same":
        include = False  # TensorFlow: padded cells stay out of the divisor
    return p, include, check_divisor_override(op, divisor_override)


def _avg_pool(op, ndim, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    p, include, divisor = _avg_setup(op, ndim, input, kernel_size, stride, padding, ceil_mode,
                                     count_include_pad, divisor_override)
    out = _empty(p.output_shape, p.input.dtype)
    _C.avg_pool_forward(_as_5d(p.input), _as_5d(out), *_geometry(p), include, divisor)
    return _unbatch(p.batched, out)


def _avg_pool_backward(op, ndim, grad_output, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override):
    p, include, divisor = _avg_setup(op, ndim, input, kernel_size, stride, padding, ceil_mode,
                                     count_include_pad, divisor_override)
    gy = check_grad_output(op, grad_output, p.output_shape, p.batched, p.input.dtype)
    gx = _empty(p.input.shape, p.input.dtype)
    _C.avg_pool_backward(_as_5d(gy), _as_5d(gx), *_geometry(p), include, divisor)
    return _unbatch(p.batched, gx)


# ------------------------------------------------------------------------------ Lp pooling

class _LpForward:
    """torch's lp_pool composition on a batched input, keeping what the backward needs."""

    def __init__(self, op, ndim, input, norm_type, kernel_size, stride, ceil_mode, padding):
        self.p = validate_pool(op, ndim, input, kernel_size, stride, padding, 1, ceil_mode,
                               kind="lp")
        self.norm = check_norm_type(op, norm_type)
        x = self.p.input
        dtype = x.dtype.type
        if math.isinf(self.norm):  # torch: max_pool(|x|)
            self.values, self.indices = _max_pool_indices(self.p, np.abs(x), True)
            return
        self.area = math.prod(self.p.kernel)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # NaN as torch
            powered = np.power(x, dtype(self.norm))
        # count_include_pad=True: with padding 0 this is torch's divisor (the window clipped to
        # the input in ceil mode); with TF "same" it divides by the full area, so avg * area is
        # the zero-padded sum.
        self.avg = _empty(self.p.output_shape, x.dtype)
        _C.avg_pool_forward(_as_5d(np.ascontiguousarray(powered)), _as_5d(self.avg),
                            *_geometry(self.p), True, 0)
        self.scaled = np.sign(self.avg) * np.maximum(np.abs(self.avg), dtype(0)) * dtype(self.area)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            self.values = np.power(self.scaled, dtype(1.0 / self.norm))


def _lp_pool(op, ndim, input, norm_type, kernel_size, stride, ceil_mode, padding):
    f = _LpForward(op, ndim, input, norm_type, kernel_size, stride, ceil_mode, padding)
    return _unbatch(f.p.batched, f.values)


def _lp_pool_backward(op, ndim, grad_output, input, norm_type, kernel_size, stride, ceil_mode,
                      padding):
    f = _LpForward(op, ndim, input, norm_type, kernel_size, stride, ceil_mode, padding)
    p, x = f.p, f.p.input
    dtype = x.dtype.type
    gy = check_grad_output(op, grad_output, p.output_shape, p.batched, x.dtype)
    if math.isinf(f.norm):  # abs backward: grad * sgn(x)
        return _unbatch(p.batched, _scatter_add(gy, f.indices, x.shape) * np.sign(x))
    inv = dtype(1.0 / f.norm)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        g = gy * (inv * np.power(f.scaled, inv - dtype(1)))        # pow(., 1/p) backward
        g = g * dtype(f.area)                                     # .mul(area) backward
        sign = np.sign(f.avg)
        g = np.where(np.abs(f.avg) <= 0, dtype(0), g * sign * sign)  # sign*relu(|.|) backward
        g = np.ascontiguousarray(g, dtype=x.dtype)
        gt = _empty(x.shape, x.dtype)
        _C.avg_pool_backward(_as_5d(g), _as_5d(gt), *_geometry(p), True, 0)
        gx = gt * (dtype(f.norm) * np.power(x, dtype(f.norm - 1)))  # pow(x, p) backward
    return _unbatch(p.batched, gx.astype(x.dtype, copy=False))


# ------------------------------------------------------------------------ adaptive pooling

def _adaptive_avg_pool(op, ndim, input, output_size):
    x, batched, out_size = validate_adaptive(op, ndim, input, output_size)
    out = _empty(x.shape[:2] + out_size, x.dtype)
    _C.adaptive_avg_pool_forward(_as_5d(x), _as_5d(out))
    return _unbatch(batched, out)


def _adaptive_output_shape(op, ndim, input, grad_output):
    """The adaptive backward's output size is grad_output's spatial shape."""
    x = as_float_array(op, "input", input)
    batched = check_ndim(op, "input", x, ndim, unbatched_ok=True)
    g = as_float_array(op, "grad_output", grad_output)
    if g.ndim != x.ndim or g.shape[:x.ndim - ndim] != x.shape[:x.ndim - ndim]:
        raise ValueError(f"{op}: argument 'grad_output' must be {x.ndim}-D with the input's "
                         f"leading dims {_fmt(x.shape[:x.ndim - ndim])}, got shape {_fmt(g.shape)}")
    x, batched, out_size = validate_adaptive(op, ndim, x, tuple(g.shape[-ndim:]))
    gy = check_grad_output(op, g, x.shape[:2] + out_size, batched, x.dtype)
    return x, batched, gy


def _adaptive_avg_pool_backward(op, ndim, grad_output, input):
    x, batched, gy = _adaptive_output_shape(op, ndim, input, grad_output)
    gx = _empty(x.shape, x.dtype)
    _C.adaptive_avg_pool_backward(_as_5d(gy), _as_5d(gx))
    return _unbatch(batched, gx)


def _adaptive_max_pool(op, ndim, input, output_size, return_indices):
    x, batched, out_size = validate_adaptive(op, ndim, input, output_size)
    want = check_bool(op, "return_indices", return_indices)
    out = _empty(x.shape[:2] + out_size, x.dtype)
    idx = _empty(out.shape, np.int64) if want else None
    _C.adaptive_max_pool_forward(_as_5d(x), _as_5d(out), None if idx is None else _as_5d(idx))
    if want:
        return _unbatch(batched, out), _unbatch(batched, idx)
    return _unbatch(batched, out)


def _adaptive_max_pool_backward(op, ndim, grad_output, input, indices):
    x, batched, gy = _adaptive_output_shape(op, ndim, input, grad_output)
    shape = gy.shape if batched else gy.shape[1:]
    what = f"input plane {_fmt(x.shape[2:])}"
    idx = check_indices(op, "indices", indices, shape, _plane(x.shape[2:]), what,
                        check_range=False)
    batched_idx = idx if batched else idx[np.newaxis]
    return _unbatch(batched, _scatter_add(gy, batched_idx, x.shape, op, what, idx))


# ------------------------------------------------------------------------------ max_unpool

def _max_unpool(op, ndim, input, indices, kernel_size, stride, padding, output_size):
    x, idx, batched, out_size = validate_unpool(op, ndim, input, indices, kernel_size, stride,
                                                padding, output_size)
    out = _empty(x.shape[:2] + out_size, x.dtype)
    _C.index_scatter_assign(_as_5d(x), _as_5d(np.ascontiguousarray(idx)), _as_5d(out))
    return _unbatch(batched, out)


def _max_unpool_backward(op, ndim, grad_output, indices):
    gy = as_float_array(op, "grad_output", grad_output)
    batched = check_ndim(op, "grad_output", gy, ndim, unbatched_ok=True)
    if not isinstance(indices, np.ndarray) or indices.ndim != gy.ndim or \
            indices.shape[:gy.ndim - ndim] != gy.shape[:gy.ndim - ndim]:
        shape = getattr(indices, "shape", None)
        raise ValueError(f"{op}: argument 'indices' must be a {gy.ndim}-D int64 array with "
                         f"grad_output's leading dims {_fmt(gy.shape[:gy.ndim - ndim])}, got "
                         f"{'shape ' + _fmt(shape) if shape is not None else type(indices).__name__}")
    plane = _plane(gy.shape[-ndim:])
    what = f"grad_output plane {_fmt(gy.shape[-ndim:])} has {plane} cells"
    idx = check_indices(op, "indices", indices, indices.shape, plane, what, check_range=False)
    checked = idx
    if not batched:
        gy, idx = gy[np.newaxis], idx[np.newaxis]
    gx = _empty(idx.shape, gy.dtype)
    _checked_index_call(
        lambda: _C.index_gather(_as_5d(gx), _as_5d(np.ascontiguousarray(idx)), _as_5d(gy)),
        op, checked, plane, what)
    return _unbatch(batched, gx)


# ------------------------------------------------------------------------------ public ops

def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling of (N, C, L) or (C, L); padding is an int, a tuple, 'same' or 'valid'.
    Returns the values, or (values, int64 indices) with return_indices. See the module doc."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling of (N, C, H, W) or (C, H, W); see max_pool1d."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling of (N, C, D, H, W) or (C, D, H, W); see max_pool1d."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d_backward(grad_output, input, indices, kernel_size, stride=None, padding=0,
                        dilation=1, ceil_mode=False):
    """grad_input of max_pool1d: grad_output routed (and summed) through the saved indices."""
    return _max_pool_backward("max_pool1d_backward", 1, grad_output, input, indices, kernel_size,
                              stride, padding, dilation, ceil_mode)


def max_pool2d_backward(grad_output, input, indices, kernel_size, stride=None, padding=0,
                        dilation=1, ceil_mode=False):
    """grad_input of max_pool2d; see max_pool1d_backward."""
    return _max_pool_backward("max_pool2d_backward", 2, grad_output, input, indices, kernel_size,
                              stride, padding, dilation, ceil_mode)


def max_pool3d_backward(grad_output, input, indices, kernel_size, stride=None, padding=0,
                        dilation=1, ceil_mode=False):
    """grad_input of max_pool3d; see max_pool1d_backward."""
    return _max_pool_backward("max_pool3d_backward", 3, grad_output, input, indices, kernel_size,
                              stride, padding, dilation, ceil_mode)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling of (N, C, L) or (C, L) with torch's divisor rules (no
    divisor_override, as torch's avg_pool1d); padding may be 'same' or 'valid'."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling of (N, C, H, W) or (C, H, W); see the module doc for the divisor."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """3-D average pooling of (N, C, D, H, W) or (C, D, H, W); see avg_pool2d."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d_backward(grad_output, input, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True):
    """grad_input of avg_pool1d with the same arguments."""
    return _avg_pool_backward("avg_pool1d_backward", 1, grad_output, input, kernel_size, stride,
                              padding, ceil_mode, count_include_pad, None)


def avg_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """grad_input of avg_pool2d with the same arguments."""
    return _avg_pool_backward("avg_pool2d_backward", 2, grad_output, input, kernel_size, stride,
                              padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d_backward(grad_output, input, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """grad_input of avg_pool3d with the same arguments."""
    return _avg_pool_backward("avg_pool3d_backward", 3, grad_output, input, kernel_size, stride,
                              padding, ceil_mode, count_include_pad, divisor_override)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False, *, padding=0):
    """1-D power-average pooling, torch's definition and quirks (see the module doc):
    (sum over the window of x ** p) ** (1 / p). padding (keyword, a fastconv extension) is 0,
    'valid' or 'same'."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode, padding)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False, *, padding=0):
    """2-D power-average pooling; see lp_pool1d."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode, padding)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False, *, padding=0):
    """3-D power-average pooling; see lp_pool1d."""
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode, padding)


def lp_pool1d_backward(grad_output, input, norm_type, kernel_size, stride=None, ceil_mode=False,
                       *, padding=0):
    """grad_input of lp_pool1d, torch's autograd of its composition. Takes no `output`: the
    forward's intermediates are recomputed from the input."""
    return _lp_pool_backward("lp_pool1d_backward", 1, grad_output, input, norm_type, kernel_size,
                             stride, ceil_mode, padding)


def lp_pool2d_backward(grad_output, input, norm_type, kernel_size, stride=None, ceil_mode=False,
                       *, padding=0):
    """grad_input of lp_pool2d; see lp_pool1d_backward."""
    return _lp_pool_backward("lp_pool2d_backward", 2, grad_output, input, norm_type, kernel_size,
                             stride, ceil_mode, padding)


def lp_pool3d_backward(grad_output, input, norm_type, kernel_size, stride=None, ceil_mode=False,
                       *, padding=0):
    """grad_input of lp_pool3d; see lp_pool1d_backward."""
    return _lp_pool_backward("lp_pool3d_backward", 3, grad_output, input, norm_type, kernel_size,
                             stride, ceil_mode, padding)


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling of (N, C, L) or (C, L) to output_size (int or None = keep)."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling of (N, C, H, W) or (C, H, W); output_size entries may be None."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """Adaptive average pooling of (N, C, D, H, W) or (C, D, H, W); see adaptive_avg_pool2d."""
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def adaptive_avg_pool1d_backward(grad_output, input):
    """grad_input of adaptive_avg_pool1d (the output size is grad_output's)."""
    return _adaptive_avg_pool_backward("adaptive_avg_pool1d_backward", 1, grad_output, input)


def adaptive_avg_pool2d_backward(grad_output, input):
    """grad_input of adaptive_avg_pool2d (the output size is grad_output's)."""
    return _adaptive_avg_pool_backward("adaptive_avg_pool2d_backward", 2, grad_output, input)


def adaptive_avg_pool3d_backward(grad_output, input):
    """grad_input of adaptive_avg_pool3d (the output size is grad_output's)."""
    return _adaptive_avg_pool_backward("adaptive_avg_pool3d_backward", 3, grad_output, input)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive max pooling of (N, C, L) or (C, L); max pooling's tie and NaN rules."""
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling of (N, C, H, W) or (C, H, W); see adaptive_max_pool1d."""
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Adaptive max pooling of (N, C, D, H, W) or (C, D, H, W); see adaptive_max_pool1d."""
    return _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size, return_indices)


def adaptive_max_pool1d_backward(grad_output, input, indices):
    """grad_input of adaptive_max_pool1d, routed through the saved indices."""
    return _adaptive_max_pool_backward("adaptive_max_pool1d_backward", 1, grad_output, input,
                                       indices)


def adaptive_max_pool2d_backward(grad_output, input, indices):
    """grad_input of adaptive_max_pool2d, routed through the saved indices."""
    return _adaptive_max_pool_backward("adaptive_max_pool2d_backward", 2, grad_output, input,
                                       indices)


def adaptive_max_pool3d_backward(grad_output, input, indices):
    """grad_input of adaptive_max_pool3d, routed through the saved indices."""
    return _adaptive_max_pool_backward("adaptive_max_pool3d_backward", 3, grad_output, input,
                                       indices)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool1d: zeros except output[indices] = input."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool2d; see max_unpool1d."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool3d; see max_unpool1d."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool1d_backward(grad_output, indices):
    """grad_input of max_unpool1d: grad_output gathered at the indices."""
    return _max_unpool_backward("max_unpool1d_backward", 1, grad_output, indices)


def max_unpool2d_backward(grad_output, indices):
    """grad_input of max_unpool2d; see max_unpool1d_backward."""
    return _max_unpool_backward("max_unpool2d_backward", 2, grad_output, indices)


def max_unpool3d_backward(grad_output, indices):
    """grad_input of max_unpool3d; see max_unpool1d_backward."""
    return _max_unpool_backward("max_unpool3d_backward", 3, grad_output, indices)
