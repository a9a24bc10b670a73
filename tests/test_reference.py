"""The NumPy reference (fastconv.reference) itself: against torch.nn.functional and torch autograd,
and against central finite differences, in float64."""

from __future__ import annotations

import itertools
import warnings
import zlib
import numpy as np
import pytest

from fastconv import reference

from conv_cases import ConvCase, tf_same_pads

RTOL = 1e-10


def assert_close(actual, expected, what, rtol=RTOL):
    """|actual - expected| <= rtol * max(1, max |expected|), elementwise; shapes must match."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale, err_msg=what)


def rng_for(*key):
    """A generator seeded from the test's parameters: fresh, reproducible data per test."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def torch_pad_list(pads):
    """[(before, after)] per dimension, first to last, as F.pad's flat list (last dim first)."""
    return [p for pair in reversed(pads) for p in pair]


def ref_forward(case: ConvCase, x, w, b):
    return getattr(reference, case.op)(x, w, b, **case.args())


def ref_backward(case: ConvCase, gy, x, w):
    return getattr(reference, case.op + "_backward")(gy, x, w, **case.args())


def C(ndim, batch, c_in, c_out, size, kernel, **kw):
    return ConvCase(ndim, batch, c_in, c_out, tuple(size), tuple(kernel), **kw)


def T(ndim, batch, c_in, c_out, size, kernel, **kw):
    return ConvCase(ndim, batch, c_in, c_out, tuple(size), tuple(kernel), transposed=True, **kw)


