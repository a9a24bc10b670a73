"""fastconv's convolution and transposed convolution, forward and backward, against the float64
NumPy reference (fastconv.reference) and against PyTorch where it is installed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv
from fastconv import reference
from fastconv.functional import CONV_ALGORITHMS

from conftest import assert_close
from conv_cases import ConvCase

ALGORITHMS = [a for a in CONV_ALGORITHMS if a != "auto"]
DTYPES = [np.float32, np.float64]


def run_fastconv(case: ConvCase, x, w, b, gy=None, algorithm="auto"):
    op = case.op
    y = getattr(fastconv, op)(x, w, b, **case.args(), algorithm=algorithm)
    if gy is None:
        return y
    grads = getattr(fastconv, op + "_backward")(gy, x, w, **case.args(),
                                                algorithm=algorithm)
    return y, grads


def run_reference(case: ConvCase, x, w, b, gy):
    op = case.op
    f64 = lambda a: None if a is None else a.astype(np.float64)
    y = getattr(reference, op)(f64(x), f64(w), f64(b), **case.args())
    grads = getattr(reference, op + "_backward")(f64(gy), f64(x), f64(w), **case.args())
    return y, grads


def check_against_reference(case: ConvCase, rng, dtype, algorithm="auto"):
    x, w, b = case.arrays(rng, dtype)
    y = run_fastconv(case, x, w, b, algorithm=algorithm)
    assert y.dtype == np.dtype(dtype)
    gy = rng.standard_normal(y.shape).astype(dtype)
    (y, (gx, gw, gb)) = run_fastconv(case, x, w, b, gy, algorithm=algorithm)
    y_ref, (gx_ref, gw_ref, gb_ref) = run_reference(case, x, w, b, gy)
    r_fwd, r_data, r_weight = case.reductions(y.shape)
    assert_close(y, y_ref, dtype=dtype, reduction=r_fwd, what=f"{case.id} forward")
    assert_close(gx, gx_ref, dtype=dtype, reduction=r_data, what=f"{case.id} grad_input")
    assert_close(gw, gw_ref, dtype=dtype, reduction=r_weight, what=f"{case.id} grad_weight")
    spatial = int(np.prod(y.shape[-case.ndim:])) * max(case.batch, 1)
    assert_close(gb, gb_ref, dtype=dtype, reduction=spatial, what=f"{case.id} grad_bias")
    for got, ref in ((gx, x), (gw, w)):
        assert got.shape == ref.shape and got.dtype == np.dtype(dtype)


# ------------------------------------------------------------------ hand-picked cases

def _cases():
    C = ConvCase
    return [
        # 1x1 kernels (the pointwise path), strided 1x1, batch 1 and larger, unbatched
        C(2, 2, 8, 16, (7, 9), (1, 1)),
        C(2, 1, 8, 16, (7, 9), (1, 1), stride=2),
        C(2, 0, 5, 3, (6, 5), (3, 3), padding=1),
        C(1, 0, 3, 4, (11,), (3,), stride=2, padding="same"),
        C(3, 0, 2, 3, (4, 5, 3), (2, 3, 1), padding=(1, 0, 1)),
        # kernel exactly as large as the padded input: output size 1
        C(2, 2, 3, 4, (5, 4), (7, 6), padding=1),
        C(2, 1, 3, 4, (5, 5), (3, 3), dilation=2),
        # odd sizes, rectangular kernels, per-dim stride/padding/dilation
        C(2, 3, 6, 9, (13, 11), (5, 3), stride=(2, 3), padding=(2, 1), dilation=(1, 2)),
        C(3, 2, 4, 6, (7, 6, 5), (3, 2, 3), stride=(1, 2, 2), padding=(1, 1, 0), dilation=(2, 1, 1), groups=2),
        C(1, 3, 6, 6, (31,), (7,), stride=3, padding=3, dilation=2, groups=3),
        # groups: depthwise, depthwise multiplier, several channels per group
        C(2, 2, 8, 8, (9, 10), (3, 3), padding=1, groups=8),
        C(2, 2, 4, 12, (9, 10), (3, 3), padding=1, groups=4),
        C(2, 2, 6, 9, (9, 10), (3, 3), stride=2, padding=1, groups=3),
        # 'same' with stride > 1 (TensorFlow rule, odd pad after) and even kernels, 'valid'
        C(2, 2, 3, 5, (10, 9), (4, 4), stride=2, padding="same"),
        C(2, 2, 3, 5, (10, 9), (3, 2), stride=(3, 2), padding="same", dilation=(2, 1)),
        C(3, 1, 2, 3, (5, 6, 7), (2, 3, 4), padding="same"),
        C(2, 2, 3, 5, (10, 9), (3, 3), stride=2, padding="valid"),
        # padding modes
        C(2, 2, 3, 4, (7, 8), (3, 3), padding=2, padding_mode="reflect"),
        C(2, 2, 3, 4, (7, 8), (3, 3), stride=2, padding=(1, 3), padding_mode="replicate"),
        C(2, 2, 3, 4, (7, 8), (3, 3), padding=(7, 8), padding_mode="circular"),
        C(1, 2, 3, 4, (9,), (4,), stride=2, padding="same", padding_mode="reflect"),
        C(3, 1, 2, 4, (4, 5, 6), (3, 3, 3), padding=1, padding_mode="circular", groups=2),
        # true convolution
        C(2, 2, 3, 4, (8, 7), (3, 2), padding=1, flip=True),
        C(3, 1, 2, 2, (4, 5, 4), (2, 3, 2), flip=True, padding_mode="reflect", padding=1),
        C(2, 2, 3, 4, (8, 7), (3, 3), bias=False),
        # large enough to cross the GEMM blocking (K > 256, M > 64, several column tiles)
        C(2, 2, 40, 70, (17, 15), (3, 3), padding=1),
        C(2, 1, 300, 5, (9, 9), (1, 1)),
        C(1, 2, 4, 3, (3000,), (5,), stride=1, padding=2),
        # transposed convolution
        C(2, 2, 3, 4, (5, 6), (3, 3), transposed=True),
        C(2, 2, 4, 6, (5, 6), (4, 4), stride=2, padding=1, transposed=True),
        C(2, 2, 4, 6, (5, 6), (3, 3), stride=2, padding=1, output_padding=1, transposed=True),
        C(2, 1, 4, 6, (5, 6), (3, 2), stride=(3, 2), padding=(2, 0), output_padding=(2, 1), dilation=(1, 2), groups=2, transposed=True),
        C(2, 1, 3, 3, (4, 4), (3, 3), stride=1, output_padding=1, dilation=2, transposed=True),
        C(1, 0, 6, 4, (9,), (5,), stride=3, padding=2, output_padding=1, groups=2, transposed=True),
        C(3, 2, 4, 4, (3, 4, 3), (3, 2, 3), stride=2, padding=1, output_padding=(1, 0, 1), groups=4, transposed=True),
        C(2, 2, 6, 6, (6, 5), (3, 3), stride=2, padding=1, groups=6, transposed=True, bias=False),
        C(2, 2, 8, 5, (6, 7), (1, 1), transposed=True),
        # strided 1x1 in 3-D and 1-D (im2col_gemm: the pointwise conv of a subsampled input)
        C(3, 1, 5, 6, (5, 7, 6), (1, 1, 1), stride=(2, 1, 3)),
        C(1, 3, 4, 6, (10,), (1,), stride=3),
    ]


CASES = _cases()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matches_reference(case, dtype, rng):
    check_against_reference(case, rng, dtype)


class _ForcedOrAuto(str):
    """An algorithm name that falls back to 'auto' for the passes it cannot compute (e.g.
    winograd's backward_weight), recording which passes it did compute."""
    def __new__(cls, name):
        obj = super().__new__(cls, name)
        obj.computed = 0
        return obj


def _forced_or_auto(fn, *args, algorithm, **kwargs):
    try:
        out = fn(*args, algorithm=str(algorithm), **kwargs)
        algorithm.computed += 1
        return out
    except ValueError as e:
        if "cannot compute" not in str(e):
            raise
        return fn(*args, algorithm="auto", **kwargs)


def _check_forced_algorithm(case: ConvCase, rng, algorithm: str):
    """check_against_reference with `algorithm` forced on every pass it computes (one pass at a
    time), auto on the others."""
    a = _ForcedOrAuto(algorithm)
    x, w, b = case.arrays(rng, np.float64)
    op = case.op
    y = _forced_or_auto(getattr(fastconv, op), x, w, b, **case.args(), algorithm=a)
    gy = rng.standard_normal(y.shape)
    back = getattr(fastconv, op + "_backward")
    grads = [_forced_or_auto(back, gy, x, w, **case.args(),
                             output_mask=tuple(i == j for j in range(3)), algorithm=a)[i]
             for i in range(2)]
    grads.append(back(gy, x, w, **case.args(), output_mask=(False, False, True))[2])
    assert a.computed > 0, f"{algorithm} computed no pass of {case.id}"
    y_ref, grads_ref = run_reference(case, x, w, b, gy)
    r_fwd, r_data, r_weight = case.reductions(y.shape)
    spatial = int(np.prod(y.shape[-case.ndim:])) * max(case.batch, 1)
    assert_close(y, y_ref, reduction=r_fwd, what=f"{case.id} forward")
    for got, ref, r, what in zip(grads, grads_ref, (r_data, r_weight, spatial),
                                 ("grad_input", "grad_weight", "grad_bias")):
        assert_close(got, ref, reduction=r, what=f"{case.id} {what}")


def _algorithm_cases():
    """(case, algorithm) for every algorithm and every case it computes at least one pass of,
    as fastconv.explain reports it."""
    for algorithm in ALGORITHMS:
        for case in CASES:
            args = {k: v for k, v in case.args().items() if k != "flip"}
            plan = fastconv.explain(case.op, *case.shapes(), algorithm=algorithm, **args)
            if any(p["algorithm"] for p in plan["passes"].values()):
                yield pytest.param(case, algorithm, id=f"{algorithm}-{case.id}")


@pytest.mark.parametrize("case, algorithm", list(_algorithm_cases()))
def test_every_algorithm_matches_reference(case, algorithm, rng):
    _check_forced_algorithm(case, rng, algorithm)


# ----------------------------------------------------- every combination of the arguments

def _sweep_2d():
    for stride, padding, dilation, groups, mode in itertools.product(
            (1, 2, 3), (0, 1, 2, "same", "valid"), (1, 2), (1, 2, 4), ("zeros", "reflect",
                                                                      "replicate", "circular")):
        size = (7, 6)
        kernel = (3, 2)
        if mode != "zeros" and padding == 0:
            continue  # padding_mode only matters with padding
        yield ConvCase(2, 2, 4, 8, size, kernel, stride=stride, padding=padding,
                       dilation=dilation, groups=groups, padding_mode=mode)


def _sweep_1d_3d():
    for ndim, stride, padding, dilation, groups in itertools.product(
            (1, 3), (1, 2), (0, 1, "same", "valid"), (1, 2), (1, 2)):
        size = (9,) if ndim == 1 else (5, 6, 5)
        kernel = (3,) if ndim == 1 else (2, 3, 2)
        yield ConvCase(ndim, 2, 2 * groups, 2 * groups, size, kernel, stride=stride,
                       padding=padding, dilation=dilation, groups=groups)


def _sweep_transposed():
    for ndim, stride, padding, dilation, groups in itertools.product(
            (1, 2, 3), (1, 2, 3), (0, 1, 2), (1, 2), (1, 2)):
        for output_padding in range(max(stride, dilation)):
            size = {1: (6,), 2: (4, 5), 3: (3, 2, 3)}[ndim]
            kernel = {1: (3,), 2: (3, 2), 3: (2, 2, 3)}[ndim]
            span = min((s - 1) * stride + dilation * (k - 1) + output_padding + 1
                       for s, k in zip(size, kernel))
            if span - 2 * padding < 1:
                continue
            yield ConvCase(ndim, 2, 2 * groups, 3 * groups, size, kernel, stride=stride,
                           padding=padding, dilation=dilation, groups=groups,
                           output_padding=output_padding, transposed=True)


SWEEP = list(_sweep_2d()) + list(_sweep_1d_3d()) + list(_sweep_transposed())


@pytest.mark.parametrize("case", SWEEP, ids=[c.id for c in SWEEP])
def test_argument_sweep_matches_reference(case, rng):
    check_against_reference(case, rng, np.float64)


# ------------------------------------------------------------- against PyTorch

def _torch_forward_and_grads(case: ConvCase, x, w, b, gy):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    t = lambda a: None if a is None else torch.from_numpy(a).requires_grad_(True)
    X, W, B = t(x), t(w), t(b)
    if case.transposed:
        Y = getattr(F, case.op)(X, W, B, case.stride, case.padding, case.output_padding,
                                       case.groups, case.dilation)
    else:
        Wk = torch.flip(W, dims=tuple(range(2, 2 + case.ndim))) if case.flip else W
        conv = getattr(F, case.op)
        if case.padding_mode != "zeros":
            # torch.nn.ConvNd's rule: pad first (F.pad takes pads last-dim first), then 'valid'
            pads = case.explicit_pads(x.shape[-case.ndim:])
            flat = [p for pair in reversed(pads) for p in pair]
            Xp = F.pad(X, flat, mode=case.padding_mode)
            Y = conv(Xp, Wk, B, case.stride, 0, case.dilation, case.groups)
        elif case.padding == "same":  # explicit pads: torch refuses strides and warns on even kernels
            pads = case.explicit_pads(x.shape[-case.ndim:])
            flat = [p for pair in reversed(pads) for p in pair]
            Y = conv(F.pad(X, flat), Wk, B, case.stride, 0, case.dilation, case.groups)
        else:
            Y = conv(X, Wk, B, case.stride, case.padding, case.dilation, case.groups)
    Y.backward(torch.from_numpy(gy))
    grad = lambda T: None if T is None else T.grad.numpy()
    return Y.detach().numpy(), grad(X), grad(W), grad(B)


TORCH_CASES = [c for c in CASES] + SWEEP[::7]


@pytest.mark.torch
@pytest.mark.parametrize("case", TORCH_CASES, ids=[c.id for c in TORCH_CASES])
def test_matches_torch(case, rng):
    x, w, b = case.arrays(rng, np.float64)
    y = run_fastconv(case, x, w, b)
    gy = rng.standard_normal(y.shape)
    y, (gx, gw, gb) = run_fastconv(case, x, w, b, gy)
    y_t, gx_t, gw_t, gb_t = _torch_forward_and_grads(case, x, w, b, gy)
    r_fwd, r_data, r_weight = case.reductions(y.shape)
    assert_close(y, y_t, reduction=r_fwd, what="forward vs torch")
    assert_close(gx, gx_t, reduction=r_data, what="grad_input vs torch")
    assert_close(gw, gw_t, reduction=r_weight, what="grad_weight vs torch")
    if b is not None:
        assert_close(gb, gb_t, reduction=y.size, what="grad_bias vs torch")


# --------------------------------------------------- properties that need no reference

@pytest.mark.parametrize("case", [c for c in CASES if c.padding_mode == "zeros"][::2],
                         ids=lambda c: c.id)
def test_adjoint_identity(case, rng):
    """<fprop(x, w), g> = <x, dgrad(g, w)> = <w, wgrad(x, g)>: the three primitives agree."""
    x, w, _ = case.arrays(rng, np.float64)
    y = run_fastconv(case, x, w, None)
    g = rng.standard_normal(y.shape)
    _, (gx, gw, _) = run_fastconv(case, x, w, None, g)
    lhs = float(np.vdot(y, g))
    assert np.isclose(lhs, float(np.vdot(x, gx)), rtol=1e-10, atol=1e-10)
    assert np.isclose(lhs, float(np.vdot(w, gw)), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", [CASES[i] for i in (2, 7, 13, 17, 22, 30)], ids=lambda c: c.id)
def test_backward_matches_finite_differences(case, rng):
    """Directional derivative of L = <conv(x, w, b), g> along random directions."""
    x, w, b = case.arrays(rng, np.float64)
    g = rng.standard_normal(run_fastconv(case, x, w, b).shape)
    _, (gx, gw, gb) = run_fastconv(case, x, w, b, g)
    loss = lambda x_, w_, b_: float(np.vdot(run_fastconv(case, x_, w_, b_), g))
    h = 1e-6
    for name, grad, make in (("input", gx, lambda d: (x + h * d, w, b), ),
                             ("weight", gw, lambda d: (x, w + h * d, b)),
                             ("bias", gb, lambda d: (x, w, b + h * d))):
        direction = rng.standard_normal(grad.shape)
        plus = loss(*make(direction))
        minus = loss(*make(-direction))
        numeric = (plus - minus) / (2 * h)
        assert np.isclose(numeric, float(np.vdot(grad, direction)), rtol=1e-6, atol=1e-6), name


@pytest.mark.parametrize("case", [CASES[i] for i in (0, 7, 8, 12, 13, 19, 30, 33)],
                         ids=lambda c: c.id)
def test_exact_on_small_integers(case, rng):
    """With small-integer data every product and sum is exact in float64: any indexing bug shows
    as an inequality, not as a tolerance question."""
    x, w, b = case.arrays(rng, np.float64)
    x, w, b = (np.round(a * 2) if a is not None else None for a in (x, w, b))
    y = run_fastconv(case, x, w, b)
    g = np.round(rng.standard_normal(y.shape) * 2)
    y, (gx, gw, gb) = run_fastconv(case, x, w, b, g)
    y_ref, (gx_ref, gw_ref, gb_ref) = run_reference(case, x, w, b, g)
    for got, want in ((y, y_ref), (gx, gx_ref), (gw, gw_ref), (gb, gb_ref)):
        np.testing.assert_array_equal(got, want)


def test_kernels_overwrite_every_output_element():
    """The kernels write every element of their output: outputs poisoned with NaN come back
    clean (the functional layer allocates with np.empty)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 1, 7, 9))
    w = rng.standard_normal((6, 2, 1, 3, 3))
    geometry = ((1, 2, 1), (0, 1, 2), (1, 1, 2), 2)
    y = np.full((2, 6, 1, 4, 7), np.nan)
    fastconv._C.conv_forward(x, w, None, y, *geometry, "auto")
    assert not np.isnan(y).any()
    gx = np.full_like(x, np.nan)
    fastconv._C.conv_backward_data(y, w, gx, *geometry, "auto")
    assert not np.isnan(gx).any()
    gw = np.full_like(w, np.nan)
    fastconv._C.conv_backward_weight(x, y, gw, *geometry, "auto")
    assert not np.isnan(gw).any()


def test_true_convolution_flips_the_kernel(rng):
    x = rng.standard_normal((1, 2, 6, 7))
    w = rng.standard_normal((3, 2, 3, 2))
    np.testing.assert_array_equal(fastconv.conv2d(x, w, flip=True),
                                  fastconv.conv2d(x, np.ascontiguousarray(w[..., ::-1, ::-1])))
    # 1-D true convolution is np.convolve
    a, k = rng.standard_normal(20), rng.standard_normal(5)
    got = fastconv.conv1d(a[None, None], k[None, None], flip=True)[0, 0]
    np.testing.assert_allclose(got, np.convolve(a, k, mode="valid"), rtol=1e-12, atol=1e-12)


def test_same_padding_keeps_size_and_tensorflow_pooling_example(rng):
    x = rng.standard_normal((2, 3, 28, 28)).astype(np.float32)
    w = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    assert fastconv.conv2d(x, w, stride=2, padding="same").shape == (2, 4, 14, 14)
    assert fastconv.conv2d(x, w, stride=1, padding="same").shape == (2, 4, 28, 28)
    assert fastconv.conv2d(x, w, stride=3, padding="same").shape == (2, 4, 10, 10)


# ------------------------------------------------------------------- property test

@st.composite
def conv_cases(draw):
    ndim = draw(st.integers(1, 3))
    transposed = draw(st.booleans())
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    batch = draw(st.integers(0, 3))
    max_size = {1: 12, 2: 8, 3: 5}[ndim]
    if transposed:
        size = tuple(draw(st.integers(1, max_size)) for _ in range(ndim))
        output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
        full = [(L - 1) * s + d * (k - 1) + op + 1 for L, s, d, k, op in
                zip(size, stride, dilation, kernel, output_padding)]
        padding = tuple(draw(st.integers(0, (f - 1) // 2)) for f in full)
        return ConvCase(ndim, batch, c_in, c_out, size, kernel, stride=stride, padding=padding,
                        dilation=dilation, groups=groups, output_padding=output_padding,
                        transposed=True, bias=draw(st.booleans()))
    padding_kind = draw(st.sampled_from(["int", "same", "valid"]))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    size = tuple(draw(st.integers(max(1, sp - 4) if padding_kind == "int" else 1, max_size + sp))
                 for sp in spans)
    if padding_kind == "int":
        padding = tuple(draw(st.integers(max(0, -(-(sp - L) // 2)), 3)) for sp, L in zip(spans, size))
        if mode == "reflect":
            padding = tuple(min(p, L - 1) for p, L in zip(padding, size))
        elif mode == "circular":
            padding = tuple(min(p, L) for p, L in zip(padding, size))
        if any(L + 2 * p < sp for L, p, sp in zip(size, padding, spans)):
            mode = "zeros"
            padding = tuple(max(p, -(-(sp - L) // 2)) for p, sp, L in zip(padding, spans, size))
    elif padding_kind == "valid":
        padding = "valid"
        size = tuple(max(L, sp) for L, sp in zip(size, spans))
    else:
        padding = "same"
        if mode in ("reflect", "circular"):  # their pads must stay below / at the input size
            size = tuple(max(L, sp) for L, sp in zip(size, spans))
    return ConvCase(ndim, batch, c_in, c_out, size, kernel, stride=stride, padding=padding,
                    dilation=dilation, groups=groups, padding_mode=mode,
                    flip=draw(st.booleans()), bias=draw(st.booleans()))


@settings(max_examples=150, deadline=None)
@given(case=conv_cases(), seed=st.integers(0, 2**32 - 1))
def test_property_random_configurations(case, seed):
    check_against_reference(case, np.random.default_rng(seed), np.float64)


# ---------------------------------------------------------------------------- explain

def test_explain_reports_algorithm_isa_and_workspace():
    info = fastconv.explain("conv2d", (8, 64, 56, 56), (64, 64, 3, 3), padding=1)
    assert info["isa"] == fastconv.build_info()["isa"]
    assert info["gemm_kernel"] == fastconv.build_info()["gemm_f32"]
    passes = info["passes"]
    assert set(passes) == {"forward", "backward_data", "backward_weight"}
    assert passes["backward_weight"]["algorithm"] == "winograd"  # 3x3 s1, 784 tiles (conv.cc)
    for p in passes.values():
        assert p["algorithm"] in CONV_ALGORITHMS
        assert p["workspace_bytes"] is None or 0 < p["workspace_bytes"] < 64 * 2**20
    dw = fastconv.explain("conv2d", (8, 32, 28, 28), (32, 1, 3, 3), padding=1, groups=32)
    assert {p["algorithm"] for p in dw["passes"].values()} == {"depthwise"}
    t = fastconv.explain("conv_transpose2d", (2, 16, 8, 8), (16, 8, 4, 4), stride=2, padding=1,
                         dtype="float64")
    assert t["dtype"] == "float64" and t["gemm_kernel"] == fastconv.build_info()["gemm_f64"]
    assert all(p["workspace_bytes"] > 0 for p in t["passes"].values())


def test_explain_forced_algorithm_and_bad_arguments():
    info = fastconv.explain("conv2d", (1, 4, 9, 9), (4, 4, 5, 5), algorithm="winograd")
    assert all(p["algorithm"] is None and "winograd" in p["unsupported"]
               for p in info["passes"].values())
    with pytest.raises(ValueError, match="^explain: argument 'op'"):
        fastconv.explain("conv4d", (1, 1, 4), (1, 1, 3))
    with pytest.raises(ValueError, match="^conv2d: kernel larger"):
        fastconv.explain("conv2d", (1, 1, 4, 4), (1, 1, 7, 7))
    with pytest.raises(TypeError, match="^conv2d: argument 'input'"):
        fastconv.explain("conv2d", (1, 1, 4, 4), (1, 1, 3, 3), dtype="int32")


# ------------------------------------------------------------------- fused activation

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm, shapes", [
    ("im2col_gemm", ((2, 6, 9, 11), (8, 3, 3, 3), dict(padding=1, groups=2))),
    ("winograd", ((2, 8, 9, 11), (8, 8, 3, 3), dict(padding=1))),
    ("depthwise", ((2, 6, 9, 11), (12, 1, 5, 5), dict(padding=2, groups=6, stride=2))),
    ("auto", ((1, 3, 17), (4, 3, 4), dict(padding="same"))),
])
def test_fused_relu_equals_relu_of_the_result(algorithm, shapes, dtype, rng):
    xs, ws, kw = shapes
    nd = len(xs) - 2
    conv = getattr(fastconv, f"conv{nd}d")
    x = rng.standard_normal(xs).astype(dtype)
    x.flat[::17] = np.nan  # NaN stays NaN through the fused ReLU, as through fastconv.relu
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    plain = conv(x, w, b, **kw, algorithm=algorithm)
    fused = conv(x, w, b, **kw, algorithm=algorithm, activation="relu")
    np.testing.assert_array_equal(fused, fastconv.relu(plain))
    assert (fused[~np.isnan(fused)] >= 0).all() and np.isnan(fused).any()


def test_fused_relu_on_transposed_conv_and_bad_activation(rng):
    x = rng.standard_normal((2, 4, 5, 5))
    w = rng.standard_normal((4, 3, 4, 4))
    b = rng.standard_normal(3)
    plain = fastconv.conv_transpose2d(x, w, b, stride=2, padding=1)
    fused = fastconv.conv_transpose2d(x, w, b, stride=2, padding=1, activation="relu")
    np.testing.assert_array_equal(fused, np.maximum(plain, 0))
    with pytest.raises(ValueError, match="^conv2d: argument 'activation'"):
        fastconv.conv2d(x, rng.standard_normal((2, 4, 3, 3)), activation="gelu")
    with pytest.raises(ValueError, match="^conv_transpose1d: argument 'activation'"):
        fastconv.conv_transpose1d(x[0, :, 0], w[..., 0], activation="sigmoid")
