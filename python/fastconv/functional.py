"""The functional API on NumPy arrays, mirroring torch.nn.functional.

Convolution ops are derived from three compiled primitives (see csrc/cpu/conv/conv.h):
forward, backward_data and backward_weight. Transposed convolution's forward is convolution's
backward_data, its backward_data is convolution's forward, and its backward_weight is
convolution's backward_weight with input and grad_output swapped.

All ops compute cross-correlation, like every deep-learning framework; pass ``flip=True`` for
true (kernel-flipped) convolution.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from . import _C, _padding
from ._memory import empty as _empty
from ._validation import (ConvProblem, check_grad_output, check_output_mask, plain_call_key,
                          validate_conv, validate_conv_transpose)

CONV_ALGORITHMS = ("auto",) + tuple(_C.conv_algorithms())
GradTriple = Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]


ACTIVATIONS = (None, "relu")


def _check_activation(op: str, activation) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"{op}: argument 'activation' must be None or 'relu' (fused into the "
                         f"kernel's store), got {activation!r}")
    return "none" if activation is None else activation


def _check_algorithm(op: str, algorithm: str) -> str:
    if algorithm not in CONV_ALGORITHMS:
        raise ValueError(f"{op}: argument 'algorithm' must be one of {', '.join(CONV_ALGORITHMS)}, "
                         f"got {algorithm!r}")
    return algorithm


def _run(op: str, kernel, *args) -> None:
    """Calls a compiled primitive; a forced algorithm that cannot compute the problem is reported
    as the op's error about its 'algorithm' argument. The primitives take (N, C, *spatial)
    C-contiguous arrays of the op's own rank: no reshape to 5-D on this side."""
    try:
        kernel(*args)
    except _C.AlgorithmError as e:
        raise ValueError(f"{op}: argument 'algorithm': {e}") from None


def _unbatch(p: ConvProblem, a: Optional[np.ndarray]) -> Optional[np.ndarray]:
    return a if a is None or p.batched else a[0]


_SPATIAL_AXES = {1: (0, 2), 2: (0, 2, 3), 3: (0, 2, 3, 4)}  # grad_bias sums over N and space


# ------------------------------------------------------------------------------- convolution

def _conv_operands(p: ConvProblem, flip: bool):
    """The kernel's input (after padding_mode) and weight (after flip), C-contiguous."""
    x = p.input
    if p.padding_mode != "zeros":
        x = _padding.pad(x, p.mode_pads, p.padding_mode)
    w = p.weight
    if flip:
        w = w[(Ellipsis,) + (slice(None, None, -1),) * p.ndim]
    return np.ascontiguousarray(x), np.ascontiguousarray(w)


# Repeats of a forward convolution that validated, keyed by everything validation reads; the
# value is what the launch needs. A hit skips validation's layers: a Fashion-MNIST-sized conv at
# batch 1 otherwise spends longer in Python than torch's whole call (empty batch 3.5 vs 2.9 us).
_FORWARD_LAUNCHES = {}


def _conv(op, ndim, input, weight, bias, stride, padding, dilation, groups, padding_mode, flip,
          algorithm, activation):
    key = None
    if not flip and padding_mode == "zeros" and (activation is None or activation == "relu"):
        key = plain_call_key(op, input, weight, bias, (stride, padding, dilation, groups,
                                                       padding_mode, algorithm, activation or ""))
        launch = _FORWARD_LAUNCHES.get(key) if key is not None else None
        if launch is not None:
            batched, output_shape, geometry, epilogue = launch
            x = np.ascontiguousarray(input if batched else input[np.newaxis])
            out = _empty(output_shape, x.dtype)
            _run(op, _C.conv_forward, x, np.ascontiguousarray(weight),
                 None if bias is None else np.ascontiguousarray(bias), out, *geometry,
                 algorithm, epilogue)
            return out if batched else out[0]
    p = validate_conv(op, ndim, input, weight, bias, stride, padding, dilation, groups,
                      padding_mode)
    _check_algorithm(op, algorithm)
    epilogue = _check_activation(op, activation)
    x, w = _conv_operands(p, flip)
    out = _empty(p.output_shape, x.dtype)
    bias = None if p.bias is None else np.ascontiguousarray(p.bias)
    _run(p.op, _C.conv_forward, x, w, bias, out, *p.launch, algorithm, epilogue)
    if key is not None:  # validated and ran: later calls like it take the path above
        if len(_FORWARD_LAUNCHES) >= 512:
            _FORWARD_LAUNCHES.clear()
        _FORWARD_LAUNCHES[key] = (p.batched, p.output_shape, p.launch, epilogue)
    return _unbatch(p, out)


