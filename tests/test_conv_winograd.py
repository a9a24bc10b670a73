"""Winograd F(4x4, 3x3) and F(3x3, 3x3) (algorithm="winograd"; F(3x3) where it needs no more tiles,
FASTCONV_WINOGRAD_TILE=3|4 forces one): 2-D 3x3 stride-1 dilation-1 convolutions, and
3-D ones whose inner two dims are (any depth kernel, stride, dilation, padding), forward,
backward_data (and conv_transpose2d, which runs backward_data) and backward_weight, against the
float64 reference and torch; determinism; what `auto` picks.

3-D float32 error: the same bound with reduction 9 kt C_in/g (grad_input 9 kt C_out/g,
grad_weight N OD OH OW); measured in test_conv3d_float32_error_c3d_like (0.5-1.2 x eps32
sqrt(reduction), inside the 2-D rows' range).

float32 error (measured with csrc/cpu/conv/conv_winograd.cc's points 0, +-1, +-2, inf, the
transforms in float32, N(0, 1) inputs and weights, padding 1, against float64 im2col_gemm on the
same float32 inputs, batch 2-4, AVX-512; see test_float32_error_resnet_like):
    C_in = C_out   64 (56x56)  128 (28x28)  256 (14x14)  512 (7x7)
    max|err| / max|y|  6.0e-6   9.7e-6       1.1e-5       9.8e-6     (im2col_gemm: 3.3e-7..5.9e-7)
    ... / (eps32 * sqrt(9 C) * max|y|)  2.1  2.4  1.9  1.2           (im2col_gemm: <= 0.21)
    grad_input, same measure           2.6  1.8  2.3  1.1
(The filter transform in double instead gave 2.2 2.6 2.1 1.2: its rounding does not matter.)
The error grows like a sum of 9 C rounding errors (sqrt) times the transforms' growth of the
magnitudes (B^T d B, A^T M A); the worst-case bound (|B^T|_inf^2 |A^T|_inf^2 = 100 * 324) is far
too loose to test with, so the tolerance is the measured constant with a 5x margin:
    |y - y_ref| <= WINOGRAD_F32_GROWTH * eps32 * sqrt(9 C_in/g) * max(1, max|y_ref|),
    WINOGRAD_F32_GROWTH = 16.
With very few channels the transforms' own rounding dominates, not the sum: over 300 random
1-channel 4x5 problems (padding 1) the worst forward / grad_input error was 15.5 / 27.8 x eps32
sqrt(9) for F(4x4) (3.8 / 3.8 for F(3x3); 4 channels 7.5 / 8.8 and 2.1 / 2.3), so the reduction
in the bound is at least MIN_REDUCTION = 144 (an error of 192 eps32; the 1-channel worst is 83).
float64 is held to the suite's usual tight bound (4 eps * reduction * scale, conftest).

backward_weight reduces over the batch's N OH OW positions (36 GEMMs over the tiles, then
G^T dU G); same measure with sqrt(N OH OW) (test_float32_error_backward_weight; N(0, 1) x, w
and grad_output, padding 1, AVX-512):
    N, C, HxW          2,64,56  4,128,28  4,256,14  4,512,7  1,64,28  1,128,14  1,256,7
    max|err| / max|gw|  6.9e-6   9.4e-6    6.5e-6    2.8e-6   5.2e-6   2.9e-6    2.3e-6
    ... / (eps32 sqrt(N OH OW))  0.73  1.41  1.95  1.70  1.57  1.71  2.78
    (im2col_gemm: 2.4e-7..6.3e-7, ratio 0.03..0.38)
so the same WINOGRAD_F32_GROWTH bound holds with reduction N OH OW (>= 5x margin).

F(3x3, 3x3) (points 0, +-1, 2, inf; 5x5 tiles, forced on every row; same measure, same inputs
as F(4x4) in one run, AVX-512; forward / grad_input x eps32 sqrt(9 C), grad_weight x eps32
sqrt(N OH OW)):
    N, C, HxW       2,64,56  4,128,28  4,256,14  4,512,7  36,512,6  144,512,3
    F(3x3) fwd         0.95   1.12      0.87      0.57     0.57      0.59
           grad_input  1.13   0.91      0.90      0.53     0.58      0.57
           grad_weight 0.38   0.58      1.09      1.01     1.12      1.10
    F(4x4) fwd         3.48   2.13      1.83      1.07     1.41      0.25
           grad_input  2.56   2.20      1.89      1.27     1.51      0.24
           grad_weight 0.89   1.35      1.29      2.50     0.92      0.37
(F(4x4) on 3x3 images: their 6x6 tiles hold only the 3x3 image and its padding.) F(3x3) is at
most as inexact as F(4x4), so the same bound holds (test_float32_error_f3x3).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastconv
from fastconv import _C, reference

from conftest import assert_close, check_reused_workspace

WINOGRAD_F32_GROWTH = 16.0
MIN_REDUCTION = 144
EPS32 = float(np.finfo(np.float32).eps)
DTYPES = [np.float32, np.float64]
DT_IDS = ["f32", "f64"]


def check_winograd(actual, expected, reduction, what):
    """float32: the derived Winograd bound (module docstring); float64: conftest's tight one."""
    if actual.dtype == np.float64:
        assert_close(actual, expected, reduction=reduction, what=what)
        return
    assert actual.shape == expected.shape, what
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    tol = WINOGRAD_F32_GROWTH * EPS32 * np.sqrt(max(reduction, MIN_REDUCTION)) * scale
    err = float(np.max(np.abs(actual.astype(np.float64) - expected))) if expected.size else 0.0
    assert err <= tol, f"{what}: max error {err:.3g} > {tol:.3g}"


