"""Bad input to the convolution ops (issue 2, item 7), and the input edge cases that must work.

Every bad argument raises ValueError (a bad value) or TypeError (a bad type) whose message starts
with the op's name and names the argument; where a size rule is broken, it gives the formula, the
values and a fix. Each case runs on every op it applies to: conv1d/2d/3d, conv_transpose1d/2d/3d
and their *_backward functions. Also here: zero-size batches (as torch does them), inputs that are
never modified, non-contiguous, read-only and list inputs, and shapes whose output would overflow
(refused before anything is allocated).
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import pytest

import fastconv
from fastconv import functional

from conftest import assert_close

# ------------------------------------------------------------------------------------ the ops


@dataclass(frozen=True)
class Op:
    ndim: int
    transposed: bool
    backward: bool

    @property
    def forward_name(self) -> str:
        return f"conv_transpose{self.ndim}d" if self.transposed else f"conv{self.ndim}d"

    @property
    def name(self) -> str:
        return self.forward_name + ("_backward" if self.backward else "")

    @property
    def fn(self) -> Callable:
        return getattr(fastconv, self.name)

    @property
    def forward_fn(self) -> Callable:
        return getattr(fastconv, self.forward_name)


OPS = [Op(d, t, b) for t in (False, True) for d in (1, 2, 3) for b in (False, True)]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These problems are tiny: one thread keeps the file fast on a busy machine (an OpenMP
    parallel region costs milliseconds when the cores are shared). Thread counts are
    test_threads.py's business."""
    before = fastconv.get_num_threads()
    fastconv.set_num_threads(1)
    yield
    fastconv.set_num_threads(before)

# the valid problem every bad-input case starts from
N, C_IN, C_OUT, SIZE, K = 2, 4, 6, 5, 3

_DATA = np.random.default_rng(7)  # values do not matter to the error cases


def rand(shape, dtype=np.float64, rng=None) -> np.ndarray:
    rng = _DATA if rng is None else rng
    return np.asarray(rng.standard_normal(shape)).astype(dtype)


def sp(op: Op, v) -> tuple:
    """A per-spatial-dim tuple of v."""
    return (v,) * op.ndim


