"""Activations forward and backward: against the NumPy reference, against torch (values, autograd
gradients and the edge cases NaN, +-inf, +-0 and clamp boundaries), finite differences, in-place
semantics, thread-count independence and every bad input."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
from fastconv import _C
from fastconv.reference import activation as ref

from conftest import assert_close

DTYPES = [np.float32, np.float64]
DT_ID = {np.float32: "f32", np.float64: "f64"}


@dataclass(frozen=True)
class Case:
    """One activation with fixed parameters: how to call fastconv, the reference and torch."""
    op: str
    params: dict = field(default_factory=dict)
    saved: str = "input"           # what the backward takes besides grad_output
    smooth: bool = False           # transcendental: compare to torch within a few ulp
    inplace: bool = True           # has an inplace= argument
    scale: float = 4.0             # random inputs uniform in [-scale, scale]

    @property
    def id(self) -> str:
        return self.op + "".join(f"_{k}{v}" for k, v in self.params.items())

    def forward(self, x, **kw):
        return getattr(fastconv, self.op)(x, **self.params, **kw)

    def backward(self, gy, saved):
        return getattr(fastconv, self.op + "_backward")(gy, saved, **self.params)

    def ref_forward(self, x):
        return getattr(ref, self.op)(x, **self.params)

    def ref_backward(self, gy, saved):
        return getattr(ref, self.op + "_backward")(gy, saved, **self.params)

    def saved_for(self, x, y):
        return y if self.saved == "output" else x

    def torch_forward(self, t):
        import torch.nn.functional as F
        if self.op in ("sigmoid", "tanh"):
            import torch
            return getattr(torch, self.op)(t)
        return getattr(F, self.op)(t, **self.params)


CASES = [
    Case("relu"),
    Case("relu6", scale=8.0),
    Case("leaky_relu"),
    Case("leaky_relu", {"negative_slope": 0.2}),
    Case("leaky_relu", {"negative_slope": -1.5}),
    Case("hardtanh"),
    Case("hardtanh", {"min_val": -2.5, "max_val": 0.5}),
    Case("hardtanh", {"min_val": 0.75, "max_val": 0.75}),
    Case("sigmoid", saved="output", smooth=True, inplace=False, scale=12.0),
    Case("tanh", saved="output", smooth=True, inplace=False),
    Case("elu", smooth=True),
    Case("elu", {"alpha": 0.5}, smooth=True),
    Case("elu", {"alpha": -0.3}, smooth=True),
    Case("gelu", smooth=True, inplace=False),
    Case("gelu", {"approximate": "tanh"}, smooth=True, inplace=False),
]
CASE_IDS = [c.id for c in CASES]
SMOOTH = [c for c in CASES if c.smooth]
INPLACE = [c for c in CASES if c.inplace]

SHAPES = [(), (0,), (1,), (7,), (3, 0, 2), (5, 33), (2, 3, 7, 9), (1, 2, 3, 4, 5)]
SHAPE_IDS = ["x".join(map(str, s)) if s else "0d" for s in SHAPES]


def random_input(rng, case: Case, shape, dtype):
    x = rng.uniform(-case.scale, case.scale, size=shape)
    return np.asarray(x, dtype=dtype)


def grad_scale(gy, x) -> float:
    """Magnitude of the terms of a smooth op's gradient: |gy| * max(1, |x|) (the derivatives of
    gelu and elu grow like x); tolerances are relative to it."""
    gy, x = np.asarray(gy, np.float64), np.asarray(x, np.float64)
    finite = np.isfinite(gy) & np.isfinite(x)
    terms = np.abs(gy[finite]) * np.maximum(1.0, np.abs(x[finite]))
    return max(1.0, float(terms.max()) if terms.size else 1.0)


def bits_equal(a, b) -> np.ndarray:
    """Elementwise: the same bits (so +0 != -0), or both NaN."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    ui = np.uint32 if a.dtype == np.float32 else np.uint64
    return (a.view(ui) == b.view(ui)) | (np.isnan(a) & np.isnan(b))


