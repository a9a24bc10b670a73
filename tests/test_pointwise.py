"""im2col_gemm on 1x1 convolutions: the epilogue fused into the GEMM's stores (bias, ReLU) and the
non-temporal output stores (FASTCONV_GEMM_STREAM forces them on small shapes) give the same bits
as the unfused, cached path, match the float64 reference, and keep batch invariance."""

from __future__ import annotations

import numpy as np
import pytest

import fastconv
from fastconv import reference

from conftest import assert_close, check_reused_workspace

DTYPES = [np.float32, np.float64]

# (x shape, c_out, stride, groups): P = 4096 and P = 64 (whole 32-column panels, vector-aligned rows),
# P = 49 (tiles straddling samples), P = 90 with odd channel counts, K = 300 (two kc slices),
# a strided 1x1 (subsampled once), groups.
CASES = [
    ((2, 20, 64, 64), 40, 1, 1),  # output of 1.3 MB: allocated aligned, so the streaming runs
    ((3, 20, 8, 8), 40, 1, 1),
    ((4, 17, 7, 7), 13, 1, 1),
    ((2, 9, 9, 10), 19, 1, 1),
    ((2, 300, 4, 8), 24, 1, 1),
    ((3, 16, 13, 14), 24, 2, 1),
    ((2, 12, 8, 8), 18, 1, 3),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[0])) + f"_k{c[1]}s{c[2]}g{c[3]}")