def weight_shape(op: Op, c_in=C_IN, c_out=C_OUT, groups=1, k=K) -> tuple:
    if op.transposed:
        return (c_in, c_out // groups) + sp(op, k)
    return (c_out, c_in // groups) + sp(op, k)


def out_size(op: Op, size=SIZE, k=K) -> int:
    return size + k - 1 if op.transposed else size - k + 1


def out_shape(op: Op) -> tuple:
    return (N, C_OUT) + sp(op, out_size(op))


def valid_args(op: Op) -> Dict[str, object]:
    """A valid call of op (batch N, C_IN -> C_OUT channels, SIZE^d input, K^d kernel)."""
    kw = dict(input=rand((N, C_IN) + sp(op, SIZE)), weight=rand(weight_shape(op)))
    if op.backward:
        kw["grad_output"] = rand(out_shape(op))
    else:
        kw["bias"] = rand((C_OUT,))
    return kw


def problem(op: Op, rng, *, batch: Optional[int] = N, groups=1, size=SIZE, k=K,
            dtype=np.float64, bias=True, **geometry) -> Dict[str, object]:
    """Random arrays for op with the given geometry; for a backward op, a grad_output of the
    forward output's shape. batch=None: unbatched."""
    lead = (C_IN,) if batch is None else (batch, C_IN)
    kw = dict(input=rand(lead + sp(op, size), dtype, rng),
              weight=rand(weight_shape(op, groups=groups, k=k), dtype, rng), groups=groups,
              **geometry)
    if op.backward:
        y = op.forward_fn(**kw)
        kw["grad_output"] = rand(y.shape, dtype, rng)
    elif bias:
        kw["bias"] = rand((C_OUT,), dtype, rng)
    return kw


# -------------------------------------------------------------------------------- the checks

FIX = r"\b(use|increase|reduce|decrease|less|more|larger|smaller|bigger)\b"


def arg(name: str) -> str:
    """A regex for an argument's name as a whole word ('padding' does not match 'padding_mode'
    or 'output_padding')."""
    return rf"(?<![\w]){re.escape(name)}(?![\w])"


def shape_re(shape: Sequence[int]) -> str:
    """(2, 5, 7) or [2, 5, 7], as torch writes it."""
    return r"[\[(]" + r",\s*".join(str(s) for s in shape) + r",?[\])]"


def expect_error(name: str, exc, patterns: Sequence[str], fn: Callable, *args, **kwargs) -> str:
    """fn(*args, **kwargs) raises exc with a message that starts with `name` and contains each
    regex in `patterns` (case-insensitive); returns the message."""
    with pytest.raises(exc, match=rf"^{re.escape(name)}\b") as info:
        fn(*args, **kwargs)
    message = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, message, flags=re.IGNORECASE | re.DOTALL), \
            f"message does not match {pattern!r}: {message}"
    return message


@dataclass(frozen=True)
class Case:
    id: str
    applies: Callable[[Op], bool]
    args: Callable[[Op], dict]  # overrides of valid_args(op)
    exc: Union[type, Tuple[type, ...]]
    patterns: Callable[[Op], Sequence[str]]


ALL = lambda op: True  # noqa: E731
CONV = lambda op: not op.transposed  # noqa: E731
TRANSPOSED = lambda op: op.transposed  # noqa: E731
FORWARD = lambda op: not op.backward  # noqa: E731
BACKWARD = lambda op: op.backward  # noqa: E731
TWO_D = lambda op: op.ndim == 2  # noqa: E731  (variants of a case that every op runs)


def params(cases: Sequence[Case]):
    return [pytest.param(op, case, id=f"{op.name}-{case.id}")
            for case in cases for op in OPS if case.applies(op)]


def run_case(op: Op, case: Case) -> str:
    kwargs = {**valid_args(op), **case.args(op)}
    return expect_error(op.name, case.exc, case.patterns(op), op.fn, **kwargs)


# -------------------------------------------------------------------------- channels, groups

def _mismatch_patterns(op: Op):
    w = weight_shape(op)
    return [rf"given groups=1, weight of size\s*{shape_re(w)}, expected input\s*"
            rf"{shape_re((N, 5) + sp(op, SIZE))} to have {C_IN} channels, but got 5 channels "
            rf"instead"]


CHANNEL_CASES = [
    Case("channel_mismatch", ALL, lambda op: dict(input=rand((N, 5) + sp(op, SIZE))),
         ValueError, _mismatch_patterns),
    Case("channel_mismatch_unbatched", ALL, lambda op: dict(input=rand((5,) + sp(op, SIZE))),
         ValueError, lambda op: [rf"to have {C_IN} channels, but got 5 channels instead"]),
    # conv: weight (6, 2, k) with groups=4: 4 does not divide the 6 output channels
    Case("groups_not_dividing_out_channels", CONV,
         lambda op: dict(input=rand((N, 8) + sp(op, SIZE)), weight=rand((6, 2) + sp(op, K)),
                         groups=4),
         ValueError, lambda op: [r"groups=4", r"out(put)?[ _]channels", r"\b6\b"]),
    # conv: 5 input channels, groups=2 (for conv this is also a channel mismatch, as in torch)
    Case("groups_not_dividing_in_channels", CONV,
         lambda op: dict(input=rand((N, 5) + sp(op, SIZE)), weight=rand((6, 2) + sp(op, K)),
                         groups=2),
         ValueError, lambda op: [r"groups=2", arg("input"), r"\b5\b"]),
    # transposed: weight (5, 3, k), 5 input channels, groups=2
    Case("groups_not_dividing_in_channels", TRANSPOSED,
         lambda op: dict(input=rand((N, 5) + sp(op, SIZE)), weight=rand((5, 3) + sp(op, K)),
                         groups=2),
         ValueError, lambda op: [r"groups=2", r"in(put)?[ _]channels", r"\b5\b"]),
]


@pytest.mark.parametrize("op, case", params(CHANNEL_CASES))
def test_channels_and_groups(op, case):
    run_case(op, case)


# ---------------------------------------------------------------------------- size rules

def _kernel_patterns(padded: int, span: int):
    return lambda op: [r"kernel", r"padd", r"dilation", rf"\b{padded}\b", rf"\b{span}\b", FIX]


SIZE_CASES = [
    Case("kernel_larger_than_input", CONV, lambda op: dict(input=rand((N, C_IN) + sp(op, 2))),
         ValueError, _kernel_patterns(2, 3)),
    Case("kernel_larger_than_padded_input", CONV,
         lambda op: dict(input=rand((N, C_IN) + sp(op, 2)),
                         weight=rand((C_OUT, C_IN) + sp(op, 5)), padding=1),
         ValueError, _kernel_patterns(4, 5)),
    Case("dilated_kernel_larger_than_input", CONV, lambda op: dict(dilation=3),
         ValueError, _kernel_patterns(SIZE, 7)),
    Case("kernel_larger_than_reflect_padded_input", CONV,
         lambda op: dict(input=rand((N, C_IN) + sp(op, 2)),
                         weight=rand((C_OUT, C_IN) + sp(op, 5)), padding=1,
                         padding_mode="reflect"),
         ValueError, _kernel_patterns(4, 5)),
    Case("zero_size_kernel", ALL,
         lambda op: dict(weight=rand(weight_shape(op)[:-1] + (0,))),
         ValueError, lambda op: [r"kernel|weight"]),
    # transposed: (1 - 1) * 1 - 2 * 1 + 1 * (1 - 1) + 0 + 1 = -1
    Case("transposed_output_size_below_1", TRANSPOSED,
         lambda op: dict(input=rand((N, C_IN) + sp(op, 1)), weight=rand((C_IN, C_OUT) + sp(op, 1)),
                         padding=1),
         ValueError,
         lambda op: [r"output", r"stride", arg("padding"), r"dilation", r"kernel",
                     arg("output_padding"), r"= -1\b", FIX]),
    # (2 - 1) * 1 - 2 * 1 + 1 * (1 - 1) + 0 + 1 = 0
    Case("transposed_output_size_0", TRANSPOSED,
         lambda op: dict(input=rand((N, C_IN) + sp(op, 2)), weight=rand((C_IN, C_OUT) + sp(op, 1)),
                         padding=1),
         ValueError, lambda op: [r"output", arg("padding"), r"= 0\b", FIX]),
]


@pytest.mark.parametrize("op, case", params(SIZE_CASES))
def test_size_rules(op, case):
    run_case(op, case)


# -------------------------------------------------------------- stride, dilation, padding, groups

def _last(op: Op, v, fill=1) -> tuple:
    """A tuple of fill with v in the last spatial dim."""
    return (fill,) * (op.ndim - 1) + (v,)


GEOMETRY_VALUE_CASES = [
    Case("stride_0", ALL, lambda op: dict(stride=0), ValueError, lambda op: [arg("stride")]),
    Case("stride_negative", ALL, lambda op: dict(stride=-2), ValueError,
         lambda op: [arg("stride")]),
    Case("stride_0_in_tuple", TWO_D, lambda op: dict(stride=_last(op, 0)), ValueError,
         lambda op: [arg("stride")]),
    Case("dilation_0", ALL, lambda op: dict(dilation=0), ValueError,
         lambda op: [arg("dilation")]),
    Case("dilation_negative", TWO_D, lambda op: dict(dilation=-1), ValueError,
         lambda op: [arg("dilation")]),
    Case("dilation_0_in_tuple", TWO_D, lambda op: dict(dilation=_last(op, 0)), ValueError,
         lambda op: [arg("dilation")]),
    Case("padding_negative", ALL, lambda op: dict(padding=-1), ValueError,
         lambda op: [arg("padding"), r"-1"]),
    Case("padding_negative_in_tuple", TWO_D, lambda op: dict(padding=_last(op, -1, fill=0)),
         ValueError, lambda op: [arg("padding"), r"-1"]),
    Case("padding_negative_reflect", CONV,
         lambda op: dict(padding=-1, padding_mode="reflect"), ValueError,
         lambda op: [arg("padding")]),
    Case("output_padding_ge_stride", TRANSPOSED, lambda op: dict(stride=2, output_padding=2),
         ValueError, lambda op: [arg("output_padding"), arg("stride"), arg("dilation")]),
    Case("output_padding_ge_stride_and_dilation", TRANSPOSED,
         lambda op: dict(stride=2, dilation=2, output_padding=2),
         ValueError, lambda op: [arg("output_padding"), arg("stride"), arg("dilation")]),
    Case("output_padding_1_with_stride_1", TRANSPOSED, lambda op: dict(output_padding=1),
         ValueError, lambda op: [arg("output_padding"), arg("stride"), arg("dilation")]),
    Case("output_padding_ge_stride_in_tuple", TRANSPOSED,
         lambda op: dict(stride=2, output_padding=_last(op, 2, fill=0)),
         ValueError, lambda op: [arg("output_padding")]),
    Case("output_padding_negative", TRANSPOSED, lambda op: dict(stride=2, output_padding=-1),
         ValueError, lambda op: [arg("output_padding")]),
    Case("groups_0", ALL, lambda op: dict(groups=0), ValueError, lambda op: [arg("groups")]),
    Case("groups_negative", TWO_D, lambda op: dict(groups=-1), ValueError,
         lambda op: [arg("groups")]),
    Case("groups_float", ALL, lambda op: dict(groups=1.0), TypeError,
         lambda op: [arg("groups")]),
    Case("groups_str", TWO_D, lambda op: dict(groups="1"), TypeError, lambda op: [arg("groups")]),
    Case("groups_none", TWO_D, lambda op: dict(groups=None), TypeError,
         lambda op: [arg("groups")]),
]


@pytest.mark.parametrize("op, case", params(GEOMETRY_VALUE_CASES))
def test_bad_geometry_value(op, case):
    run_case(op, case)


def _type_cases():
    cases = []
    for name in ("stride", "padding", "dilation", "output_padding"):
        every = TRANSPOSED if name == "output_padding" else ALL
        bad = {
            "tuple_too_long": lambda op: (1,) * (op.ndim + 1),
            "tuple_too_short": lambda op: (1,) * (op.ndim - 1),
            "float": lambda op: 1.5,
            "tuple_of_floats": lambda op: (1.0,) * op.ndim,
            "none": lambda op: None,
            "bool": lambda op: True,
        }
        if name != "padding":  # a string padding is a padding rule, tested below
            bad["str"] = lambda op: "1"
        for what, value in bad.items():
            applies = every if what in ("tuple_too_long", "float") else \
                (lambda op, every=every: every(op) and TWO_D(op))
            cases.append(Case(f"{name}_{what}", applies,
                              lambda op, name=name, value=value: {name: value(op)},
                              TypeError, lambda op, name=name: [arg(name)]))
    return cases


@pytest.mark.parametrize("op, case", params(_type_cases()))
def test_bad_geometry_type(op, case):
    run_case(op, case)


PADDING_RULE_CASES = [
    Case("same_padding_on_transposed", TRANSPOSED, lambda op: dict(padding="same"), ValueError,
         lambda op: [arg("padding"), r"same"]),
    Case("unknown_padding_string", ALL, lambda op: dict(padding="full"), ValueError,
         lambda op: [arg("padding"), r"full"]),
    Case("padding_string_wrong_case", CONV, lambda op: dict(padding="SAME"), ValueError,
         lambda op: [arg("padding"), r"SAME"]),
    Case("unknown_padding_mode", CONV, lambda op: dict(padding_mode="zero"), ValueError,
         lambda op: [arg("padding_mode"), r"zero", r"reflect"]),
    Case("unknown_padding_mode_symmetric", CONV,
         lambda op: dict(padding_mode="symmetric", padding=1),
         ValueError, lambda op: [arg("padding_mode"), r"symmetric"]),
    Case("padding_mode_none", CONV, lambda op: dict(padding_mode=None), (TypeError, ValueError),
         lambda op: [arg("padding_mode")]),
    # reflect needs padding < size, circular padding <= size (torch's rules)
    Case("reflect_padding_equal_to_size", CONV,
         lambda op: dict(padding=SIZE, padding_mode="reflect"), ValueError,
         lambda op: [arg("padding"), r"reflect", rf"\b{SIZE}\b"]),
    Case("reflect_padding_in_one_dim", CONV,
         lambda op: dict(padding=_last(op, SIZE + 2, fill=1), padding_mode="reflect"), ValueError,
         lambda op: [arg("padding"), r"reflect", rf"\b{SIZE + 2}\b"]),
    Case("reflect_same_padding_too_large", CONV,
         lambda op: dict(input=rand((N, C_IN) + sp(op, 2)),
                         weight=rand((C_OUT, C_IN) + sp(op, 5)), padding="same",
                         padding_mode="reflect"),
         ValueError, lambda op: [arg("padding"), r"reflect"]),
    Case("circular_padding_larger_than_size", CONV,
         lambda op: dict(padding=SIZE + 1, padding_mode="circular"), ValueError,
         lambda op: [arg("padding"), r"circular", rf"\b{SIZE + 1}\b"]),
]


@pytest.mark.parametrize("op, case", params(PADDING_RULE_CASES))
def test_bad_padding_rule(op, case):
    run_case(op, case)


@pytest.mark.parametrize("op", [op for op in OPS if CONV(op)], ids=lambda op: op.name)
def test_reflect_and_circular_padding_at_their_limits_work(op, rng):
    """torch's limits: reflect padding up to size - 1, circular padding up to size."""
    for mode, pad in (("reflect", SIZE - 1), ("circular", SIZE), ("replicate", 3 * SIZE)):
        kw = problem(op, rng, padding=pad, padding_mode=mode)
        result = op.fn(**kw)
        if not op.backward:
            assert result.shape == (N, C_OUT) + sp(op, SIZE + 2 * pad - K + 1), mode


@pytest.mark.parametrize("op", [op for op in OPS if TRANSPOSED(op)], ids=lambda op: op.name)
def test_output_padding_below_dilation_works(op, rng):
    """output_padding must be below stride OR dilation (torch's rule), not both."""
    kw = problem(op, rng, stride=1, dilation=2, output_padding=1)
    result = op.fn(**kw)
    if not op.backward:
        assert result.shape == (N, C_OUT) + sp(op, (SIZE - 1) + 2 * (K - 1) + 1 + 1)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_numpy_integers_and_lists_as_geometry_work(op, rng):
    kw = problem(op, rng, stride=2, padding=1)
    expected = op.fn(**kw)
    kw.update(stride=[np.int64(2)] * op.ndim, padding=np.int32(1), groups=np.int64(1))
    got = op.fn(**kw)
    for g, e in zip(_as_tuple(got), _as_tuple(expected)):
        np.testing.assert_array_equal(g, e)


# ----------------------------------------------------------------------- dimensions, dtypes

NDIM_CASES = [
    Case("input_too_few_dims", ALL, lambda op: dict(input=rand(sp(op, SIZE))), ValueError,
         lambda op: [arg("input"), rf"\b{op.ndim + 2}\b", rf"\b{op.ndim}\b"]),
    Case("input_too_many_dims", ALL, lambda op: dict(input=rand((1, N, C_IN) + sp(op, SIZE))),
         ValueError, lambda op: [arg("input"), rf"\b{op.ndim + 2}\b", rf"\b{op.ndim + 3}\b"]),
    Case("input_0d", ALL, lambda op: dict(input=np.float64(1.0)), (ValueError, TypeError),
         lambda op: [arg("input")]),
    Case("weight_too_few_dims", ALL, lambda op: dict(weight=rand(weight_shape(op)[:-1])),
         ValueError, lambda op: [arg("weight"), rf"\b{op.ndim + 2}\b"]),
    Case("weight_too_many_dims", ALL, lambda op: dict(weight=rand((1,) + weight_shape(op))),
         ValueError, lambda op: [arg("weight"), rf"\b{op.ndim + 2}\b"]),
]


@pytest.mark.parametrize("op, case", params(NDIM_CASES))
def test_wrong_number_of_dimensions(op, case):
    run_case(op, case)


def _cast(a: np.ndarray, dtype) -> np.ndarray:
    if np.dtype(dtype).kind in "iub":
        return (a * 3).astype(dtype) if np.dtype(dtype).kind != "b" else a > 0
    return a.astype(dtype)


# every op, every array argument: an integer and a complex dtype; every op's input: bool and
# object too; conv2d and conv2d_backward: every unsupported dtype for every array argument
BAD_DTYPES_EVERY_ARG = [np.int64, np.complex128]
BAD_DTYPES_INPUT = [np.bool_, object]
BAD_DTYPES_CONV2D = [np.int32, np.uint8, np.int8, np.complex64, np.float16, np.longdouble]


def _dtype_params():
    out = []
    for op in OPS:
        for name in ("input", "weight", "grad_output" if op.backward else "bias"):
            dtypes = BAD_DTYPES_EVERY_ARG
            if name == "input" or op.forward_name == "conv2d":
                dtypes = dtypes + BAD_DTYPES_INPUT
            if op.forward_name == "conv2d":
                dtypes = dtypes + BAD_DTYPES_CONV2D
            for dtype in dtypes:
                out.append(pytest.param(op, name, dtype,
                                        id=f"{op.name}-{name}-{np.dtype(dtype).name}"))
    return out


@pytest.mark.parametrize("op, name, dtype", _dtype_params())
def test_unsupported_dtype(op, name, dtype):
    kwargs = valid_args(op)
    kwargs[name] = _cast(kwargs[name], dtype)
    expect_error(op.name, TypeError, [arg(name), re.escape(np.dtype(dtype).name),
                                      r"float32", r"float64"], op.fn, **kwargs)


def _mismatch_params():
    out = []
    for op in OPS:
        other = "grad_output" if op.backward else "bias"
        for name, input_dtype, other_dtype in (("weight", np.float32, np.float64),
                                               ("weight", np.float64, np.float32),
                                               (other, np.float64, np.float32),
                                               (other, np.float32, np.float64)):
            out.append(pytest.param(op, name, input_dtype, other_dtype,
                                    id=f"{op.name}-input_{np.dtype(input_dtype).name}-"
                                       f"{name}_{np.dtype(other_dtype).name}"))
    return out


@pytest.mark.parametrize("op, name, input_dtype, other_dtype", _mismatch_params())
def test_mismatched_dtypes(op, name, input_dtype, other_dtype):
    kwargs = {k: v.astype(input_dtype) for k, v in valid_args(op).items()}
    kwargs[name] = kwargs[name].astype(other_dtype)
    expect_error(op.name, TypeError,
                 [arg(name), arg("input"), np.dtype(input_dtype).name,
                  np.dtype(other_dtype).name], op.fn, **kwargs)


NOT_AN_ARRAY_CASES = [
    Case("input_none", ALL, lambda op: dict(input=None), TypeError, lambda op: [arg("input")]),
    Case("weight_none", ALL, lambda op: dict(weight=None), TypeError, lambda op: [arg("weight")]),
    Case("weight_str", ALL, lambda op: dict(weight="weights.npy"), TypeError,
         lambda op: [arg("weight")]),
    Case("input_float", ALL, lambda op: dict(input=1.5), (TypeError, ValueError),
         lambda op: [arg("input")]),
    Case("bias_float", FORWARD, lambda op: dict(bias=1.5), (TypeError, ValueError),
         lambda op: [arg("bias")]),
    Case("grad_output_none", BACKWARD, lambda op: dict(grad_output=None), TypeError,
         lambda op: [arg("grad_output")]),
]


@pytest.mark.parametrize("op, case", params(NOT_AN_ARRAY_CASES))
def test_not_an_array(op, case):
    run_case(op, case)


# --------------------------------------------------------------------------------------- bias

BIAS_CASES = [
    Case(f"bias_shape_{'x'.join(map(str, shape)) or 'scalar'}", FORWARD,
         lambda op, shape=shape: dict(bias=rand(shape)), ValueError,
         lambda op: [arg("bias"), rf"\b{C_OUT}\b"])
    for shape in [(C_OUT - 1,), (C_OUT + 1,), (C_OUT, 1), (1, C_OUT), (), (0,)]
]


@pytest.mark.parametrize("op, case", params(BIAS_CASES))
def test_bias_of_wrong_shape(op, case):
    run_case(op, case)


# ------------------------------------------------------------------------ backward arguments

def _grad_output_cases():
    def shape_with(op, **change):
        shape = list(out_shape(op))
        for index, delta in change.items():
            shape[int(index[1:])] += delta
        return tuple(shape)

    def expected(op):
        return [arg("grad_output"), shape_re(out_shape(op))]

    return [
        Case("grad_output_spatial_too_large", BACKWARD,
             lambda op: dict(grad_output=rand(shape_with(op, d2=1))), ValueError, expected),
        Case("grad_output_spatial_too_small", BACKWARD,
             lambda op: dict(grad_output=rand(out_shape(op)[:-1] + (out_shape(op)[-1] - 1,))),
             ValueError, expected),
        Case("grad_output_wrong_channels", BACKWARD,
             lambda op: dict(grad_output=rand(shape_with(op, d1=1))), ValueError, expected),
        Case("grad_output_wrong_batch", BACKWARD,
             lambda op: dict(grad_output=rand(shape_with(op, d0=1))), ValueError, expected),
        Case("grad_output_unbatched_for_batched_input", BACKWARD,
             lambda op: dict(grad_output=rand(out_shape(op)[1:])), ValueError, expected),
        Case("grad_output_batched_for_unbatched_input", BACKWARD,
             lambda op: dict(input=rand((C_IN,) + sp(op, SIZE)),
                             grad_output=rand((1,) + out_shape(op)[1:])),
             ValueError, lambda op: [arg("grad_output"), shape_re(out_shape(op)[1:])]),
        Case("grad_output_extra_dim", BACKWARD,
             lambda op: dict(grad_output=rand((1,) + out_shape(op))), ValueError, expected),
        Case("grad_output_int", BACKWARD,
             lambda op: dict(grad_output=_cast(rand(out_shape(op)), np.int64)), TypeError,
             lambda op: [arg("grad_output"), r"int64"]),
        Case("grad_output_float32_for_float64", BACKWARD,
             lambda op: dict(grad_output=rand(out_shape(op), np.float32)), TypeError,
             lambda op: [arg("grad_output"), r"float32", r"float64"]),
    ]


@pytest.mark.parametrize("op, case", params(_grad_output_cases()))
def test_bad_grad_output(op, case):
    run_case(op, case)


OUTPUT_MASK_CASES = [
    Case(f"output_mask_{what}", BACKWARD, lambda op, value=value: dict(output_mask=value),
         TypeError, lambda op: [arg("output_mask")])
    for what, value in [("length_2", (True, True)), ("length_4", (True, True, True, True)),
                        ("empty", ()), ("none", None), ("bool", True), ("str", "yes"),
                        ("int", 7)]
]


@pytest.mark.parametrize("op, case", params(OUTPUT_MASK_CASES))
def test_bad_output_mask(op, case):
    run_case(op, case)


@pytest.mark.parametrize("op", [op for op in OPS if op.backward], ids=lambda op: op.name)
def test_output_mask_selects_gradients(op, rng):
    kw = problem(op, rng)
    full = op.fn(**kw)
    for mask in itertools.product((False, True), repeat=3):
        got = op.fn(**kw, output_mask=list(mask))
        for want, g, f in zip(mask, got, full):
            if want:
                np.testing.assert_array_equal(g, f)
            else:
                assert g is None


ALGORITHM_CASES = [
    Case("unknown_algorithm", ALL, lambda op: dict(algorithm="winograd_9x9"), ValueError,
         lambda op: [arg("algorithm"), r"winograd_9x9", r"auto"]),
    Case("algorithm_wrong_case", ALL, lambda op: dict(algorithm="AUTO"), ValueError,
         lambda op: [arg("algorithm"), r"AUTO"]),
    Case("algorithm_none", ALL, lambda op: dict(algorithm=None), (TypeError, ValueError),
         lambda op: [arg("algorithm")]),
]


@pytest.mark.parametrize("op, case", params(ALGORITHM_CASES))
def test_bad_algorithm(op, case):
    run_case(op, case)


# ---------------------------------------------------------------------------------- threads

@pytest.mark.parametrize("value, exc", [
    pytest.param(0, ValueError, id="zero"),
    pytest.param(-1, ValueError, id="negative"),
    pytest.param("2", TypeError, id="str"),
    pytest.param(2.0, TypeError, id="float"),
    pytest.param(None, TypeError, id="none"),
    pytest.param(True, TypeError, id="bool"),
])
def test_set_num_threads_bad_value(value, exc, restore_threads):
    before = fastconv.get_num_threads()
    expect_error("set_num_threads", exc, [arg("n"), re.escape(repr(value))],
                 fastconv.set_num_threads, value)
    assert fastconv.get_num_threads() == before


# ---------------------------------------------------------------------- overflow, 64-bit sizes

@pytest.fixture
def no_allocation(monkeypatch):
    """Fails the test if the op allocates anything large, pads, or reaches a compiled kernel:
    a shape that is refused must be refused by the checks, before any of that."""
    limit = 1 << 20

    def count(shape):
        if isinstance(shape, numbers.Integral):
            return int(shape)
        return math.prod(int(s) for s in shape)

    def guard(real):
        def allocate(shape, *args, **kwargs):
            if count(shape) > limit:
                raise AssertionError(f"allocated an array of shape {shape} before refusing")
            return real(shape, *args, **kwargs)
        return allocate

    for name in ("empty", "zeros", "ones", "full"):
        monkeypatch.setattr(np, name, guard(getattr(np, name)))

    real_pad = np.pad

    def pad(array, pad_width, *args, **kwargs):
        if max(int(p) for p in np.ravel(np.asarray(pad_width, dtype=object))) > limit:
            raise AssertionError(f"padded by {pad_width} before refusing")
        return real_pad(array, pad_width, *args, **kwargs)

    monkeypatch.setattr(np, "pad", pad)

    class NoKernel:
        def __getattr__(self, name):
            raise AssertionError(f"called the compiled kernel _C.{name} before refusing")

    monkeypatch.setattr(functional, "_C", NoKernel())


HUGE = 2**39

OVERFLOW_CASES = [
    # output (2, 6, 2**40 + 3, 2**40 + 3, 2**40 + 3): ~2**123 elements
    Case("padding_2**39", lambda op: CONV(op) and op.ndim == 3, lambda op: dict(padding=HUGE),
         ValueError, lambda op: [r"output|padding|size"]),
    Case("padding_2**40", lambda op: CONV(op) and op.ndim == 2, lambda op: dict(padding=2 * HUGE),
         ValueError, lambda op: [r"output|padding|size"]),
    # small output, but the padded input (before a replicate-mode kernel) has ~2**120 elements
    Case("replicate_padding_2**39_stride_2**40", lambda op: CONV(op) and op.ndim == 3,
         lambda op: dict(padding=HUGE, stride=2 * HUGE, padding_mode="replicate"),
         ValueError, lambda op: [r"padd"]),
    # transposed: output (2, 6, 2**40 + 5, ...) from a huge dilation or stride
    Case("dilation_2**39", lambda op: TRANSPOSED(op) and op.ndim == 3,
         lambda op: dict(dilation=HUGE), ValueError, lambda op: [r"output|dilation|size"]),
    Case("stride_2**39", lambda op: TRANSPOSED(op) and op.ndim == 3,
         lambda op: dict(stride=HUGE), ValueError, lambda op: [r"output|stride|size"]),
    Case("stride_and_dilation_2**39", lambda op: TRANSPOSED(op) and op.ndim == 2,
         lambda op: dict(stride=HUGE, dilation=HUGE, output_padding=1),
         ValueError, lambda op: [r"output|stride|dilation|size"]),
    # values beyond int64: no OverflowError from a conversion, a ValueError naming the argument
    Case("padding_2**64", ALL, lambda op: dict(padding=2**64), ValueError,
         lambda op: [arg("padding")]),
    Case("stride_2**70", ALL, lambda op: dict(stride=2**70), ValueError,
         lambda op: [arg("stride")]),
    Case("dilation_2**63", TWO_D, lambda op: dict(dilation=2**63), ValueError,
         lambda op: [arg("dilation")]),
    Case("groups_2**64", TWO_D, lambda op: dict(groups=2**64), ValueError,
         lambda op: [arg("groups")]),
    Case("output_padding_2**64", TRANSPOSED,
         lambda op: dict(stride=2**64, output_padding=2**64 - 1), ValueError,
         lambda op: [r"stride|output_padding"]),
]


@pytest.mark.parametrize("op, case", params(OVERFLOW_CASES))
def test_overflowing_shape_refused_before_allocation(op, case, no_allocation):
    start = time.perf_counter()
    run_case(op, case)
    assert time.perf_counter() - start < 0.5, "refusing a huge shape must be instant"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_huge_dilation_and_padding_use_64_bit_indices(op, rng):
    """dilation = padding = 2**39 with a 3-tap kernel: only the centre tap ever lands inside the
    input, at the output's own position (taps at -2**39 and +2**39 fall in the zero padding).
    The result is a 1x1 convolution with the centre tap; 32-bit index arithmetic would wrap."""
    kw = problem(op, rng, dilation=HUGE, padding=HUGE)
    x, w = kw["input"], kw["weight"]
    centre = w[(Ellipsis,) + (1,) * op.ndim]  # (C_out, C_in) or (C_in, C_out)
    wc = centre.T if op.transposed else centre  # (C_out, C_in)
    s = "xyz"[:op.ndim]
    spatial = tuple(range(2, 2 + op.ndim))
    if not op.backward:
        y = op.fn(**kw)
        expected = np.einsum(f"nc{s},oc->no{s}", x, wc) + kw["bias"].reshape((-1,) + (1,) * op.ndim)
        assert_close(y, expected, reduction=C_IN)
        return
    gy = kw["grad_output"]
    assert gy.shape == (N, C_OUT) + x.shape[2:]
    gx, gw, gb = op.fn(**kw)
    assert_close(gx, np.einsum(f"no{s},oc->nc{s}", gy, wc), reduction=C_OUT, what="grad_input")
    gc = np.einsum(f"no{s},nc{s}->oc", gy, x)  # (C_out, C_in)
    gw_expected = np.zeros_like(w)
    gw_expected[(Ellipsis,) + (1,) * op.ndim] = gc.T if op.transposed else gc
    assert_close(gw, gw_expected, reduction=gy[:, 0].size, what="grad_weight")
    assert_close(gb, gy.sum(axis=(0,) + spatial), reduction=gy[:, 0].size, what="grad_bias")


# ------------------------------------------------------------------------- zero-size batch

ZERO_BATCH_GEOMETRIES = {
    "plain": dict(),
    "stride2_pad1_groups2": dict(stride=2, padding=1, groups=2),
    "dilation2_same": dict(dilation=2, padding="same"),
    "reflect_flip": dict(padding=2, padding_mode="reflect", flip=True),
    "output_padding": dict(stride=2, padding=1, output_padding=1, groups=2),
}


def _zero_batch_params(torch_only: bool):
    out = []
    for op in OPS:
        if op.backward:
            continue
        for gid, geometry in ZERO_BATCH_GEOMETRIES.items():
            if op.transposed and ("padding_mode" in geometry or geometry.get("padding") == "same"):
                continue
            if not op.transposed and "output_padding" in geometry:
                continue
            if torch_only and ("padding_mode" in geometry or "flip" in geometry):
                continue
            out.append(pytest.param(op, geometry, id=f"{op.name}-{gid}"))
    return out


def _zero_batch_run(op: Op, geometry: dict, rng):
    groups = geometry.get("groups", 1)
    x = rand((0, C_IN) + sp(op, SIZE), rng=rng)
    w = rand(weight_shape(op, groups=groups), rng=rng)
    b = rand((C_OUT,), rng=rng)
    y = op.fn(x, w, b, **geometry)
    backward = getattr(fastconv, op.name + "_backward")
    gy = rand(y.shape, rng=rng)
    grads = backward(gy, x, w, **geometry)
    return (x, w, b, gy), y, grads


@pytest.mark.parametrize("op, geometry", _zero_batch_params(torch_only=False))
def test_zero_size_batch(op, geometry, rng):
    (x, w, b, gy), y, (gx, gw, gb) = _zero_batch_run(op, geometry, rng)
    assert y.shape[:2] == (0, C_OUT) and y.ndim == 2 + op.ndim and min(y.shape[2:]) >= 1
    assert y.dtype == x.dtype
    # the output's spatial size is the one batch 1 gives
    one = op.fn(rand((1, C_IN) + sp(op, SIZE), rng=rng), w, b, **geometry)
    assert y.shape[2:] == one.shape[2:]
    assert gx.shape == x.shape and gx.dtype == x.dtype
    np.testing.assert_array_equal(gw, np.zeros_like(w))
    np.testing.assert_array_equal(gb, np.zeros_like(b))


@pytest.mark.torch
@pytest.mark.parametrize("op, geometry", _zero_batch_params(torch_only=True))
def test_zero_size_batch_matches_torch(op, geometry, rng):
    torch = pytest.importorskip("torch")
    (x, w, b, gy), y, (gx, gw, gb) = _zero_batch_run(op, geometry, rng)
    X, W, B = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    Y = getattr(torch.nn.functional, op.name)(X, W, B, **geometry)
    GX, GW, GB = torch.autograd.grad(Y, (X, W, B), torch.from_numpy(gy), allow_unused=True)
    assert y.shape == tuple(Y.shape)
    for got, ref, what in ((gx, GX, "grad_input"), (gw, GW, "grad_weight"), (gb, GB, "grad_bias")):
        ref = np.zeros(got.shape) if ref is None else ref.numpy()
        assert got.shape == ref.shape, what
        np.testing.assert_array_equal(got, ref, err_msg=what)


# ------------------------------------------------------------- inputs are never modified

def _geometries(op: Op):
    if op.transposed:
        return {
            "plain": dict(),
            "stride2_output_padding": dict(stride=2, padding=1, output_padding=1, groups=2),
            "dilation2": dict(dilation=2, padding=2),
            "unbatched": dict(batch=None),
            "kernel1": dict(k=1),
        }
    return {
        "plain": dict(),
        "same_stride2": dict(stride=2, padding="same", groups=2),
        "reflect": dict(padding=2, padding_mode="reflect"),
        "circular": dict(padding=(1,) * (op.ndim - 1) + (3,), padding_mode="circular"),
        "replicate_same": dict(padding="same", padding_mode="replicate", dilation=2),
        "flip": dict(flip=True, padding=1),
        "flip_reflect_unbatched": dict(flip=True, padding=1, padding_mode="reflect", batch=None),
        "kernel1": dict(k=1),
    }


def _geometry_params():
    return [pytest.param(op, geometry, id=f"{op.name}-{gid}")
            for op in OPS for gid, geometry in _geometries(op).items()]


def _as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


ARRAY_ARGS = ("input", "weight", "bias", "grad_output")


@pytest.mark.parametrize("op, geometry", _geometry_params())
def test_inputs_are_never_modified(op, geometry, rng):
    kw = problem(op, rng, **geometry)
    before = {k: v.copy() for k, v in kw.items() if k in ARRAY_ARGS}
    results = _as_tuple(op.fn(**kw))
    for name, copy in before.items():
        np.testing.assert_array_equal(kw[name], copy, err_msg=f"{op.name} modified '{name}'")
        for r in results:
            assert r is None or not np.shares_memory(r, kw[name]), \
                f"{op.name}: a result shares memory with '{name}'"


def _noncontiguous(a: np.ndarray, how: str) -> np.ndarray:
    """a's values in a non-contiguous layout."""
    if how == "strided":
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1] + 1,), dtype=a.dtype)
        big[..., 1::2] = a
        view = big[..., 1::2]
    elif how == "reversed":
        view = np.ascontiguousarray(a[..., ::-1])[..., ::-1]
    elif how == "fortran":
        view = np.asfortranarray(a)
        if a.ndim == 1:  # a 1-D Fortran array is contiguous: take every other element instead
            return _noncontiguous(a, "strided")
    elif how == "moved_axes":
        view = np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 0, -1)), -1, 0)
        if a.ndim == 1:
            return _noncontiguous(a, "reversed")
    else:
        raise AssertionError(how)
    assert np.array_equal(view, a) and not view.flags.c_contiguous
    return view


