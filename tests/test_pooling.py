"""Pooling ops against the NumPy reference, PyTorch and a NumPy model of TensorFlow's padding."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastconv as fc
from fastconv.reference import pooling as ref
from conftest import assert_close

DTYPES = [np.float32, np.float64]
SPATIAL = {1: (11,), 2: (7, 9), 3: (5, 6, 7)}


def _id(dt):
    return "f32" if np.dtype(dt) == np.float32 else "f64"


def _torch():
    return pytest.importorskip("torch")


def _tuple(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def _x(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _torch_grad(fn, x, gy):
    """torch's grad_input of fn at x for grad_output gy."""
    torch = _torch()
    xt = torch.from_numpy(x.copy()).requires_grad_()
    out = fn(xt)
    out = out[0] if isinstance(out, tuple) else out
    out.backward(torch.from_numpy(gy))
    return xt.grad.numpy()


def _fn(kind, nd):
    return getattr(fc, f"{kind}{nd}d"), getattr(fc, f"{kind}{nd}d_backward")


# ------------------------------------------------------------------------------ max pooling
# (ndim, N, C, spatial, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    (1, 2, 3, (11,), 3, 2, 1, 1, False),
    (1, 1, 2, (10,), 4, 3, 2, 2, True),
    (1, 2, 1, (8,), 2, None, 0, 1, True),
    (2, 2, 3, (7, 9), 3, 2, 1, 1, True),
    (2, 1, 2, (8, 8), (3, 2), (2, 1), (1, 0), (1, 2), False),
    (2, 2, 2, (9, 6), 2, None, 1, 1, True),
    (2, 1, 3, (11, 10), (3, 4), (3, 2), (1, 2), (2, 1), True),
    (3, 2, 2, (5, 6, 7), 3, 2, 1, 1, True),
    (3, 1, 2, (6, 5, 7), (2, 3, 2), (1, 2, 2), (0, 1, 1), (2, 1, 1), False),
    (3, 1, 1, (5, 5, 5), 2, None, 0, 1, True),
]