def _arrays(rng, dtype, n, c_in, c_out, h, w, groups, bias=True):
    lead = (n,) if n else ()
    x = rng.standard_normal(lead + (c_in, h, w)).astype(dtype)
    wt = rng.standard_normal((c_out, c_in // groups, 3, 3)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    return x, wt, b


def _f64(a):
    return None if a is None else a.astype(np.float64)


def _force_tile(monkeypatch, tile):
    """tile "3" / "4": F(3x3, 3x3) / F(4x4, 3x3) on every problem; "auto": the size rule."""
    if tile != "auto":
        monkeypatch.setenv("FASTCONV_WINOGRAD_TILE", tile)


# --------------------------------------------------------------- forward and backward_data

SIZES = [(1, 1), (2, 3), (3, 4), (4, 5), (5, 4), (7, 8), (8, 9), (9, 13), (12, 11), (13, 13)]
PADDINGS = [0, 1, 2, "same", (0, 2), (2, 1)]


def _cases():
    # (batch, c_in, c_out, (h, w), padding, groups): tile edges 4k-1, 4k, 4k+1 in both dims,
    # channels 1/3/16/33, groups 1/2/4, batch 0 (unbatched), 1, 3.
    cases = []
    for i, (h, w) in enumerate(SIZES):
        for j, pad in enumerate(PADDINGS):
            ph, pw = (1, 1) if pad == "same" else pad if isinstance(pad, tuple) else (pad, pad)
            if h + 2 * ph < 3 or w + 2 * pw < 3:
                continue  # no output
            k = i + j
            c_in, c_out, groups = [(1, 1, 1), (3, 16, 1), (16, 16, 2), (33, 16, 1),
                                   (16, 8, 4), (4, 4, 4)][k % 6]
            cases.append(([1, 3, 0][k % 3], c_in, c_out, (h, w), pad, groups))
    return cases


CASES = _cases()


def _id(case):
    n, ci, co, (h, w), pad, g = case
    pad = "x".join(map(str, pad)) if isinstance(pad, tuple) else pad
    return f"n{n}_c{ci}to{co}_i{h}x{w}_p{pad}_g{g}"


@pytest.mark.parametrize("tile", ["auto", "3", "4"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_forward_and_backward_data_match_reference(case, dtype, tile, rng, monkeypatch):
    _force_tile(monkeypatch, tile)
    n, c_in, c_out, (h, w), pad, groups = case
    x, wt, b = _arrays(rng, dtype, n, c_in, c_out, h, w, groups)
    y = fastconv.conv2d(x, wt, b, padding=pad, groups=groups, algorithm="winograd")
    y_ref = reference.conv2d(_f64(x), _f64(wt), _f64(b), padding=pad, groups=groups)
    assert y.dtype == np.dtype(dtype)
    check_winograd(y, y_ref, 9 * c_in // groups, f"{_id(case)} forward")
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, wt, padding=pad, groups=groups,
                                          output_mask=(True, True, False), algorithm="winograd")
    assert gb is None
    gx_ref, gw_ref = reference.conv2d_backward(_f64(gy), _f64(x), _f64(wt), padding=pad,
                                               groups=groups)[:2]
    check_winograd(gx, gx_ref, 9 * c_out // groups, f"{_id(case)} grad_input")
    assert gw.dtype == np.dtype(dtype)
    check_winograd(gw, gw_ref, max(n, 1) * y.shape[-1] * y.shape[-2], f"{_id(case)} grad_weight")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("size,padding,output_padding", [
    ((5, 7), 0, 0), ((8, 9), 1, 0), ((4, 4), 2, 0), ((7, 6), 3, 0), ((1, 1), 0, 0),
], ids=["p0", "p1", "p2", "p3_crop", "one_pixel"])
def test_conv_transpose2d_stride1_matches_reference(size, padding, output_padding, dtype, rng):
    x = rng.standard_normal((2, 8, *size)).astype(dtype)
    wt = rng.standard_normal((8, 6, 3, 3)).astype(dtype)  # (C_in, C_out/groups, 3, 3)
    b = rng.standard_normal(12).astype(dtype)
    y = fastconv.conv_transpose2d(x, wt, b, padding=padding, groups=2, algorithm="winograd")
    y_ref = reference.conv_transpose2d(_f64(x), _f64(wt), _f64(b), padding=padding, groups=2)
    check_winograd(y, y_ref, 9 * 4, f"conv_transpose2d p{padding}")
    # its backward_data is conv's forward: winograd too
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = fastconv.conv_transpose2d_backward(gy, x, wt, padding=padding, groups=2,
                                            output_mask=(True, False, False),
                                            algorithm="winograd")[0]
    gx_ref = reference.conv_transpose2d_backward(_f64(gy), _f64(x), _f64(wt), padding=padding,
                                                 groups=2)[0]
    check_winograd(gx, gx_ref, 9 * 6, f"conv_transpose2d p{padding} grad_input")


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("n,c_in,c_out,size,padding,groups", [
    (3, 16, 33, (13, 12), 1, 1), (1, 32, 32, (9, 11), 0, 2), (2, 64, 64, (14, 14), 1, 4),
    (1, 3, 16, (8, 8), 2, 1),
], ids=["c16to33", "g2_valid", "c64_g4", "c3_p2"])
def test_matches_torch(n, c_in, c_out, size, padding, groups, dtype, rng):
    torch = pytest.importorskip("torch")
    x, wt, b = _arrays(rng, dtype, n, c_in, c_out, *size, groups)
    y = fastconv.conv2d(x, wt, b, padding=padding, groups=groups, algorithm="winograd")
    tx, tw, tb = (torch.from_numpy(a.astype(np.float64)) for a in (x, wt, b))
    y_t = torch.nn.functional.conv2d(tx, tw, tb, padding=padding, groups=groups).numpy()
    check_winograd(y, y_t, 9 * c_in // groups, "forward vs torch")
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx, gw = fastconv.conv2d_backward(gy, x, wt, padding=padding, groups=groups,
                                      output_mask=(True, True, False), algorithm="winograd")[:2]
    gx_t, gw_t = (r.numpy() for r in torch.ops.aten.convolution_backward(
        torch.from_numpy(gy.astype(np.float64)), tx, tw, None, [1, 1], [padding] * 2, [1, 1],
        False, [0, 0], groups, [True, True, False])[:2])
    check_winograd(gx, gx_t, 9 * c_out // groups, "grad_input vs torch")
    check_winograd(gw, gw_t, n * y.shape[-1] * y.shape[-2], "grad_weight vs torch")


def test_float32_error_resnet_like(rng):
    """The measurement behind WINOGRAD_F32_GROWTH (module docstring), on smaller batches."""
    for c, hw in ((64, 28), (128, 14), (256, 7)):
        x = rng.standard_normal((1, c, hw, hw)).astype(np.float32)
        w = rng.standard_normal((c, c, 3, 3)).astype(np.float32)
        ref = fastconv.conv2d(_f64(x), _f64(w), padding=1, algorithm="im2col_gemm")
        y = fastconv.conv2d(x, w, padding=1, algorithm="winograd")
        rel = np.max(np.abs(y - ref)) / np.max(np.abs(ref))
        ratio = rel / (EPS32 * np.sqrt(9 * c))
        assert ratio <= WINOGRAD_F32_GROWTH, f"C={c}: error {rel:.3g} = {ratio:.2f} eps sqrt(K)"
        assert rel < 3e-5


def test_float32_error_f3x3(rng, monkeypatch):
    """F(3x3, 3x3) forced (module docstring's table), on smaller problems: all three passes
    within the bound F(4x4) is held to (measured 0.4-1.1 of it)."""
    _force_tile(monkeypatch, "3")
    for n, c, hw in ((1, 64, 28), (36, 128, 6), (16, 256, 3)):
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        w = rng.standard_normal((c, c, 3, 3)).astype(np.float32)
        gy = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        y = fastconv.conv2d(x, w, padding=1, algorithm="winograd")
        gx, gw = fastconv.conv2d_backward(gy, x, w, padding=1, output_mask=(True, True, False),
                                          algorithm="winograd")[:2]
        ref = fastconv.conv2d(_f64(x), _f64(w), padding=1, algorithm="im2col_gemm")
        gx_ref, gw_ref = fastconv.conv2d_backward(_f64(gy), _f64(x), _f64(w), padding=1,
                                                  output_mask=(True, True, False),
                                                  algorithm="im2col_gemm")[:2]
        for got, want, red in ((y, ref, 9 * c), (gx, gx_ref, 9 * c), (gw, gw_ref, n * hw * hw)):
            rel = np.max(np.abs(got - want)) / np.max(np.abs(want))
            ratio = rel / (EPS32 * np.sqrt(red))
            assert ratio <= WINOGRAD_F32_GROWTH, f"C={c}: error {rel:.3g} = {ratio:.2f} eps sqrt(K)"


def test_float32_error_backward_weight(rng):
    """The grad_weight measurement in the module docstring, on smaller problems."""
    for n, c, hw in ((1, 64, 28), (1, 128, 14), (2, 256, 7)):
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        w = rng.standard_normal((c, c, 3, 3)).astype(np.float32)
        gy = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        ref = fastconv.conv2d_backward(_f64(gy), _f64(x), _f64(w), padding=1,
                                       output_mask=(False, True, False),
                                       algorithm="im2col_gemm")[1]
        gw = fastconv.conv2d_backward(gy, x, w, padding=1, output_mask=(False, True, False),
                                      algorithm="winograd")[1]
        rel = np.max(np.abs(gw - ref)) / np.max(np.abs(ref))
        ratio = rel / (EPS32 * np.sqrt(n * hw * hw))
        assert ratio <= WINOGRAD_F32_GROWTH, f"C={c}: error {rel:.3g} = {ratio:.2f} eps sqrt(K)"
        assert rel < 3e-5


# ------------------------------------------------------------------------------------ 3-D

# (batch, c_in, c_out, (d, h, w), kt, depth stride, depth dilation, (pad d, pad h, pad w),
# groups, activation): the inner two dims 3x3 stride 1 as 2-D; depth any kernel 1/2/3/5,
# stride, dilation and padding, including output slices that read no input slice (a tap past
# the input) and input slices no output reads.
CASES_3D = [
    (2, 8, 8, (5, 9, 11), 3, 1, 1, (1, 1, 1), 1, None),
    (1, 8, 5, (7, 6, 7), 2, 2, 1, (0, 1, 1), 1, "relu"),
    (2, 6, 4, (9, 5, 8), 5, 2, 2, (3, 2, 0), 2, None),
    (1, 4, 4, (4, 4, 4), 3, 3, 1, (0, 0, 2), 1, "relu"),
    (0, 16, 12, (3, 7, 5), 1, 1, 1, (2, 1, 1), 4, None),
    (3, 5, 7, (3, 13, 5), 3, 1, 2, (2, 1, 1), 1, None),
    (1, 33, 16, (2, 8, 9), 5, 1, 1, (4, 1, 1), 1, "relu"),
]


def _id3(c):
    n, ci, co, (d, h, w), kt, sd, dd, pad, g, act = c
    return f"n{n}_c{ci}to{co}_{d}x{h}x{w}_kt{kt}_s{sd}_d{dd}_p{'x'.join(map(str, pad))}_g{g}" + \
        ("_relu" if act else "")


@pytest.mark.parametrize("tile", ["auto", "3"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("case", CASES_3D, ids=[_id3(c) for c in CASES_3D])
def test_conv3d_all_passes_match_reference(case, dtype, tile, rng, monkeypatch):
    _force_tile(monkeypatch, tile)
    n, c_in, c_out, size, kt, sd, dd, pad, groups, act = case
    lead = (n,) if n else ()
    x = rng.standard_normal(lead + (c_in,) + size).astype(dtype)
    wt = rng.standard_normal((c_out, c_in // groups, kt, 3, 3)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    kw = dict(stride=(sd, 1, 1), dilation=(dd, 1, 1), padding=pad, groups=groups)
    y = fastconv.conv3d(x, wt, b, **kw, activation=act, algorithm="winograd")
    y_ref = reference.conv3d(_f64(x), _f64(wt), _f64(b), **kw)
    if act:
        y_ref = np.maximum(y_ref, 0)
    assert y.dtype == np.dtype(dtype)
    check_winograd(y, y_ref, 9 * kt * c_in // groups, f"{_id3(case)} forward")
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx, gw, _ = fastconv.conv3d_backward(gy, x, wt, **kw, output_mask=(True, True, False),
                                         algorithm="winograd")
    gx_ref, gw_ref = reference.conv3d_backward(_f64(gy), _f64(x), _f64(wt), **kw)[:2]
    check_winograd(gx, gx_ref, 9 * kt * c_out // groups, f"{_id3(case)} grad_input")
    check_winograd(gw, gw_ref, max(n, 1) * int(np.prod(y.shape[-3:])), f"{_id3(case)} grad_weight")


def test_conv3d_float32_error_c3d_like(rng):
    """3-D float32 error (forward, grad_input, grad_weight against float64 im2col_gemm on the same
    inputs): the depth taps add kt C_in terms to each transformed-domain sum, so the 2-D bound
    holds with reduction 9 kt C_in (9 kt C_out, N OD OH OW). Measured on AVX-512, N(0, 1) data,
    3x3x3 padding 1, 1x64x4x28x28 -> 64: max|err| / max|y| = 5.8e-6, 5.7e-6, 3.1e-6, i.e.
    1.16, 1.15, 0.46 x eps32 sqrt(reduction) (2-D ResNet-like rows: 0.7 to 2.8; im2col_gemm
    here 3.9e-7, 0.08), so the 2-D WINOGRAD_F32_GROWTH bound holds with >= 10x margin."""
    x = rng.standard_normal((1, 64, 4, 28, 28)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((1, 64, 4, 28, 28)).astype(np.float32)
    kw = dict(padding=1)
    ref = fastconv.conv3d(_f64(x), _f64(w), **kw, algorithm="im2col_gemm")
    gx_ref, gw_ref = fastconv.conv3d_backward(_f64(gy), _f64(x), _f64(w), **kw,
                                              output_mask=(True, True, False),
                                              algorithm="im2col_gemm")[:2]
    y = fastconv.conv3d(x, w, **kw, algorithm="winograd")
    gx, gw = fastconv.conv3d_backward(gy, x, w, **kw, output_mask=(True, True, False),
                                      algorithm="winograd")[:2]
    for got, want, red in ((y, ref, 27 * 64), (gx, gx_ref, 27 * 64), (gw, gw_ref, 4 * 28 * 28)):
        rel = np.max(np.abs(got - want)) / np.max(np.abs(want))
        ratio = rel / (EPS32 * np.sqrt(red))
        assert ratio <= WINOGRAD_F32_GROWTH, f"error {rel:.3g} = {ratio:.2f} eps sqrt(K)"


# ------------------------------------------------------------------------ determinism

@pytest.mark.parametrize("tile", ["auto", "3"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_one_and_two_threads_bitwise(dtype, tile, monkeypatch):
    _force_tile(monkeypatch, tile)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 40, 19, 17)).astype(dtype)
    w = rng.standard_normal((70, 40, 3, 3)).astype(dtype)
    b = rng.standard_normal(70).astype(dtype)
    before = fastconv.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            y = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd")
            gx, gw = fastconv.conv2d_backward(y, x, w, padding=1,
                                              output_mask=(True, True, False),
                                              algorithm="winograd")[:2]
            results.append((y, gx, gw))
    finally:
        fastconv.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("tile", ["auto", "3"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_sample_does_not_depend_on_batch(dtype, tile, monkeypatch):
    """Sample i of a batch equals that sample computed alone, bitwise (tiles of one block span
    samples; every GEMM column is one tile). Alone, its 12 tiles take the transposed GEMMs
    (tiles on the micro-kernel's rows) on AVX-512; the batch of 60 the usual ones."""
    _force_tile(monkeypatch, tile)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 24, 13, 10)).astype(dtype)
    w = rng.standard_normal((20, 24, 3, 3)).astype(dtype)
    b = rng.standard_normal(20).astype(dtype)
    y = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd")
    gx = fastconv.conv2d_backward(y, x, w, padding=1, output_mask=(True, False, False),
                                  algorithm="winograd")[0]
    for i in range(5):
        xi = x[i:i + 1]
        np.testing.assert_array_equal(y[i:i + 1], fastconv.conv2d(xi, w, b, padding=1,
                                                                  algorithm="winograd"))
        gxi = fastconv.conv2d_backward(y[i:i + 1], xi, w, padding=1,
                                       output_mask=(True, False, False), algorithm="winograd")[0]
        np.testing.assert_array_equal(gx[i:i + 1], gxi)


@pytest.mark.parametrize("tile", ["auto", "3"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_blocks_do_not_change_bits(dtype, tile, monkeypatch):
    """A batch of 1200 tiles runs in 10 blocks of 128 with the filters transformed once for all,
    each thread running whole blocks (2 threads) or all threads each block's phases (1 thread);
    each sample alone (100 tiles) in one block, each GEMM task transforming its own filters:
    the results are bitwise the same (forward and grad_input)."""
    _force_tile(monkeypatch, tile)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((12, 16, 40, 40)).astype(dtype)
    w = rng.standard_normal((16, 16, 3, 3)).astype(dtype)
    before = fastconv.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            y = fastconv.conv2d(x, w, padding=1, algorithm="winograd")
            gx, gw = fastconv.conv2d_backward(y, x, w, padding=1,
                                              output_mask=(True, True, False),
                                              algorithm="winograd")[:2]
            results.append((y, gx, gw))
    finally:
        fastconv.set_num_threads(before)
    for one, two in zip(*results):  # grad_weight: 5 blocks of 256 tiles, summed in order
        np.testing.assert_array_equal(one, two)
    y, gx, _ = results[1]
    for i in (0, 11):
        xi = x[i:i + 1]
        np.testing.assert_array_equal(y[i:i + 1], fastconv.conv2d(xi, w, padding=1,
                                                                  algorithm="winograd"))
        gxi = fastconv.conv2d_backward(y[i:i + 1], xi, w, padding=1,
                                       output_mask=(True, False, False), algorithm="winograd")[0]
        np.testing.assert_array_equal(gx[i:i + 1], gxi)


@pytest.mark.parametrize("tile", ["auto", "3"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_conv3d_threads_and_batch_bitwise(dtype, tile, monkeypatch):
    """3-D: 1 and 2 threads give the same bits (all passes); a sample alone gives the bits it
    gets in the batch (forward, grad_input). 300 tiles of 4 slices: 10 blocks of 32 with U
    stored (2 threads: each runs whole blocks); a sample alone, 100 tiles, 4 blocks."""
    _force_tile(monkeypatch, tile)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 8, 4, 40, 40)).astype(dtype)
    w = rng.standard_normal((12, 8, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(12).astype(dtype)
    kw = dict(padding=(1, 1, 1), stride=(2, 1, 1), algorithm="winograd")
    before = fastconv.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            y = fastconv.conv3d(x, w, b, **kw)
            gx, gw = fastconv.conv3d_backward(y, x, w, output_mask=(True, True, False), **kw)[:2]
            results.append((y, gx, gw))
    finally:
        fastconv.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
    y, gx, _ = results[1]
    for i in (0, 2):
        np.testing.assert_array_equal(y[i:i + 1], fastconv.conv3d(x[i:i + 1], w, b, **kw))
        gxi = fastconv.conv3d_backward(y[i:i + 1], x[i:i + 1], w,
                                       output_mask=(True, False, False), **kw)[0]
        np.testing.assert_array_equal(gx[i:i + 1], gxi)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_stretched_block_same_bits(dtype):
    """A sample of 144 tiles runs as one stretched block with U stored (conv_winograd.cc
    make_plan); in a batch of 2, 288 tiles run in blocks of 128: the same bits."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 16, 48, 48)).astype(dtype)
    w = rng.standard_normal((24, 16, 3, 3)).astype(dtype)
    y = fastconv.conv2d(x, w, padding=1, algorithm="winograd")
    gx = fastconv.conv2d_backward(y, x, w, padding=1, output_mask=(True, False, False),
                                  algorithm="winograd")[0]
    for i in range(2):
        np.testing.assert_array_equal(y[i:i + 1], fastconv.conv2d(x[i:i + 1], w, padding=1,
                                                                  algorithm="winograd"))
        gxi = fastconv.conv2d_backward(y[i:i + 1], x[i:i + 1], w, padding=1,
                                       output_mask=(True, False, False), algorithm="winograd")[0]
        np.testing.assert_array_equal(gx[i:i + 1], gxi)


# ------------------------------------------------------------------ unsupported problems

@pytest.mark.parametrize("what", ["stride2", "kernel5x5", "dilation2_stride2", "conv1d", "conv3d",
                                  "backward_weight_stride2"])
def test_forced_winograd_on_unsupported_problem_raises(what, rng):
    x = rng.standard_normal((1, 4, 9, 9))
    w3, w5 = rng.standard_normal((4, 4, 3, 3)), rng.standard_normal((4, 4, 5, 5))
    op = "conv2d"
    with pytest.raises(ValueError) as e:
        if what == "stride2":
            fastconv.conv2d(x, w3, stride=2, algorithm="winograd")
        elif what == "kernel5x5":
            fastconv.conv2d(x, w5, algorithm="winograd")
        elif what == "dilation2_stride2":  # dilation alone: through the dilation phases
            fastconv.conv2d(x, w3, dilation=2, stride=2, algorithm="winograd")
        elif what == "conv1d":
            op = "conv1d"
            fastconv.conv1d(x[:, :, 0], w3[..., 0], algorithm="winograd")
        elif what == "conv3d":  # any depth, but the inner two dims stride 1
            op = "conv3d"
            fastconv.conv3d(x[:, :, None].repeat(3, 2), w3[:, :, None].repeat(3, 2),
                            stride=(1, 2, 1), algorithm="winograd")
        else:
            op = "conv2d_backward"
            gy = rng.standard_normal((1, 4, 7, 7))
            fastconv.conv2d_backward(gy[..., :4, :4], x, w3, stride=2,
                                     output_mask=(False, True, False), algorithm="winograd")
    msg = str(e.value)
    assert msg.startswith(op + ":") and "'algorithm'" in msg and "winograd" in msg, msg


# ------------------------------------------------------------------------- auto's choice

def _choose(pass_, n, c_in, c_out, h, w, groups=1, pad=1, stride=1, k=3, algorithm="auto"):
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    return _C.conv_plan(pass_, (n, c_in, 1, h, w), (c_out, c_in // groups, 1, k, k),
                        (n, c_out, 1, oh, ow), (1, stride, stride), (0, pad, pad), (1, 1, 1),
                        groups, algorithm, 4)[0]


def test_conv_plan_forced_and_errors():
    assert _choose("forward", 1, 8, 8, 9, 9, algorithm="winograd") == "winograd"
    assert _choose("forward", 1, 8, 8, 9, 9, algorithm="im2col_gemm") == "im2col_gemm"
    assert _choose("backward_weight", 1, 8, 8, 9, 9, algorithm="winograd") == "winograd"
    with pytest.raises(ValueError, match="winograd"):
        _choose("backward_weight", 1, 8, 8, 9, 9, stride=2, algorithm="winograd")
    with pytest.raises(ValueError, match="pass"):
        _choose("sideways", 1, 8, 8, 9, 9)


@pytest.mark.parametrize("pass_", ["forward", "backward_data"])
def test_auto_picks_winograd_for_resnet_3x3(pass_):
    for n, c, hw in ((8, 64, 56), (8, 128, 28), (8, 256, 14), (1, 256, 14), (8, 512, 7),
                     (1, 128, 112), (8, 16, 56), (1, 128, 7)):
        assert _choose(pass_, n, c, c, hw, hw) == "winograd", (n, c, hw)
    # grouped: implicit_gemm wins even at 16 per group (conv.cc, prefer_winograd)
    assert _choose(pass_, 8, 512, 512, 14, 14, groups=32) == "implicit_gemm"


def test_auto_picks_winograd_backward_weight_with_enough_tiles():
    # from 32 output tiles over the batch and 32 output channels (conv.cc)
    for n, c, hw in ((8, 64, 56), (8, 128, 28), (8, 256, 14), (8, 512, 7), (1, 64, 56),
                     (8, 32, 28)):
        assert _choose("backward_weight", n, c, c, hw, hw) == "winograd", (n, c, hw)
    for n, c, hw in ((1, 256, 14), (1, 512, 7), (8, 16, 56)):
        assert _choose("backward_weight", n, c, c, hw, hw) != "winograd", (n, c, hw)


def test_auto_picks_no_winograd_elsewhere():
    assert _choose("backward_weight", 8, 64, 64, 56, 56, stride=2) != "winograd"
    # GEMMs without a Winograd transform (implicit_gemm where it wins, conv.cc)
    assert _choose("forward", 8, 128, 128, 56, 56, stride=2) == "implicit_gemm"
    assert _choose("forward", 8, 128, 128, 56, 56, k=5, pad=2) == "implicit_gemm"
    # few input channels: small_channels on AVX-512 (conv.cc), implicit_gemm on the other paths
    assert _choose("forward", 8, 3, 64, 224, 224) in ("small_channels", "implicit_gemm")
    assert _choose("forward", 8, 64, 64, 56, 56, groups=64) == "depthwise"
    # few channels per group (resnext 4 and 8), tiny problems (< 8 MFLOP)
    assert _choose("forward", 8, 128, 128, 56, 56, groups=32) == "implicit_gemm"
    assert _choose("backward_data", 8, 256, 256, 28, 28, groups=32) == "implicit_gemm"
    assert _choose("forward", 1, 64, 64, 7, 7) != "winograd"
    assert _choose("backward_data", 1, 16, 16, 14, 14) != "winograd"


def test_auto_float32_within_bound(rng):
    x = rng.standard_normal((2, 128, 20, 20)).astype(np.float32)
    w = rng.standard_normal((128, 128, 3, 3)).astype(np.float32)
    assert _choose("forward", 2, 128, 128, 20, 20) == "winograd"
    y = fastconv.conv2d(x, w, padding=1)
    check_winograd(y, reference.conv2d(_f64(x), _f64(w), padding=1), 9 * 128, "auto forward")


def _auto3d(x_shape, w_shape, **kw):
    passes = fastconv.explain("conv3d", x_shape, w_shape, **kw)["passes"]
    return {p: v["algorithm"] for p, v in passes.items()}


def test_auto_picks_winograd_for_3d_3x3():
    # 3-D ResNet-18, C3D conv2a, a 1x3x3 (R(2+1)D spatial) and a depth-strided 3x3x3 (conv.cc)
    for x, w, kw in (((2, 64, 8, 28, 28), (64, 64, 3, 3, 3), dict(padding=1)),
                     ((1, 64, 16, 56, 56), (128, 64, 3, 3, 3), dict(padding=1)),
                     ((1, 64, 8, 56, 56), (64, 64, 1, 3, 3), dict(padding=(0, 1, 1))),
                     ((1, 64, 16, 28, 28), (64, 64, 3, 3, 3), dict(padding=1, stride=(2, 1, 1)))):
        assert set(_auto3d(x, w, **kw).values()) == {"winograd"}, (x, w)
    # inner stride 2: never; planes of fewer than 4 tiles: forward / backward_data elsewhere,
    # backward_weight below 32 tiles over the batch and slices
    assert "winograd" not in _auto3d((1, 64, 8, 28, 28), (64, 64, 3, 3, 3), padding=1,
                                     stride=(1, 2, 2)).values()
    assert "winograd" not in _auto3d((1, 256, 4, 4, 8), (256, 256, 3, 3, 3), padding=1).values()
    four_tiles = _auto3d((1, 256, 4, 8, 8), (256, 256, 3, 3, 3), padding=1)
    assert four_tiles["forward"] == four_tiles["backward_data"] == "winograd"
    assert _auto3d((1, 128, 4, 8, 8), (128, 128, 3, 3, 3), padding=1)["backward_weight"] != \
        "winograd"


def test_auto_needs_four_tiles_per_plane():
    # 2-D alike (conv.cc kWinogradMinPlaneTiles); the dilation phases' inner problem counts its
    # phase images: ASPP d12 (144 images of 3x3) keeps winograd
    assert _choose("forward", 1, 512, 512, 4, 8) != "winograd"
    assert _choose("backward_data", 1, 512, 512, 4, 4) != "winograd"
    assert _choose("forward", 1, 512, 512, 7, 7) == "winograd"
    aspp = fastconv.explain("conv2d", (1, 512, 33, 33), (256, 512, 3, 3), padding=12,
                            dilation=12)["passes"]
    assert aspp["forward"]["algorithm"] == "winograd"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_reused_workspace_holds_no_stale_values(dtype):
    """winograd and the dilation-phase rewrite keep their workspace across calls: NaN left by
    larger calls changes no bit of the smaller convs' passes (F(4x4), F(3x3), dilated)."""
    check_reused_workspace(
        "winograd", dtype,
        [((2, 5, 9, 11), (7, 5, 3, 3), dict(padding=1)),
         ((1, 4, 6, 6), (7, 4, 3, 3), dict(padding=1)),
         ((1, 6, 13, 13), (7, 6, 3, 3), dict(padding=2, dilation=2))],
        [((2, 32, 24, 24), (40, 32, 3, 3), dict(padding=1)),
         ((1, 24, 30, 30), (40, 24, 3, 3), dict(padding=2, dilation=2))])