def _conv_backward(op, ndim, grad_output, input, weight, stride, padding, dilation, groups,
                   padding_mode, flip, output_mask, algorithm) -> GradTriple:
    p = validate_conv(op, ndim, input, weight, None, stride, padding, dilation, groups,
                      padding_mode)
    _check_algorithm(op, algorithm)
    want_input, want_weight, want_bias = check_output_mask(op, output_mask)
    gy = np.ascontiguousarray(check_grad_output(op, grad_output, p.output_shape, p.batched,
                                                p.input.dtype))
    x, w = _conv_operands(p, flip)
    grad_input = grad_weight = grad_bias = None
    if want_input:
        gx = _empty(x.shape, x.dtype)
        _run(p.op, _C.conv_backward_data, gy, w, gx, *p.launch, algorithm)
        if p.padding_mode != "zeros":
            gx = _padding.pad_backward(gx, p.mode_pads, p.padding_mode)
        grad_input = _unbatch(p, gx)
    if want_weight:
        gw = _empty(w.shape, x.dtype)
        _run(p.op, _C.conv_backward_weight, x, gy, gw, *p.launch, algorithm)
        if flip:
            gw = np.ascontiguousarray(gw[(Ellipsis,) + (slice(None, None, -1),) * p.ndim])
        grad_weight = gw
    if want_bias:
        grad_bias = gy.sum(axis=_SPATIAL_AXES[ndim])
    return grad_input, grad_weight, grad_bias


# --------------------------------------------------------------------- transposed convolution

def _conv_transpose(op, ndim, input, weight, bias, stride, padding, output_padding, groups,
                    dilation, algorithm, activation):
    p = validate_conv_transpose(op, ndim, input, weight, bias, stride, padding, output_padding,
                                groups, dilation)
    _check_algorithm(op, algorithm)
    relu = _check_activation(op, activation) == "relu"
    out = _empty(p.output_shape, p.input.dtype)
    _run(p.op, _C.conv_backward_data, np.ascontiguousarray(p.input),
         np.ascontiguousarray(p.weight), out, *p.launch, algorithm)
    if p.bias is not None:
        out += p.bias.reshape((-1,) + (1,) * ndim)
    if relu:  # a separate pass here: backward_data's kernels have no epilogue yet
        _C.activation_forward(out, out, "relu", 0.0, 0.0)
    return _unbatch(p, out)


def _conv_transpose_backward(op, ndim, grad_output, input, weight, stride, padding,
                             output_padding, groups, dilation, output_mask,
                             algorithm) -> GradTriple:
    p = validate_conv_transpose(op, ndim, input, weight, None, stride, padding, output_padding,
                                groups, dilation)
    _check_algorithm(op, algorithm)
    want_input, want_weight, want_bias = check_output_mask(op, output_mask)
    gy = np.ascontiguousarray(check_grad_output(op, grad_output, p.output_shape, p.batched,
                                                p.input.dtype))
    x, w = np.ascontiguousarray(p.input), np.ascontiguousarray(p.weight)
    grad_input = grad_weight = grad_bias = None
    if want_input:
        gx = _empty(x.shape, x.dtype)
        _run(p.op, _C.conv_forward, gy, w, None, gx, *p.launch, algorithm)
        grad_input = _unbatch(p, gx)
    if want_weight:
        gw = _empty(w.shape, x.dtype)
        _run(p.op, _C.conv_backward_weight, gy, x, gw, *p.launch, algorithm)
        grad_weight = gw
    if want_bias:
        grad_bias = gy.sum(axis=_SPATIAL_AXES[ndim])
    return grad_input, grad_weight, grad_bias


