"""The row-vectorised pooling kernels (csrc/cpu/pool/pool_kernels.h) at vector-width edges.

Widths around the SIMD widths (8 / 16 floats, 4 / 8 doubles) and odd heights, strides 1, 2 (the
specialised passes) and 3 (the generic pass), with NaN, +-inf, ties and -0.0 planted in the vector
body and in the tail. Max pooling must equal torch bit for bit (values, the sign of zero, indices);
average pooling within rounding of torch and the float64 reference; the global (1x1) adaptive
average in the documented fixed summation order (modelled here in NumPy, bit for bit); every
result identical for 1 and 2 threads.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
from fastconv.reference import pooling as ref
from conftest import assert_close

DTYPES = [np.float32, np.float64]
WIDTHS = [1, 7, 8, 15, 16, 17, 31, 33, 64]
GEOMS = [(3, 2, 1), (2, 2, 0), (2, 2, 1), (3, 1, 1), (2, 1, 0), (3, 3, 1), (4, 3, 2), (5, 1, 2),
         (4, 2, 1), (3, 3, 0), (4, 4, 0)]  # kernel, stride, pad


def _id(dt):
    return "f32" if np.dtype(dt) == np.float32 else "f64"


def _torch():
    return pytest.importorskip("torch")


def _threads_both(fn):
    old = fc.get_num_threads()
    try:
        fc.set_num_threads(1)
        one = fn()
        fc.set_num_threads(2)
        two = fn()
    finally:
        fc.set_num_threads(old)
    one = one if isinstance(one, tuple) else (one,)
    two = two if isinstance(two, tuple) else (two,)
    for a, b in zip(one, two):
        assert a.tobytes() == b.tobytes(), "1 and 2 threads differ"
    return one if len(one) > 1 else one[0]


def _special(rng, shape, dtype):
    """Few distinct values (ties), with NaN, +-inf, -0.0 and +0.0 planted at positions that fall
    in the vector body and in the tail of every row."""
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    x[x == 0] = np.where(rng.random(int((x == 0).sum())) < 0.5, -0.0, 0.0)
    W = shape[-1]
    m = rng.random(shape)
    x[m < 0.04] = np.nan
    x[(m >= 0.04) & (m < 0.08)] = np.inf
    x[(m >= 0.08) & (m < 0.2)] = -np.inf
    # deterministic plants: first, middle, last column of some rows
    for col in {0, W // 2, W - 1}:
        x[..., 1::4, col] = np.nan
        x[..., 2::5, col] = -0.0
        x[..., 3::5, col] = np.inf
    return x


def _ok(h, w, k, s, p):
    return h + 2 * p >= k and w + 2 * p >= k and p <= k // 2


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("geom", GEOMS, ids=lambda g: "k%ds%dp%d" % g)
@pytest.mark.parametrize("w", WIDTHS, ids=lambda w: f"w{w}")
def test_max_pool_rows_bitwise_like_torch(w, geom, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    k, s, p = geom
    h = 9 if w % 2 else 5
    if not _ok(h, w, k, s, p):
        pytest.skip("no window")
    for x in (_special(rng, (2, 3, h, w), dtype), rng.standard_normal((2, 3, h, w)).astype(dtype)):
        v, i = _threads_both(lambda: fc.max_pool2d(x, k, s, p, return_indices=True))
        v2 = _threads_both(lambda: fc.max_pool2d(x, k, s, p))
        tv, ti = F.max_pool2d(torch.from_numpy(x), k, s, p, return_indices=True)
        tv = tv.numpy()
        np.testing.assert_array_equal(v, tv)
        np.testing.assert_array_equal(np.signbit(v), np.signbit(tv))  # -0.0 vs +0.0
        np.testing.assert_array_equal(i, ti.numpy())
        assert v2.tobytes() == v.tobytes()
        _, ri = ref.max_pool(x, (k, k), (s, s), (p, p), (1, 1), False)
        np.testing.assert_array_equal(i, ri)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("w", [7, 16, 17, 33], ids=lambda w: f"w{w}")
def test_max_pool_dilated_and_3d_rows_bitwise_like_torch(w, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    x = _special(rng, (1, 2, 7, w), dtype)
    v, i = _threads_both(lambda: fc.max_pool2d(x, 3, (1, 2), 1, 2, return_indices=True))
    tv, ti = F.max_pool2d(torch.from_numpy(x), 3, (1, 2), 1, 2, return_indices=True)
    np.testing.assert_array_equal(v, tv.numpy())
    np.testing.assert_array_equal(np.signbit(v), np.signbit(tv.numpy()))
    np.testing.assert_array_equal(i, ti.numpy())
    x3 = _special(rng, (1, 2, 5, 5, w), dtype)
    v, i = _threads_both(lambda: fc.max_pool3d(x3, 3, 2, 1, ceil_mode=True, return_indices=True))
    tv, ti = F.max_pool3d(torch.from_numpy(x3), 3, 2, 1, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(v, tv.numpy())
    np.testing.assert_array_equal(i, ti.numpy())


@pytest.mark.torch
def test_max_of_signed_zeros_like_torch():
    torch = _torch()
    import torch.nn.functional as F
    for first, second in ((-0.0, 0.0), (0.0, -0.0)):
        x = np.full((1, 1, 3, 40), -1.0, np.float32)
        x[0, 0, :, 0::2] = first
        x[0, 0, :, 1::2] = second
        for k, s in ((2, 2), (3, 1), (3, 2)):
            v, i = fc.max_pool2d(x, k, s, return_indices=True)
            tv, ti = F.max_pool2d(torch.from_numpy(x), k, s, return_indices=True)
            np.testing.assert_array_equal(np.signbit(v), np.signbit(tv.numpy()))
            np.testing.assert_array_equal(i, ti.numpy())


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("geom", GEOMS, ids=lambda g: "k%ds%dp%d" % g)
@pytest.mark.parametrize("w", WIDTHS, ids=lambda w: f"w{w}")
def test_avg_pool_rows_like_torch_and_reference(w, geom, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    k, s, p = geom
    h = 9 if w % 2 else 5
    if not _ok(h, w, k, s, p):
        pytest.skip("no window")
    x = rng.standard_normal((2, 3, h, w)).astype(dtype)
    for ceil, incl in ((False, True), (True, False)):
        y = _threads_both(lambda: fc.avg_pool2d(x, k, s, p, ceil, incl))
        assert_close(y, ref.avg_pool(x, (k, k), (s, s), (p, p), ceil, incl), reduction=k * k, what="fwd ref")
        ty = F.avg_pool2d(torch.from_numpy(x), k, s, p, ceil, incl).numpy()
        assert_close(y, ty, reduction=k * k, what="fwd torch")
        gy = rng.standard_normal(y.shape).astype(dtype)
        gx = _threads_both(lambda: fc.avg_pool2d_backward(gy, x, k, s, p, ceil, incl))
        assert_close(gx, ref.avg_pool_backward(gy, x.shape, (k, k), (s, s), (p, p), ceil, incl),
                     reduction=k * k, what="bwd ref")
        xt = torch.from_numpy(x.copy()).requires_grad_()
        F.avg_pool2d(xt, k, s, p, ceil, incl).backward(torch.from_numpy(gy))
        assert_close(gx, xt.grad.numpy(), reduction=k * k, what="bwd torch")
    # the fixed order's bits (count_include_pad, floor mode: divisor k * k everywhere), padded
    # cells skipped (adding +0.0 to a sum that starts at +0.0 changes nothing), one division.
    # Stride 1 or 2 along W, the separable form: per input row the sum along W from +0.0 (kw
    # ascending), then the sum of the window's rows from +0.0. Else the scalar definition:
    # each window summed from +0.0, rows then columns.
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    acc = np.zeros((2, 3, oh, ow), dtype)
    if s in (1, 2):
        hsum = np.zeros(xp.shape[:3] + (ow,), dtype)
        for kw in range(k):
            hsum += xp[:, :, :, kw:kw + s * (ow - 1) + 1:s]
        for kh in range(k):
            acc += hsum[:, :, kh:kh + s * (oh - 1) + 1:s]
    else:
        for kh in range(k):
            for kw in range(k):
                acc += xp[:, :, kh:kh + s * (oh - 1) + 1:s, kw:kw + s * (ow - 1) + 1:s]
    np.testing.assert_array_equal(fc.avg_pool2d(x, k, s, p), acc / dtype(k * k))
    # the row kernels keep the scalar definition's order: a sum of k*k equal values is exact
    if w >= k:
        ones = np.ones_like(x)
        y1 = fc.avg_pool2d(ones, k, s, 0)
        np.testing.assert_array_equal(y1, np.ones_like(y1))


def _fixed_order_sum(plane: np.ndarray) -> np.ndarray:
    """NumPy model of plane_sum's order: lanes = 128 bytes of partial sums (32 float32 / 16
    float64), partial j adds x[j], x[j + lanes], ... in order (tail zero-padded), then the
    pairwise tree partial[j] += partial[j + w] for w = lanes/2, ..., 1."""
    dt = plane.dtype
    lanes = 128 // dt.itemsize
    flat = plane.reshape(-1)
    n = flat.size
    pad = np.zeros(-(-n // lanes) * lanes if n else lanes, dt)
    pad[:n] = flat
    acc = np.zeros(lanes, dt)
    for b in pad.reshape(-1, lanes):
        acc = (acc + b).astype(dt)
    w = lanes // 2
    while w >= 1:
        acc[:w] = (acc[:w] + acc[w:2 * w]).astype(dt)
        w //= 2
    return acc[0]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("hw", [(1, 1), (7, 7), (1, 31), (3, 11), (1, 32), (1, 33), (8, 8),
                                (7, 9), (13, 17), (56, 56)], ids=lambda t: "%dx%d" % t)
def test_global_avg_pool_fixed_order(hw, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    x = (rng.standard_normal((3, 5) + hw) * 10 + 3).astype(dtype)
    y = _threads_both(lambda: fc.adaptive_avg_pool2d(x, 1))
    h, w = hw
    model = np.array([[_fixed_order_sum(x[n, c]) / dtype(1) / dtype(h) / dtype(w)
                       for c in range(5)] for n in range(3)], dtype).reshape(3, 5, 1, 1)
    assert y.tobytes() == model.tobytes()
    red = h * w
    assert_close(y, ref.adaptive_avg_pool(x, (1, 1)), reduction=red, what="vs ref")
    assert_close(y, F.adaptive_avg_pool2d(torch.from_numpy(x), 1).numpy(), reduction=red,
                 what="vs torch")
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = _threads_both(lambda: fc.adaptive_avg_pool2d_backward(gy, x))
    xt = torch.from_numpy(x.copy()).requires_grad_()
    F.adaptive_avg_pool2d(xt, 1).backward(torch.from_numpy(gy))
    assert_close(gx, xt.grad.numpy(), what="grad vs torch")
    # a single plane (the last plane's tail is read without over-reading) and 1d / 3d
    assert _threads_both(lambda: fc.adaptive_avg_pool2d(x[:1, :1], 1)).tobytes() == \
        model[:1, :1].tobytes()
    assert_close(fc.adaptive_avg_pool3d(x[:, :, None], 1)[..., 0], y, reduction=red)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("n", [49, 255, 256, 257, 300, 1000, 2049], ids=lambda n: f"n{n}")
def test_global_max_pool_like_torch(n, dtype, rng):
    torch = _torch()
    import torch.nn.functional as F
    x = rng.integers(-3, 4, size=(2, 4, n)).astype(dtype)
    x[x == 0] = -0.0
    x[0, 1] = -np.inf
    x[0, 2, n // 3] = np.inf
    x[0, 3, [n // 5, n - 1]] = np.nan
    x[1, 0, [0, n // 2]] = np.nan
    x[1, 1, ::2] = 0.0
    x[1, 1, 1::2] = -0.0  # all signed zeros: the first one (+0.0) wins
    x[1, 1, 0] = -0.0
    x[1, 1, 1] = 0.0
    for xx in (x, x[..., ::-1].copy()):
        v, i = _threads_both(lambda: fc.adaptive_max_pool1d(xx, 1, return_indices=True))
        tv, ti = F.adaptive_max_pool1d(torch.from_numpy(xx), 1, return_indices=True)
        np.testing.assert_array_equal(v, tv.numpy())
        np.testing.assert_array_equal(np.signbit(v), np.signbit(tv.numpy()))
        np.testing.assert_array_equal(i, ti.numpy())


# 2x2/2 windows that tile the plane exactly (no padding, even H and W: VGG's adaptive 14 -> 7,
# DenseNet's transition) take a fixed-size loop over the h rows: the same fixed order as the
# separable form (per input row the sum along W from +0.0, then the window's rows from +0.0, one
# division), bit for bit, with the divisor overridden too; -0.0 inputs give +0.0 as every sum
# starts at +0.0. (Wider strides take the row kernels, in torch's order.)
@pytest.mark.parametrize("dtype", DTYPES, ids=_id)
@pytest.mark.parametrize("shape, k", [((3, 4, 14, 14), 2), ((2, 3, 6, 10), 2), ((1, 5, 8, 16), 2),
                                      ((2, 2, 2, 34), 2)])
def test_avg_pool_exact_tiling_fixed_order(shape, k, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    x[0, 0, :k, :k] = -0.0
    n, c, h, w = shape
    hsum = np.zeros((n, c, h, w // k), dtype)
    for kw in range(k):
        hsum += x[:, :, :, kw::k]
    acc = np.zeros((n, c, h // k, w // k), dtype)
    for kh in range(k):
        acc += hsum[:, :, kh::k]
    y = fc.avg_pool2d(x, k, k)
    np.testing.assert_array_equal(y, acc / dtype(k * k))
    assert not np.signbit(y[0, 0, 0, 0])
    np.testing.assert_array_equal(fc.avg_pool2d(x, k, k, divisor_override=3), acc / dtype(3))
    np.testing.assert_array_equal(fc.adaptive_avg_pool2d(x, (h // k, w // k)), y)
