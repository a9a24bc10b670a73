"""Argument checking and normalisation for every fastconv op, in one place.

Each check raises ``ValueError`` (a bad value) or ``TypeError`` (a bad type) with a message that
starts with the op's name and says which argument, what was expected and what was given. All
size arithmetic is done on Python integers (no overflow) and checked before anything is allocated.
"""

from __future__ import annotations

import functools
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


def check_same_dtype(op: str, reference_name: str, dtype: np.dtype, **others) -> None:
    """Every array in `others` (None: absent) has `dtype`, the dtype of `reference_name`."""
    for name, array in others.items():
        if array is not None and array.dtype != dtype:
            raise TypeError(
                f"{op}: argument '{name}' has dtype {array.dtype} but '{reference_name}' has dtype "
                f"{dtype}; expected the same dtype (convert one with .astype())")


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
    # `type(...) is int` first: the ABC check costs ~1 us, and small calls pay for every one
    return type(value) is int or (isinstance(value, numbers.Integral)
                                  and not isinstance(value, bool))


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

    @functools.cached_property
    def output_shape(self) -> IntTuple:
        n = self.input.shape[0]
        if self.op.startswith("conv_transpose"):
            return (n, self.weight.shape[1] * self.groups) + self.output_size
        return (n, self.weight.shape[0]) + self.output_size

    @functools.cached_property
    def launch(self) -> Tuple[IntTuple, IntTuple, IntTuple, int]:
        """The kernels' geometry arguments: stride, padding before and dilation as (D, H, W)
        triples (1, 0 and 1 for the dims a 1-D or 2-D op does not have), and groups."""
        lead = 3 - self.ndim
        return ((1,) * lead + self.stride, (0,) * lead + self.pad_before,
                (1,) * lead + self.dilation, self.groups)


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


def _plain_arguments(arguments) -> bool:
    """Ints, strs and tuples of ints only: the argument types whose hash and equality say exactly
    what validation sees (a bool, a float or np.int64 hashes like an int but validates
    differently). Plain loops: this runs on every call of a small convolution."""
    for a in arguments:
        kind = type(a)
        if kind is tuple:
            for v in a:
                if type(v) is not int:
                    return False
        elif kind is not int and kind is not str:
            return False
    return True


def plain_call_key(op: str, input, weight, bias, arguments):
    """A cache key for a call on plain NumPy arrays with plain arguments: the op, the arrays'
    shapes and dtypes, and the arguments; None for any other call (it must validate fully)."""
    if (type(input) is not np.ndarray or type(weight) is not np.ndarray
            or (bias is not None and type(bias) is not np.ndarray)
            or not _plain_arguments(arguments)):
        return None
    return (op, input.shape, input.dtype, weight.shape, weight.dtype,
            None if bias is None else (bias.shape, bias.dtype)) + arguments


def _memoized(validate):
    """Caches `validate`'s geometry per (shapes, dtypes, arguments), for calls on plain NumPy
    arrays with plain arguments: small convolutions (a Fashion-MNIST layer at batch 1) otherwise
    spend more time here than in the kernel. Only successful validations are cached, without
    their arrays (the cache never keeps a user's data alive); any other call validates fully."""
    cache = {}

    def validated(op, ndim, input, weight, bias, *arguments):
        key = plain_call_key(op, input, weight, bias, (ndim,) + arguments)
        if key is None:
            return validate(op, ndim, input, weight, bias, *arguments)
        bound = cache.get(key)
        if bound is None:
            problem = validate(op, ndim, input, weight, bias, *arguments)
            problem.output_shape, problem.launch  # computed once, kept with the geometry
            if len(cache) >= 512:
                cache.clear()
            # The validated geometry as class attributes of a subclass made for this signature:
            # a hit then only sets the three arrays (0.2 us against 0.6 us for copying every
            # field into a new instance).
            geometry = dict(problem.__dict__)
            for name in ("input", "weight", "bias"):
                del geometry[name]
            cache[key] = type("ValidatedConvProblem", (ConvProblem,), geometry)
            return problem
        problem = object.__new__(bound)
        fields = problem.__dict__  # ConvProblem is frozen: set through its __dict__
        fields["input"] = input if bound.batched else input[np.newaxis]
        fields["weight"] = weight
        fields["bias"] = bias
        return problem

    validated.__doc__ = validate.__doc__
    validated.cache = cache
    return validated


@_memoized
def validate_conv(op: str, ndim: int, input, weight, bias, stride, padding, dilation, groups,
                  padding_mode: str = "zeros") -> ConvProblem:
    x = as_float_array(op, "input", input)
    w = as_float_array(op, "weight", weight)
    b = as_float_array(op, "bias", bias, allow_none=True)
    check_same_dtype(op, "input", x.dtype, weight=w, bias=b)
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


