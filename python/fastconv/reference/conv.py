"""Slow, obviously-correct NumPy reference implementations of convolution and transposed
convolution, forward and backward, with the semantics of ``torch.nn.functional``.

They are written straight from the definitions and serve as the oracle in fastconv's tests (and
as a readable specification for users). Only NumPy is used. Every function computes in float64
and returns arrays of ``np.result_type(input, weight)``.

Conventions (as in PyTorch):

* input ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``; an unbatched input gives an
  unbatched output and grad_input.
* conv weight ``(C_out, C_in // groups, *kernel)``; transposed-conv weight
  ``(C_in, C_out // groups, *kernel)``; bias ``(C_out,)`` or None.
* conv computes cross-correlation; ``flip=True`` flips the kernel along every spatial axis (true
  convolution). Its grad_weight is with respect to the unflipped weight that was passed in.
* conv ``padding`` is an int, a tuple, ``"valid"`` (no padding) or ``"same"``. ``"same"`` follows
  TensorFlow's rule, which also holds for stride > 1: per dimension ``out = ceil(L / s)``,
  ``total = max((out - 1) * s + d * (k - 1) + 1 - L, 0)``, ``before = total // 2``,
  ``after = total - before``. With stride 1 this is torch's ``padding='same'``.
* ``padding_mode`` ("zeros", "reflect", "replicate", "circular") works like ``torch.nn.ConvNd``:
  the input is padded first, then a convolution without padding runs.
* transposed conv, per spatial dimension, has output size
  ``(L_in - 1) * s - 2 * p + d * (k - 1) + output_padding + 1`` and is defined by the scatter
  ``y[n, g*Cog + o, i*s + j*d - p] += x[n, g*Cig + c, i] * w[g*Cig + c, o, j]`` (positions
  outside the output are dropped), plus bias.
* the ``*_backward`` functions take ``grad_output`` (the gradient of a scalar loss with respect to
  the forward's output) and return ``(grad_input, grad_weight, grad_bias)``; grad_bias is always
  returned, the sum of grad_output over the batch and spatial axes.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "conv1d", "conv2d", "conv3d",
    "conv1d_backward", "conv2d_backward", "conv3d_backward",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "conv_transpose1d_backward", "conv_transpose2d_backward", "conv_transpose3d_backward",
]

# np.pad's name for each of torch's padding modes.
_NUMPY_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                   "circular": "wrap"}


# ----------------------------------------------------------------------------- argument helpers

def _tuple(value, ndim):
    """An int or a sequence as a tuple of ndim ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * ndim
    return tuple(int(v) for v in value)


