"""Slow, obviously-correct NumPy pooling, written from torch's definitions (float64 inside, result
cast to the input dtype). Inputs are batched (N, C, *spatial); geometry arguments are tuples with
one entry per spatial dim (padding ints only: the TensorFlow 'same' model lives in the tests).

Max pooling follows torch's scan: cells in C order (d, h, w) over the window's in-bounds
positions; a cell is taken when value > max or value is NaN, starting from -inf at the window's
first in-bounds cell. So: the first maximum wins ties; a window holding NaN gives its last NaN.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = [
    "max_pool",
    "max_pool_backward",
    "avg_pool",
    "avg_pool_backward",
    "lp_pool",
    "lp_pool_backward",
    "adaptive_avg_pool",
    "adaptive_avg_pool_backward",
    "adaptive_max_pool",
    "max_unpool",
    "max_unpool_backward",
]


def _out_size(size, kernel, stride, pad, dilation, ceil_mode):
    span = dilation * (kernel - 1) + 1
    if ceil_mode:
        out = -(-(size + 2 * pad - span) // stride) + 1
        if (out - 1) * stride >= size + pad:  # the last window must start inside input or pad
            out -= 1
    else:
        out = (size + 2 * pad - span) // stride + 1
    return out


def _geometry(x, kernel, stride, padding, dilation, ceil_mode):
    nd = len(kernel)
    stride = kernel if stride is None else stride
    padding = (0,) * nd if padding is None else padding
    dilation = (1,) * nd if dilation is None else dilation
    out = tuple(_out_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i],
                          ceil_mode) for i in range(nd))
    return stride, padding, dilation, out


def _taps(o, size, kernel, stride, pad, dilation):
    """In-bounds input positions of window o in one dim, in order."""
    return [p for p in (o * stride - pad + j * dilation for j in range(kernel)) if 0 <= p < size]


def _cells(x, positions):
    """x[:, :, window] flattened to (N, C, cells) in C order, and the cells' plane offsets."""
    sub = x[(slice(None), slice(None)) + np.ix_(*positions)]
    grids = np.meshgrid(*positions, indexing="ij")
    offsets = np.ravel_multi_index([g.ravel() for g in grids], x.shape[2:]) if sub.size or \
        all(len(p) for p in positions) else np.zeros(0, np.int64)
    return sub.reshape(x.shape[:2] + (-1,)), offsets


def _max_of_cells(values, offsets):
    """torch's scan over (N, C, cells): (values, indices)."""
    n, c, k = values.shape
    out = np.full((n, c), -np.inf)
    idx = np.full((n, c), offsets[0] if len(offsets) else 0, dtype=np.int64)
    if k == 0:
        return out, idx
    nan = np.isnan(values)
    has_nan = nan.any(axis=2)
    last_nan = k - 1 - np.argmax(nan[:, :, ::-1], axis=2)
    safe = np.where(nan, -np.inf, values)
    first_max = np.argmax(safe, axis=2)  # argmax: first occurrence
    best = np.where(has_nan, last_nan, first_max)
    out = np.take_along_axis(values, best[:, :, None], axis=2)[:, :, 0]
    all_neg_inf = ~has_nan & (np.max(safe, axis=2) == -np.inf)
    best = np.where(all_neg_inf, 0, best)  # torch keeps the first cell when nothing beats -inf
    return out, offsets[best]


def max_pool(x, kernel_size, stride=None, padding=None, dilation=None, ceil_mode=False):
    """Returns (values, int64 indices into the unpadded plane)."""
    x64 = np.asarray(x, dtype=np.float64)
    stride, padding, dilation, out = _geometry(x64, kernel_size, stride, padding, dilation,
                                               ceil_mode)
    values = np.empty(x.shape[:2] + out)
    indices = np.empty(x.shape[:2] + out, dtype=np.int64)
    for o in itertools.product(*(range(v) for v in out)):
        pos = [_taps(o[i], x.shape[2 + i], kernel_size[i], stride[i], padding[i], dilation[i])
               for i in range(len(out))]
        cells, offsets = _cells(x64, pos)
        v, ix = _max_of_cells(cells, offsets)
        values[(Ellipsis,) + o] = v
        indices[(Ellipsis,) + o] = ix
    return values.astype(x.dtype), indices