@_memoized
def validate_conv_transpose(op: str, ndim: int, input, weight, bias, stride, padding,
                            output_padding, groups, dilation) -> ConvProblem:
    x = as_float_array(op, "input", input)
    w = as_float_array(op, "weight", weight)
    b = as_float_array(op, "bias", bias, allow_none=True)
    check_same_dtype(op, "input", x.dtype, weight=w, bias=b)
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
    check_same_dtype(op, "input", dtype, grad_output=g)
    shape = tuple(expected_shape) if batched else tuple(expected_shape[1:])
    if g.shape != shape:
        raise ValueError(f"{op}: argument 'grad_output' must have the forward output's shape "
                         f"{_fmt(shape)}, got {_fmt(g.shape)}")
    return g if batched else g[np.newaxis]


def check_output_mask(op: str, output_mask) -> Tuple[bool, bool, bool]:
    if type(output_mask) is tuple and len(output_mask) == 3:  # the common case, without ABCs
        return tuple(bool(m) for m in output_mask)
    if isinstance(output_mask, (str, bytes)) or not isinstance(output_mask, Sequence) \
            or len(output_mask) != 3:
        raise TypeError(f"{op}: argument 'output_mask' must be a sequence of 3 bools "
                        f"(grad_input, grad_weight, grad_bias), got {output_mask!r}")
    return tuple(bool(m) for m in output_mask)


# ================================================================================== pooling
# Checks for the pooling ops (fastconv/pooling.py). Torch's rules: stride defaults to the kernel
# size; padding at most half the kernel size (torch compares with kernel_size // 2, not with the
# dilated kernel); output size floor-or-ceil((L + 2p - d(k-1) - 1) / s) + 1, and with ceil_mode
# the last window must start inside the input or the left padding.

POOL_PADDING_STRINGS = ("same", "valid")


@dataclass(frozen=True)
class PoolProblem:
    """A validated pooling: input batched (N, C, *spatial), geometry per spatial dim."""
    op: str
    ndim: int
    batched: bool
    input: np.ndarray
    kernel: IntTuple
    stride: IntTuple
    dilation: IntTuple
    pad_before: IntTuple
    pad_after: IntTuple
    output_size: IntTuple
    tf_padding: Optional[str]  # "same" / "valid" where given, else None

    @property
    def output_shape(self) -> IntTuple:
        return tuple(self.input.shape[:2]) + self.output_size