def _conv_pads(padding, spatial, kernel, stride, dilation):
    """(before, after) padding per spatial dimension for a conv."""
    ndim = len(spatial)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * ndim
        if padding == "same":
            pads = []
            for L, k, s, d in zip(spatial, kernel, stride, dilation):
                out = -(-L // s)  # ceil(L / s)
                total = max((out - 1) * s + d * (k - 1) + 1 - L, 0)
                pads.append((total // 2, total - total // 2))
            return pads
        raise ValueError(f"unknown padding {padding!r}")
    return [(p, p) for p in _tuple(padding, ndim)]


def _spatial_slice(start, count, step):
    """Indices start, start + step, ..., count of them."""
    return slice(start, start + (count - 1) * step + 1, step)


def _flip_kernel(weight, ndim):
    """The weight reversed along its ndim spatial (last) axes."""
    return weight[(Ellipsis,) + (slice(None, None, -1),) * ndim]


def _as_batched(array, ndim):
    """(array with a batch axis, whether one was added)."""
    if array.ndim == ndim + 1:
        return array[np.newaxis], True
    return array, False


def _result_dtype(input, weight):
    return np.result_type(np.asarray(input), np.asarray(weight))


def _f64(array):
    return None if array is None else np.asarray(array, dtype=np.float64)


def _pad_matrix(length, before, after, padding_mode):
    """P of shape (before + length + after, length) with padded = P @ x along one axis."""
    return np.pad(np.eye(length), ((before, after), (0, 0)), mode=_NUMPY_PAD_MODE[padding_mode])


def _apply_along_axis(matrix, array, axis):
    """matrix @ array along the given axis of array."""
    return np.moveaxis(np.tensordot(matrix, array, axes=(1, axis)), 0, axis)


# --------------------------------------------------------------------------------- core kernels
# All three work on batched float64 arrays whose padding, if any, has already been applied.

def _correlate(x, w, stride, dilation, groups, out_size):
    """y[n, g*Cog + o, i] = sum_{c, j} x[n, g*Cig + c, i*s + j*d] * w[g*Cog + o, c, j].

    x: (N, C_in, *L), w: (C_out, C_in // groups, *k); y: (N, C_out, *out_size)."""
    n, c_in = x.shape[:2]
    c_out, cig = w.shape[:2]
    kernel = w.shape[2:]
    xg = x.reshape((n, groups, cig) + x.shape[2:])
    wg = w.reshape((groups, c_out // groups, cig) + kernel)
    y = np.zeros((n, groups, c_out // groups) + tuple(out_size))
    for j in itertools.product(*(range(k) for k in kernel)):
        window = tuple(_spatial_slice(jj * d, o, s)
                       for jj, d, o, s in zip(j, dilation, out_size, stride))
        x_j = xg[(Ellipsis,) + window]  # (N, G, Cig, *out_size)
        w_j = wg[(Ellipsis,) + j]  # (G, Cog, Cig)
        y += np.einsum("ngc...,goc->ngo...", x_j, w_j)
    return y.reshape((n, c_out) + tuple(out_size))


def _correlate_weight_grad(x, gy, stride, dilation, groups, kernel):
    """gw[g*Cog + o, c, j] = sum_{n, i} gy[n, g*Cog + o, i] * x[n, g*Cig + c, i*s + j*d].

    The gradient of _correlate with respect to w. x: (N, C_in, *L), gy: (N, C_out, *out);
    gw: (C_out, C_in // groups, *kernel)."""
    n, c_in = x.shape[:2]
    c_out = gy.shape[1]
    out_size = gy.shape[2:]
    cig, cog = c_in // groups, c_out // groups
    xg = x.reshape((n, groups, cig) + x.shape[2:])
    gyg = gy.reshape((n, groups, cog) + out_size)
    xyz = "xyz"[:len(kernel)]  # einsum letters for the spatial axes, summed over
    gw = np.zeros((groups, cog, cig) + tuple(kernel))
    for j in itertools.product(*(range(k) for k in kernel)):
        window = tuple(_spatial_slice(jj * d, o, s)
                       for jj, d, o, s in zip(j, dilation, out_size, stride))
        x_j = xg[(Ellipsis,) + window]  # (N, G, Cig, *out)
        gw[(Ellipsis,) + j] = np.einsum(f"ngo{xyz},ngc{xyz}->goc", gyg, x_j)
    return gw.reshape((c_out, cig) + tuple(kernel))


def _scatter(x, w, stride, dilation, groups, padding, out_size):
    """y[n, g*Cog + o, i*s + j*d - p] += x[n, g*Cig + c, i] * w[g*Cig + c, o, j], keeping only
    positions 0 <= i*s + j*d - p < out_size.

    x: (N, C_in, *L), w: (C_in, C_out // groups, *k); y: (N, C_out, *out_size). This is the
    transposed convolution, and also _correlate's gradient with respect to x (with p = 0)."""
    n, c_in = x.shape[:2]
    in_size = x.shape[2:]
    cog = w.shape[1]
    kernel = w.shape[2:]
    cig = c_in // groups
    xg = x.reshape((n, groups, cig) + in_size)
    wg = w.reshape((groups, cig, cog) + kernel)
    # Scatter into a buffer indexed by the unshifted position i*s + j*d, long enough for every
    # position and for the output window [p, p + out_size); then cut that window out.
    buffer_size = tuple(max((L - 1) * s + d * (k - 1) + 1, p + o)
                        for L, s, d, k, p, o in zip(in_size, stride, dilation, kernel, padding,
                                                    out_size))
    buffer = np.zeros((n, groups, cog) + buffer_size)
    for j in itertools.product(*(range(k) for k in kernel)):
        window = tuple(_spatial_slice(jj * d, L, s)
                       for jj, d, L, s in zip(j, dilation, in_size, stride))
        w_j = wg[(Ellipsis,) + j]  # (G, Cig, Cog)
        buffer[(Ellipsis,) + window] += np.einsum("ngc...,gco->ngo...", xg, w_j)
    crop = tuple(slice(p, p + o) for p, o in zip(padding, out_size))
    return buffer[(Ellipsis,) + crop].reshape((n, groups * cog) + tuple(out_size))


# ------------------------------------------------------------------------------------- conv

def _conv_forward(ndim, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                  flip):
    dtype = _result_dtype(input, weight)
    x, unbatched = _as_batched(_f64(input), ndim)
    w = _f64(weight)
    if flip:
        w = _flip_kernel(w, ndim)
    kernel = w.shape[2:]
    stride, dilation = _tuple(stride, ndim), _tuple(dilation, ndim)
    pads = _conv_pads(padding, x.shape[2:], kernel, stride, dilation)
    x_padded = np.pad(x, [(0, 0), (0, 0)] + pads, mode=_NUMPY_PAD_MODE[padding_mode])
    out_size = tuple((L - d * (k - 1) - 1) // s + 1
                     for L, k, s, d in zip(x_padded.shape[2:], kernel, stride, dilation))
    y = _correlate(x_padded, w, stride, dilation, groups, out_size)
    if bias is not None:
        y = y + _f64(bias).reshape((1, -1) + (1,) * ndim)
    if unbatched:
        y = y[0]
    return y.astype(dtype)


def _conv_backward(ndim, grad_output, input, weight, stride, padding, dilation, groups,
                   padding_mode, flip):
    dtype = _result_dtype(input, weight)
    x, unbatched = _as_batched(_f64(input), ndim)
    gy, _ = _as_batched(_f64(grad_output), ndim)
    w = _f64(weight)
    if flip:
        w = _flip_kernel(w, ndim)
    kernel = w.shape[2:]
    stride, dilation = _tuple(stride, ndim), _tuple(dilation, ndim)
    spatial = x.shape[2:]
    pads = _conv_pads(padding, spatial, kernel, stride, dilation)
    x_padded = np.pad(x, [(0, 0), (0, 0)] + pads, mode=_NUMPY_PAD_MODE[padding_mode])

    # Gradient with respect to the padded input, then routed back through the padding: padding
    # is linear, padded = P @ x along each axis, so grad_x = P.T @ grad_padded along each axis.
    grad_padded = _scatter(gy, w, stride, dilation, groups, (0,) * ndim, x_padded.shape[2:])
    grad_input = grad_padded
    for axis, (L, (before, after)) in enumerate(zip(spatial, pads), start=2):
        P = _pad_matrix(L, before, after, padding_mode)
        grad_input = _apply_along_axis(P.T, grad_input, axis)

    grad_weight = _correlate_weight_grad(x_padded, gy, stride, dilation, groups, kernel)
    if flip:
        grad_weight = _flip_kernel(grad_weight, ndim)  # d/dw of w[::-1] is the flipped gradient
    grad_bias = gy.sum(axis=(0,) + tuple(range(2, 2 + ndim)))
    if unbatched:
        grad_input = grad_input[0]
    return grad_input.astype(dtype), grad_weight.astype(dtype), grad_bias.astype(dtype)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", flip=False):
    """1-D convolution (cross-correlation unless flip=True), like torch.nn.functional.conv1d."""
    return _conv_forward(1, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                         flip)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", flip=False):
    """2-D convolution (cross-correlation unless flip=True), like torch.nn.functional.conv2d."""
    return _conv_forward(2, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                         flip)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", flip=False):
    """3-D convolution (cross-correlation unless flip=True), like torch.nn.functional.conv3d."""
    return _conv_forward(3, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                         flip)


def conv1d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", flip=False):
    """Gradients of conv1d: (grad_input, grad_weight, grad_bias)."""
    return _conv_backward(1, grad_output, input, weight, stride, padding, dilation, groups,
                          padding_mode, flip)


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", flip=False):
    """Gradients of conv2d: (grad_input, grad_weight, grad_bias)."""
    return _conv_backward(2, grad_output, input, weight, stride, padding, dilation, groups,
                          padding_mode, flip)


def conv3d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", flip=False):
    """Gradients of conv3d: (grad_input, grad_weight, grad_bias)."""
    return _conv_backward(3, grad_output, input, weight, stride, padding, dilation, groups,
                          padding_mode, flip)


# -------------------------------------------------------------------------- transposed conv

def _transpose_output_size(in_size, kernel, stride, padding, output_padding, dilation):
    return tuple((L - 1) * s - 2 * p + d * (k - 1) + op + 1
                 for L, k, s, p, op, d in zip(in_size, kernel, stride, padding, output_padding,
                                              dilation))


def _conv_transpose_forward(ndim, input, weight, bias, stride, padding, output_padding, groups,
                            dilation):
    dtype = _result_dtype(input, weight)
    x, unbatched = _as_batched(_f64(input), ndim)
    w = _f64(weight)
    stride, padding = _tuple(stride, ndim), _tuple(padding, ndim)
    output_padding, dilation = _tuple(output_padding, ndim), _tuple(dilation, ndim)
    out_size = _transpose_output_size(x.shape[2:], w.shape[2:], stride, padding, output_padding,
                                      dilation)
    y = _scatter(x, w, stride, dilation, groups, padding, out_size)
    if bias is not None:
        y = y + _f64(bias).reshape((1, -1) + (1,) * ndim)
    if unbatched:
        y = y[0]
    return y.astype(dtype)


def _conv_transpose_backward(ndim, grad_output, input, weight, stride, padding, output_padding,
                             groups, dilation):
    dtype = _result_dtype(input, weight)
    x, unbatched = _as_batched(_f64(input), ndim)
    gy, _ = _as_batched(_f64(grad_output), ndim)
    w = _f64(weight)
    kernel = w.shape[2:]
    stride, padding = _tuple(stride, ndim), _tuple(padding, ndim)
    dilation = _tuple(dilation, ndim)
    # Differentiating the scatter y[n, g*Cog + o, i*s + j*d - p] += x[n, g*Cig + c, i] *
    # w[g*Cig + c, o, j] gathers grad_output at the same positions. Zero-padding grad_output by p
    # on both sides makes position q read gy_padded[q + p] and turns every position outside the
    # output into a zero:
    #   grad_x[n, g*Cig + c, i] = sum_{o, j} gy_padded[n, g*Cog + o, i*s + j*d] * w[g*Cig + c, o, j]
    #   grad_w[g*Cig + c, o, j] = sum_{n, i} x[n, g*Cig + c, i] * gy_padded[n, g*Cog + o, i*s + j*d]
    gy_padded = np.pad(gy, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    grad_input = _correlate(gy_padded, w, stride, dilation, groups, x.shape[2:])
    grad_weight = _correlate_weight_grad(gy_padded, x, stride, dilation, groups, kernel)
    grad_bias = gy.sum(axis=(0,) + tuple(range(2, 2 + ndim)))
    if unbatched:
        grad_input = grad_input[0]
    return grad_input.astype(dtype), grad_weight.astype(dtype), grad_bias.astype(dtype)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution, like torch.nn.functional.conv_transpose1d."""
    return _conv_transpose_forward(1, input, weight, bias, stride, padding, output_padding, groups,
                                   dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution, like torch.nn.functional.conv_transpose2d."""
    return _conv_transpose_forward(2, input, weight, bias, stride, padding, output_padding, groups,
                                   dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution, like torch.nn.functional.conv_transpose3d."""
    return _conv_transpose_forward(3, input, weight, bias, stride, padding, output_padding, groups,
                                   dilation)


def conv_transpose1d_backward(grad_output, input, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1):
    """Gradients of conv_transpose1d: (grad_input, grad_weight, grad_bias)."""
    return _conv_transpose_backward(1, grad_output, input, weight, stride, padding, output_padding,
                                    groups, dilation)


def conv_transpose2d_backward(grad_output, input, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1):
    """Gradients of conv_transpose2d: (grad_input, grad_weight, grad_bias)."""
    return _conv_transpose_backward(2, grad_output, input, weight, stride, padding, output_padding,
                                    groups, dilation)


def conv_transpose3d_backward(grad_output, input, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1):
    """Gradients of conv_transpose3d: (grad_input, grad_weight, grad_bias)."""
    return _conv_transpose_backward(3, grad_output, input, weight, stride, padding, output_padding,
                                    groups, dilation)