def assert_bits_equal(actual, expected, what):
    ok = bits_equal(actual, expected)
    if not ok.all():
        idx = np.flatnonzero(~ok)[:6]
        lines = [f"  at {i}: got {np.ravel(actual)[i]!r}, expected {np.ravel(expected)[i]!r}"
                 for i in idx]
        pytest.fail(f"{what}: {int((~ok).sum())} elements differ bitwise:\n" + "\n".join(lines),
                    pytrace=False)


# ------------------------------------------------------------------------------ reference

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_ID.get)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_reference(case, shape, dtype, rng):
    x = random_input(rng, case, shape, dtype)
    x_copy = x.copy()
    y = case.forward(x)
    assert y.dtype == dtype and y.shape == x.shape and isinstance(y, np.ndarray)
    assert_close(y, case.ref_forward(x), what=f"{case.id} forward")
    gy = np.asarray(rng.standard_normal(shape), dtype=dtype)
    saved = case.saved_for(x, y)
    gx = case.backward(gy, saved)
    assert gx.dtype == dtype and gx.shape == x.shape
    # a smooth op's derivative sums a few terms that can cancel: 4 of them, relative to their size
    assert_close(gx, case.ref_backward(gy, saved), reduction=4 if case.smooth else 1,
                 scale=grad_scale(gy, x), what=f"{case.id} backward")
    np.testing.assert_array_equal(x, x_copy)  # out of place never touches the input


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_ID.get)
@pytest.mark.parametrize("layout", ["strided", "reversed", "transposed", "fortran"])
@pytest.mark.parametrize("case", CASES[::2], ids=CASE_IDS[::2])
def test_non_contiguous(case, layout, dtype, rng):
    base = random_input(rng, case, (6, 10, 5), dtype)
    x = {"strided": base[::2, 1::3], "reversed": base[::-1, :, ::-1],
         "transposed": base.transpose(2, 0, 1), "fortran": np.asfortranarray(base)}[layout]
    y = case.forward(x)
    assert_close(y, case.ref_forward(x), what=f"{case.id} forward")
    gy = np.asarray(rng.standard_normal(x.shape), dtype=dtype)[..., ::-1].copy()[..., ::-1]
    saved = case.saved_for(x, y)
    assert_close(case.backward(gy, saved), case.ref_backward(gy, saved),
                 reduction=4 if case.smooth else 1, scale=grad_scale(gy, x), what="backward")


def test_lists_and_numpy_scalars():
    np.testing.assert_array_equal(fastconv.relu([1.5, -2.0]), [1.5, 0.0])
    y = fastconv.sigmoid(np.float32(0.0))
    assert y.shape == () and y.dtype == np.float32 and y == 0.5


# ---------------------------------------------------------------------------------- torch