# ------------------------------------------------------------------------------ public ops

def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", *, flip=False, algorithm="auto", activation=None):
    """1-D convolution (cross-correlation unless flip=True) of input (N, C_in, L) or (C_in, L)
    with weight (C_out, C_in/groups, k); padding is an int, a tuple, 'valid' or 'same'
    (TensorFlow's rule, strides too); padding_mode zeros, reflect, replicate or circular.
    activation="relu" applies ReLU to the result in the kernel's store (after the bias); the
    backward is then relu_backward(grad, output) followed by conv1d_backward."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups,
                 padding_mode, flip, algorithm, activation)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", *, flip=False, algorithm="auto", activation=None):
    """2-D convolution of input (N, C_in, H, W) or (C_in, H, W); see conv1d."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups,
                 padding_mode, flip, algorithm, activation)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", *, flip=False, algorithm="auto", activation=None):
    """3-D convolution of input (N, C_in, D, H, W) or (C_in, D, H, W); see conv1d."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups,
                 padding_mode, flip, algorithm, activation)


def conv1d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", *, flip=False, output_mask=(True, True, True),
                    algorithm="auto") -> GradTriple:
    """Gradients (grad_input, grad_weight, grad_bias) of conv1d with the same arguments; an
    entry is None where output_mask says it is not wanted."""
    return _conv_backward("conv1d_backward", 1, grad_output, input, weight, stride, padding,
                          dilation, groups, padding_mode, flip, output_mask, algorithm)


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", *, flip=False, output_mask=(True, True, True),
                    algorithm="auto") -> GradTriple:
    """Gradients of conv2d; see conv1d_backward."""
    return _conv_backward("conv2d_backward", 2, grad_output, input, weight, stride, padding,
                          dilation, groups, padding_mode, flip, output_mask, algorithm)


def conv3d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", *, flip=False, output_mask=(True, True, True),
                    algorithm="auto") -> GradTriple:
    """Gradients of conv3d; see conv1d_backward."""
    return _conv_backward("conv3d_backward", 3, grad_output, input, weight, stride, padding,
                          dilation, groups, padding_mode, flip, output_mask, algorithm)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, algorithm="auto", activation=None):
    """1-D transposed convolution of input (N, C_in, L) or (C_in, L) with weight
    (C_in, C_out/groups, k): the gradient of conv1d with respect to its input, plus bias."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation, algorithm, activation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, algorithm="auto", activation=None):
    """2-D transposed convolution; see conv_transpose1d."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation, algorithm, activation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, algorithm="auto", activation=None):
    """3-D transposed convolution; see conv_transpose1d."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation, algorithm, activation)


def conv_transpose1d_backward(grad_output, input, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, output_mask=(True, True, True),
                              algorithm="auto") -> GradTriple:
    """Gradients (grad_input, grad_weight, grad_bias) of conv_transpose1d."""
    return _conv_transpose_backward("conv_transpose1d_backward", 1, grad_output, input, weight,
                                    stride, padding, output_padding, groups, dilation,
                                    output_mask, algorithm)


def conv_transpose2d_backward(grad_output, input, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, output_mask=(True, True, True),
                              algorithm="auto") -> GradTriple:
    """Gradients of conv_transpose2d; see conv_transpose1d_backward."""
    return _conv_transpose_backward("conv_transpose2d_backward", 2, grad_output, input, weight,
                                    stride, padding, output_padding, groups, dilation,
                                    output_mask, algorithm)


def conv_transpose3d_backward(grad_output, input, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, output_mask=(True, True, True),
                              algorithm="auto") -> GradTriple:
    """Gradients of conv_transpose3d; see conv_transpose1d_backward."""
    return _conv_transpose_backward("conv_transpose3d_backward", 3, grad_output, input, weight,
                                    stride, padding, output_padding, groups, dilation,
                                    output_mask, algorithm)


