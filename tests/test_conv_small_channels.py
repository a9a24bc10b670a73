"""small_channels (forward and backward_weight, <= 4 input channels, groups 1): output channels just
below, at and above the tiles' widths (4/8/16/32/64 lanes over the ISA paths), taps not a
multiple of any tile's rows (and K = 48, a multiple of the main tiles' heights), stride / padding / dilation (padding wider than the kernel reach,
rows entirely in the padding), rows longer than one 256-position segment, several splits of the
positions (some crossing samples), 1-D to 3-D; against the float64 reference and bitwise across
1, 2 and 3 threads (forward: also a sample alone vs inside its batch, bias and ReLU); and the
workspace it reports."""

from __future__ import annotations

import numpy as np
import pytest

import fastconv
from fastconv import reference

from conftest import assert_close, check_backward_weight

# (c_in, c_out, size, kernel, stride, padding, dilation, batch)
CASES = [
    (3, 64, (45, 46), (7, 7), 2, 3, 1, 1),       # stem-like: 64 channels, K = 147
    (3, 65, (23, 21), (7, 7), 2, 3, 1, 2),       # one past 64 channels
    (1, 16, (28, 28), (5, 5), 1, 2, 1, 6),       # Fashion-MNIST conv1: splits cross samples
    (1, 7, (13, 11), (5, 5), 1, 6, 1, 2),        # padding past the kernel: rows of zeros only
    (2, 33, (17, 19), (3, 3), 1, 2, 2, 3),       # dilation 2
    (4, 17, (9, 30), (3, 2), (2, 3), 1, 1, 2),   # strides differ per dimension
    (3, 31, (16, 17), (3, 3), 1, 1, 1, 40),      # 40 samples: 8 splits, chunks end at samples
    (1, 32, (1203,), (10,), 5, 0, 1, 3),         # 1-D, rows of 239 positions
    (1, 9, (700,), (3,), 1, 4, 3, 2),            # 1-D, rows cut into 256-position segments
    (3, 24, (6, 20, 19), (3, 7, 7), 2, 3, 1, 1),  # 3-D stem-like
    (2, 5, (4, 5, 6), (2, 3, 1), 1, (1, 0, 2), 1, 2),
    (3, 12, (12, 13), (4, 4), 2, 1, 1, 2),       # K = 48: the 8 / 6 / 4-tap-high main tiles
    (3, 70, (10, 9), (4, 4), 1, 2, 1, 1),        # (other K above take the 5 / 7-high ones)
]