@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_ID.get)
@pytest.mark.parametrize("shape", [(), (13,), (4, 3, 9, 11), (2, 65, 257)],
                         ids=["0d", "13", "4x3x9x11", "2x65x257"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_torch(case, shape, dtype, rng):
    torch = pytest.importorskip("torch")
    x = random_input(rng, case, shape, dtype)
    gy = np.asarray(rng.standard_normal(shape), dtype=dtype)
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = case.torch_forward(t)
    ty.backward(torch.from_numpy(gy))
    y = case.forward(x)
    gx = case.backward(gy, case.saved_for(x, y))
    if case.smooth:  # libm vs torch's SLEEF / oneDNN (up to ~9 ulp for float32 gelu): a few ulp
        assert_close(y, ty.detach().numpy(), reduction=4, what=f"{case.id} forward vs torch")
        assert_close(gx, t.grad.numpy(), reduction=4, scale=grad_scale(gy, x),
                     what=f"{case.id} gradient vs torch autograd")
    else:            # comparisons and one multiplication: bitwise
        assert_bits_equal(y, ty.detach().numpy(), f"{case.id} forward vs torch")
        assert_bits_equal(gx, t.grad.numpy(), f"{case.id} gradient vs torch autograd")


def special_values(case: Case, dtype):
    """NaN, +-inf, +-0, the clamp boundaries and their neighbours, tiny and huge values; 64 of them
    (a multiple of torch's vector width, so torch uses its vectorised loop for every element)."""
    v = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 1.0, -1.0,
         6.0, -6.0, 20.0, -20.0, 100.0, -100.0, 1e10, -1e10, 3e38, -3e38]
    for b in (case.params.get("min_val"), case.params.get("max_val")):
        if b is not None:
            v += [b, np.nextafter(dtype(b), dtype(np.inf)), np.nextafter(dtype(b), dtype(-np.inf))]
    for b in (0.0, 6.0):
        v += [np.nextafter(dtype(b), dtype(np.inf)), np.nextafter(dtype(b), dtype(-np.inf))]
    v = np.asarray(v, dtype=dtype)
    return np.resize(v, 64)


def exactly_defined(values):
    """Where a smooth op's value is exact, so torch and fastconv must agree bitwise."""
    return np.isnan(values) | np.isinf(values) | (values == 0) | (np.abs(values) == 1)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_ID.get)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_special_values_match_torch(case, dtype):
    """Forward and gradient at NaN, +-inf, +-0 and boundaries: bitwise-or-NaN-equal to torch
    (for the smooth ops: wherever the result is exact; elsewhere within a few ulp)."""
    torch = pytest.importorskip("torch")
    x = special_values(case, dtype)
    gy = np.resize(np.asarray([1.5, -0.75, 2.0, np.nan, np.inf, -3.0, 0.0, 0.25], dtype), x.size)
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = case.torch_forward(t)
    ty.backward(torch.from_numpy(gy))
    y_t, gx_t = ty.detach().numpy(), t.grad.numpy()
    if case.op == "gelu" and case.params.get("approximate", "none") == "none" \
            and dtype == np.float32:
        # torch hands float32 tensors of 2+ elements to oneDNN, whose gelu gives NaN at +inf and
        # overflows to inf above ~1.7e38; torch's own kernel (float64, or one element at a time)
        # gives +inf and x, as fastconv does. Compare with that kernel.
        y_t = np.concatenate([case.torch_forward(torch.from_numpy(x[i:i + 1])).numpy()
                              for i in range(x.size)])
    y = case.forward(x)
    gx = case.backward(gy, case.saved_for(x, y))
    if case.smooth:
        exact = exactly_defined(y_t)
        assert_bits_equal(y[exact], y_t[exact], f"{case.id} forward at exact values")
        exact_g = exactly_defined(gx_t)
        assert_bits_equal(gx[exact_g], gx_t[exact_g], f"{case.id} gradient at exact values")
        assert_close(y[~exact], y_t[~exact], reduction=4, what=f"{case.id} forward")
        assert_close(gx[~exact_g], gx_t[~exact_g], reduction=4,
                     scale=grad_scale(gy[~exact_g], x[~exact_g]), what=f"{case.id} gradient")
    else:
        assert_bits_equal(y, y_t, f"{case.id} forward")
        assert_bits_equal(gx, gx_t, f"{case.id} gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_ID.get)
def test_documented_edge_cases(dtype):
    nan, inf = np.nan, np.inf
    x = np.asarray([nan, -0.0, 0.0, 6.0, -1.0, 1.0, inf, -inf], dtype)
    one = np.ones_like(x)
    assert_bits_equal(fastconv.relu(x), np.asarray([nan, -0.0, 0, 6, 0, 1, inf, 0], dtype), "relu")
    assert_bits_equal(fastconv.relu_backward(one, x), np.asarray([1, 0, 0, 1, 0, 1, 1, 0], dtype),
                      "relu_backward: 0 at exactly 0, passes for NaN")
    assert_bits_equal(fastconv.relu6(x), np.asarray([nan, -0.0, 0, 6, 0, 1, 6, 0], dtype), "relu6")
    assert_bits_equal(fastconv.relu6_backward(one, x), np.asarray([0, 0, 0, 0, 0, 1, 0, 0], dtype),
                      "relu6_backward: 0 at both boundaries and for NaN")
    assert_bits_equal(fastconv.hardtanh_backward(one, x), np.asarray([0, 1, 1, 0, 0, 0, 0, 0], dtype),
                      "hardtanh_backward: 0 at both boundaries and for NaN")
    s = dtype(0.01)
    assert_bits_equal(fastconv.leaky_relu_backward(one, x), np.asarray([s, s, s, 1, s, 1, 1, s], dtype),
                      "leaky_relu_backward: the slope at 0 and for NaN")
    assert_bits_equal(fastconv.elu(x)[:3], np.asarray([nan, -0.0, 0.0], dtype), "elu keeps -0")
    assert np.isnan(fastconv.elu_backward(one, x)[0])
    assert fastconv.gelu(x)[6] == inf and np.isnan(fastconv.gelu(x)[7])


# ----------------------------------------------------------------------- finite differences

@pytest.mark.parametrize("case", SMOOTH, ids=[c.id for c in SMOOTH])
def test_finite_differences(case, rng):
    x = rng.uniform(-case.scale, case.scale, size=200)
    x = x[np.abs(x) > 1e-3]  # elu with alpha != 1 has a kink at 0
    gy = rng.standard_normal(x.shape)
    h = 1e-6
    numeric = (case.forward(x + h) - case.forward(x - h)) / (2 * h) * gy
    analytic = case.backward(gy, case.saved_for(x, case.forward(x)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7 * np.abs(gy).max())


# ------------------------------------------------------------------------------- in place

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_ID.get)
@pytest.mark.parametrize("case", INPLACE, ids=[c.id for c in INPLACE])
def test_inplace_contiguous(case, dtype, rng):
    x = random_input(rng, case, (3, 4, 17), dtype)
    expected = case.forward(x)
    result = case.forward(x, inplace=True)
    assert result is x
    assert_bits_equal(x, expected, f"{case.id} in place")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_ID.get)