def test_fused_epilogue_and_streamed_stores(case, dtype, rng, monkeypatch):
    xs, c_out, stride, groups = case
    x = rng.standard_normal(xs).astype(dtype)
    x.flat[::23] = np.nan  # NaN passes the fused ReLU as it passes fastconv.relu
    w = rng.standard_normal((c_out, xs[1] // groups, 1, 1)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    args = dict(stride=stride, groups=groups, algorithm="im2col_gemm")
    gy = rng.standard_normal(fastconv.conv2d(x, w, **args).shape).astype(dtype)
    results = {}
    for stream in ("0", "1"):
        monkeypatch.setenv("FASTCONV_GEMM_STREAM", stream)
        plain = fastconv.conv2d(x, w, b, **args)
        relu = fastconv.conv2d(x, w, b, **args, activation="relu")
        relu_no_bias = fastconv.conv2d(x, w, None, **args, activation="relu")
        no_bias = fastconv.conv2d(x, w, None, **args)
        np.testing.assert_array_equal(relu, fastconv.relu(plain))
        np.testing.assert_array_equal(relu_no_bias, fastconv.relu(no_bias))
        for i in (0, xs[0] - 1):  # a sample alone gives the bits it gets in the batch
            np.testing.assert_array_equal(
                fastconv.conv2d(x[i:i + 1], w, b, **args, activation="relu"), relu[i:i + 1])
        gx, _, _ = fastconv.conv2d_backward(gy, x, w, stride=stride, groups=groups,
                                            output_mask=(True, False, False),
                                            algorithm="im2col_gemm")
        results[stream] = (plain, relu, no_bias, gx)
    for a, b_ in zip(results["0"], results["1"]):
        np.testing.assert_array_equal(a, b_)
    plain, relu, no_bias, gx = results["1"]
    f64 = lambda a: a.astype(np.float64)
    y_ref = reference.conv2d(f64(np.nan_to_num(x)), f64(w), f64(b), stride=stride, groups=groups)
    finite = ~np.isnan(plain)
    assert_close(np.where(finite, plain, 0), np.where(finite, y_ref, 0), dtype=dtype,
                 reduction=xs[1] // groups)
    gx_ref, _, _ = reference.conv2d_backward(f64(gy), f64(x), f64(w), stride=stride,
                                             groups=groups)
    assert_close(gx, gx_ref, dtype=dtype, reduction=c_out // groups)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("xs, c_out, k, opad", [
    ((3, 20, 9, 11), 12, 2, 0),       # every output cell written once (no zeroing)
    ((2, 7, 5, 6), 5, 2, 1),          # output_padding: cells no tap reaches stay zero
    ((2, 9, 16, 16), 6, 2, 0),        # P = 256: whole tiles of one sample, B read in place
    ((2, 6, 3, 4, 5), 4, 2, 0),       # 2x2x2/2
    ((2, 6, 7, 9), 8, 3, 0),          # 3x3/3
    ((2, 5, 9), 3, 2, 0),             # conv_transpose1d 2/2
])
def test_disjoint_tap_transposed_conv(xs, c_out, k, opad, dtype, rng):
    """conv_transpose with kernel = stride (backward_data of a conv whose taps tile its input)."""
    nd = len(xs) - 2
    op = getattr(fastconv, f"conv_transpose{nd}d")
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((xs[1], c_out) + (k,) * nd).astype(dtype)
    args = dict(stride=k, output_padding=opad)
    y = op(x, w, **args, algorithm="im2col_gemm")
    y_ref = getattr(reference, f"conv_transpose{nd}d")(x.astype(np.float64), w.astype(np.float64),
                                                       **args)
    assert_close(y, y_ref, dtype=dtype, reduction=xs[1])
    for i in (0, xs[0] - 1):
        np.testing.assert_array_equal(op(x[i:i + 1], w, **args, algorithm="im2col_gemm"),
                                      y[i:i + 1])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("xs, c_out, k, stride, groups", [
    ((3, 6, 10, 12), 8, 2, 2, 1),           # 2x2/2: the input tiled exactly
    ((2, 4, 11, 13), 6, 2, 3, 2),           # kernel < stride, odd sizes, groups
    ((2, 5, 9, 14), 7, (1, 3), (2, 3), 1),  # 1x3 / (2, 3)
    ((2, 3, 4, 6, 5), 4, 2, 2, 1),          # 2x2x2/2 (the last input column unread)
])
def test_disjoint_tap_conv_forward_and_grad_weight(xs, c_out, k, stride, groups, dtype, rng,
                                                   restore_threads):
    """Kernels no larger than their stride run as the pointwise conv of the input subsampled once
    per tap (forward and backward_weight)."""
    from conftest import check_backward_weight
    nd = len(xs) - 2
    k = (k,) * nd if isinstance(k, int) else k
    conv = getattr(fastconv, f"conv{nd}d")
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((c_out, xs[1] // groups) + k).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    args = dict(stride=stride, groups=groups)
    y = conv(x, w, b, **args, algorithm="im2col_gemm", activation="relu")
    y_ref = getattr(reference, f"conv{nd}d")(x.astype(np.float64), w.astype(np.float64),
                                             b.astype(np.float64), **args)
    assert_close(y, np.maximum(y_ref, 0), dtype=dtype, reduction=w[0].size)
    np.testing.assert_array_equal(conv(x[1:2], w, b, **args, algorithm="im2col_gemm",
                                       activation="relu"), y[1:2])
    gy = rng.standard_normal(y.shape).astype(dtype)
    check_backward_weight(x, w, gy, args, "im2col_gemm", "disjoint taps")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_streamed_forward_same_bits_for_any_thread_count(dtype, rng, monkeypatch, restore_threads):
    """Thread invariance through the streamed, fused, read-in-place path (1x1 at P = 4096)."""
    monkeypatch.setenv("FASTCONV_GEMM_STREAM", "1")
    x = rng.standard_normal((3, 24, 64, 64)).astype(dtype)
    w = rng.standard_normal((40, 24, 1, 1)).astype(dtype)
    b = rng.standard_normal(40).astype(dtype)
    results = []
    for t in (1, 2, 3):
        fastconv.set_num_threads(t)
        y = fastconv.conv2d(x, w, b, activation="relu", algorithm="im2col_gemm")
        gx, _, _ = fastconv.conv2d_backward(y, x, w, output_mask=(True, False, False),
                                            algorithm="im2col_gemm")
        results.append((y, gx))
    for y, gx in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(gx, results[0][1])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("xs, c_out, stride, groups", [
    ((2, 20, 33, 33), 24, 1, 1),    # P = 1089: tiles of 560 straddle samples, 1-element tails
    ((3, 17, 7, 7), 13, 1, 1),      # P = 49: tiles of whole samples (segments), odd blocks
    ((2, 9, 9, 10), 19, 1, 1),      # P = 90: masked tails of 10 (AVX-512) / 2 (AVX2)
    ((2, 40, 12, 12), 70, 1, 2),    # groups: 35 x 20 per group
    ((3, 16, 13, 14), 24, 2, 1),    # strided: the subsampled input
    ((2, 130, 8, 8), 66, 1, 1),     # min(C_out/g, C_in/g) > 64: the GEMM unless forced
])
def test_backward_weight_dot_kernel(xs, c_out, stride, groups, dtype, rng, monkeypatch,
                                    restore_threads):
    """1x1 backward_weight on the dot-product kernel (FASTCONV_WGRAD_DOT=1; FASTCONV_DOT_SPAN=48
    cuts short tiles that straddle samples) and on the packed GEMM: each matches the float64
    reference and is bitwise the same for 1, 2 and 3 threads."""
    from conftest import check_backward_weight
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((c_out, xs[1] // groups, 1, 1)).astype(dtype)
    args = dict(stride=stride, groups=groups)
    gy = rng.standard_normal(fastconv.conv2d(x, w, **args).shape).astype(dtype)
    for dot, span in (("1", None), ("1", "48"), ("0", None)):
        monkeypatch.setenv("FASTCONV_WGRAD_DOT", dot)
        if span is None:
            monkeypatch.delenv("FASTCONV_DOT_SPAN", raising=False)
        else:
            monkeypatch.setenv("FASTCONV_DOT_SPAN", span)
        check_backward_weight(x, w, gy, args, "im2col_gemm", f"dot={dot} span={span}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_reused_workspace_holds_no_stale_values(dtype):
    """im2col_gemm keeps its workspace across calls: NaN left by larger calls (packed weights,
    subsampled inputs, C tiles, partial dW) changes no bit of the smaller convs' passes (1x1/2
    subsampled, disjoint taps, im2col, pointwise)."""
    check_reused_workspace(
        "im2col_gemm", dtype,
        [((2, 6, 10, 12), (8, 6, 1, 1), dict(stride=2)),
         ((2, 6, 10, 12), (8, 6, 2, 2), dict(stride=2)),
         ((2, 5, 9, 11), (7, 5, 3, 3), dict(padding=1)),
         ((3, 40, 7, 7), (12, 40, 1, 1), dict())],
        [((2, 64, 40, 40), (96, 64, 1, 1), dict(stride=2)),
         ((2, 32, 24, 24), (48, 32, 2, 2), dict(stride=2)),
         ((2, 32, 20, 20), (48, 32, 3, 3), dict(padding=1)),
         ((4, 128, 14, 14), (96, 128, 1, 1), dict())])