def _noncontiguous_params():
    """Every layout on the plain problem of every op; two layouts on a few harder geometries."""
    out = []
    for op in OPS:
        for gid, geometry in _geometries(op).items():
            if gid == "plain":
                hows = ("strided", "reversed", "fortran", "moved_axes")
            elif gid in ("reflect", "stride2_output_padding", "flip_reflect_unbatched"):
                hows = ("strided", "moved_axes")
            else:
                continue
            out += [pytest.param(op, geometry, how, id=f"{op.name}-{gid}-{how}") for how in hows]
    return out


@pytest.mark.parametrize("op, geometry, how", _noncontiguous_params())
def test_noncontiguous_inputs_give_the_same_results(op, geometry, how, rng):
    kw = problem(op, rng, **geometry)
    expected = _as_tuple(op.fn(**kw))
    strided = {k: (_noncontiguous(v, how) if k in ARRAY_ARGS else v) for k, v in kw.items()}
    got = _as_tuple(op.fn(**strided))
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("op, geometry", _geometry_params())
def test_read_only_inputs_work(op, geometry, rng):
    kw = problem(op, rng, **geometry)
    expected = _as_tuple(op.fn(**kw))
    frozen = dict(kw)
    for name in ARRAY_ARGS:
        if name in frozen:
            frozen[name] = frozen[name].copy()
            frozen[name].flags.writeable = False
    got = _as_tuple(op.fn(**frozen))
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    # read-only and non-contiguous together
    view = _noncontiguous(kw["input"], "strided")
    view.flags.writeable = False
    got = _as_tuple(op.fn(**{**frozen, "input": view}))
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