CASES = [
    # conv1d
    C(1, 2, 3, 4, (11,), (3,)),
    C(1, 2, 4, 6, (13,), (3,), stride=2, padding=2, dilation=2, groups=2),
    C(1, 0, 3, 2, (9,), (4,), padding="same"),
    C(1, 1, 2, 3, (10,), (3,), padding=2, padding_mode="reflect", bias=False),
    C(1, 2, 2, 2, (8,), (5,), padding=3, padding_mode="circular", stride=3),
    # conv2d
    C(2, 3, 6, 4, (15, 17), (3, 3), padding=1),
    C(2, 2, 4, 8, (9, 10), (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
    C(2, 2, 5, 5, (8, 7), (3, 3), padding=1, groups=5),  # depthwise
    C(2, 2, 3, 6, (9, 8), (3, 3), stride=2, groups=3),  # depthwise, channel multiplier 2
    C(2, 2, 6, 4, (5, 7), (1, 1), groups=2),  # 1x1, 3 in / 2 out channels per group
    C(2, 1, 3, 5, (7, 6), (1, 1), stride=2, bias=False),
    C(2, 2, 3, 4, (7, 8), (3, 4), padding="same", dilation=(2, 1)),  # asymmetric 'same'
    C(2, 2, 3, 4, (7, 8), (2, 3), padding="valid", stride=(1, 2)),
    C(2, 2, 3, 4, (6, 7), (3, 3), padding=(1, 2), padding_mode="reflect"),
    C(2, 2, 3, 4, (7, 6), (3, 2), stride=2, padding=(2, 1), padding_mode="replicate"),
    C(2, 2, 2, 4, (6, 5), (3, 3), padding="same", padding_mode="circular", groups=2),
    C(2, 2, 4, 6, (7, 9), (3, 2), padding=1, groups=2, flip=True),
    C(2, 0, 3, 2, (6, 7), (2, 3), padding=(1, 0), flip=True),
    C(2, 2, 4, 4, (9, 8), (3, 2), stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2,
      padding_mode="reflect", flip=True),
    # conv3d
    C(3, 2, 2, 3, (5, 6, 4), (3, 3, 3), padding=1),
    C(3, 1, 4, 2, (6, 7, 8), (2, 3, 2), stride=(1, 2, 2), padding=(0, 1, 2), dilation=(2, 1, 1),
      groups=2),
    C(3, 2, 2, 2, (4, 5, 5), (2, 3, 3), padding="same", padding_mode="replicate", flip=True),
    C(3, 0, 3, 4, (3, 4, 5), (1, 1, 1), bias=False),
    # conv_transpose1d
    T(1, 2, 3, 4, (7,), (3,), stride=2, padding=1, output_padding=1),
    T(1, 2, 4, 6, (6,), (3,), stride=2, dilation=3, padding=2, output_padding=2, groups=2),
    T(1, 0, 2, 3, (5,), (4,), bias=False),
    # conv_transpose2d
    T(2, 2, 4, 6, (5, 6), (3, 3), stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2),
    T(2, 2, 4, 4, (4, 5), (2, 3), stride=2, groups=4),  # depthwise
    T(2, 1, 3, 2, (5, 4), (1, 1), stride=2, output_padding=1),
    T(2, 0, 3, 4, (4, 5), (3, 2), dilation=2, padding=2, bias=False),
    T(2, 2, 6, 4, (3, 4), (3, 3), stride=(1, 2), padding=(0, 1), dilation=(2, 1), groups=2),
    # conv_transpose3d
    T(3, 1, 2, 4, (3, 4, 3), (2, 3, 2), stride=(2, 1, 2), padding=(1, 1, 0),
      output_padding=(1, 0, 0), groups=2),
    T(3, 2, 3, 2, (2, 3, 4), (1, 1, 1)),
]

ids = lambda cases: [c.id for c in cases]


# ------------------------------------------------------------------------------- against torch

def torch_forward_and_grads(case: ConvCase, x, w, b, gy):
    """torch's forward and autograd gradients (grad_bias None without bias)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    leaf = lambda a: None if a is None else torch.from_numpy(a).requires_grad_(True)
    X, W, B = leaf(x), leaf(w), leaf(b)
    fn = getattr(F, case.op)
    if case.transposed:
        Y = fn(X, W, B, case.stride, case.padding, case.output_padding, case.groups,
               case.dilation)
    else:
        Wk = torch.flip(W, dims=tuple(range(2, 2 + case.ndim))) if case.flip else W
        if case.padding_mode == "zeros":
            with warnings.catch_warnings():
                # torch warns (once) that an asymmetric 'same' makes a padded copy
                warnings.simplefilter("ignore", UserWarning)
                Y = fn(X, Wk, B, case.stride, case.padding, case.dilation, case.groups)
        else:
            # torch.nn.ConvNd's rule for other padding modes: F.pad first, then no padding
            nd = case.ndim
            tup = lambda v: (v,) * nd if isinstance(v, int) else tuple(v)
            if case.padding == "same":
                pads = tf_same_pads(x.shape[-nd:], case.kernel, tup(case.stride),
                                    tup(case.dilation))
            else:
                pads = [(p, p) for p in tup(case.padding)]
            Xp = F.pad(X, torch_pad_list(pads), mode=case.padding_mode)
            Y = fn(Xp, Wk, B, case.stride, 0, case.dilation, case.groups)
    Y.backward(torch.from_numpy(gy))
    return (Y.detach().numpy(), X.grad.numpy(), W.grad.numpy(),
            None if B is None else B.grad.numpy())


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_and_backward_match_torch(case):
    rng = rng_for("torch", case.id)
    x, w, b = case.arrays(rng)
    y = ref_forward(case, x, w, b)
    gy = rng.standard_normal(y.shape)
    gx, gw, gb = ref_backward(case, gy, x, w)
    y_t, gx_t, gw_t, gb_t = torch_forward_and_grads(case, x, w, b, gy)
    assert_close(y, y_t, "forward")
    assert_close(gx, gx_t, "grad_input")
    assert_close(gw, gw_t, "grad_weight")
    batch_and_spatial = (0,) * bool(case.batch) + tuple(range(-case.ndim, 0))
    assert_close(gb, gy.sum(axis=batch_and_spatial), "grad_bias")
    if gb_t is not None:
        assert_close(gb, gb_t, "grad_bias vs torch")
    for got, ref in ((y, y_t), (gx, x), (gw, w)):
        assert got.dtype == np.float64 and got.shape == ref.shape


# torch.nn.ConvNd has no flip, and refuses padding='same' with stride > 1
MODULE_CASES = [c for c in CASES if not c.transposed and not c.flip
                and (c.padding != "same" or c.stride == 1)]


@pytest.mark.torch
@pytest.mark.parametrize("case", MODULE_CASES, ids=ids(MODULE_CASES))
def test_padding_modes_match_torch_modules(case):
    """padding_mode as torch.nn.ConvNd applies it (including 'same' for stride 1)."""
    torch = pytest.importorskip("torch")
    rng = rng_for("module", case.id)
    x, w, b = case.arrays(rng)
    module_cls = getattr(torch.nn, f"Conv{case.ndim}d")
    module = module_cls(case.c_in, case.c_out, case.kernel, stride=case.stride,
                        padding=case.padding, dilation=case.dilation, groups=case.groups,
                        bias=case.bias, padding_mode=case.padding_mode, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w))
        if case.bias:
            module.bias.copy_(torch.from_numpy(b))
    X = torch.from_numpy(x).requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # asymmetric 'same' (see above)
        Y = module(X)
    gy = rng.standard_normal(tuple(Y.shape))
    Y.backward(torch.from_numpy(gy))
    assert_close(ref_forward(case, x, w, b), Y.detach().numpy(), "forward")
    gx, gw, gb = ref_backward(case, gy, x, w)
    assert_close(gx, X.grad.numpy(), "grad_input")
    assert_close(gw, module.weight.grad.numpy(), "grad_weight")
    if case.bias:
        assert_close(gb, module.bias.grad.numpy(), "grad_bias")


SAME_STRIDED = [  # (ndim, size, kernel, stride, dilation, padding_mode)
    (1, (10,), (3,), (2,), (1,), "zeros"),
    (1, (11,), (4,), (3,), (1,), "reflect"),
    (1, (7,), (1,), (2,), (1,), "zeros"),
    (1, (5,), (2,), (4,), (1,), "zeros"),  # total padding 0: max(..., 0) kicks in
    (2, (9, 8), (3, 3), (2, 2), (1, 1), "zeros"),
    (2, (7, 10), (2, 5), (3, 2), (2, 1), "replicate"),
    (2, (6, 6), (4, 3), (2, 3), (1, 2), "circular"),
    (3, (5, 6, 7), (3, 2, 3), (2, 3, 1), (1, 1, 2), "zeros"),
]


@pytest.mark.torch
@pytest.mark.parametrize("ndim,size,kernel,stride,dilation,padding_mode", SAME_STRIDED)
def test_same_with_stride_matches_explicit_pads(ndim, size, kernel, stride, dilation,
                                                padding_mode):
    """padding='same' with stride > 1 is TensorFlow's rule: pad by tf_same_pads, then conv."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    rng = rng_for("same", ndim, size, kernel, stride, dilation, padding_mode)
    x = rng.standard_normal((2, 4) + size)
    w = rng.standard_normal((6, 2) + kernel)
    b = rng.standard_normal(6)
    args = dict(stride=stride, padding="same", dilation=dilation, groups=2,
                padding_mode=padding_mode)
    y = getattr(reference, f"conv{ndim}d")(x, w, b, **args)
    assert y.shape[2:] == tuple(-(-L // s) for L, s in zip(size, stride))
    gy = rng.standard_normal(y.shape)
    gx, gw, gb = getattr(reference, f"conv{ndim}d_backward")(gy, x, w, **args)

    pads = tf_same_pads(size, kernel, stride, dilation)
    X, W, B = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    mode = "constant" if padding_mode == "zeros" else padding_mode
    Xp = F.pad(X, torch_pad_list(pads), mode=mode)
    Y = getattr(F, f"conv{ndim}d")(Xp, W, B, stride, 0, dilation, 2)
    Y.backward(torch.from_numpy(gy))
    assert_close(y, Y.detach().numpy(), "forward")
    assert_close(gx, X.grad.numpy(), "grad_input")
    assert_close(gw, W.grad.numpy(), "grad_weight")
    assert_close(gb, B.grad.numpy(), "grad_bias")

    # the same by np.pad and the reference with no padding (zeros: np.pad's 'constant')
    np_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[padding_mode]
    xp = np.pad(x, [(0, 0), (0, 0)] + pads, mode=np_mode)
    y_explicit = getattr(reference, f"conv{ndim}d")(xp, w, b, stride=stride, padding=0,
                                                    dilation=dilation, groups=2)
    assert_close(y, y_explicit, "forward vs np.pad")


def test_same_with_stride_1_is_torch_rule():
    """With stride 1, TF's rule is total = d * (k - 1), the extra pixel going after."""
    for L, k, d in itertools.product((5, 6), (1, 2, 3, 4), (1, 2)):
        (before, after), = tf_same_pads((L,), (k,), (1,), (d,))
        assert before + after == d * (k - 1) and after - before in (0, 1)
        x = rng_for("same1", L, k, d).standard_normal((1, 1, L))
        w = np.zeros((1, 1, k))
        w[0, 0, 0] = 1.0  # picks x_padded[i]: output shifted right by `before`
        y = reference.conv1d(x, w, padding="same", dilation=d)
        np.testing.assert_array_equal(y[0, 0, before:], x[0, 0, :L - before])
        np.testing.assert_array_equal(y[0, 0, :before], 0.0)


# --------------------------------------------------------------------------- finite differences

FD_CASES = [
    C(1, 2, 2, 4, (9,), (3,), stride=2, padding=3, padding_mode="circular", groups=2, flip=True),
    C(2, 2, 2, 4, (6, 7), (3, 2), stride=2, padding="same", dilation=(1, 2), groups=2,
      padding_mode="reflect", flip=True),
    C(2, 0, 3, 2, (5, 4), (2, 3), padding=(1, 2), padding_mode="replicate"),
    C(3, 1, 2, 2, (3, 4, 4), (2, 2, 3), stride=(1, 2, 1), padding=(1, 0, 1)),
    T(1, 2, 2, 4, (5,), (3,), stride=2, padding=1, output_padding=1, dilation=2, groups=2),
    T(2, 1, 2, 4, (3, 4), (3, 2), stride=(2, 1), padding=(1, 1), output_padding=(1, 0),
      groups=2),
    T(2, 0, 2, 3, (3, 3), (2, 2), stride=3, dilation=2, output_padding=(2, 1)),
    T(3, 1, 2, 2, (2, 3, 2), (2, 2, 2), stride=2, padding=(0, 1, 1), output_padding=(1, 0, 1)),
]


def central_difference(loss, array, step):
    """d loss / d array by central differences, one element at a time."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + step
        up = loss()
        array[index] = saved - step
        down = loss()
        array[index] = saved
        grad[index] = (up - down) / (2 * step)
    return grad


@pytest.mark.parametrize("case", FD_CASES, ids=ids(FD_CASES))
def test_backward_matches_finite_differences(case):
    rng = rng_for("fd", case.id)
    x, w, b = case.arrays(rng)
    gy = rng.standard_normal(ref_forward(case, x, w, b).shape)
    loss = lambda: float(np.sum(ref_forward(case, x, w, b) * gy))
    # The loss is linear in each of x, w, b separately, so central differences have no truncation
    # error: a large step keeps the rounding error small.
    step = 0.5
    gx, gw, gb = ref_backward(case, gy, x, w)
    assert_close(gx, central_difference(loss, x, step), "grad_input", rtol=1e-9)
    assert_close(gw, central_difference(loss, w, step), "grad_weight", rtol=1e-9)
    assert_close(gb, central_difference(loss, b, step), "grad_bias", rtol=1e-9)


# ----------------------------------------------------------------------------- dtype and shapes

@pytest.mark.parametrize("case", CASES[::4], ids=ids(CASES[::4]))
def test_float32_in_float32_out(case):
    x, w, b = (None if a is None else a.astype(np.float32)
               for a in case.arrays(rng_for("f32", case.id)))
    y = ref_forward(case, x, w, b)
    assert y.dtype == np.float32
    gy = rng_for("f32 gy", case.id).standard_normal(y.shape).astype(np.float32)
    for got in ref_backward(case, gy, x, w):
        assert got.dtype == np.float32
    # computed in float64, rounded once at the end
    y64 = ref_forward(case, x.astype(np.float64), w.astype(np.float64),
                       None if b is None else b.astype(np.float64))
    np.testing.assert_array_equal(y, y64.astype(np.float32))
    # mixed dtypes give numpy's result type
    assert ref_forward(case, x, w.astype(np.float64), b).dtype == np.float64


@pytest.mark.parametrize("case", [c for c in CASES if c.batch][::3],
                         ids=ids([c for c in CASES if c.batch][::3]))
def test_empty_batch(case):
    x, w, b = case.arrays(rng_for("empty", case.id))
    x = x[:0]
    y = ref_forward(case, x, w, b)
    full = ref_forward(case, case.arrays(rng_for("empty", case.id))[0], w, b)
    assert y.shape == (0,) + full.shape[1:]
    gx, gw, gb = ref_backward(case, np.zeros(y.shape), x, w)
    assert gx.shape == x.shape
    assert gw.shape == w.shape and not gw.any()
    assert gb.shape == (case.c_out,) and not gb.any()


@pytest.mark.parametrize("case", [c for c in CASES if c.batch][1::5],
                         ids=ids([c for c in CASES if c.batch][1::5]))
def test_unbatched_is_batch_of_one(case):
    x, w, b = case.arrays(rng_for("unbatched", case.id))
    x = x[0]
    y = ref_forward(case, x, w, b)
    assert_close(y, ref_forward(case, x[None], w, b)[0], "forward", rtol=0)
    gy = rng_for("unbatched gy", case.id).standard_normal(y.shape)
    grads = ref_backward(case, gy, x, w)
    grads_batched = ref_backward(case, gy[None], x[None], w)
    assert_close(grads[0], grads_batched[0][0], "grad_input", rtol=0)
    assert_close(grads[1], grads_batched[1], "grad_weight", rtol=0)
    assert_close(grads[2], grads_batched[2], "grad_bias", rtol=0)


def test_flip_is_true_convolution():
    """flip=True: y[i] = sum_j x[i + j] * w[k - 1 - j], checked by hand on a 1-D example."""
    x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    w = np.array([[[1.0, 10.0, 100.0]]])
    np.testing.assert_array_equal(reference.conv1d(x, w), [[[321.0, 432.0]]])
    np.testing.assert_array_equal(reference.conv1d(x, w, flip=True), [[[123.0, 234.0]]])


def test_transposed_scatter_by_hand():
    """y[i*s + j*d - p] += x[i] * w[j], written out for one small 1-D example."""
    x = np.array([[[1.0, 2.0]]])
    w = np.array([[[1.0, 10.0]]])
    # s=3, d=2, p=1, op=1: length (2-1)*3 - 2 + 2*1 + 1 + 1 = 5; positions 3i + 2j - 1
    y = reference.conv_transpose1d(x, w, stride=3, padding=1, dilation=2, output_padding=1)
    np.testing.assert_array_equal(y, [[[0.0, 10.0, 2.0, 0.0, 20.0]]])