@pytest.mark.parametrize("case", INPLACE, ids=[c.id for c in INPLACE])
def test_inplace_non_contiguous_writes_back(case, dtype, rng):
    base = random_input(rng, case, (6, 9), dtype)
    before = base.copy()
    view = base[1::2, ::-3]
    expected = case.forward(view)
    result = case.forward(view, inplace=True)
    assert result is view
    assert_bits_equal(base[1::2, ::-3], expected, f"{case.id} in place through a view")
    untouched = np.ones(base.shape, bool)
    untouched[1::2, ::-3] = False
    np.testing.assert_array_equal(base[untouched], before[untouched])


@pytest.mark.parametrize("case", INPLACE, ids=[c.id for c in INPLACE])
def test_out_of_place_leaves_input(case, rng):
    x = random_input(rng, case, (50,), np.float32)
    x.flags.writeable = False  # would raise inside NumPy if anything wrote to it
    case.forward(x, inplace=False)
    case.backward(x, x)


# ---------------------------------------------------------------------------------- threads

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_thread_count_does_not_change_results(case, rng):
    x = random_input(rng, case, (3 * 65536 + 123,), np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    old = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        y1 = case.forward(x)
        g1 = case.backward(gy, case.saved_for(x, y1))
        fastconv.set_num_threads(2)
        y2 = case.forward(x)
        g2 = case.backward(gy, case.saved_for(x, y2))
    finally:
        fastconv.set_num_threads(old)
    assert_bits_equal(y1, y2, "forward, 1 vs 2 threads")
    assert_bits_equal(g1, g2, "backward, 1 vs 2 threads")


# --------------------------------------------------------------------------------- property

@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(CASES), dtype=st.sampled_from(DTYPES),
       shape=st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple),
       step=st.sampled_from([1, 2, -1]), seed=st.integers(0, 2**32 - 1),
       inplace=st.booleans())
def test_property_matches_reference(case, dtype, shape, step, seed, inplace):
    rng = np.random.default_rng(seed)
    full = shape[:-1] + (shape[-1] * abs(step),) if shape else shape
    x = random_input(rng, case, full, dtype)
    if shape:
        x = x[..., ::step]
    expected = case.ref_forward(x)
    inplace = inplace and case.inplace
    y = case.forward(x, inplace=True) if inplace else case.forward(x)
    assert_close(y, expected, what=f"{case.id} forward")
    assert y.shape == x.shape and y.dtype == dtype
    gy = np.asarray(rng.standard_normal(x.shape), dtype=dtype)
    saved = y if case.saved == "output" else (x if not inplace else None)
    if saved is not None:
        assert_close(case.backward(gy, saved), case.ref_backward(gy, saved),
                     reduction=4 if case.smooth else 1, scale=grad_scale(gy, x), what="backward")


