"""implicit_gemm (csrc/cpu/conv/conv_implicit_gemm.cc) against the float64 reference on what the
generic cases of test_conv.py miss: strides 1..3 per dimension (the polyphase frames), dilations,
asymmetric / 'same' padding, tiny and odd planes, groups with one channel per group on either side,
1D/2D/3D, the bias + ReLU epilogue, junk frame columns that must never reach the output, bands,
and bitwise determinism (threads, batch)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import fastconv
from fastconv import reference

from conftest import assert_close

ALGO = "implicit_gemm"
DTYPES = [np.float32, np.float64]


def _conv(nd):
    return getattr(fastconv, f"conv{nd}d"), getattr(reference, f"conv{nd}d")


def _check_forward(rng, dtype, n, c_in, c_out, size, kernel, activation=None, **args):
    nd = len(size)
    conv, ref = _conv(nd)
    groups = args.get("groups", 1)
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups) + kernel).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    y = conv(x, w, b, **args, algorithm=ALGO, activation=activation)
    y_ref = ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **args)
    if activation == "relu":
        y_ref = np.maximum(y_ref, 0)
    assert_close(y, y_ref, dtype=dtype, reduction=c_in // groups * int(np.prod(kernel)))
    return x, w, y


def _check_backward(rng, dtype, n, c_in, c_out, size, kernel, *, grad, **args):
    """grad_input (grad="input") or grad_weight (grad="weight") against the reference."""
    nd = len(size)
    back = getattr(fastconv, f"conv{nd}d_backward")
    ref_back = getattr(reference, f"conv{nd}d_backward")
    groups = args.get("groups", 1)
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups) + kernel).astype(dtype)
    y = _conv(nd)[0](x, w, None, **args)
    gy = rng.standard_normal(y.shape).astype(dtype)
    which = 0 if grad == "input" else 1
    mask = tuple(k == which for k in range(3))
    got = back(gy, x, w, **args, output_mask=mask, algorithm=ALGO)[which]
    expected = ref_back(gy.astype(np.float64), x.astype(np.float64), w.astype(np.float64),
                        **args)[which]
    # terms per element: grad_input sums over output channels x taps, grad_weight over positions
    terms = c_out // groups * int(np.prod(kernel)) if grad == "input" else \
        n * int(np.prod(y.shape[2:]))
    assert_close(got, expected, dtype=dtype, reduction=terms)


_check_backward_data = functools.partial(_check_backward, grad="input")
_check_backward_weight = functools.partial(_check_backward, grad="weight")


STRIDED = [
    # (n, c_in, c_out, size, kernel, args): every stride 1..3 per dimension, odd sizes
    (2, 3, 5, (11, 13), (3, 3), dict(stride=(1, 3), padding=1)),
    (2, 3, 5, (11, 13), (3, 3), dict(stride=(3, 2), padding=(2, 0))),
    (1, 4, 6, (12, 9), (4, 5), dict(stride=(2, 2), padding=(1, 2), dilation=(2, 1))),
    (1, 2, 3, (17,), (5,), dict(stride=3, padding=2, dilation=3)),
    (2, 2, 4, (7, 8, 9), (3, 2, 3), dict(stride=(2, 1, 3), padding=(1, 0, 1), dilation=(1, 2, 1))),
    (3, 3, 64, (23, 23), (7, 7), dict(stride=2, padding=3)),  # the 7x7/2 stem, odd plane
    (1, 2, 5, (9, 31), (5, 20), dict(stride=(2, 2), padding=(0, 10))),  # DeepSpeech-like
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", STRIDED, ids=lambda c: f"{c[3]}k{c[4]}{c[5]}")
def test_strided_dilated_forward_and_backward_weight(case, dtype, rng):
    n, c_in, c_out, size, kernel, args = case
    _check_forward(rng, dtype, n, c_in, c_out, size, kernel, **args)
    _check_backward_weight(rng, dtype, n, c_in, c_out, size, kernel, **args)


SHAPES = [
    # tiny and odd planes, output of one position, kernel larger than the input + padding
    (1, 1, 1, (1, 1), (1, 1), dict()),
    (2, 3, 2, (1, 5), (3, 3), dict(padding=1)),
    (1, 2, 3, (5, 4), (7, 6), dict(padding=1)),
    (3, 1, 7, (2,), (3,), dict(padding=2, dilation=2)),
    # asymmetric 'same' padding (even kernels), 'valid'
    (2, 3, 4, (10, 9), (4, 2), dict(padding="same")),
    (2, 3, 4, (6, 7, 5), (2, 3, 2), dict(padding="same", dilation=(1, 2, 1))),
    (2, 3, 4, (10, 9), (3, 3), dict(padding="valid", dilation=3)),
    # groups: one output channel per group, one input channel per group, ResNeXt-like 4 per group
    (2, 8, 4, (9, 10), (3, 3), dict(padding=1, groups=4)),
    (2, 4, 12, (9, 10), (3, 3), dict(padding=1, groups=4)),
    (2, 64, 64, (9, 9), (3, 3), dict(padding=1, groups=16)),
    (1, 6, 10, (8, 5, 6), (3, 3, 3), dict(padding=1, groups=2)),
    # many output channels (several register panels, a padded last panel), long K (K blocks)
    (1, 40, 37, (6, 7), (3, 3), dict(padding=1)),
    (1, 300, 9, (5, 6), (1, 1), dict()),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", SHAPES, ids=lambda c: f"n{c[0]}c{c[1]}k{c[2]}{c[3]}k{c[4]}{c[5]}")
def test_forward_and_backward(case, dtype, rng):
    n, c_in, c_out, size, kernel, args = case
    _check_forward(rng, dtype, n, c_in, c_out, size, kernel, **args)
    _check_backward_data(rng, dtype, n, c_in, c_out, size, kernel, **args)
    _check_backward_weight(rng, dtype, n, c_in, c_out, size, kernel, **args)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_bias_relu_epilogue(dtype, rng):
    _check_forward(rng, dtype, 2, 6, 10, (9, 11), (3, 3), activation="relu", padding=1,
                   stride=2)


def test_junk_columns_never_leak(rng):
    """Inputs with inf next to the borders: the junk frame columns (past the output width, and in
    the frame's slack) read them, but only valid positions are stored, so the output is the
    reference's where the reference is finite and nothing else is written."""
    x = rng.standard_normal((2, 3, 9, 12))
    w = rng.standard_normal((4, 3, 3, 3))
    # 'valid' 3x3: output columns 0..9 read input columns 0..11; no valid output reads nothing
    # but every junk column of the frame does, and finite data must give finite results
    y = fastconv.conv2d(x, w, algorithm=ALGO)
    assert_close(y, reference.conv2d(x, w), dtype=np.float64, reduction=27)
    x_nan = x.copy()
    x_nan[:, :, :, -1] = np.inf  # only the last output column reads the last input column
    y_nan = fastconv.conv2d(x_nan, w, algorithm=ALGO)
    assert np.all(np.isfinite(y_nan[..., :-1]))
    np.testing.assert_array_equal(y_nan[..., :-1], y[..., :-1])


def test_bands_match_one_frame(rng):
    """A frame larger than the band budget (4 MiB) is cut into bands along the outermost
    dimension, each with its halo rows; backward_weight also splits the channels into blocks and
    the (sample, band) steps into chunks."""
    x = rng.standard_normal((2, 64, 250, 70)).astype(np.float32)
    w = rng.standard_normal((8, 64, 3, 3)).astype(np.float32)
    y = fastconv.conv2d(x, w, padding=1, algorithm=ALGO)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    assert_close(y, reference.conv2d(x64, w64, padding=1), dtype=np.float32, reduction=64 * 9)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gw = fastconv.conv2d_backward(gy, x, w, padding=1, output_mask=(False, True, False),
                                  algorithm=ALGO)[1]
    gw_ref = reference.conv2d_backward(gy.astype(np.float64), x64, w64, padding=1)[1]
    assert_close(gw, gw_ref, dtype=np.float32, reduction=2 * 250 * 70)


TAP = [
    # backward_weight's tap kernel (output channels a multiple of its tile, > 3 input channels):
    # channel blocks, chunks, output-channel blocks, groups, strides, dilation, 1D / 3D
    (2, 8, 32, (9, 10), (3, 3), dict(padding=1)),
    (1, 6, 64, (7, 11), (3, 3), dict(padding=2, dilation=2)),
    (3, 64, 64, (5, 5), (3, 3), dict(padding=1, groups=2)),
    (2, 5, 32, (13, 12), (3, 2), dict(stride=(2, 1), padding=1)),
    (1, 4, 32, (5, 6, 7), (3, 3, 3), dict(padding=1)),
    (2, 7, 96, (40,), (5,), dict(padding=2)),
    # the one-vector tile (16 f32 / 8 f64 channels on AVX-512, 8 / 4 on AVX2)
    (2, 64, 64, (7, 7), (3, 3), dict(padding=1, groups=4)),
    (1, 40, 40, (6, 7), (3, 3), dict(padding=1, groups=5)),
    (2, 6, 24, (9, 8), (3, 3), dict(padding=1)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", TAP, ids=lambda c: f"n{c[0]}c{c[1]}k{c[2]}{c[3]}k{c[4]}{c[5]}")
def test_backward_weight_tap_kernel(case, dtype, rng):
    _check_backward_weight(rng, dtype, *case[:5], **case[5])


def test_tap_kernel_bands(rng):
    """The tap kernel on a frame cut into bands (4 MiB budget)."""
    x = rng.standard_normal((1, 64, 130, 131)).astype(np.float32)
    w = rng.standard_normal((32, 64, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((1, 32, 130, 131)).astype(np.float32)
    gw = fastconv.conv2d_backward(gy, x, w, padding=1, output_mask=(False, True, False),
                                  algorithm=ALGO)[1]
    gw_ref = reference.conv2d_backward(gy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), padding=1)[1]
    assert_close(gw, gw_ref, dtype=np.float32, reduction=130 * 131)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [
    (3, 40, 70, (19, 17), (3, 3), dict(padding=1)),
    (1, 8, 8, (40, 33), (3, 3), dict(stride=2, padding=1, groups=2)),
    (1, 16, 12, (600,), (5,), dict(padding=2, groups=2)),
    (2, 6, 8, (9, 10, 11), (3, 3, 3), dict(padding=1)),
    (3, 12, 64, (13, 11), (3, 3), dict(padding=1)),
    (3, 64, 64, (9, 8), (3, 3), dict(padding=1, groups=4)),
], ids=["dense3x3", "strided_grouped", "conv1d_long", "conv3d", "wgrad_tap", "wgrad_tap_narrow"])
def test_bitwise_same_for_threads_and_batch(shape, dtype, restore_threads):
    """1 and 2 threads give bitwise the same forward, grad_input and grad_weight, and a sample
    alone gives bitwise its rows of the batch (forward, grad_input)."""
    n, c_in, c_out, size, kernel, args = shape
    nd = len(size)
    conv = getattr(fastconv, f"conv{nd}d")
    back = getattr(fastconv, f"conv{nd}d_backward")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_out, c_in // args.get("groups", 1)) + kernel).astype(dtype)
    y0 = conv(x, w, None, **args)
    gy = rng.standard_normal(y0.shape).astype(dtype)
    data = "stride" not in args

    def run(xx, gg):
        y = conv(xx, w, None, **args, algorithm=ALGO)
        gx = back(gg, xx, w, **args, output_mask=(True, False, False),
                  algorithm=ALGO)[0] if data else None
        return y, gx

    results = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        gw = back(gy, x, w, **args, output_mask=(False, True, False), algorithm=ALGO)[1]
        results.append(run(x, gy) + (gw,))
    for one, two in zip(*results):
        if one is not None:
            np.testing.assert_array_equal(one, two)
    y, gx, _ = results[1]
    alone = run(x[-1:], gy[-1:])
    np.testing.assert_array_equal(alone[0], y[-1:])
    if data:
        np.testing.assert_array_equal(alone[1], gx[-1:])


def test_unsupported_passes_say_why():
    plan = fastconv.explain("conv2d", (1, 4, 9, 9), (4, 4, 3, 3), stride=2, algorithm=ALGO)
    assert plan["passes"]["forward"]["algorithm"] == ALGO
    assert plan["passes"]["forward"]["workspace_bytes"] > 0
    assert "stride 1" in plan["passes"]["backward_data"]["unsupported"]
    assert plan["passes"]["backward_weight"]["algorithm"] == ALGO


def _auto(op, x_shape, w_shape, pass_="forward", **args):
    return fastconv.explain(op, x_shape, w_shape, **args)["passes"][pass_]["algorithm"]


def test_auto_choice():
    """The rules of conv.cc's choose_conv_algorithm for implicit_gemm (each cites a benchmark)."""
    resnext = ((8, 128, 56, 56), (128, 4, 3, 3))
    for pass_ in ("forward", "backward_data", "backward_weight"):
        assert _auto("conv2d", *resnext, pass_, padding=1, groups=32) == ALGO
    # backward_weight with many channels per group: im2col_gemm (batch 1: too few tiles for
    # winograd's backward_weight, conv.cc)
    assert _auto("conv2d", (1, 256, 14, 14), (256, 256, 3, 3), "backward_weight",
                 padding=1) == "im2col_gemm"
    # 1x1 stride 2: im2col_gemm
    assert _auto("conv2d", (8, 256, 56, 56), (512, 256, 1, 1), stride=2) == "im2col_gemm"
    # 1x1 stride 1: im2col_gemm multiplies X in place
    assert _auto("conv2d", (1, 1024, 14, 14), (256, 1024, 1, 1)) == "im2col_gemm"
    # mostly junk columns: 3x3 dilation 8 on 33x33 (33% junk; its dilation phases fill winograd's
    # tiles too little, conv.cc; ASPP d12 runs winograd through them)
    for pass_ in ("forward", "backward_data"):
        assert _auto("conv2d", (1, 512, 33, 33), (256, 512, 3, 3), pass_, padding=8,
                     dilation=8) == "im2col_gemm"
    # forward with 5 MiB of weights per group: im2col_gemm blocks them (tacotron2 k5 512 ch)
    assert _auto("conv1d", (8, 512, 200), (512, 512, 5), padding=2) == "im2col_gemm"
    assert _auto("conv1d", (8, 512, 200), (512, 512, 5), "backward_data", padding=2) == ALGO
    # the position path skips the junk columns: inception-v3 1x7 (C3D conv2a, 3x3x3, now takes
    # winograd over its inner 3x3: conv.cc prefer_winograd)
    for pass_ in ("forward", "backward_data"):
        assert _auto("conv2d", (8, 160, 17, 17), (160, 160, 1, 7), pass_,
                     padding=(0, 3)) == ALGO
        assert _auto("conv3d", (1, 64, 16, 56, 56), (128, 64, 3, 3, 3), pass_,
                     padding=1) == "winograd"
    # backward_data with one output (= input) channel per group
    assert _auto("conv2d", (64, 1, 28, 28), (16, 1, 5, 5), "backward_data",
                 padding=2) == "im2col_gemm"
    # (its forward goes to small_channels: one input channel, a 28x28 plane; conv.cc)
    assert _auto("conv2d", (64, 1, 28, 28), (16, 1, 5, 5), padding=2) == "small_channels"
    # many channels on a large problem: winograd
    assert _auto("conv2d", (8, 256, 14, 14), (256, 256, 3, 3), padding=1) == "winograd"


@pytest.mark.parametrize("c_in, c_out", [(2, 3), (4, 32)], ids=["dot", "tap"])
def test_backward_weight_with_inf_input(rng, c_in, c_out):
    """A non-finite input value read only by junk columns (an inf in column 0 of a 'valid' conv:
    tap 2 reads it only from the previous row's junk columns) must not turn into NaN elsewhere."""
    x = rng.standard_normal((1, c_in, 6, 7))
    w = rng.standard_normal((c_out, c_in, 3, 3))
    x[0, 1, 3, 0] = np.inf
    gy = rng.standard_normal((1, c_out, 4, 5))
    gw = fastconv.conv2d_backward(gy, x, w, output_mask=(False, True, False), algorithm=ALGO)[1]
    with np.errstate(invalid="ignore"):
        gw_ref = reference.conv2d_backward(gy, x, w)[1]
    finite = np.isfinite(gw_ref)
    assert not finite.all() and finite.any()
    assert_close(gw[finite], gw_ref[finite], dtype=np.float64, reduction=20)
    np.testing.assert_array_equal(np.isfinite(gw), finite)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_position_and_column_paths_bitwise_equal(dtype, monkeypatch):
    """Forward and grad_input through the position path (valid positions only) and the column
    path (whole frame rows) are bitwise the same: the path a plan takes depends on its bands,
    hence on the thread count (FASTCONV_IMPLICIT_POS forces one)."""
    rng = np.random.default_rng(11)
    cases = [((2, 6, 9, 11), (35, 6, 3, 3), dict(padding=1)),
             ((1, 40, 17, 17), (20, 40, 1, 7), dict(padding=(0, 3))),  # K > one K block
             ((2, 8, 10, 13), (12, 4, 3, 2), dict(padding=2, dilation=2, groups=2)),
             ((1, 6, 9, 12), (7, 6, 3, 3), dict(stride=2, padding=1))]
    for x_shape, w_shape, args in cases:
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal(w_shape).astype(dtype)
        b = rng.standard_normal(w_shape[0]).astype(dtype)
        results = []
        for path in ("0", "1"):
            monkeypatch.setenv("FASTCONV_IMPLICIT_POS", path)
            y = fastconv.conv2d(x, w, b, **args, algorithm=ALGO, activation="relu")
            gx = None
            if "stride" not in args:
                gy = np.random.default_rng(12).standard_normal(y.shape).astype(dtype)
                gx = fastconv.conv2d_backward(gy, x, w, **args, output_mask=(True, False, False),
                                              algorithm=ALGO)[0]
            results.append((y, gx))
        monkeypatch.delenv("FASTCONV_IMPLICIT_POS")
        np.testing.assert_array_equal(results[0][0], results[1][0])
        if results[0][1] is not None:
            np.testing.assert_array_equal(results[0][1], results[1][1])
        ref = reference.conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                               **args)
        assert_close(results[1][0], np.maximum(ref, 0), dtype=dtype, reduction=w[0].size)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_position_path_bands_1d_3d(dtype, rng, monkeypatch):
    """The position path stores a band's C tile by whole rows, as one contiguous stretch of the
    output plane: bands along W (1-D) and along D (3-D), channel counts off the 4 x 4 transpose
    blocks, with the bias / ReLU epilogue and K past one block."""
    monkeypatch.setenv("FASTCONV_IMPLICIT_POS", "1")
    _check_forward(rng, dtype, 1, 5, 7, (53,), (3,), activation="relu", padding=1)
    _check_forward(rng, dtype, 1, 30, 6, (10, 6, 7), (3, 3, 3), activation="relu", padding=1)
    _check_backward_data(rng, dtype, 1, 6, 30, (10, 6, 7), (3, 3, 3), padding=1)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("width", [16, 32, 48, 64, 80])
def test_position_path_tap_tiles(dtype, width, rng, monkeypatch):
    """Every tap tile of the position path (FASTCONV_IMPLICIT_TAP_NR keeps only the extra tiles of
    one width, in float32 lanes; float64 tiles are half as wide): output channels that fill it,
    positions off its rows, forward and grad_input against the reference and bitwise the column
    path's results."""
    c = width if dtype == np.float32 else width // 2
    monkeypatch.setenv("FASTCONV_IMPLICIT_TAP_NR", str(c))
    conv, back = fastconv.conv2d, fastconv.conv2d_backward
    for n, c_other, size, kernel, args in [(2, 9, (7, 7), (3, 3), dict(padding=1)),
                                           (1, 20, (5, 11), (1, 7), dict(padding=(0, 3)))]:
        monkeypatch.setenv("FASTCONV_IMPLICIT_POS", "1")
        x, w, _ = _check_forward(rng, dtype, n, c_other, c, size, kernel, **args)
        _check_backward_data(rng, dtype, n, c, c_other, size, kernel, **args)
        # grad_input of the forward above: its position path has c_other output channels
        xb = rng.standard_normal((n, c) + size).astype(dtype)
        wb = rng.standard_normal((c_other, c) + kernel).astype(dtype)
        gy = rng.standard_normal((n, c_other) + size).astype(dtype)
        results = []
        for path in ("1", "0"):
            monkeypatch.setenv("FASTCONV_IMPLICIT_POS", path)
            results.append((conv(x, w, None, **args, algorithm=ALGO),
                            back(gy, xb, wb, **args, output_mask=(True, False, False),
                                 algorithm=ALGO)[0]))
        np.testing.assert_array_equal(results[0][0], results[1][0])
        np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("prefetch", ["0", "1"])
def test_frame_rows_edges(dtype, prefetch, rng, monkeypatch):
    """The per-ISA frame rows: rows of 1 to 4 vectors and longer ones (row by row), a row start
    / end inside a vector on either side, padding larger than the kernel's reach (backward_data
    crops: lo > 0 and hi < the row), an input narrower than one vector; the next input's
    prefetch forced off / on."""
    monkeypatch.setenv("FASTCONV_IMPLICIT_PREFETCH", prefetch)
    for n, c, size, kernel, pad in [(2, 3, (5, 3), (3, 3), (1, 1)),
                                    (1, 2, (4, 67), (3, 5), (2, 3)),
                                    (2, 2, (3, 150), (2, 3), (0, 1)),
                                    (1, 3, (6, 19), (3, 3), (3, 4))]:
        _check_forward(rng, dtype, n, c, 4, size, kernel, padding=pad)
        _check_backward(rng, dtype, n, c, 4, size, kernel, grad="input", padding=pad)
        _check_backward(rng, dtype, n, c, 4, size, kernel, grad="weight", padding=pad)


def _with_and_without_padding_skip(monkeypatch, compute):
    """compute() with FASTCONV_IMPLICIT_SKIP_PADDING off and on: the same bits (the products
    left out are with zero padding), returned once."""
    results = []
    for skip in ("0", "1"):
        monkeypatch.setenv("FASTCONV_IMPLICIT_SKIP_PADDING", skip)
        results.append(compute())
    for off, on in zip(results[0], results[1]):
        if off is not None:
            np.testing.assert_array_equal(off, on)
    return results[1]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_position_path_skips_padding_taps_bitwise(dtype, monkeypatch):
    """The position path leaves out, per tile of positions, the taps that read only zero padding
    (FASTCONV_IMPLICIT_SKIP_PADDING): the same bits as computing them, and the reference's values,
    for taps cut along each dimension, dilated taps, strides, a 3-D kernel, grad_input's cropped
    frame (padding past the kernel's reach) and positions whose every tap reads padding."""
    rng = np.random.default_rng(13)
    monkeypatch.setenv("FASTCONV_IMPLICIT_POS", "1")
    cases = [((2, 12, 17, 17), (24, 12, 7, 1), dict(padding=(3, 0))),
             ((3, 16, 14, 14), (32, 16, 5, 5), dict(padding=2)),
             ((1, 40, 9, 11), (20, 40, 3, 3), dict(padding=1)),  # K past one block
             ((1, 6, 13, 12), (8, 6, 3, 3), dict(padding=4, dilation=3)),
             ((2, 5, 12, 11), (7, 5, 4, 3), dict(stride=2, padding=(2, 1))),
             ((1, 4, 5, 6), (6, 4, 3, 3), dict(padding=3)),  # corner outputs read only padding
             ((1, 6, 5, 6, 7), (9, 6, 3, 3, 3), dict(padding=(2, 1, 1))),
             # padding along W only: the edge columns' positions are tiles of their own
             ((2, 12, 17, 17), (24, 12, 1, 7), dict(padding=(0, 3))),
             ((2, 5, 12, 11), (7, 5, 3, 3), dict(stride=2, padding=(0, 1))),
             ((1, 6, 4, 5, 9), (9, 6, 3, 3, 5), dict(padding=(0, 0, 4), dilation=(1, 1, 2))),
             ((1, 3, 3, 2), (5, 3, 1, 5), dict(padding=(0, 3)))]  # every column an edge
    for x_shape, w_shape, args in cases:
        nd = len(x_shape) - 2
        conv, back = getattr(fastconv, f"conv{nd}d"), getattr(fastconv, f"conv{nd}d_backward")
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal(w_shape).astype(dtype)
        b = rng.standard_normal(w_shape[0]).astype(dtype)

        def forward_and_grad_input():
            y = conv(x, w, b, **args, algorithm=ALGO)
            if "stride" in args:  # (stride > 1 grad_input is not implicit_gemm's)
                return y, None
            gy = np.random.default_rng(14).standard_normal(y.shape).astype(dtype)
            return y, back(gy, x, w, **args, output_mask=(True, False, False), algorithm=ALGO)[0]

        y, _ = _with_and_without_padding_skip(monkeypatch, forward_and_grad_input)
        ref = getattr(reference, f"conv{nd}d")(x.astype(np.float64), w.astype(np.float64),
                                                b.astype(np.float64), **args)
        assert_close(y, ref, dtype=dtype, reduction=w[0].size)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_backward_weight_tap_kernel_skips_padding_bitwise(dtype, monkeypatch):
    """backward_weight's tap kernel runs each tap over the positions where it reads inside the
    input only (FASTCONV_IMPLICIT_SKIP_PADDING): the same bits as over all positions, and the
    reference's values, for taps along each dimension, dilation, stride, 3-D, bands (a long
    plane) and taps that read only padding for every position."""
    rng = np.random.default_rng(15)
    cases = [((2, 24, 17, 17), (32, 24, 7, 1), dict(padding=(3, 0))),  # 24: every ISA's tile
             ((2, 16, 14, 14), (32, 16, 5, 5), dict(padding=2)),
             ((1, 8, 13, 12), (32, 8, 3, 3), dict(padding=4, dilation=3)),
             ((2, 8, 12, 11), (64, 8, 4, 3), dict(stride=2, padding=(2, 1))),
             ((1, 8, 4, 5), (32, 8, 3, 3), dict(padding=3)),
             ((1, 8, 97, 9), (32, 8, 5, 3), dict(padding=2)),
             ((1, 8, 5, 6, 7), (32, 8, 3, 3, 3), dict(padding=(2, 1, 1))),
             # padding along W only: edge columns ordered apart
             ((2, 24, 17, 17), (32, 24, 1, 7), dict(padding=(0, 3))),
             ((1, 8, 4, 5, 9), (32, 8, 3, 3, 5), dict(padding=(0, 0, 4), dilation=(1, 1, 2))),
             ((2, 8, 3, 2), (32, 8, 1, 5), dict(padding=(0, 3)))]  # every column an edge
    for x_shape, w_shape, args in cases:
        nd = len(x_shape) - 2
        conv, back = getattr(fastconv, f"conv{nd}d"), getattr(fastconv, f"conv{nd}d_backward")
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal(w_shape).astype(dtype)
        gy = rng.standard_normal(conv(x, w, **args).shape).astype(dtype)
        gw, = _with_and_without_padding_skip(monkeypatch, lambda: (
            back(gy, x, w, **args, output_mask=(False, True, False), algorithm=ALGO)[1],))
        ref = getattr(reference, f"conv{nd}d_backward")(
            gy.astype(np.float64), x.astype(np.float64), w.astype(np.float64), **args)[1]
        assert_close(gw, ref, dtype=dtype, reduction=int(np.prod(gy.shape[2:])) * 2)