def check_bool(op: str, name: str, value) -> bool:
    if isinstance(value, (bool, np.bool_)) or (_is_int(value) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{op}: argument '{name}' must be a bool, got {value!r}")


def _pool_kernel_stride(op: str, ndim: int, kernel_size, stride) -> Tuple[IntTuple, IntTuple]:
    kernel = int_tuple(op, "kernel_size", kernel_size, ndim, minimum=1)
    if stride is None or (isinstance(stride, Sequence) and not isinstance(stride, str)
                          and len(stride) == 0):
        return kernel, kernel  # torch: stride=None (or []) means stride = kernel_size
    return kernel, int_tuple(op, "stride", stride, ndim, minimum=1)


def pool_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                     ceil_mode: bool) -> int:
    """torch's pooling_output_shape (may return < 1; the caller reports it)."""
    numerator = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1  # floor division, as torch's div_rtn
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _empty_window_dims(size, kernel, stride, dilation, pad_before, out):
    """Output positions whose dilated window holds no input cell (torch then returns -inf with an
    index outside the plane; fastconv refuses such a geometry)."""
    start = np.arange(out, dtype=np.int64) * stride - pad_before
    first = np.where(start < 0, (-start + dilation - 1) // dilation, 0)  # first tap >= 0
    pos = start + first * dilation
    return np.flatnonzero((first >= kernel) | (pos >= size))


def validate_pool(op: str, ndim: int, input, kernel_size, stride, padding, dilation,
                  ceil_mode, *, kind: str) -> PoolProblem:
    """kind: 'max', 'avg' or 'lp' (avg and lp have no dilation)."""
    x = as_float_array(op, "input", input)
    batched = check_ndim(op, "input", x, ndim, unbatched_ok=True)
    if not batched:
        x = x[np.newaxis]
    kernel, stride = _pool_kernel_stride(op, ndim, kernel_size, stride)
    dilation = int_tuple(op, "dilation", dilation, ndim, minimum=1)
    ceil_mode = check_bool(op, "ceil_mode", ceil_mode)
    size = tuple(int(s) for s in x.shape[2:])
    tf_padding = None
    if isinstance(padding, str):
        if padding not in POOL_PADDING_STRINGS:
            raise ValueError(f"{op}: argument 'padding' must be 'same', 'valid', an int or a tuple "
                             f"of {ndim} ints, got {padding!r}")
        tf_padding = padding
        if padding == "same" and ceil_mode:
            raise ValueError(f"{op}: argument 'ceil_mode' must be False with padding='same' (the "
                             f"output size is ceil(input / stride)), got ceil_mode=True")
    if tf_padding == "same":
        for i in range(ndim):
            if size[i] < 1:
                raise ValueError(f"{op}: input spatial dim {i} has size 0; padding='same' needs "
                                 f"a non-empty input (input shape {_fmt(x.shape)})")
        pads = [_same_pads(size[i], kernel[i], stride[i], dilation[i]) for i in range(ndim)]
        out = [-(-size[i] // stride[i]) for i in range(ndim)]
    else:
        pad = (0,) * ndim if tf_padding == "valid" else \
            int_tuple(op, "padding", padding, ndim, minimum=0)
        for i in range(ndim):
            if pad[i] > kernel[i] // 2:
                raise ValueError(
                    f"{op}: pad should be at most half of kernel size, but got pad={pad[i]}, "
                    f"kernel_size={kernel[i]} and dilation={dilation[i]} in spatial dim {i} (torch "
                    f"requires pad <= kernel_size // 2 = {kernel[i] // 2})")
        pads = [(p, p) for p in pad]
        out = []
        for i in range(ndim):
            o = pool_output_size(size[i], kernel[i], stride[i], pad[i], dilation[i], ceil_mode)
            if o < 1:
                rounding = "ceil" if ceil_mode else "floor"
                raise ValueError(
                    f"{op}: output size below 1 in spatial dim {i}: {rounding}((input + 2 * padding "
                    f"- dilation * (kernel_size - 1) - 1) / stride) + 1 = {rounding}(({size[i]} + 2 "
                    f"* {pad[i]} - {dilation[i]} * ({kernel[i]} - 1) - 1) / {stride[i]}) + 1 = {o} "
                    f"(input shape {_fmt(x.shape)}); use a larger input or padding, or a smaller "
                    f"kernel or dilation")
            out.append(o)
    if kind == "max":
        for i in range(ndim):
            if dilation[i] > 1:
                empty = _empty_window_dims(size[i], kernel[i], stride[i], dilation[i], pads[i][0],
                                           out[i])
                if empty.size:
                    raise ValueError(
                        f"{op}: with dilation={dilation[i]}, kernel_size={kernel[i]}, "
                        f"padding={pads[i]} and input size {size[i]}, the window of output "
                        f"{int(empty[0])} in spatial dim {i} holds no input cell (torch returns "
                        f"-inf with an out-of-range index there); use less padding or dilation")
    problem = PoolProblem(op=op, ndim=ndim, batched=batched, input=x, kernel=kernel,
                          stride=stride, dilation=dilation, pad_before=tuple(p[0] for p in pads),
                          pad_after=tuple(p[1] for p in pads), output_size=tuple(out),
                          tf_padding=tf_padding)
    check_num_elements(op, "output", problem.output_shape)
    return problem


def check_divisor_override(op: str, value) -> int:
    """None -> 0 (no override); else a non-zero int (torch accepts negative divisors)."""
    if value is None:
        return 0
    if not _is_int(value):
        raise TypeError(f"{op}: argument 'divisor_override' must be None or an int, got {value!r}")
    if value == 0:
        raise ValueError(f"{op}: argument 'divisor_override' must be non-zero, got 0")
    if abs(value) > MAX_EXTENT:
        raise ValueError(f"{op}: argument 'divisor_override' must be at most {MAX_EXTENT} in "
                         f"magnitude, got {value!r}")
    return int(value)


def check_norm_type(op: str, norm_type) -> float:
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"{op}: argument 'norm_type' must be a positive number, got {norm_type!r}")
    value = float(norm_type)
    if not value > 0:  # also refuses NaN
        raise ValueError(f"{op}: argument 'norm_type' must be positive (p > 0; inf gives max "
                         f"pooling of |x|), got {norm_type!r}")
    return value


def check_indices(op: str, name: str, indices, shape: Sequence[int], plane: int,
                  plane_what: str, check_range: bool = True) -> np.ndarray:
    """int64 indices of the given shape, each in [0, plane): checked before a kernel runs.
    check_range=False leaves the range to the caller: the index kernels count the indices
    outside the plane without following them (and raise), and check_index_range then names
    the first one; so a valid call pays no extra pass over its indices."""
    if not isinstance(indices, np.ndarray):
        if not hasattr(indices, "__array__") and not isinstance(indices, (list, tuple)):
            raise TypeError(f"{op}: argument '{name}' must be an int64 array, got "
                            f"{type(indices).__name__}")
        indices = np.asarray(indices)
    if indices.dtype != np.int64:
        raise TypeError(f"{op}: argument '{name}' must have dtype int64 (as the forward returns "
                        f"it), got {indices.dtype}")
    if tuple(indices.shape) != tuple(shape):
        raise ValueError(f"{op}: argument '{name}' must have shape {_fmt(shape)}, got "
                         f"{_fmt(indices.shape)}")
    if check_range:
        check_index_range(op, name, indices, plane, plane_what)
    return indices


def check_index_range(op: str, name: str, indices: np.ndarray, plane: int,
                      plane_what: str) -> None:
    """Raises ValueError naming an index of `indices` outside [0, plane) and where it is."""
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= plane:
            bad = lo if lo < 0 else hi
            at = tuple(int(i) for i in np.argwhere(indices == bad)[0])
            raise ValueError(f"{op}: argument '{name}' holds {bad} at {at}, outside [0, {plane}) "
                             f"(the {plane_what})")


def validate_adaptive(op: str, ndim: int, input, output_size) -> Tuple[np.ndarray, bool, IntTuple]:
    """Returns (batched input, batched, output spatial size); None entries keep the input size."""
    x = as_float_array(op, "input", input)
    batched = check_ndim(op, "input", x, ndim, unbatched_ok=True)
    if not batched:
        x = x[np.newaxis]
    size = tuple(int(s) for s in x.shape[2:])
    for i in range(ndim):
        if size[i] < 1:
            raise ValueError(f"{op}: argument 'input' must have non-empty spatial dims, got shape "
                             f"{_fmt(x.shape[2:] if batched else x.shape[1:])}")
    items = (output_size,) * ndim if (_is_int(output_size) or output_size is None) \
        else output_size
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or len(items) != ndim \
            or not all(v is None or _is_int(v) for v in items):
        raise TypeError(f"{op}: argument 'output_size' must be an int, None or a tuple of {ndim} "
                        f"ints or Nones, got {output_size!r}")
    out = tuple(size[i] if v is None else int(v) for i, v in enumerate(items))
    if any(v < 1 for v in out):
        raise ValueError(f"{op}: argument 'output_size' must be positive, got {output_size!r}")
    if any(v >= 2**31 for v in out) or any(v >= 2**31 for v in size):
        raise ValueError(f"{op}: adaptive pooling supports sizes below 2**31, got output_size="
                         f"{output_size!r} for input shape {_fmt(x.shape)}")
    check_num_elements(op, "output", tuple(x.shape[:2]) + out)
    return x, batched, out


def validate_unpool(op: str, ndim: int, input, indices, kernel_size, stride, padding,
                    output_size) -> Tuple[np.ndarray, np.ndarray, bool, IntTuple]:
    """Returns (batched input, batched indices, batched, output spatial size) with torch's
    default output size (L - 1) * stride - 2 * padding + kernel_size, or output_size (ndim or
    ndim + 2 entries) strictly within stride of it."""
    x = as_float_array(op, "input", input)
    batched = check_ndim(op, "input", x, ndim, unbatched_ok=True)
    kernel, stride = _pool_kernel_stride(op, ndim, kernel_size, stride)
    pad = int_tuple(op, "padding", padding, ndim, minimum=0)
    size = x.shape[-ndim:]
    default = [(size[i] - 1) * stride[i] + kernel[i] - 2 * pad[i] for i in range(ndim)]
    if output_size is None:
        out = default
    else:
        if isinstance(output_size, (str, bytes)) or not isinstance(output_size, Sequence) or \
                not all(_is_int(v) for v in output_size):
            raise TypeError(f"{op}: argument 'output_size' must be None or a tuple of ints, got "
                            f"{output_size!r}")
        out = [int(v) for v in output_size]
        if len(out) == ndim + 2:
            out = out[2:]
        if len(out) != ndim:
            raise ValueError(f"{op}: argument 'output_size' must have {ndim} or {ndim + 2} "
                             f"entries, got {len(output_size)}: {output_size!r}")
        for i in range(ndim):
            lo, hi = default[i] - stride[i], default[i] + stride[i]
            if not lo < out[i] < hi:
                raise ValueError(f"{op}: argument 'output_size' {output_size!r} is invalid: dim "
                                 f"{i} must be strictly between {lo} and {hi}")
    for i in range(ndim):
        if out[i] < 1:
            raise ValueError(
                f"{op}: output size below 1 in spatial dim {i}: (input - 1) * stride - 2 * "
                f"padding + kernel_size = ({size[i]} - 1) * {stride[i]} - 2 * {pad[i]} + "
                f"{kernel[i]} = {out[i]}; use a larger input or kernel, or less padding")
    out = tuple(out)
    xb = x if batched else x[np.newaxis]
    check_num_elements(op, "output", tuple(xb.shape[:2]) + out)
    plane = 1
    for v in out:
        plane *= v
    idx = check_indices(op, "indices", indices, x.shape, plane,
                        f"output plane {_fmt(out)} has {plane} cells")
    return xb, (idx if batched else idx[np.newaxis]), batched, out
