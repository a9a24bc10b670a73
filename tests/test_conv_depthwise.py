"""The direct depthwise algorithm (csrc/cpu/conv/conv_depthwise*.cc), forced with
algorithm="depthwise", against the float64 reference and PyTorch: every primitive (forward,
backward_data, backward_weight, and the transposed convolution built from them), depth
multipliers 1 and 2, kernels 1 to 31, strides 1 to 3, padding (incl. asymmetric 'same'),
dilation, 1D (incl. causal k=4) / 2D / 3D, widths around the vector widths, tiny planes and
channel counts around the lane counts; thread-count and batch-position invariance, bitwise; and
what algorithm="auto" picks. The three paths of the algorithm run every case: rows (SIMD along W),
lanes (channels in the vector lanes) and plane (1-D / 2-D; a padded plane as one flat row; it
leaves the cases it does not support to the others), forced with
FASTCONV_DEPTHWISE=rows|lanes|plane."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastconv
from fastconv import _C

from conftest import assert_close
from conv_cases import ConvCase
from test_conv import _torch_forward_and_grads, check_against_reference, run_fastconv

DTYPES = [np.float32, np.float64]
PATHS = ["rows", "lanes", "plane"]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """The depthwise path every fastconv call of the test runs (read by the C++ per call)."""
    monkeypatch.setenv("FASTCONV_DEPTHWISE", request.param)
    return request.param


def dw(ndim, batch, channels, size, kernel, multiplier=1, **kw):
    """A depthwise case: groups == channels, `multiplier` output channels per input channel."""
    return ConvCase(ndim, batch, channels, channels * multiplier, size, kernel, groups=channels,
                    **kw)


def _cases():
    cases = [
        # 2D: kernels 1..7, multiplier 1 and 2, strides 1..3, padding 0 / k//2 / 'same'
        dw(2, 2, 3, (9, 10), (3, 3), padding=1),
        dw(2, 2, 3, (9, 10), (3, 3), 2, padding=1),
        dw(2, 3, 4, (12, 17), (3, 3), stride=2, padding=1),
        dw(2, 1, 3, (12, 17), (3, 3), 2, stride=2, padding=1, bias=False),
        dw(2, 2, 2, (13, 16), (5, 5), stride=3, padding=2),
        dw(2, 2, 2, (11, 15), (1, 1)),
        dw(2, 2, 2, (11, 15), (1, 1), stride=2),
        dw(2, 2, 2, (14, 33), (7, 7), padding=3),
        dw(2, 1, 2, (14, 33), (7, 7), 2, stride=2, padding=3),
        dw(2, 2, 3, (10, 9), (4, 4), padding="same"),  # even kernel: asymmetric pads
        dw(2, 2, 3, (10, 9), (4, 2), stride=2, padding="same"),
        dw(2, 2, 2, (10, 11), (3, 3), padding=0),
        dw(2, 2, 2, (13, 16), (3, 3), padding=2, dilation=2),
        dw(2, 2, 2, (13, 16), (5, 3), stride=(2, 3), padding=(1, 4), dilation=(2, 1)),
        dw(2, 2, 2, (13, 16), (3, 3), 2, stride=2, padding="same", dilation=2),
        dw(2, 2, 2, (5, 4), (3, 3), padding=3),  # padding larger than the input
        dw(2, 1, 3, (33, 35), (31, 31), padding=15),  # large kernel on a small plane
        dw(2, 2, 1, (31, 31), (31, 31)),  # kernel as large as the input: one output
        dw(2, 0, 3, (8, 9), (3, 3), padding=1),  # unbatched
        dw(2, 0, 2, (8, 9), (3, 3), 2, stride=2, padding="same"),
        # 1D: causal k = 4 (padding 3, output trimmed by the caller), long rows, strides
        dw(1, 3, 4, (40,), (4,), padding=3),
        dw(1, 1, 2, (200,), (4,), 2, padding=3, bias=False),
        dw(1, 2, 3, (37,), (5,), stride=2, padding=2),
        dw(1, 2, 3, (37,), (3,), stride=3, padding=1, dilation=2),
        dw(1, 2, 2, (1,), (1,)),
        dw(1, 2, 2, (17,), (4,), padding="same"),
        dw(1, 0, 3, (16,), (4,), padding=3),
        # 3D
        dw(3, 2, 2, (5, 6, 7), (3, 3, 3), padding=1),
        dw(3, 2, 2, (5, 6, 17), (3, 2, 3), 2, stride=(1, 2, 2), padding=1),
        dw(3, 1, 3, (6, 5, 9), (2, 3, 4), stride=(2, 1, 3), padding="same", dilation=(1, 2, 1)),
        # one depth slice in and out, padding 1 before it (output_padding makes the other side
        # -1): output slice 0 reads padding only, zeros; the plane path (1-D / 2-D) must leave
        # it to the others (found by test_conv's property test on the generic path)
        ConvCase(3, 0, 1, 1, (1, 1, 1), (1, 1, 1), padding=(1, 0, 0), dilation=(3, 1, 1),
                 output_padding=(2, 0, 0), bias=False, transposed=True),
        ConvCase(3, 2, 3, 3, (1, 4, 5), (1, 3, 3), padding=(1, 1, 1), dilation=(3, 1, 1),
                 output_padding=(2, 0, 0), groups=3, transposed=True),
        # transposed convolutions that are depthwise (one output channel per group): their
        # forward is the depthwise backward_data, their backward_data the depthwise forward
        ConvCase(2, 2, 4, 4, (5, 6), (3, 3), stride=2, padding=1, output_padding=1, groups=4,
                 transposed=True),
        ConvCase(1, 2, 6, 3, (9,), (4,), stride=3, padding=1, groups=3, transposed=True),
    ]
    # channel counts around the lane counts (4, 8, 16: full and partial channel blocks) on
    # tiny and odd planes, every stride / dilation / padding kind, 1D / 3D, multiplier 2
    cases += [
        dw(2, 2, 17, (7, 7), (3, 3), padding=1),
        dw(2, 2, 20, (1, 1), (3, 3), padding=1),
        dw(2, 1, 5, (2, 3), (3, 3), 2, padding=1),
        dw(2, 2, 33, (7, 7), (3, 3), stride=2, padding=1, bias=False),
        dw(2, 1, 18, (9, 11), (5, 5), stride=3, padding=2, dilation=(2, 1)),
        dw(2, 2, 16, (6, 7), (4, 4), padding="same"),
        dw(2, 1, 12, (7, 7), (7, 7), 3, padding=3),
        dw(2, 1, 9, (14, 14), (3, 3), stride=(1, 2), padding=(0, 1)),
        dw(1, 2, 18, (23,), (4,), padding=3),
        dw(1, 1, 16, (9,), (3,), stride=2, padding=1, dilation=3),
        dw(3, 1, 17, (3, 4, 5), (3, 3, 3), stride=(1, 2, 1), padding=1),
        # planes the lanes path's forward splits into bands of output rows (16 lanes)
        dw(2, 1, 17, (34, 64), (3, 3), padding=1),
        dw(2, 1, 18, (45, 64), (5, 4), 2, stride=(2, 1), padding=(2, 1), dilation=(1, 2)),
        dw(3, 1, 9, (3, 20, 64), (3, 3, 3), stride=(1, 2, 1), padding=1),
    ]
    # widths around the vector widths (4, 8, 16 lanes; blocks of 4 vectors), stride 1 and 2
    for width, (k, s, p) in itertools.product((1, 15, 16, 17, 31, 33, 64),
                                              ((3, 1, 1), (5, 2, 2), (4, 1, "same"))):
        cases.append(dw(2, 1, 2, (3, width), (3, k), stride=s, padding=p))
    return cases


CASES = _cases()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_depthwise_matches_reference(case, dtype, rng, path):
    check_against_reference(case, rng, dtype, algorithm="depthwise")


TORCH_CASES = [c for c in CASES if not (c.padding == "same" and c.stride != 1)]


@pytest.mark.torch
@pytest.mark.parametrize("case", TORCH_CASES[::2], ids=[c.id for c in TORCH_CASES[::2]])
def test_depthwise_matches_torch(case, rng, path):
    x, w, b = case.arrays(rng, np.float64)
    y = run_fastconv(case, x, w, b, algorithm="depthwise")
    gy = rng.standard_normal(y.shape)
    y, (gx, gw, gb) = run_fastconv(case, x, w, b, gy, algorithm="depthwise")
    y_t, gx_t, gw_t, _ = _torch_forward_and_grads(case, x, w, b, gy)
    r_fwd, r_data, r_weight = case.reductions(y.shape)
    assert_close(y, y_t, reduction=r_fwd, what="forward vs torch")
    assert_close(gx, gx_t, reduction=r_data, what="grad_input vs torch")
    assert_close(gw, gw_t, reduction=r_weight, what="grad_weight vs torch")


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_causal_conv1d_k4_matches_torch(dtype, rng, path):
    """Mamba-style causal depthwise conv1d: padding k-1, keep the first L outputs."""
    torch = pytest.importorskip("torch")
    n, c, length, k = 2, 8, 67, 4
    x = rng.standard_normal((n, c, length)).astype(dtype)
    w = rng.standard_normal((c, 1, k)).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    y = fastconv.conv1d(x, w, b, padding=k - 1, groups=c, algorithm="depthwise")[..., :length]
    y_t = torch.nn.functional.conv1d(torch.from_numpy(x), torch.from_numpy(w),
                                     torch.from_numpy(b), padding=k - 1, groups=c)[..., :length]
    assert_close(y, y_t.numpy(), dtype=dtype, reduction=k, what="causal conv1d vs torch")


# ------------------------------------------------------------------------- invariances

def _all_outputs(case, x, w, b, gy):
    y, (gx, gw, gb) = run_fastconv(case, x, w, b, gy, algorithm="depthwise")
    return y, gx, gw


INVARIANCE_CASES = [
    dw(2, 3, 4, (23, 37), (3, 3), padding=1),
    dw(2, 3, 2, (23, 37), (5, 5), 2, stride=2, padding=2),
    dw(1, 3, 3, (301,), (4,), padding=3),
    dw(2, 1, 1, (40, 19), (7, 7), padding=3),  # one plane: rows are split between threads
    dw(3, 2, 1, (9, 8, 21), (3, 3, 3), stride=(2, 1, 2), padding=1),
    dw(2, 3, 20, (7, 7), (3, 3), padding=1),  # a full and a partial block of 16 lanes
    dw(2, 1, 40, (9, 8), (5, 5), 2, stride=2, padding=2),
    dw(2, 2, 20, (34, 64), (3, 3), padding=1),  # bands of output rows
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", INVARIANCE_CASES, ids=[c.id for c in INVARIANCE_CASES])
def test_depthwise_same_bits_with_1_and_2_threads(case, dtype, rng, restore_threads, path):
    x, w, b = case.arrays(rng, dtype)
    gy = rng.standard_normal(run_fastconv(case, x, w, b).shape).astype(dtype)
    results = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        results.append(_all_outputs(case, x, w, b, gy))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", INVARIANCE_CASES, ids=[c.id for c in INVARIANCE_CASES])
def test_depthwise_sample_independent_of_batch(case, dtype, rng, path):
    """Forward and grad_input of sample i equal those of the sample computed alone, bitwise."""
    x, w, b = case.arrays(rng, dtype)
    x = np.concatenate([x, rng.standard_normal((2,) + x.shape[1:]).astype(dtype)])
    batch = dataclass_replace(case, batch=x.shape[0])
    y = run_fastconv(batch, x, w, b, algorithm="depthwise")
    gy = rng.standard_normal(y.shape).astype(dtype)
    _, (gx, _, _) = run_fastconv(batch, x, w, b, gy, algorithm="depthwise")
    one = dataclass_replace(case, batch=1)
    for i in (0, x.shape[0] - 1, 2):
        y_i, (gx_i, _, _) = run_fastconv(one, x[i:i + 1], w, b, gy[i:i + 1],
                                         algorithm="depthwise")
        np.testing.assert_array_equal(y[i:i + 1], y_i)
        np.testing.assert_array_equal(gx[i:i + 1], gx_i)


def dataclass_replace(case, **changes):
    import dataclasses
    return dataclasses.replace(case, **changes)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_fused_relu_and_bias(dtype, rng, path):
    """activation="relu" after the bias, NaN kept: equal to relu of the plain result."""
    for shape in ((2, 20, 7, 9), (1, 20, 60, 64)):  # one band and several
        x = rng.standard_normal(shape).astype(dtype)
        x.flat[::17] = np.nan
        w = rng.standard_normal((40, 1, 3, 3)).astype(dtype)
        b = rng.standard_normal(40).astype(dtype)
        plain = fastconv.conv2d(x, w, b, stride=2, padding=1, groups=20, algorithm="depthwise")
        fused = fastconv.conv2d(x, w, b, stride=2, padding=1, groups=20, algorithm="depthwise",
                                activation="relu")
        np.testing.assert_array_equal(fused, fastconv.relu(plain))
        assert np.isnan(fused).any()


@pytest.mark.parametrize("shape, expected", [
    # (batch, channels, size, kernel, padding) as fastconv.conv*d takes them; the paths that
    # "auto" must take for forward, backward_data, backward_weight on every ISA (lanes of 4, 8
    # or 16 float32)
    ((2, 32, (7, 7), (3, 3), 1), ("lanes",) * 3),  # small planes, every lane used
    ((2, 64, (13,), (3,), 1), ("lanes",) * 3),
    # 3x3 s1, the lanes path's backward_data tile over 1 MiB (L2) with any lane count (None:
    # forward and backward_weight take lanes or, past the lanes path's 4 MiB, rows' cases)
    ((1, 16, (184, 184), (3, 3), 1), (None, "plane", None)),
    ((2, 1, (9, 40), (3, 3), 1), ("plane",) * 3),  # one channel: a lane of each vector
    ((2, 2, (9, 40), (5, 5), 2), ("plane",) * 3),
    ((1, 32, (1024,), (4,), 3), ("rows", "rows", "lanes")),  # long rows
], ids=["lanes_2d", "lanes_1d", "plane_data", "plane_one_channel", "plane_few_channels",
        "rows_long"])
def test_auto_runs_the_path_of_the_threshold(shape, expected, rng, monkeypatch):
    """Without FASTCONV_DEPTHWISE, each pass runs the path the thresholds name: its result is
    bitwise that of the forced path. (Forward sums the taps in the same order, padding included,
    on the lanes and plane paths: those two give the same bits.)"""
    n, c, size, kernel, pad = shape
    nd = len(size)
    conv = getattr(fastconv, f"conv{nd}d")
    conv_backward = getattr(fastconv, f"conv{nd}d_backward")
    x = rng.standard_normal((n, c) + size).astype(np.float32)
    w = rng.standard_normal((c, 1) + kernel).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    gy = rng.standard_normal(conv(x, w, b, 1, pad, 1, c).shape).astype(np.float32)

    def run():
        y = conv(x, w, b, 1, pad, 1, c, algorithm="depthwise")
        gx, gw, _ = conv_backward(gy, x, w, 1, pad, 1, c, algorithm="depthwise")
        return y, gx, gw

    monkeypatch.delenv("FASTCONV_DEPTHWISE", raising=False)
    auto = run()
    forced = {}
    for p in PATHS:
        monkeypatch.setenv("FASTCONV_DEPTHWISE", p)
        forced[p] = run()
    for k, p in enumerate(expected):
        if p is not None:
            np.testing.assert_array_equal(auto[k], forced[p][k])
    np.testing.assert_array_equal(forced["lanes"][0], forced["plane"][0])


def test_plane_streamed_output_same_bits(rng, monkeypatch):
    """The plane path's non-temporal output copy (FASTCONV_DEPTHWISE_STREAM=1) writes the same
    values as the ordinary one, on rows whose planes start unaligned (odd plane sizes)."""
    monkeypatch.setenv("FASTCONV_DEPTHWISE", "plane")
    x = rng.standard_normal((2, 3, 13, 21)).astype(np.float32)
    w = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 6, 13, 21)).astype(np.float32)
    out = {}
    for s in "01":
        monkeypatch.setenv("FASTCONV_DEPTHWISE_STREAM", s)
        y = fastconv.conv2d(x, w, None, 1, 1, 1, 3, algorithm="depthwise", activation="relu")
        gx = fastconv.conv2d_backward(gy, x, w, 1, 1, 1, 3, output_mask=(True, False, False),
                                      algorithm="depthwise")[0]
        out[s] = (y, gx)
    for a, b in zip(out["0"], out["1"]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,mult", [
    ((1, 20, 68, 68), 1),   # 3 bands of 29 rows (unaligned band starts), a 4-channel block
    ((2, 12, 8, 8), 2),     # 64-pixel planes: whole lines, 8 + 4 channels, multiplier 2
    ((2, 10, 13, 21), 2),   # planes not a whole number of lines: plain unpack
])
def test_lanes_streamed_output_same_bits(rng, monkeypatch, shape, mult, dtype):
    """The lanes path's streamed transpose (FASTCONV_DEPTHWISE_STREAM=1: whole lines through an
    L1 buffer, the partial lines at each end plain) writes the same values as the plain one, the
    fused ReLU included (applied before the transpose)."""
    monkeypatch.setenv("FASTCONV_DEPTHWISE", "lanes")
    n, c, h, w_ = shape
    groups, cout = c, c * mult
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((cout, 1, 3, 3)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    gy = rng.standard_normal((n, cout, h, w_)).astype(dtype)
    out = {}
    for s in "01":
        monkeypatch.setenv("FASTCONV_DEPTHWISE_STREAM", s)
        y = fastconv.conv2d(x, w, b, 1, 1, 1, groups, algorithm="depthwise", activation="relu")
        gx = fastconv.conv2d_backward(gy, x, w, 1, 1, 1, groups, output_mask=(True, False, False),
                                      algorithm="depthwise")[0]
        out[s] = (y, gx)
    for a, b_ in zip(out["0"], out["1"]):
        np.testing.assert_array_equal(a, b_)
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                     torch.from_numpy(b), 1, 1, 1, groups).relu().numpy()
    np.testing.assert_allclose(out["1"][0], ref, rtol=1e-4, atol=1e-4)


# -------------------------------------------------------------------- algorithm choice

def _choose(pass_, x, w, y, stride=(1, 1, 1), pad=(0, 0, 0), dilation=(1, 1, 1), groups=1,
            algorithm="auto"):
    return _C.conv_plan(pass_, x, w, y, stride, pad, dilation, groups, algorithm, 4)[0]


@pytest.mark.parametrize("pass_", ["forward", "backward_data", "backward_weight"])
@pytest.mark.parametrize("shapes", [
    # (input, weight, output, stride, pad, groups) as the primitives see them (5-D)
    ((8, 256, 1, 56, 56), (256, 1, 1, 3, 3), (8, 256, 1, 56, 56), (1, 1, 1), (0, 1, 1), 256),
    ((8, 144, 1, 56, 56), (144, 1, 1, 3, 3), (8, 144, 1, 28, 28), (1, 2, 2), (0, 1, 1), 144),
    ((8, 384, 1, 28, 28), (384, 1, 1, 7, 7), (8, 384, 1, 28, 28), (1, 1, 1), (0, 3, 3), 384),
    ((1, 64, 1, 128, 128), (64, 1, 1, 31, 31), (1, 64, 1, 128, 128), (1, 1, 1), (0, 15, 15), 64),
    ((8, 1024, 1, 1, 4096), (1024, 1, 1, 1, 4), (8, 1024, 1, 1, 4099), (1, 1, 1), (0, 0, 3), 1024),
    ((2, 32, 1, 20, 20), (64, 1, 1, 3, 3), (2, 64, 1, 20, 20), (1, 1, 1), (0, 1, 1), 32),
], ids=["dw3x3", "dw3x3_s2", "dw7x7", "dw31x31", "causal_conv1d_k4", "multiplier2"])
def test_auto_picks_depthwise(shapes, pass_):
    x, w, y, stride, pad, groups = shapes
    assert _choose(pass_, x, w, y, stride, pad, groups=groups) == "depthwise"


def test_auto_keeps_im2col_gemm_for_dense_and_grouped():
    # depth multiplier 16: a GEMM reuses each column 16 times (forward, backward_data); which
    # GEMM (im2col_gemm or implicit_gemm) is conv.cc's choice
    gemms = ("im2col_gemm", "implicit_gemm")
    assert _choose("forward", (2, 4, 1, 9, 9), (64, 1, 1, 3, 3), (2, 64, 1, 7, 7),
                   groups=4) in gemms
    assert _choose("backward_weight", (2, 4, 1, 9, 9), (64, 1, 1, 3, 3), (2, 64, 1, 7, 7),
                   groups=4) == "depthwise"
    assert _choose("forward", (2, 16, 1, 9, 9), (32, 16, 1, 3, 3), (2, 32, 1, 7, 7)) in gemms
    assert _choose("forward", (2, 16, 1, 9, 9), (32, 4, 1, 3, 3), (2, 32, 1, 7, 7),
                   groups=4) in gemms


def test_conv_plan_forced_and_bad_pass():
    shapes = ((1, 4, 1, 5, 5), (4, 1, 1, 3, 3), (1, 4, 1, 3, 3))
    assert _choose("forward", *shapes, groups=4, algorithm="im2col_gemm") == "im2col_gemm"
    assert _choose("backward_weight", *shapes, groups=4, algorithm="depthwise") == "depthwise"
    with pytest.raises(ValueError, match="pass"):
        _choose("sideways", *shapes, groups=4)
    with pytest.raises(ValueError, match="depthwise"):
        _choose("forward", (1, 4, 1, 5, 5), (4, 2, 1, 3, 3), (1, 4, 1, 3, 3), groups=2,
                algorithm="depthwise")


@pytest.mark.parametrize("op", ["conv2d", "conv2d_backward", "conv1d", "conv_transpose2d"])
def test_forced_depthwise_on_non_depthwise_raises(op, rng):
    nd = 1 if op == "conv1d" else 2
    x = rng.standard_normal((2, 4) + (8,) * nd)
    w = rng.standard_normal((4, 2) + (3,) * nd)  # groups=2: two input channels per group
    with pytest.raises(ValueError, match=r"(?s)^%s: .*'algorithm'.*depthwise" % op):
        if op == "conv2d_backward":
            fastconv.conv2d_backward(np.ones((2, 4, 6, 6)), x, w, groups=2, algorithm="depthwise")
        else:
            getattr(fastconv, op)(x, w, groups=2, algorithm="depthwise")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_explain_reports_the_depthwise_workspace(dtype, path):
    """Both paths report what they allocate (buffers per thread, tap lists), within budget."""
    for x, w, kw in [((8, 960, 7, 7), (960, 1, 3, 3), dict(padding=1)),
                     ((8, 144, 56, 56), (144, 1, 3, 3), dict(padding=1, stride=2)),
                     ((2, 24, 5, 6, 7), (48, 1, 3, 3, 3), dict(padding=1))]:
        op = f"conv{len(x) - 2}d"
        plan = fastconv.explain(op, x, w, dtype=dtype, groups=x[1], **kw)
        for name, p in plan["passes"].items():
            assert p["algorithm"] == "depthwise", name
            assert isinstance(p["workspace_bytes"], int), name
            assert 0 < p["workspace_bytes"] < 64 * 2**20, name
