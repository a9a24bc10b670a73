"""Dilated stride-1 convolutions computed as one dense convolution over their dilation phases
(csrc/cpu/conv/conv_dilation_phases.h): winograd through the rewrite, the rewrite itself in 1-D,
2-D and 3-D with every inner algorithm (via the _C test hook), explain, determinism."""

from __future__ import annotations

import numpy as np
import pytest

import fastconv
from fastconv import _C, reference

from conftest import assert_close

DTYPES = [np.float32, np.float64]

# (batch, c_in, c_out, size, kernel, padding, dilation): odd sizes, d in {2, 3, 4}, asymmetric
# dilation, padding not a multiple of d, outputs fewer than d (phases with no output), inputs
# past what any output reads (grad_input 0 there).
CASES_2D = [
    (2, 8, 8, (9, 11), (3, 3), (1, 3), (2, 3)),
    (1, 8, 5, (13, 10), (3, 3), (0, 0), (4, 3)),
    (3, 16, 4, (5, 6), (3, 3), (5, 4), (2, 3)),
    (2, 4, 6, (7, 7), (3, 3), (3, 3), (3, 3)),
    (1, 3, 2, (12, 12), (3, 3), (1, 1), (1, 4)),
    (2, 9, 7, (3, 4), (3, 3), (4, 4), (4, 2)),
]


def _conv(nd):
    return getattr(fastconv, f"conv{nd}d"), getattr(reference, f"conv{nd}d"), \
        getattr(fastconv, f"conv{nd}d_backward"), getattr(reference, f"conv{nd}d_backward")


def _reductions(c_in, c_out, kernel, batch, out_spatial, in_spatial):
    k = int(np.prod(kernel))
    return c_in * k, c_out * k, batch * out_spatial


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES_2D, ids=lambda c: f"{c[3]}k{c[4]}p{c[5]}d{c[6]}")
def test_winograd_computes_dilated_3x3(case, dtype, rng):
    n, ci, co, size, kernel, pad, dil = case
    conv, conv_ref, back, back_ref = _conv(2)
    x = rng.standard_normal((n, ci) + size).astype(dtype)
    w = rng.standard_normal((co, ci) + kernel).astype(dtype)
    b = rng.standard_normal(co).astype(dtype)
    kw = dict(padding=pad, dilation=dil)
    plan = fastconv.explain("conv2d", x.shape, w.shape, dtype=np.dtype(dtype).name, **kw,
                            algorithm="winograd")["passes"]
    assert all(p["algorithm"] == "winograd" and p["rewrite"] == "dilation_phases"
               for p in plan.values())
    y = conv(x, w, b, **kw, algorithm="winograd")
    y_ref = conv_ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx, gw, _ = back(gy, x, w, **kw, algorithm="winograd")
    gx_ref, gw_ref, _ = back_ref(*(a.astype(np.float64) for a in (gy, x, w)), **kw)
    r_fwd, r_data, r_weight = _reductions(ci, co, kernel, n, y[0, 0].size, x[0, 0].size)
    assert_close(y, y_ref, dtype=dtype, reduction=r_fwd, what="forward")
    assert_close(gx, gx_ref, dtype=dtype, reduction=r_data, what="grad_input")
    assert_close(gw, gw_ref, dtype=dtype, reduction=r_weight, what="grad_weight")


def _triple(v, nd, fill):
    return (fill,) * (3 - nd) + tuple(v)


# The rewrite itself: 1-D, 2-D, 3-D, non-3x3 kernels, groups.
# (batch, c_in, c_out, size, kernel, padding, dilation, groups)
HOOK_CASES = [
    (2, 3, 4, (17,), (3,), (2,), (3,), 1),
    (1, 4, 6, (23,), (5,), (7,), (4,), 2),
    (2, 4, 5, (9, 8), (2, 3), (1, 2), (2, 3), 1),
    (1, 6, 6, (7, 9), (3, 1), (3, 0), (4, 1), 3),
    (2, 8, 4, (11, 9), (3, 3), (2, 1), (3, 2), 1),
    (2, 3, 4, (5, 7, 6), (2, 3, 2), (1, 2, 1), (2, 2, 3), 1),
    (1, 2, 4, (6, 5, 7), (3, 2, 3), (2, 0, 3), (3, 1, 2), 2),
]