def _id(c):
    c_in, c_out, size, kernel, stride, padding, dilation, batch = c
    return (f"conv{len(size)}d_n{batch}_c{c_in}to{c_out}_i{'x'.join(map(str, size))}_"
            f"k{'x'.join(map(str, kernel))}_s{stride}_p{padding}_d{dilation}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_small_channels_backward_weight(case, dtype, rng, restore_threads):
    c_in, c_out, size, kernel, stride, padding, dilation, batch = case
    nd = len(size)
    x = rng.standard_normal((batch, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_out, c_in) + kernel).astype(dtype)
    args = dict(stride=stride, padding=padding, dilation=dilation)
    y = getattr(fastconv, f"conv{nd}d")(x, w, **args)
    gy = rng.standard_normal(y.shape).astype(dtype)
    check_backward_weight(x, w, gy, args, "small_channels", _id(case))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_small_channels_forward(case, dtype, rng, restore_threads):
    c_in, c_out, size, kernel, stride, padding, dilation, batch = case
    nd = len(size)
    x = rng.standard_normal((batch, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_out, c_in) + kernel).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    args = dict(stride=stride, padding=padding, dilation=dilation)
    conv = getattr(fastconv, f"conv{nd}d")
    results = []
    for threads in (1, 2, 3):
        fastconv.set_num_threads(threads)
        results.append(conv(x, w, b, **args, algorithm="small_channels"))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    alone = conv(x[-1:], w, b, **args, algorithm="small_channels")
    np.testing.assert_array_equal(alone, results[0][-1:])
    ref = getattr(reference, f"conv{nd}d")(x.astype(np.float64), w.astype(np.float64),
                                           b.astype(np.float64), **args)
    assert_close(results[0], ref, dtype=dtype, reduction=c_in * int(np.prod(kernel)),
                 what=f"{_id(case)} forward")
    relu = conv(x, w, b, **args, algorithm="small_channels", activation="relu")
    np.testing.assert_array_equal(relu, np.maximum(results[0], 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_small_channels_every_tile_height(dtype, rng, monkeypatch):
    """Each tile height of the ISA (the hooks force one; heights the width lacks fall back)."""
    x = rng.standard_normal((2, 2, 11, 30)).astype(dtype)
    gy_shape = (2, 70, 11, 30)
    for c_out in (5, 12, 20, 40, 70):
        w = rng.standard_normal((c_out, 2, 3, 5)).astype(dtype)
        gy = rng.standard_normal(gy_shape[:1] + (c_out,) + gy_shape[2:]).astype(dtype)
        args = dict(padding=(1, 2))
        ref = reference.conv2d(x.astype(np.float64), w.astype(np.float64), **args)
        ref_gw = reference.conv2d_backward(gy.astype(np.float64), x.astype(np.float64),
                                           w.astype(np.float64), **args)[1]
        for h in (4, 5, 6, 7, 8, 12, 14):
            monkeypatch.setenv("FASTCONV_SMALL_WGRAD_MR", str(h))
            monkeypatch.setenv("FASTCONV_SMALL_FORWARD_MP", str(h))
            y = fastconv.conv2d(x, w, **args, algorithm="small_channels")
            assert_close(y, ref, dtype=dtype, reduction=30, what=f"forward {c_out} {h}")
            gw = fastconv.conv2d_backward(gy, x, w, **args, output_mask=(False, True, False),
                                          algorithm="small_channels")[1]
            assert_close(gw, ref_gw, dtype=dtype, reduction=2 * 11 * 30,
                         what=f"backward_weight {c_out} {h}")


def test_small_channels_scope_and_workspace():
    plan = fastconv.explain("conv2d", (1, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3,
                            algorithm="small_channels")["passes"]
    assert plan["backward_data"]["algorithm"] is None
    for p in ("forward", "backward_weight"):
        assert plan[p]["algorithm"] == "small_channels"
        assert 0 < plan[p]["workspace_bytes"] < 64 << 20
    for shape in [(1, 5, 16, 16), (1, 4, 16, 16)]:  # 5 channels, or groups: not computed
        groups = 2 if shape[1] == 4 else 1
        p = fastconv.explain("conv2d", shape, (8, shape[1] // groups, 3, 3), groups=groups,
                             algorithm="small_channels")["passes"]["backward_weight"]
        assert p["algorithm"] is None and "small_channels" in p["unsupported"]


def test_small_channels_auto_forward_rules():
    """auto's forward on AVX-512: small_channels from 64 output channels whatever K / plane /
    stride (conv.cc), not on disjoint taps (patchify: im2col_gemm) nor on wide planes below 64
    channels."""
    def auto(x_shape, w_shape, **args):
        plan = fastconv.explain("conv2d", x_shape, w_shape, **args)
        return plan["passes"]["forward"]["algorithm"]
    wide = "small_channels" if fastconv.build_info()["isa"] == "avx512" else "implicit_gemm"
    assert auto((8, 3, 64, 64), (64, 3, 4, 4), stride=2, padding=1) == wide  # DCGAN
    assert auto((1, 3, 224, 224), (64, 3, 3, 3), padding=1) == wide  # VGG conv1_1
    assert auto((1, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3) == wide
    assert auto((8, 3, 224, 224), (96, 3, 4, 4), stride=4) != "small_channels"
    assert auto((1, 3, 112, 112), (16, 3, 3, 3), padding=1) != "small_channels"