# ------------------------------------------------------------------------------ bad input

FORWARD_OPS = ["relu", "relu6", "leaky_relu", "hardtanh", "sigmoid", "tanh", "elu", "gelu"]
BACKWARD_OPS = [op + "_backward" for op in FORWARD_OPS]


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_, np.complex64,
                                   np.float16],
                         ids=["int32", "int64", "uint8", "bool", "complex64", "float16"])
@pytest.mark.parametrize("op", FORWARD_OPS)
def test_forward_rejects_non_float_dtypes(op, dtype):
    with pytest.raises(TypeError, match=rf"^{op}: argument 'input' .*{np.dtype(dtype)}"):
        getattr(fastconv, op)(np.zeros(3, dtype))


@pytest.mark.parametrize("op", BACKWARD_OPS)
def test_backward_rejects_bad_arrays(op):
    fn = getattr(fastconv, op)
    saved = "output" if op.startswith(("sigmoid", "tanh")) else "input"
    x = np.linspace(-2, 2, 6)
    with pytest.raises(TypeError, match=rf"^{op}: argument 'grad_output' .*int64"):
        fn(np.zeros(6, np.int64), x)
    with pytest.raises(TypeError, match=rf"^{op}: argument '{saved}' .*complex"):
        fn(x, x.astype(np.complex128))
    with pytest.raises(TypeError, match=rf"^{op}: argument 'grad_output' has dtype float32 but "
                                        rf"'{saved}' has dtype float64"):
        fn(x.astype(np.float32), x)
    with pytest.raises(ValueError, match=rf"^{op}: argument 'grad_output' must have the shape of "
                                         rf"'{saved}' \(6,\), got \(2, 3\)"):
        fn(x.reshape(2, 3), x)
    with pytest.raises(TypeError, match=rf"^{op}: argument 'grad_output' must be an array"):
        fn(None, x)


def test_hardtanh_min_greater_than_max():
    x = np.zeros(3)
    for fn in (fastconv.hardtanh, lambda a, **kw: fastconv.hardtanh_backward(a, a, **kw)):
        with pytest.raises(ValueError, match=r"hardtanh(_backward)?: argument 'min_val' must not "
                                             r"be greater than 'max_val', got min_val=2, max_val=1"):
            fn(x, min_val=2, max_val=1)