# ------------------------------------------------------------------------------- explain

def _shape5(shape) -> Tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    return shape[:2] + (1,) * (5 - len(shape)) + shape[2:]


def explain(op: str, input_shape, weight_shape, *, dtype="float32", stride=1, padding=0,
            dilation=1, groups=1, padding_mode="zeros", output_padding=0,
            algorithm="auto") -> dict:
    """Which algorithm and ISA path each pass of a convolution would run, and the workspace its
    kernel allocates, without running it (the choice is a fixed rule: no autotuning, no stall on
    the first call of a new shape). Arguments as for the op; shapes instead of arrays.
    workspace_bytes counts what the kernel allocates (None where an algorithm does not report
    it), not the output or a padding_mode copy. A pass that runs its algorithm on a rewritten
    problem names the rewrite: "rewrite": "dilation_phases" (a dilated stride-1 conv computed as
    one dense conv over its dilation phases; its gather/scatter buffers count in the workspace).

    >>> fastconv.explain("conv2d", (8, 64, 56, 56), (64, 64, 3, 3), padding=1)["passes"]
    {'forward': {'algorithm': 'winograd', 'workspace_bytes': ...}, 'backward_data': {...}, ...}
    """
    ops = {f"conv{d}d": d for d in (1, 2, 3)}
    ops.update({f"conv_transpose{d}d": d for d in (1, 2, 3)})
    if op not in ops:
        raise ValueError(f"explain: argument 'op' must be one of {', '.join(ops)}, got {op!r}")
    dt = np.dtype(dtype)
    # Zero-stride views: shapes to validate, nothing allocated.
    x = np.broadcast_to(np.zeros((), dt), tuple(input_shape))
    w = np.broadcast_to(np.zeros((), dt), tuple(weight_shape))
    ndim = ops[op]
    transposed = op.startswith("conv_transpose")
    if transposed:
        p = validate_conv_transpose(op, ndim, x, w, None, stride, padding, output_padding,
                                    groups, dilation)
        # transposed conv runs convolution's primitives with input and output swapped
        conv_in, conv_out = p.output_shape, p.input.shape
        passes = {"forward": "backward_data", "backward_data": "forward",
                  "backward_weight": "backward_weight"}
    else:
        p = validate_conv(op, ndim, x, w, None, stride, padding, dilation, groups, padding_mode)
        conv_in = p.input.shape[:2] + tuple(s + b + a for s, (b, a) in
                                            zip(p.input.shape[2:], p.mode_pads))
        conv_out = p.output_shape
        passes = {name: name for name in ("forward", "backward_data", "backward_weight")}
    _check_algorithm(op, algorithm)
    info = _C.build_info()
    result = {"op": op, "dtype": dt.name, "isa": info["isa"],
              "gemm_kernel": info["gemm_f32" if dt == np.float32 else "gemm_f64"],
              "threads": _C.get_num_threads(), "passes": {}}
    for public, primitive in passes.items():
        try:
            name, workspace, rewrite = _C.conv_plan(
                primitive, _shape5(conv_in), _shape5(p.weight.shape), _shape5(conv_out),
                *p.launch, algorithm, dt.itemsize)
            result["passes"][public] = {"algorithm": name,
                                        "workspace_bytes": None if workspace < 0 else workspace}
            if rewrite is not None:
                result["passes"][public]["rewrite"] = rewrite
            if name == "stride_phases":  # a rewrite: stride-1 problems, one per stride phase
                result["passes"][public]["rewrite"] = "stride_phases"
                result["passes"][public]["sub_algorithms"] = _C.conv_stride_phases_plan(
                    primitive, _shape5(conv_in), _shape5(p.weight.shape), _shape5(conv_out),
                    *p.launch, dt.itemsize)
        except _C.AlgorithmError as e:
            result["passes"][public] = {"algorithm": None, "unsupported": str(e)}
    return result
