"""Argument checking and normalisation for every fastconv op, in one place.

Each check raises ``ValueError`` (a bad value) or ``TypeError`` (a bad type) with a message that
starts with the op's name and says which argument, what was expected and what was given. All
size arithmetic is done on Python integers (no overflow) and checked before anything is allocated.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
# Largest array fastconv allocates: far beyond any machine's memory, far below int64 overflow
# in the kernels' index arithmetic (every index stays below 2**62).
MAX_ELEMENTS = 2**52
MAX_EXTENT = 2**40

IntTuple = Tuple[int, ...]


def _fmt(shape: Sequence[int]) -> str:
    return str(tuple(int(s) for s in shape))


def as_float_array(op: str, name: str, value, *, allow_none: bool = False) -> Optional[np.ndarray]:
    """Returns `value` as a NumPy array of a supported float dtype, or raises TypeError."""
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{op}: argument '{name}' must be an array, got None")
    if not isinstance(value, np.ndarray):
        if not hasattr(value, "__array__") and not isinstance(value, (list, tuple)):
            raise TypeError(f"{op}: argument '{name}' must be an array, got {type(value).__name__}")
        try:
            value = np.asarray(value)
        except ValueError as e:  # e.g. ragged nested lists
            raise ValueError(f"{op}: argument '{name}' could not be converted to an array: {e}") \
                from None
    if value.dtype not in SUPPORTED_DTYPES:
        kind = {"i": "an integer", "u": "an unsigned integer", "b": "a boolean", "c": "a complex",
                "O": "an object", "f": "a"}.get(value.dtype.kind, "a")
        raise TypeError(
            f"{op}: argument '{name}' has {kind} dtype {value.dtype}; expected float32 or float64 "
            f"(convert with .astype(np.float32))")
    return value


def check_same_dtype(op: str, reference_name: str, reference: np.ndarray, **others) -> None:
    for name, array in others.items():
        if array is not None and array.dtype != reference.dtype:
            raise TypeError(
                f"{op}: argument '{name}' has dtype {array.dtype} but '{reference_name}' has dtype "
                f"{reference.dtype}; expected the same dtype (convert one with .astype())")


def int_tuple(op: str, name: str, value, ndim: int, *, minimum: int) -> IntTuple:
    """An int or a sequence of `ndim` ints, each >= minimum, as a tuple of Python ints."""
    items = (value,) * ndim if _is_int(value) else value
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or len(items) != ndim \
            or not all(_is_int(v) for v in items):
        raise TypeError(f"{op}: argument '{name}' must be an int or a tuple of {ndim} ints, "
                        f"got {value!r}")
    result = tuple(int(v) for v in items)
    if any(v < minimum for v in result):
        what = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{op}: argument '{name}' must be {what}, got {value!r}")
    if any(v > MAX_EXTENT for v in result):
        raise ValueError(f"{op}: argument '{name}' must be at most {MAX_EXTENT}, got {value!r}")
    return result


def positive_int(op: str, name: str, value) -> int:
    if not _is_int(value):
        raise TypeError(f"{op}: argument '{name}' must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{op}: argument '{name}' must be positive, got {value!r}")
    return int(value)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_ndim(op: str, name: str, array: np.ndarray, ndim: int, *, unbatched_ok: bool) -> bool:
    """Checks (N, C, *spatial) or, where allowed, (C, *spatial); returns whether it is batched."""
    if array.ndim == ndim + 2:
        return True
    if unbatched_ok and array.ndim == ndim + 1:
        return False
    expected = f"{ndim + 2}-D (N, C, {_spatial_names(ndim)})"
    if unbatched_ok:
        expected = f"{ndim + 1}-D (unbatched) or " + expected
    raise ValueError(f"{op}: argument '{name}' must be {expected}, got {array.ndim}-D input of "
                     f"shape {_fmt(array.shape)}")


def _spatial_names(ndim: int) -> str:
    return ", ".join(("D", "H", "W")[3 - ndim:])


def check_num_elements(op: str, what: str, shape: Sequence[int]) -> None:
    count = 1
    for s in shape:
        count *= int(s)
    if count > MAX_ELEMENTS:
        raise ValueError(f"{op}: the {what} would have shape {_fmt(shape)}, {count} elements, more "
                         f"than the {MAX_ELEMENTS} fastconv allocates; reduce the sizes or padding")


@dataclass(frozen=True)
class ConvProblem:
    """A validated convolution: arrays batched (N, C, *spatial), geometry per spatial dim."""
    op: str
    ndim: int
    batched: bool
    input: np.ndarray
    weight: np.ndarray
    bias: Optional[np.ndarray]
    stride: IntTuple
    dilation: IntTuple
    groups: int
    pad_before: IntTuple      # zero padding applied by the kernel
    pad_after: IntTuple
    padding_mode: str
    mode_pads: Tuple[Tuple[int, int], ...]  # pads applied by padding_mode before the kernel
    output_padding: IntTuple  # transposed convolution only, zeros otherwise
    output_size: IntTuple

    @property
    def output_shape(self) -> IntTuple:
        n = self.input.shape[0]
        if self.op.startswith("conv_transpose"):
            return (n, self.weight.shape[1] * self.groups) + self.output_size
        return (n, self.weight.shape[0]) + self.output_size


def _check_channels(op: str, input: np.ndarray, weight: np.ndarray, groups: int,
                    transposed: bool) -> None:
    c_in = input.shape[1]
    wname = "weight"
    if weight.shape[0] % groups != 0:
        role = "in" if transposed else "out"
        raise ValueError(f"{op}: groups={groups} must divide the {role}put channels, but "
                         f"{wname}.shape[0] = {weight.shape[0]}")
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if c_in != expected:
        raise ValueError(
            f"{op}: given groups={groups}, weight of size {_fmt(weight.shape)}, expected input "
            f"{_fmt(input.shape)} to have {expected} channels, but got {c_in} channels instead")


def _check_bias(op: str, bias: Optional[np.ndarray], out_channels: int) -> None:
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{op}: argument 'bias' must have shape ({out_channels},) (one value per "
                         f"output channel), got {_fmt(bias.shape)}")


def _check_kernel_size(op: str, weight: np.ndarray, layout: str) -> None:
    if any(k < 1 for k in weight.shape[2:]):
        raise ValueError(f"{op}: argument 'weight' {layout} must have a kernel size of at least 1 "
                         f"in every spatial dim, got shape {_fmt(weight.shape)}")


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> Tuple[int, int]:
    """TensorFlow's SAME: the output has ceil(size / stride) positions; the odd pad goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def validate_conv(op: str, ndim: int, input, weight, bias, stride, padding, dilation, groups,
                  padding_mode: str = "zeros") -> ConvProblem:
    x = as_float_array(op, "input", input)
    w = as_float_array(op, "weight", weight)
    b = as_float_array(op, "bias", bias, allow_none=True)
    check_same_dtype(op, "input", x, weight=w, bias=b)
    batched = check_ndim(op, "input", x, ndim, unbatched_ok=True)
    if w.ndim != ndim + 2:
        raise ValueError(f"{op}: argument 'weight' must be {ndim + 2}-D (C_out, C_in/groups, "
                         f"{_spatial_names(ndim)}), got shape {_fmt(w.shape)}")
    if not batched:
        x = x[np.newaxis]
    _check_kernel_size(op, w, "(C_out, C_in/groups, *kernel)")
    stride = int_tuple(op, "stride", stride, ndim, minimum=1)
    dilation = int_tuple(op, "dilation", dilation, ndim, minimum=1)
    groups = positive_int(op, "groups", groups)
    _check_channels(op, x, w, groups, transposed=False)
    _check_bias(op, b, w.shape[0])
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError(f"{op}: argument 'padding_mode' must be one of {', '.join(PADDING_MODES)}; "
                         f"got {padding_mode!r}")
    kernel = w.shape[2:]
    size = x.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * ndim
        elif padding == "same":
            pads = [_same_pads(size[i], kernel[i], stride[i], dilation[i]) for i in range(ndim)]
        else:
            raise ValueError(f"{op}: argument 'padding' must be 'same', 'valid', an int or a tuple "
                             f"of {ndim} ints, got {padding!r}")
    else:
        p = int_tuple(op, "padding", padding, ndim, minimum=0)
        pads = [(v, v) for v in p]

    mode_pads = tuple((0, 0) for _ in range(ndim))
    if padding_mode != "zeros":
        for i, (before, after) in enumerate(pads):
            limit_ok = (max(before, after) < size[i]) if padding_mode == "reflect" else \
                (max(before, after) <= size[i]) if padding_mode == "circular" else size[i] > 0
            if not limit_ok:
                bound = {"reflect": "smaller than", "circular": "at most"}.get(padding_mode,
                                                                              "with an input of")
                raise ValueError(
                    f"{op}: padding_mode='{padding_mode}' needs padding {bound} the input size in "
                    f"each dimension, but spatial dim {i} has size {size[i]} and padding "
                    f"{(before, after)}")
        mode_pads = tuple(pads)
        size = tuple(s + b + a for s, (b, a) in zip(size, pads))
        pads = [(0, 0)] * ndim

    out = []
    for i in range(ndim):
        padded = size[i] + pads[i][0] + pads[i][1]
        span = dilation[i] * (kernel[i] - 1) + 1
        if padded < span:
            raise ValueError(
                f"{op}: kernel larger than the padded input in spatial dim {i}: padded input size "
                f"{size[i]} + {pads[i][0]} + {pads[i][1]} = {padded} is smaller than the dilated "
                f"kernel size dilation * (kernel - 1) + 1 = {dilation[i]} * ({kernel[i]} - 1) + 1 "
                f"= {span}, so the output size floor(({padded} - {span}) / {stride[i]}) + 1 would "
                f"be below 1; use a larger input or padding, or a smaller kernel or dilation")
        out.append((padded - span) // stride[i] + 1)
    problem = ConvProblem(
        op=op, ndim=ndim, batched=batched, input=x, weight=w, bias=b, stride=stride,
        dilation=dilation, groups=groups, pad_before=tuple(p[0] for p in pads),
        pad_after=tuple(p[1] for p in pads), padding_mode=padding_mode, mode_pads=mode_pads,
        output_padding=(0,) * ndim, output_size=tuple(out))
    check_num_elements(op, "output", problem.output_shape)
    if padding_mode != "zeros":
        check_num_elements(op, "padded input", x.shape[:2] + tuple(size))
    return problem


def validate_conv_transpose(op: str, ndim: int, input, weight, bias, stride, padding,
                            output_padding, groups, dilation) -> ConvProblem:
    x = as_float_array(op, "input", input)
    w = as_float_array(op, "weight", weight)
    b = as_float_array(op, "bias", bias, allow_none=True)
    check_same_dtype(op, "input", x, weight=w, bias=b)
    batched = check_ndim(op, "input", x, ndim, unbatched_ok=True)
    if w.ndim != ndim + 2:
        raise ValueError(f"{op}: argument 'weight' must be {ndim + 2}-D (C_in, C_out/groups, "
                         f"{_spatial_names(ndim)}), got shape {_fmt(w.shape)}")
    if not batched:
        x = x[np.newaxis]
    _check_kernel_size(op, w, "(C_in, C_out/groups, *kernel)")
    if isinstance(padding, str):
        raise ValueError(f"{op}: argument 'padding' must be an int or a tuple of {ndim} ints; "
                         f"padding={padding!r} is not supported for transposed convolution (its "
                         f"output size is set by stride, padding and output_padding)")
    stride = int_tuple(op, "stride", stride, ndim, minimum=1)
    dilation = int_tuple(op, "dilation", dilation, ndim, minimum=1)
    pad = int_tuple(op, "padding", padding, ndim, minimum=0)
    output_padding = int_tuple(op, "output_padding", output_padding, ndim, minimum=0)
    groups = positive_int(op, "groups", groups)
    for i in range(ndim):
        if output_padding[i] >= max(stride[i], dilation[i]):
            raise ValueError(
                f"{op}: argument 'output_padding' must be smaller than either stride or dilation, "
                f"but got output_padding={output_padding[i]}, stride={stride[i]}, "
                f"dilation={dilation[i]} in spatial dim {i}")
    _check_channels(op, x, w, groups, transposed=True)
    _check_bias(op, b, w.shape[1] * groups)
    kernel = w.shape[2:]
    out = []
    for i in range(ndim):
        size = x.shape[2 + i]
        o = (size - 1) * stride[i] - 2 * pad[i] + dilation[i] * (kernel[i] - 1) + \
            output_padding[i] + 1
        if o < 1:
            raise ValueError(
                f"{op}: output size below 1 in spatial dim {i}: (input - 1) * stride - 2 * padding "
                f"+ dilation * (kernel - 1) + output_padding + 1 = ({size} - 1) * {stride[i]} - 2 * "
                f"{pad[i]} + {dilation[i]} * ({kernel[i]} - 1) + {output_padding[i]} + 1 = {o}; "
                f"use less padding or a larger input, stride or kernel")
        out.append(o)
    problem = ConvProblem(
        op=op, ndim=ndim, batched=batched, input=x, weight=w, bias=b, stride=stride,
        dilation=dilation, groups=groups, pad_before=pad, pad_after=pad, padding_mode="zeros",
        mode_pads=tuple((0, 0) for _ in range(ndim)), output_padding=output_padding,
        output_size=tuple(out))
    check_num_elements(op, "output", problem.output_shape)
    return problem


def check_grad_output(op: str, grad_output, expected_shape: Sequence[int], batched: bool,
                      dtype: np.dtype) -> np.ndarray:
    g = as_float_array(op, "grad_output", grad_output)
    check_same_dtype(op, "input", np.empty(0, dtype), grad_output=g)
    shape = tuple(expected_shape) if batched else tuple(expected_shape[1:])
    if g.shape != shape:
        raise ValueError(f"{op}: argument 'grad_output' must have the forward output's shape "
                         f"{_fmt(shape)}, got {_fmt(g.shape)}")
    return g if batched else g[np.newaxis]


def check_output_mask(op: str, output_mask) -> Tuple[bool, bool, bool]:
    if isinstance(output_mask, (str, bytes)) or not isinstance(output_mask, Sequence) \
            or len(output_mask) != 3:
        raise TypeError(f"{op}: argument 'output_mask' must be a sequence of 3 bools "
                        f"(grad_input, grad_weight, grad_bias), got {output_mask!r}")
    return tuple(bool(m) for m in output_mask)