@pytest.mark.parametrize("op, kwargs, name", [
    ("leaky_relu", {"negative_slope": "0.1"}, "negative_slope"),
    ("leaky_relu_backward", {"negative_slope": None}, "negative_slope"),
    ("elu", {"alpha": [1.0]}, "alpha"),
    ("elu_backward", {"alpha": True}, "alpha"),
    ("hardtanh", {"min_val": "a"}, "min_val"),
    ("hardtanh_backward", {"max_val": None}, "max_val"),
    ("relu", {"inplace": "yes"}, "inplace"),
    ("gelu", {"approximate": None}, "approximate"),
    ("gelu_backward", {"approximate": 1}, "approximate"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_parameter_types(op, kwargs, name):
    x = np.zeros(3)
    args = (x, x) if op.endswith("_backward") else (x,)
    with pytest.raises(TypeError, match=rf"^{op}: argument '{name}'"):
        getattr(fastconv, op)(*args, **kwargs)


@pytest.mark.parametrize("op", ["gelu", "gelu_backward"])
def test_bad_gelu_approximate(op):
    x = np.zeros(3)
    args = (x, x) if op.endswith("_backward") else (x,)
    with pytest.raises(ValueError, match=rf"^{op}: argument 'approximate' must be one of 'none', "
                                         rf"'tanh', got 'erf'"):
        getattr(fastconv, op)(*args, approximate="erf")


@pytest.mark.parametrize("case", INPLACE, ids=[c.id for c in INPLACE])
def test_inplace_needs_a_writable_array(case):
    x = np.linspace(-1, 1, 5)
    x.flags.writeable = False
    with pytest.raises(ValueError, match=rf"^{case.op}: inplace=True but argument 'input' is a "
                                         r"read-only array"):
        case.forward(x, inplace=True)
    with pytest.raises(TypeError, match=rf"^{case.op}: inplace=True needs argument 'input' to be "
                                        r"a NumPy array"):
        case.forward([1.0, 2.0], inplace=True)


def test_binding_refuses_unsafe_calls():
    """Direct _C calls that could read or write out of bounds are refused."""
    x = np.linspace(-1, 1, 12)
    y = np.empty_like(x)
    with pytest.raises(ValueError, match="unknown activation 'relu7'"):
        _C.activation_forward(x, y, "relu7")
    with pytest.raises(ValueError, match="same shape"):
        _C.activation_forward(x, np.empty(11), "relu")
    with pytest.raises(ValueError, match="same shape"):
        _C.activation_forward(x, np.empty((3, 4)), "relu")
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.activation_forward(x[::2], np.empty(6), "relu")
    with pytest.raises(ValueError, match="dtype"):
        _C.activation_forward(x, np.empty(12, np.float32), "relu")
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.activation_forward(x.astype(np.int64), np.empty(12, np.int64), "relu")
    ro = np.empty_like(x)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        _C.activation_forward(x, ro, "relu")
    buf = np.linspace(-1, 1, 20)
    with pytest.raises(ValueError, match="not overlap"):
        _C.activation_forward(buf[:12], buf[4:16], "relu")
    with pytest.raises(ValueError, match="must not overlap"):
        _C.activation_backward(x, x, x, "relu")
    with pytest.raises(ValueError, match="same shape"):
        _C.activation_backward(x, np.empty(11), np.empty(12), "relu")
    with pytest.raises(ValueError, match="same shape"):
        _C.activation_backward(x, x, np.empty(13), "relu")
    _C.activation_forward(x, x, "relu")  # exactly in place is allowed
    assert (x >= 0).all()


def test_exported():
    for name in FORWARD_OPS + BACKWARD_OPS:
        assert name in fastconv.__all__ and callable(getattr(fastconv, name))


def test_reference_definitions():
    """The reference itself, at points whose values are known in closed form."""
    assert ref.gelu(np.array([0.0, 1.0]))[1] == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))))
    assert ref.sigmoid(np.array([0.0]))[0] == 0.5
    assert ref.elu(np.array([-1.0]), alpha=2.0)[0] == pytest.approx(2 * (math.exp(-1) - 1))
    assert ref.gelu_backward(np.array([1.0]), np.array([0.0]))[0] == 0.5


# Outputs over 16 MiB leave through non-temporal stores (FASTCONV_ACTIVATION_STREAM=1 forces it
# on small ones, 0 off): the same bits, across chunks of 16384 elements, odd tails, and through
# the kernel entry point with an output that is not vector-aligned (plain stores for it).
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_ID.get)
@pytest.mark.parametrize("case", CASES[::2], ids=CASE_IDS[::2])
def test_streamed_output_same_bits(case, dtype, rng, monkeypatch):
    x = random_input(rng, case, (3, 16384 + 37), dtype)
    gy = random_input(rng, case, x.shape, dtype)
    out = {}
    for stream in ("0", "1"):
        monkeypatch.setenv("FASTCONV_ACTIVATION_STREAM", stream)
        y = case.forward(x)
        out[stream] = (y, case.backward(gy, case.saved_for(x, y)))
    for a, b in zip(out["0"], out["1"]):
        assert_bits_equal(a, b, f"{case.id} streamed")
    from fastconv import _C
    buf = np.empty(x.size + 1, dtype)[1:]  # one element past a 64-byte boundary
    _C.activation_forward(x.ravel(), buf, "relu", 0.0, 0.0)
    assert_bits_equal(buf.reshape(x.shape), fastconv.relu(x), "unaligned relu")