def _case_id(kind, c):
    nd, n, ch, sp = c[:4]
    rest = "_".join(f"{k}{v}".replace(" ", "") for k, v in zip(("k", "s", "p", "d"), c[4:8]))
    return f"{kind}{nd}d_n{n}_c{ch}_{'x'.join(map(str, sp))}_{rest}" + ("_ceil" if c[8] else "")


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("case", MAX_CASES, ids=[_case_id("max_pool", c) for c in MAX_CASES])
def test_max_pool_matches_reference_and_torch(case, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    nd, n, c, sp, k, s, p, d, ceil = case
    x = _x(rng, (n, c) + sp, dtype)
    fwd, bwd = _fn("max_pool", nd)
    v, i = fwd(x, k, s, p, d, ceil, return_indices=True)
    rv, ri = ref.max_pool(x, _tuple(k, nd), None if s is None else _tuple(s, nd), _tuple(p, nd),
                          _tuple(d, nd), ceil)
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(i, ri)
    tfn = getattr(F, f"max_pool{nd}d")
    tv, ti = tfn(torch.from_numpy(x), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(v, tv.numpy())
    np.testing.assert_array_equal(i, ti.numpy())
    assert v.dtype == dtype and i.dtype == np.int64
    np.testing.assert_array_equal(fwd(x, k, s, p, d, ceil), v)  # without indices
    gy = _x(rng, v.shape, dtype)
    gx = bwd(gy, x, i, k, s, p, d, ceil)
    assert_close(gx, ref.max_pool_backward(gy, x.shape, ri), reduction=4, what="grad vs ref")
    assert_close(gx, _torch_grad(lambda t: tfn(t, k, s, p, d, ceil), x, gy), reduction=4,
                 what="grad vs torch")
    # unbatched
    v1, i1 = fwd(x[0], k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(v1, v[0])
    np.testing.assert_array_equal(i1, i[0])
    np.testing.assert_array_equal(bwd(gy[0], x[0], i1, k, s, p, d, ceil), gx[0])


@pytest.mark.torch
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_nan_inf_ties_like_torch(nd, rng):
    torch = _torch()
    import torch.nn.functional as F
    shape = (2, 3) + SPATIAL[nd]
    # few distinct values: many ties; plus NaN, +inf, -inf sprinkled in
    x = rng.integers(-2, 3, size=shape).astype(np.float64)
    mask = rng.random(shape)
    x[mask < 0.1] = np.nan
    x[(mask >= 0.1) & (mask < 0.15)] = np.inf
    x[(mask >= 0.15) & (mask < 0.3)] = -np.inf
    x[0, 0] = -np.inf  # a whole plane of -inf: index = first cell of each window
    for k, s, p, ceil in [(3, 2, 1, True), (2, 1, 0, False), (3, 1, 1, False)]:
        v, i = getattr(fc, f"max_pool{nd}d")(x, k, s, p, 1, ceil, return_indices=True)
        tv, ti = getattr(F, f"max_pool{nd}d")(torch.from_numpy(x), k, s, p, 1, ceil,
                                               return_indices=True)
        np.testing.assert_array_equal(v, tv.numpy())  # NaN == NaN for assert_array_equal
        np.testing.assert_array_equal(i, ti.numpy())
        rv, ri = ref.max_pool(x, (k,) * nd, (s,) * nd, (p,) * nd, (1,) * nd, ceil)
        np.testing.assert_array_equal(i, ri)
        gy = rng.standard_normal(v.shape)
        gx = getattr(fc, f"max_pool{nd}d_backward")(gy, x, i, k, s, p, 1, ceil)
        np.testing.assert_allclose(gx, _torch_grad(
            lambda t: getattr(F, f"max_pool{nd}d")(t, k, s, p, 1, ceil), x, gy), rtol=1e-12,
            atol=1e-12)
    # adaptive max: same scan rule, per window and (sizes that divide) as plain pooling
    for out in [3, tuple(next(d for d in (3, 2, 1) if n % d == 0) for n in SPATIAL[nd])]:
        av, ai = getattr(fc, f"adaptive_max_pool{nd}d")(x, out, return_indices=True)
        tav, tai = getattr(F, f"adaptive_max_pool{nd}d")(torch.from_numpy(x), out, True)
        np.testing.assert_array_equal(av, tav.numpy())
        np.testing.assert_array_equal(ai, tai.numpy())


# -------------------------------------------------------------------------- average pooling
# (ndim, N, C, spatial, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CASES = [
    (1, 2, 3, (11,), 3, 2, 1, False, True, None),
    (1, 1, 2, (10,), 4, 3, 2, True, False, None),
    (1, 2, 2, (9,), 2, None, 1, True, True, None),
    (2, 2, 3, (7, 9), 3, 2, 1, True, True, None),
    (2, 1, 2, (8, 7), (3, 2), (2, 1), (1, 0), True, False, None),
    (2, 2, 2, (9, 6), 2, None, 1, True, True, 3),
    (2, 1, 3, (11, 10), (3, 4), (3, 2), (1, 2), False, False, -2),
    (3, 2, 2, (5, 6, 7), 3, 2, 1, True, True, None),
    (3, 1, 2, (6, 5, 7), (2, 3, 2), (1, 2, 2), (0, 1, 1), True, False, 5),
    (3, 1, 1, (5, 5, 5), 2, None, 0, True, True, None),
]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("case", AVG_CASES, ids=[
    _case_id("avg_pool", c[:7] + (1,) + c[7:8]) + ("_incl" if c[8] else "_excl") +
    ("" if c[9] is None else f"_div{c[9]}") for c in AVG_CASES])
def test_avg_pool_matches_reference_and_torch(case, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    nd, n, c, sp, k, s, p, ceil, incl, div = case
    x = _x(rng, (n, c) + sp, dtype)
    fwd, bwd = _fn("avg_pool", nd)
    extra = () if nd == 1 else (div,)
    y = fwd(x, k, s, p, ceil, incl, *extra)
    kt = _tuple(k, nd)
    red = math.prod(kt)
    args = (kt, None if s is None else _tuple(s, nd), _tuple(p, nd), ceil, incl, div)
    assert_close(y, ref.avg_pool(x, *args), reduction=red, what="forward vs ref")
    tfn = getattr(F, f"avg_pool{nd}d")
    assert_close(y, tfn(torch.from_numpy(x), k, s, p, ceil, incl, *extra).numpy(), reduction=red,
                 what="forward vs torch")
    gy = _x(rng, y.shape, dtype)
    gx = bwd(gy, x, k, s, p, ceil, incl, *extra)
    assert_close(gx, ref.avg_pool_backward(gy, x.shape, *args), reduction=red, what="grad vs ref")
    assert_close(gx, _torch_grad(lambda t: tfn(t, k, s, p, ceil, incl, *extra), x, gy),
                 reduction=red, what="grad vs torch")
    np.testing.assert_array_equal(fwd(x[1 % n], k, s, p, ceil, incl, *extra), y[1 % n])
    np.testing.assert_array_equal(bwd(gy[0], x[0], k, s, p, ceil, incl, *extra), gx[0])


def test_avg_pool_ceil_overhang_divisor():
    # length 5, kernel 2, stride 2, ceil: the last window holds one cell and divides by 1
    x = np.arange(5, dtype=np.float64)[None, None]
    np.testing.assert_array_equal(fc.avg_pool1d(x, 2, ceil_mode=True)[0, 0], [0.5, 2.5, 4.0])
    # with padding 1 the window clipped at input + padding: [(0+0)/2, (1+2)/2, (3+4)/2]
    np.testing.assert_array_equal(fc.avg_pool1d(x, 2, 2, 1, ceil_mode=True)[0, 0],
                                  [0.0, 1.5, 3.5])


def _finite_difference(f, x, gy, eps=1e-6):
    g = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        xp = x.copy()
        xp[ix] += eps
        xm = x.copy()
        xm[ix] -= eps
        g[ix] = np.sum((f(xp) - f(xm)) * gy) / (2 * eps)
    return g


@pytest.mark.parametrize("nd", [1, 2])
def test_avg_and_lp_backward_finite_differences(nd, rng):
    shape = (1, 2) + SPATIAL[nd][:1] * nd if nd == 2 else (1, 2, 9)
    x = rng.uniform(0.5, 2.0, size=shape)
    fwd, bwd = _fn("avg_pool", nd)
    y = fwd(x, 3, 2, 1, True, False)
    gy = rng.standard_normal(y.shape)
    fd = _finite_difference(lambda t: fwd(t, 3, 2, 1, True, False), x, gy)
    np.testing.assert_allclose(bwd(gy, x, 3, 2, 1, True, False), fd, rtol=1e-6, atol=1e-7)
    lfwd, lbwd = _fn("lp_pool", nd)
    for p in (1.5, 2, 3):
        y = lfwd(x, p, 3, 2, True)
        gy = rng.standard_normal(y.shape)
        fd = _finite_difference(lambda t: lfwd(t, p, 3, 2, True), x, gy)
        np.testing.assert_allclose(lbwd(gy, x, p, 3, 2, True), fd, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------- Lp pooling
# (ndim, spatial, norm_type, kernel, stride, ceil_mode)
LP_CASES = [
    (1, (11,), 2, 3, 2, False), (1, (10,), 3, 4, 3, True), (1, (9,), 1, 2, None, True),
    (1, (9,), 1.5, 3, 2, True), (1, (9,), math.inf, 3, 2, True),
    (2, (7, 9), 2, 3, 2, True), (2, (8, 7), 3, (3, 2), (2, 1), True),
    (2, (7, 8), 1.5, 2, None, False), (2, (7, 7), math.inf, 2, None, True),
    (3, (5, 6, 7), 2, 3, 2, True), (3, (5, 5, 5), 4, 2, None, False),
]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("case", LP_CASES, ids=[
    f"lp_pool{c[0]}d_{'x'.join(map(str, c[1]))}_p{c[2]}_k{c[3]}_s{c[4]}" + ("_ceil" if c[5]
                                                                            else "")
    for c in LP_CASES])
def test_lp_pool_matches_reference_and_torch(case, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    nd, sp, p, k, s, ceil = case
    x = _x(rng, (2, 2) + sp, dtype)
    if not float(p).is_integer():
        x = np.abs(x)  # x ** 1.5 of a negative x is NaN (in torch too): tested separately
    fwd, bwd = _fn("lp_pool", nd)
    y = fwd(x, p, k, s, ceil)
    kt = _tuple(k, nd)
    red = 4 * math.prod(kt)
    sargs = None if s is None else _tuple(s, nd)
    r = ref.lp_pool(x, p, kt, sargs, ceil)
    scale = max(1.0, float(np.nanmax(np.abs(r))))
    assert_close(y, r, reduction=red, scale=scale, what="forward vs ref")
    tfn = getattr(F, f"lp_pool{nd}d")
    ty = tfn(torch.from_numpy(x), p, k, s, ceil).numpy()
    assert_close(y, ty, reduction=red, scale=scale, what="forward vs torch")
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ty))
    gy = _x(rng, y.shape, dtype)
    gx = bwd(gy, x, p, k, s, ceil)
    tg = _torch_grad(lambda t: tfn(t, p, k, s, ceil), x, gy)
    finite = np.isfinite(tg)
    gscale = max(1.0, float(np.max(np.abs(tg[finite])))) if finite.any() else 1.0
    assert_close(np.where(finite, gx, 0), np.where(finite, tg, 0), reduction=red * 8,
                 scale=gscale, what="grad vs torch")
    np.testing.assert_array_equal(np.isnan(gx), np.isnan(tg))
    if dtype == np.float64:
        rg = ref.lp_pool_backward(gy, x, p, kt, sargs, ceil)
        assert_close(np.where(finite, gx, 0), np.where(finite, rg, 0), reduction=red * 8,
                     scale=gscale, what="grad vs ref")
    np.testing.assert_array_equal(fwd(x[0], p, k, s, ceil), y[0])


@pytest.mark.torch
def test_lp_pool_quirks_like_torch():
    torch = _torch()
    import torch.nn.functional as F
    x = np.array([[[1.0, -2.0, 3.0, -4.0, 0.0, 0.0, 5.0]]])
    # p=1: the signed sum (x ** p, not |x| ** p); p=3 with a negative sum: NaN; 1.5: NaN for x<0
    for p in (1, 3, 1.5, 2):
        for ceil in (False, True):
            y = fc.lp_pool1d(x, p, 2, ceil_mode=ceil)
            ty = F.lp_pool1d(torch.from_numpy(x), p, 2, ceil_mode=ceil).numpy()
            np.testing.assert_allclose(y, ty, rtol=1e-12, equal_nan=True)
    # ceil-mode edge window [5.0] alone: scaled by area / clipped = 2, so 2 * 5 ** 2 under the root
    assert fc.lp_pool1d(x, 2, 2, ceil_mode=True)[0, 0, -1] == pytest.approx(math.sqrt(50))
    # zero window: gradient 0 (not NaN)
    g = fc.lp_pool1d_backward(np.ones((1, 1, 3)), x, 2, 2)
    np.testing.assert_array_equal(g[0, 0, 4:6], [0.0, 0.0])


# ------------------------------------------------------------------------ adaptive pooling
ADAPTIVE_CASES = [(1, (11,), 4), (1, (5,), 7), (1, (6,), None), (2, (7, 9), (3, 4)),
                  (2, (7, 9), (None, 2)), (2, (5, 5), 1), (2, (4, 6), (6, 9)),
                  (3, (5, 6, 7), (2, 3, 4)), (3, (5, 4, 3), (None, 3, 1)), (3, (4, 4, 4), 1),
                  # sizes that divide: plain pooling with kernel = stride = in / out
                  (1, (12,), 4), (2, (8, 6), (4, 3)), (3, (4, 6, 2), (2, 3, 1))]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=[
    f"adaptive{c[0]}d_{'x'.join(map(str, c[1]))}_to_{c[2]}".replace(" ", "") for c in
    ADAPTIVE_CASES])
def test_adaptive_pools_match_reference_and_torch(case, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    nd, sp, out = case
    x = _x(rng, (2, 3) + sp, dtype)
    out_size = tuple(sp[i] if o is None else o for i, o in enumerate(_tuple(out, nd))) if \
        out is not None else sp
    red = math.prod(-(-a // b) + 1 for a, b in zip(sp, out_size))
    tout = out if nd > 1 else out_size  # torch's 1-D adaptive pools take no None
    afwd, abwd = _fn("adaptive_avg_pool", nd)
    y = afwd(x, out)
    assert_close(y, ref.adaptive_avg_pool(x, out_size), reduction=red, what="avg vs ref")
    ta = getattr(F, f"adaptive_avg_pool{nd}d")
    assert_close(y, ta(torch.from_numpy(x), tout).numpy(), reduction=red, what="avg vs torch")
    gy = _x(rng, y.shape, dtype)
    gx = abwd(gy, x)
    assert_close(gx, ref.adaptive_avg_pool_backward(gy, x.shape), reduction=red, what="grad ref")
    assert_close(gx, _torch_grad(lambda t: ta(t, tout), x, gy), reduction=red, what="grad torch")
    np.testing.assert_array_equal(afwd(x[0], out), y[0])
    np.testing.assert_array_equal(abwd(gy[0], x[0]), gx[0])

    mfwd, mbwd = _fn("adaptive_max_pool", nd)
    v, i = mfwd(x, out, return_indices=True)
    rv, ri = ref.adaptive_max_pool(x, out_size)
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(i, ri)
    tm = getattr(F, f"adaptive_max_pool{nd}d")
    tv, ti = tm(torch.from_numpy(x), tout, True)
    np.testing.assert_array_equal(v, tv.numpy())
    np.testing.assert_array_equal(i, ti.numpy())
    gx = mbwd(gy, x, i)
    assert_close(gx, _torch_grad(lambda t: tm(t, tout), x, gy), reduction=red, what="max grad")
    v0, i0 = mfwd(x[0], out, return_indices=True)
    np.testing.assert_array_equal(i0, i[0])
    np.testing.assert_array_equal(mbwd(gy[0], x[0], i0), gx[0])


# ------------------------------------------------------------------------------ max_unpool

@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("nd,k,s,p,out", [(1, 3, 2, 1, None), (1, 2, None, 0, (11,)),
                                          (2, 3, 2, 1, (10, 11)), (2, 2, None, 0, (1, 1, 10, 11)),
                                          (3, 2, None, 0, (9, 11, 13)), (3, 3, 2, 1, None)],
                         ids=lambda v: str(v).replace(" ", ""))
def test_max_unpool_matches_torch(nd, k, s, p, out, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    sp = {1: (11,), 2: (10, 11), 3: (9, 11, 13)}[nd]
    x = _x(rng, (1, 2) + sp, dtype)
    v, i = getattr(fc, f"max_pool{nd}d")(x, k, s, p, return_indices=True)
    u = getattr(fc, f"max_unpool{nd}d")(v, i, k, s, p, out)
    tu = getattr(F, f"max_unpool{nd}d")(torch.from_numpy(v), torch.from_numpy(i), k, s, p, out)
    np.testing.assert_array_equal(u, tu.numpy())
    np.testing.assert_array_equal(u, ref.max_unpool(v, i, u.shape[2:]))
    gy = _x(rng, u.shape, dtype)
    g = getattr(fc, f"max_unpool{nd}d_backward")(gy, i)
    np.testing.assert_array_equal(g, ref.max_unpool_backward(gy, i))
    np.testing.assert_array_equal(g, _torch_grad(
        lambda t: getattr(F, f"max_unpool{nd}d")(t, torch.from_numpy(i), k, s, p, out), v, gy))
    np.testing.assert_array_equal(getattr(fc, f"max_unpool{nd}d")(v[0], i[0], k, s, p, out), u[0])
    np.testing.assert_array_equal(getattr(fc, f"max_unpool{nd}d_backward")(gy[0], i[0]), g[0])


def test_max_unpool_repeated_indices_last_wins():
    v = np.array([[[1.0, 2.0, 3.0]]])
    i = np.array([[[1, 1, 0]]], dtype=np.int64)
    np.testing.assert_array_equal(fc.max_unpool1d(v, i, 2)[0, 0], [3.0, 2.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(fc.max_unpool1d_backward(np.arange(6.0)[None, None], i)[0, 0],
                                  [1.0, 1.0, 0.0])


# ---------------------------------------------------------------- TensorFlow same / valid

def _tf_pads(size, k, s, d=1):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return out, total // 2, total - total // 2


def _tf_pool(x, kind, k, s, padding, d=None, p=2.0):
    """NumPy model of TensorFlow's pooling: pad explicitly (max: -inf; avg: cells excluded from
    the count; lp: zero), then reduce every window of the padded array."""
    nd = x.ndim - 2
    d = (1,) * nd if d is None else d
    pads, outs = [], []
    for i in range(nd):
        if padding == "same":
            o, b, a = _tf_pads(x.shape[2 + i], k[i], s[i], d[i])
        else:
            o, b, a = (x.shape[2 + i] - (k[i] - 1) * d[i] - 1) // s[i] + 1, 0, 0
        pads.append((b, a))
        outs.append(o)
    full = [(0, 0), (0, 0)] + pads
    xp = np.pad(x.astype(np.float64), full, constant_values=-np.inf if kind == "max" else 0.0)
    real = np.pad(np.ones(x.shape), full)
    y = np.empty(x.shape[:2] + tuple(outs))
    for o in np.ndindex(*outs):
        sl = (Ellipsis,) + tuple(slice(o[i] * s[i], o[i] * s[i] + (k[i] - 1) * d[i] + 1, d[i])
                                 for i in range(nd))
        w = xp[sl].reshape(x.shape[:2] + (-1,))
        if kind == "max":
            y[(Ellipsis,) + o] = w.max(axis=2)
        elif kind == "avg":
            y[(Ellipsis,) + o] = w.sum(axis=2) / real[sl].reshape(x.shape[:2] + (-1,)).sum(axis=2)
        else:
            y[(Ellipsis,) + o] = (w ** p).sum(axis=2) ** (1 / p)
    return y


TF_CASES = [(1, (11,), 3, 2, 1), (1, (10,), 4, 3, 2), (1, (7,), 2, 1, 1), (2, (28, 28), 2, 2, 1),
            (2, (7, 9), (3, 2), (2, 3), 1), (2, (6, 5), 3, 1, (2, 1)), (3, (5, 6, 7), 3, 2, 1),
            (3, (4, 5, 3), (2, 3, 1), (3, 1, 2), 1)]


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("case", TF_CASES, ids=lambda c: str(c).replace(" ", ""))
def test_tensorflow_padding_matches_numpy_model(case, padding, rng):
    nd, sp, k, s, d = case
    kt, st, dt = _tuple(k, nd), _tuple(s, nd), _tuple(d, nd)
    x = rng.uniform(-2.0, 2.0, size=(2, 3) + sp)
    y = getattr(fc, f"max_pool{nd}d")(x, k, s, padding, d)
    assert_close(y, _tf_pool(x, "max", kt, st, padding, dt), what="max")
    if padding == "same":
        assert y.shape[2:] == tuple(-(-a // b) for a, b in zip(sp, st))
    if d == 1:
        for incl in (True, False):
            y = getattr(fc, f"avg_pool{nd}d")(x, k, s, padding, False, incl)
            assert_close(y, _tf_pool(x, "avg", kt, st, padding), reduction=math.prod(kt),
                         what="avg")
        xa = np.abs(x)
        y = getattr(fc, f"lp_pool{nd}d")(xa, 2, k, s, padding=padding)
        assert_close(y, _tf_pool(xa, "lp", kt, st, padding), reduction=math.prod(kt), what="lp")
        # backward through the same geometry: finite differences on a small input
        if nd == 1:
            gy = rng.standard_normal(y.shape)
            g = fc.avg_pool1d_backward(gy, x, k, s, padding)
            fd = _finite_difference(lambda t: fc.avg_pool1d(t, k, s, padding), x, gy)
            np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


def test_tf_same_textbook_example(rng):
    x = rng.standard_normal((4, 28, 28)).astype(np.float32)
    y, i = fc.max_pool2d(x, 2, 2, "same", return_indices=True)
    assert y.shape == (4, 14, 14)
    np.testing.assert_array_equal(y, x.reshape(4, 14, 2, 14, 2).max(axis=(2, 4)))
    gy = np.ones_like(y)
    g = fc.max_pool2d_backward(gy, x, i, 2, 2, "same")
    assert g.sum() == y.size


# ------------------------------------------------------------------------------ properties

def test_inputs_not_modified_and_noncontiguous_inputs(rng):
    x = rng.standard_normal((2, 3, 9, 8))
    xt = np.asfortranarray(x)
    xs = rng.standard_normal((2, 3, 18, 8))[:, :, ::2]
    for inp in (x, xt, xs):
        before = inp.copy()
        v, i = fc.max_pool2d(inp, 3, 2, 1, return_indices=True)
        np.testing.assert_array_equal(v, fc.max_pool2d(np.ascontiguousarray(inp), 3, 2, 1))
        gy = rng.standard_normal(v.shape)
        gy_before, i_before = gy.copy(), i.copy()
        fc.max_pool2d_backward(gy, inp, i, 3, 2, 1)
        fc.avg_pool2d(inp, 3, 2, 1)
        fc.avg_pool2d_backward(gy, inp, 3, 2, 1)
        fc.lp_pool2d(inp, 2, 3, 2)
        fc.lp_pool2d_backward(rng.standard_normal((2, 3, 4, 3)), inp, 2, 3, 2)
        fc.adaptive_avg_pool2d(inp, 3)
        fc.adaptive_max_pool2d(inp, 3)
        u = fc.max_unpool2d(v, i, 3, 2, 1, output_size=inp.shape[2:])
        fc.max_unpool2d_backward(u, i)
        np.testing.assert_array_equal(inp, before)
        np.testing.assert_array_equal(gy, gy_before)
        np.testing.assert_array_equal(i, i_before)


def test_results_do_not_depend_on_thread_count(rng):
    x = rng.standard_normal((3, 5, 17, 19)).astype(np.float32)
    old = fc.get_num_threads()

    def run():
        v, i = fc.max_pool2d(x, 3, 2, 1, return_indices=True)
        gy = np.ones_like(v)
        return [v, i, fc.max_pool2d_backward(gy, x, i, 3, 2, 1), fc.avg_pool2d(x, 3, 2, 1, True),
                fc.avg_pool2d_backward(gy, x, 3, 2, 1), fc.lp_pool2d(x, 2, 3, 2),
                fc.adaptive_avg_pool2d(x, (4, 5)), fc.adaptive_max_pool2d(x, 4),
                fc.adaptive_avg_pool2d_backward(np.ones((3, 5, 4, 5), np.float32), x),
                fc.max_unpool2d(v, i, 3, 2, 1, output_size=x.shape[2:])]
    try:
        fc.set_num_threads(1)
        one = run()
        fc.set_num_threads(2)
        two = run()
    finally:
        fc.set_num_threads(old)
    for a, b in zip(one, two):
        assert a.tobytes() == b.tobytes()


def test_empty_batch_and_channels():
    x = np.zeros((0, 3, 5, 5), np.float32)
    assert fc.max_pool2d(x, 2).shape == (0, 3, 2, 2)
    assert fc.avg_pool2d(np.zeros((2, 0, 5, 5)), 2).shape == (2, 0, 2, 2)
    assert fc.adaptive_avg_pool2d(x, 3).shape == (0, 3, 3, 3)


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@pytest.mark.torch
@hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
@hypothesis.given(data=st.data())
def test_property_random_pool2d_configs_match_torch(data):
    torch = _torch()
    import torch.nn.functional as F
    k = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)), label="kernel")
    s = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="stride")
    p = data.draw(st.tuples(st.integers(0, k[0] // 2), st.integers(0, k[1] // 2)), label="pad")
    d = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="dilation")
    ceil = data.draw(st.booleans(), label="ceil")
    incl = data.draw(st.booleans(), label="count_include_pad")
    h = data.draw(st.integers((k[0] - 1) * d[0] + 1, 12), label="h")
    w = data.draw(st.integers((k[1] - 1) * d[1] + 1, 12), label="w")
    seed = data.draw(st.integers(0, 2**31), label="seed")
    x = np.random.default_rng(seed).standard_normal((2, 2, h, w))
    xt = torch.from_numpy(x)
    try:
        tv, ti = F.max_pool2d(xt, k, s, p, d, ceil, return_indices=True)
    except RuntimeError:  # fastconv refuses the same configurations
        with pytest.raises(ValueError, match="max_pool2d: "):
            fc.max_pool2d(x, k, s, p, d, ceil)
        return
    if (tv == -math.inf).any():  # torch's empty-window case, refused by fastconv
        with pytest.raises(ValueError, match="holds no input cell"):
            fc.max_pool2d(x, k, s, p, d, ceil)
        return
    v, i = fc.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(v, tv.numpy())
    np.testing.assert_array_equal(i, ti.numpy())
    a = fc.avg_pool2d(x, k, s, p, ceil, incl)
    np.testing.assert_allclose(a, F.avg_pool2d(xt, k, s, p, ceil, incl).numpy(), rtol=1e-12,
                               atol=1e-14)


def test_pool_validation_cache_hits_behave_like_full_validation(rng):
    """pooling.validate_pool caches geometry per (shape, dtype, arguments and their types): a
    hit on new data gives that data's result, unbatched and batched stay apart, an argument of
    another type (1 vs True) is validated fully, and the cache holds no input."""
    import gc
    import weakref
    from fastconv import pooling
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    first = fc.max_pool2d(x, 3, 2, 1)
    x2 = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    np.testing.assert_array_equal(fc.max_pool2d(x2, 3, 2, 1), fc.max_pool2d(x2, (3, 3), [2, 2], 1))
    assert not np.array_equal(first, fc.max_pool2d(x2, 3, 2, 1))
    assert fc.max_pool2d(x2[0], 3, 2, 1).shape == (3, 5, 5)
    assert fc.avg_pool2d(x2, 3, 2, 1, True).shape == (2, 3, 5, 5)   # ceil_mode=True
    with pytest.raises(TypeError):
        fc.avg_pool2d(x2, 3, 2, 1, 2)                               # ceil_mode=2: refused
    ref = weakref.ref(x2)
    del x2
    gc.collect()
    assert ref() is None and all(t.input is None for t in pooling._POOL_CACHE.values())


# Disjoint windows (extent (k - 1) * d + 1 <= stride): max pooling's backward runs the gather
# form; FASTCONV_POOL_NO_GATHER=1 selects the scatter form it must equal bit for bit.
DISJOINT_CASES = [  # (spatial, kernel, stride, padding, dilation, ceil_mode)
    ((9, 13), 2, 2, 0, 1, False),
    ((9, 13), 2, 2, 1, 1, True),
    ((10, 11), (2, 3), (3, 3), (1, 0), 1, True),  # gaps between windows
    ((11, 12), 2, 3, 1, 2, False),  # dilation holes
    ((5, 6, 7), (1, 2, 2), (1, 2, 2), 0, 1, True),
]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("case", DISJOINT_CASES, ids=str)
def test_max_pool_backward_gather_form(case, dtype, rng, monkeypatch):
    torch = _torch()
    import torch.nn.functional as F
    sp, k, s, p, d, ceil = case
    nd = len(sp)
    fwd, bwd = _fn("max_pool", nd)
    x = rng.integers(-2, 3, size=(3, 2) + sp).astype(dtype)  # ties
    x[0, 1] = np.nan
    v, i = fwd(x, k, s, p, d, ceil, return_indices=True)
    gy = _x(rng, v.shape, dtype)
    gy[gy < -1] = -0.0  # scatter gives 0 + -0.0 = +0.0
    tfn = getattr(F, f"max_pool{nd}d")
    # a user's indices: plane (1, 0) points outside its windows (repeats), plane (2, 1) too
    # where torch's scatter accepts it; those planes take the scatter form
    i_user = i.copy()
    i_user[1, 0] = np.roll(i[1, 0], 1)
    i_user[2, 1].flat[0] = i[2, 1].flat[-1]
    for stream in ("0", "1"):
        monkeypatch.setenv("FASTCONV_POOL_STREAM", stream)
        for idx in (i, i_user):
            gx = bwd(gy, x, idx, k, s, p, d, ceil)
            monkeypatch.setenv("FASTCONV_POOL_NO_GATHER", "1")
            want = bwd(gy, x, idx, k, s, p, d, ceil)
            monkeypatch.delenv("FASTCONV_POOL_NO_GATHER")
            assert gx.tobytes() == want.tobytes()
        np.testing.assert_array_equal(bwd(gy, x, i, k, s, p, d, ceil), _torch_grad(
            lambda t: tfn(t, k, s, p, d, ceil), x, gy))
        ref_gx = ref.max_pool_backward(gy.astype(np.float64), x.shape, i_user)
        assert_close(bwd(gy, x, i_user, k, s, p, d, ceil), ref_gx, reduction=4, what="user idx")
    bad = i.copy()
    bad[2, 0].flat[0] = x[0, 0].size
    with pytest.raises(ValueError):
        bwd(gy, x, bad, k, s, p, d, ceil)


# Max pooling without indices, 2-D windows overlapping along H, 2 or 3 wide, stride 1 or 2
# along W: the separable form (row maxima, then the window's rows) must give the row-major
# scan's values bit for bit (FASTCONV_POOL_NO_SEPARABLE_MAX=1 runs that scan): ties of -0.0 and
# +0.0 keep the first, NaN wins, -inf-only windows.
SEPARABLE_MAX_CASES = [  # (spatial, kernel, stride, padding, ceil_mode)
    ((13, 14), 3, 2, 1, False),
    ((12, 15), 3, 2, 1, True),
    ((9, 10), 3, 1, 1, False),
    ((11, 9), (4, 2), (2, 1), (2, 1), True),
    ((10, 17), (3, 3), (1, 2), (0, 1), False),
    ((7, 75), 3, 2, 1, False),  # 37 interior columns: the AVX-512 stride-2 row maxima + tail
    ((5, 68), (3, 2), 2, 0, True),
]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("case", SEPARABLE_MAX_CASES, ids=str)
def test_max_pool_separable_values(case, dtype, rng, monkeypatch):
    torch = _torch()
    import torch.nn.functional as F
    sp, k, s, p, ceil = case
    x = rng.choice(np.array([-1.0, -0.0, 0.0, 1.0, -np.inf, np.inf, np.nan], dtype=dtype),
                   size=(2, 3) + sp, p=[0.2, 0.25, 0.25, 0.1, 0.1, 0.05, 0.05])
    x[0, 1] = -np.inf
    v = fc.max_pool2d(x, k, s, p, 1, ceil)
    monkeypatch.setenv("FASTCONV_POOL_PREFETCH", "1")  # the next plane's prefetch: no effect
    assert fc.max_pool2d(x, k, s, p, 1, ceil).tobytes() == v.tobytes()
    monkeypatch.delenv("FASTCONV_POOL_PREFETCH")
    monkeypatch.setenv("FASTCONV_POOL_NO_SEPARABLE_MAX", "1")
    want = fc.max_pool2d(x, k, s, p, 1, ceil)
    monkeypatch.delenv("FASTCONV_POOL_NO_SEPARABLE_MAX")
    assert v.tobytes() == want.tobytes()
    np.testing.assert_array_equal(v, F.max_pool2d(torch.from_numpy(x), k, s, p, 1, ceil).numpy())
    vi, _ = fc.max_pool2d(x, k, s, p, 1, ceil, return_indices=True)
    assert v.tobytes() == vi.tobytes()
    np.testing.assert_array_equal(fc.max_pool2d(x[1], k, s, p, 1, ceil), v[1])  # unbatched


# The separable average pooling forward streams large outputs through a per-plane buffer
# (FASTCONV_POOL_STREAM=1 forces it on small ones): the same bits as the plain stores, on planes
# that start unaligned (odd sizes), strides 1 and 2, padding, count_include_pad off, 3-D; and the
# backward's (FASTCONV_POOL_STREAM_GRAD; by default stride 1 along W only). The same with the
# next plane's prefetch forced on (FASTCONV_POOL_PREFETCH=1; by default only for inputs over
# 8 MiB), which also slices the vertical pass.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [
    ((13, 21), 3, 1, 1, True), ((17, 19), 3, 2, 1, False), ((9, 16), 2, 2, 0, True),
    ((11, 12), 5, 1, 2, False), ((5, 7, 9), 3, 1, 1, True),
])
def test_avg_pool_streamed_output_same_bits(rng, monkeypatch, case, dtype):
    sp, k, s, p, include = case
    nd = len(sp)
    x = _x(rng, (2, 3) + sp, dtype)
    fwd = getattr(fc, f"avg_pool{nd}d")
    bwd = getattr(fc, f"avg_pool{nd}d_backward")
    out = {}
    for stream, prefetch in (("0", "0"), ("1", "0"), ("0", "1"), ("1", "1")):
        monkeypatch.setenv("FASTCONV_POOL_STREAM", stream)
        monkeypatch.setenv("FASTCONV_POOL_STREAM_GRAD", stream)
        monkeypatch.setenv("FASTCONV_POOL_PREFETCH", prefetch)
        y = fwd(x, k, s, p, count_include_pad=include)
        out[stream + prefetch] = (y, bwd(np.ones_like(y) + y, x, k, s, p,
                                         count_include_pad=include))
    for variant in ("10", "01", "11"):
        for a, b in zip(out["00"], out[variant]):
            assert a.tobytes() == b.tobytes(), variant
    want = ref.avg_pool(x.astype(np.float64), (k,) * nd, (s,) * nd, (p,) * nd,
                        count_include_pad=include)
    assert_close(out["11"][0], want, reduction=k ** nd, what="streamed avg")