def max_pool_backward(grad_output, input_shape, indices):
    """grad_input: every output's gradient added at its saved index."""
    gy = np.asarray(grad_output, dtype=np.float64)
    n, c = input_shape[:2]
    plane = math.prod(input_shape[2:])
    gx = np.zeros((n, c, plane))
    for i in range(n):
        for j in range(c):
            np.add.at(gx[i, j], indices[i, j].ravel(), gy[i, j].ravel())
    return gx.reshape(input_shape).astype(grad_output.dtype)


def _avg_windows(x_shape, kernel, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
    """Yields (output position, in-bounds positions per dim, divisor) for torch's avg pooling."""
    nd = len(kernel)
    stride = kernel if stride is None else stride
    padding = (0,) * nd if padding is None else padding
    out = tuple(_out_size(x_shape[2 + i], kernel[i], stride[i], padding[i], 1, ceil_mode)
                for i in range(nd))
    for o in itertools.product(*(range(v) for v in out)):
        pos, padded = [], 1
        for i in range(nd):
            start = o[i] * stride[i] - padding[i]
            end = min(start + kernel[i], x_shape[2 + i] + padding[i])  # clipped to padded input
            padded *= end - start
            pos.append(list(range(max(start, 0), min(end, x_shape[2 + i]))))
        real = math.prod(len(p) for p in pos)
        divisor = divisor_override if divisor_override else padded if count_include_pad else real
        yield o, pos, divisor, out


def avg_pool(x, kernel_size, stride=None, padding=None, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
    x64 = np.asarray(x, dtype=np.float64)
    result = None
    for o, pos, divisor, out in _avg_windows(x.shape, kernel_size, stride, padding, ceil_mode,
                                             count_include_pad, divisor_override):
        if result is None:
            result = np.empty(x.shape[:2] + out)
        cells, _ = _cells(x64, pos)
        result[(Ellipsis,) + o] = cells.sum(axis=2) / divisor if cells.shape[2] else 0.0
    return result.astype(x.dtype)


def avg_pool_backward(grad_output, x_shape, kernel_size, stride=None, padding=None,
                      ceil_mode=False, count_include_pad=True, divisor_override=None):
    gy = np.asarray(grad_output, dtype=np.float64)
    gx = np.zeros(x_shape)
    for o, pos, divisor, _ in _avg_windows(x_shape, kernel_size, stride, padding, ceil_mode,
                                           count_include_pad, divisor_override):
        if all(pos):
            gx[(slice(None), slice(None)) + np.ix_(*pos)] += \
                (gy[(Ellipsis,) + o] / divisor)[(Ellipsis,) + (None,) * len(pos)]
    return gx.astype(grad_output.dtype)


def lp_pool(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """torch's definition: S = sum of x**p over the window's cells (clipped to the input),
    scaled by area / cells (1 except at ceil-mode edges), then (sign(S) * max(|S|, 0))**(1/p);
    inf: max of |x|."""
    if math.isinf(norm_type):
        return max_pool(np.abs(x), kernel_size, stride, None, None, ceil_mode)[0]
    x64 = np.asarray(x, dtype=np.float64)
    area = math.prod(kernel_size)
    result = None
    with np.errstate(invalid="ignore", divide="ignore"):
        for o, pos, cells_n, out in _avg_windows(x.shape, kernel_size, stride, None, ceil_mode,
                                                 True, None):
            if result is None:
                result = np.empty(x.shape[:2] + out)
            cells, _ = _cells(x64, pos)
            s = (cells ** norm_type).sum(axis=2) * area / cells_n
            result[(Ellipsis,) + o] = (np.sign(s) * np.maximum(np.abs(s), 0)) ** (1.0 / norm_type)
    return result.astype(x.dtype)


def lp_pool_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """d/dx_i of (area / n * sum x**p)**(1/p) = (1/p) v**(1/p - 1) * area / n * p x_i**(p-1),
    summed over the windows holding x_i; zero where the window's sum v is 0 (torch's rule)."""
    x64 = np.asarray(x, dtype=np.float64)
    gy = np.asarray(grad_output, dtype=np.float64)
    if math.isinf(norm_type):
        _, idx = max_pool(np.abs(x64), kernel_size, stride, None, None, ceil_mode)
        return (max_pool_backward(gy, x.shape, idx) * np.sign(x64)).astype(x.dtype)
    area = math.prod(kernel_size)
    p = norm_type
    gx = np.zeros(x.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        for o, pos, n, _ in _avg_windows(x.shape, kernel_size, stride, None, ceil_mode, True,
                                         None):
            cells, _ = _cells(x64, pos)
            v = (cells ** p).sum(axis=2) * area / n
            coeff = np.where(v == 0, 0.0, gy[(Ellipsis,) + o] * v ** (1.0 / p - 1.0) * area / n)
            sl = (slice(None), slice(None)) + np.ix_(*pos)
            gx[sl] += coeff[(Ellipsis,) + (None,) * len(pos)] * x64[sl] ** (p - 1)
    return gx.astype(x.dtype)


def _adaptive_pos(o, out, size):
    return list(range((o * size) // out, -(-((o + 1) * size) // out)))


def _adaptive_windows(x_shape, output_size):
    for o in itertools.product(*(range(v) for v in output_size)):
        yield o, [_adaptive_pos(o[i], output_size[i], x_shape[2 + i])
                  for i in range(len(output_size))]


def adaptive_avg_pool(x, output_size):
    x64 = np.asarray(x, dtype=np.float64)
    result = np.empty(x.shape[:2] + tuple(output_size))
    for o, pos in _adaptive_windows(x.shape, output_size):
        result[(Ellipsis,) + o] = _cells(x64, pos)[0].mean(axis=2)
    return result.astype(x.dtype)


def adaptive_avg_pool_backward(grad_output, x_shape):
    gy = np.asarray(grad_output, dtype=np.float64)
    gx = np.zeros(x_shape)
    for o, pos in _adaptive_windows(x_shape, gy.shape[2:]):
        n = math.prod(len(p) for p in pos)
        gx[(slice(None), slice(None)) + np.ix_(*pos)] += \
            (gy[(Ellipsis,) + o] / n)[(Ellipsis,) + (None,) * len(pos)]
    return gx.astype(grad_output.dtype)


def adaptive_max_pool(x, output_size):
    """(values, indices), max pooling's scan rule."""
    x64 = np.asarray(x, dtype=np.float64)
    values = np.empty(x.shape[:2] + tuple(output_size))
    indices = np.empty(x.shape[:2] + tuple(output_size), dtype=np.int64)
    for o, pos in _adaptive_windows(x.shape, output_size):
        v, ix = _max_of_cells(*_cells(x64, pos))
        values[(Ellipsis,) + o] = v
        indices[(Ellipsis,) + o] = ix
    return values.astype(x.dtype), indices


adaptive_max_pool_backward = max_pool_backward


def max_unpool(x, indices, output_size):
    """Zeros of (N, C, *output_size) with out[n, c].flat[indices[n, c]] = x[n, c], in order."""
    out = np.zeros(x.shape[:2] + (math.prod(output_size),), dtype=x.dtype)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            for k, v in zip(indices[i, j].ravel(), x[i, j].ravel()):
                out[i, j, k] = v
    return out.reshape(x.shape[:2] + tuple(output_size))


def max_unpool_backward(grad_output, indices):
    """grad_input[n, c, i] = grad_output[n, c].flat[indices[n, c, i]]."""
    n, c = grad_output.shape[:2]
    flat = grad_output.reshape(n, c, -1)
    return np.take_along_axis(flat, indices.reshape(n, c, -1), axis=2).reshape(indices.shape)