# ------------------------------------------------------------------ other array-likes

@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_nested_list_inputs_work(op, rng):
    kw = problem(op, rng, stride=2, padding=1)
    expected = _as_tuple(op.fn(**kw))
    as_lists = {k: (v.tolist() if k in ARRAY_ARGS else v) for k, v in kw.items()}
    got = _as_tuple(op.fn(**as_lists))
    for g, e in zip(got, expected):
        assert isinstance(g, np.ndarray) and g.dtype == np.float64
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_ragged_list_input_fails_clearly(op):
    kwargs = valid_args(op)
    ragged = kwargs["input"].tolist()
    ragged[0][0] = ragged[0][0][:-1]  # one row shorter than the others
    expect_error(op.name, (TypeError, ValueError), [arg("input")], op.fn,
                 **{**kwargs, "input": ragged})


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_integer_list_input_fails_clearly(op):
    """A list of Python ints becomes an int64 array: refused like one (no silent cast)."""
    kwargs = valid_args(op)
    ints = np.rint(kwargs["input"] * 3).astype(int).tolist()
    expect_error(op.name, TypeError, [arg("input"), r"int"], op.fn, **{**kwargs, "input": ints})


@pytest.mark.parametrize("op", [op for op in OPS if op.ndim == 2], ids=lambda op: op.name)
def test_non_native_byte_order_works_or_fails_clearly(op, rng):
    kw = problem(op, rng)
    expected = _as_tuple(op.fn(**kw))
    swapped = {k: (v.astype(v.dtype.newbyteorder()) if k in ARRAY_ARGS else v)
               for k, v in kw.items()}
    try:
        got = _as_tuple(op.fn(**swapped))
    except TypeError as e:
        assert re.match(rf"^{re.escape(op.name)}\b", str(e)) and re.search(arg("input"), str(e)), e
        return
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