HOOK_PARAMS = [pytest.param(case, inner, id=f"{inner}-{case[3]}k{case[4]}p{case[5]}d{case[6]}"
                                             f"g{case[7]}")
               for inner in ("auto", "im2col_gemm", "implicit_gemm", "winograd")
               for case in HOOK_CASES if inner != "winograd" or case[4] == (3, 3)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case, inner", HOOK_PARAMS)
def test_rewrite_matches_reference(case, dtype, inner, rng):
    n, ci, co, size, kernel, pad, dil, groups = case
    nd = len(size)
    _, conv_ref, _, back_ref = _conv(nd)
    x = rng.standard_normal((n, ci) + size).astype(dtype)
    w = rng.standard_normal((co, ci // groups) + kernel).astype(dtype)
    kw = dict(padding=pad, dilation=dil, groups=groups)
    y_ref = conv_ref(x.astype(np.float64), w.astype(np.float64), None, **kw)
    gy = rng.standard_normal(y_ref.shape).astype(dtype)
    gx_ref, gw_ref, _ = back_ref(gy.astype(np.float64), x.astype(np.float64),
                                 w.astype(np.float64), **kw)
    launch = (_triple((1,) * nd, nd, 1), _triple(pad, nd, 0), _triple(dil, nd, 1), groups, inner)
    y = np.full(y_ref.shape, np.nan, dtype)
    gx = np.full(x.shape, np.nan, dtype)
    gw = np.full(w.shape, np.nan, dtype)
    _C._conv_dilation_phases("forward", x, w, y, *launch)
    _C._conv_dilation_phases("backward_data", gy, w, gx, *launch)
    _C._conv_dilation_phases("backward_weight", x, gy, gw, *launch)
    r_fwd, r_data, r_weight = _reductions(ci // groups, co // groups, kernel, n, y[0, 0].size,
                                          x[0, 0].size)
    assert_close(y, y_ref, dtype=dtype, reduction=r_fwd, what="forward")
    assert_close(gx, gx_ref, dtype=dtype, reduction=r_data, what="grad_input")
    assert_close(gw, gw_ref, dtype=dtype, reduction=r_weight, what="grad_weight")


def test_rewrite_hook_refuses_what_it_cannot_compute(rng):
    x = rng.standard_normal((1, 2, 9, 9))
    w = rng.standard_normal((2, 2, 3, 3))
    with pytest.raises(ValueError, match="stride 1"):
        _C._conv_dilation_phases("forward", x, w, np.empty((1, 2, 4, 4)), (1, 2, 2), (0, 0, 0),
                                 (1, 2, 2), 1, "auto")
    with pytest.raises(ValueError, match="winograd"):
        _C._conv_dilation_phases("forward", np.ascontiguousarray(x[..., :1]),
                                 np.ascontiguousarray(w[..., :1]), np.empty((1, 2, 5, 1)),
                                 (1, 1, 1), (0, 0, 0), (1, 2, 1), 1, "winograd")


# ----------------------------------------------------------------------------- explain, auto

DEEPLAB = [((8, 256, 28, 28), 2), ((8, 256, 28, 28), 4), ((1, 512, 33, 33), 6),
           ((1, 512, 33, 33), 12)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_explain_reports_the_rewrite_and_its_workspace(dtype):
    for xs, d in DEEPLAB:
        w = (256, xs[1], 3, 3)
        plan = fastconv.explain("conv2d", xs, w, padding=d, dilation=d, dtype=dtype)["passes"]
        for p in plan.values():
            if p.get("rewrite") is not None:
                assert p["rewrite"] == "dilation_phases" and p["algorithm"] == "winograd"
            assert 0 < p["workspace_bytes"] < 64 * 2**20
    # the gather/scatter buffers count: forced winograd on a dilated conv needs more than on the
    # dense phase-batched conv alone
    plain = fastconv.explain("conv2d", (32, 16, 12, 12), (16, 16, 3, 3), padding=1,
                             algorithm="winograd")
    dilated = fastconv.explain("conv2d", (8, 16, 24, 24), (16, 16, 3, 3), padding=2, dilation=2,
                               algorithm="winograd")
    for name, p in dilated["passes"].items():
        assert p["rewrite"] == "dilation_phases"
        buffers = (32 * 16 * 12 * 12 + 32 * 16 * 12 * 12) * 4  # phases 12x12, padding 1
        assert p["workspace_bytes"] == plain["passes"][name]["workspace_bytes"] + buffers
    # no rewrite for what an algorithm computes directly, nor with stride > 1
    direct = fastconv.explain("conv2d", (8, 16, 24, 24), (16, 16, 3, 3), padding=2, dilation=2,
                              algorithm="im2col_gemm")
    assert all("rewrite" not in p for p in direct["passes"].values())
    strided = fastconv.explain("conv2d", (8, 16, 24, 24), (16, 16, 3, 3), padding=2, dilation=2,
                               stride=2, algorithm="winograd")
    assert all(p["algorithm"] is None for p in strided["passes"].values())


# ------------------------------------------------------------------------------ determinism

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_dilated_results_do_not_depend_on_threads_or_batch(dtype, restore_threads):
    """Through the rewrite, a sample's phases sit at batch positions n P .. n P + P - 1: results
    are bitwise the same with 1 and 2 threads, and for a sample alone or in a batch."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 24, 21, 19)).astype(dtype)
    w = rng.standard_normal((16, 24, 3, 3)).astype(dtype)
    kw = dict(padding=(2, 3), dilation=(2, 3), algorithm="winograd")
    results = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        y = fastconv.conv2d(x, w, **kw)
        results.append((y,) + fastconv.conv2d_backward(y, x, w, **kw))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
    y, gx = results[0][0], results[0][1]
    for i in (0, 2):
        np.testing.assert_array_equal(fastconv.conv2d(x[i:i + 1], w, **kw), y[i:i + 1])
        gx_alone = fastconv.conv2d_backward(y[i:i + 1], x[i:i + 1], w, **kw,
                                            output_mask=(True, False, False))[0]
        np.testing.assert_array_equal(gx_alone, gx[i:i + 1])


def test_rewrite_on_random_geometries():
    """Random 1-D/2-D/3-D geometries (sizes, kernels, dilations, padding up to twice the
    dilation), all three passes through the rewrite, float64, against the reference."""
    rng = np.random.default_rng(2026)
    for trial in range(30):
        nd = 1 + trial % 3
        kernel = tuple(int(k) for k in rng.integers(1, 4, nd))
        dil = tuple(int(d) for d in rng.integers(1, 5, nd))
        if max(dil) == 1:
            dil = (2,) + dil[1:]
        pad = tuple(int(rng.integers(0, 2 * d + 1)) for d in dil)
        span = [d * (k - 1) + 1 for d, k in zip(dil, kernel)]
        size = tuple(int(rng.integers(max(1, s - 2 * p), s + 9)) for s, p in zip(span, pad))
        n, groups = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        ci, co = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
        _, conv_ref, _, back_ref = _conv(nd)
        x = rng.standard_normal((n, ci) + size)
        w = rng.standard_normal((co, ci // groups) + kernel)
        kw = dict(padding=pad, dilation=dil, groups=groups)
        y_ref = conv_ref(x, w, None, **kw)
        gy = rng.standard_normal(y_ref.shape)
        gx_ref, gw_ref, _ = back_ref(gy, x, w, **kw)
        inner = ("auto", "im2col_gemm", "implicit_gemm")[trial % 3]
        launch = (_triple((1,) * nd, nd, 1), _triple(pad, nd, 0), _triple(dil, nd, 1), groups,
                  inner)
        y, gx, gw = np.empty_like(y_ref), np.empty_like(x), np.empty_like(w)
        _C._conv_dilation_phases("forward", x, w, y, *launch)
        _C._conv_dilation_phases("backward_data", gy, w, gx, *launch)
        _C._conv_dilation_phases("backward_weight", x, gy, gw, *launch)
        what = f"trial {trial}: size {size} kernel {kernel} pad {pad} dilation {dil}"
        for got, ref in ((y, y_ref), (gx, gx_ref), (gw, gw_ref)):
            assert_close(got, ref, reduction=64, what=what)
