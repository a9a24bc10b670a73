"""stride_phases (csrc/cpu/conv/conv_stride_phases.cc): strided backward_data (= transposed conv
forward) and backward_weight as stride-1 problems per stride phase, forced, against the float64
reference: strides 2 and 3, kernels smaller than, equal to and larger than the stride, padding,
output_padding, dilation with stride (dilation sharing a factor with the stride too), groups,
1-D to 3-D, conv and conv_transpose."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastconv
from fastconv import reference

from conftest import assert_close
from conv_cases import ConvCase

DTYPES = [np.float32, np.float64]


def _sweep():
    C = ConvCase
    # 2-D: every kernel/stride relation, padding, dilation with and without a common factor
    for stride, kernel, padding, dilation, groups in itertools.product(
            (2, 3), (1, 2, 3, 4, 7), (0, 1, 3), (1, 2, 3), (1, 2)):
        if kernel == 1 and dilation > 1 or (kernel == 7 and (dilation > 1 or stride == 3)):
            continue
        span = dilation * (kernel - 1) + 1
        size = (span + 2 * stride + 1, span + 3)
        yield C(2, 2, 2 * groups, 3 * groups, size, (kernel, kernel - (kernel > 1)),
                stride=stride, padding=padding, dilation=dilation, groups=groups)
    # per-dimension strides, 1-D and 3-D, unbatched
    yield C(2, 2, 3, 5, (11, 10), (5, 3), stride=(3, 2), padding=(2, 1), dilation=(1, 2))
    yield C(1, 3, 4, 6, (23,), (5,), stride=3, padding=2, dilation=2, groups=2)
    yield C(1, 0, 3, 4, (10,), (2,), stride=2)
    yield C(3, 2, 2, 4, (6, 7, 5), (2, 3, 2), stride=(2, 1, 2), padding=(0, 1, 1))
    yield C(3, 1, 3, 2, (7, 8, 7), (3, 3, 3), stride=2, padding=1, dilation=(1, 2, 1))
    # transposed: the rewrite computes its forward (and grad_weight)
    for ndim, stride, padding, kernel in itertools.product((1, 2, 3), (2, 3), (0, 1), (2, 3, 4)):
        size = {1: (7,), 2: (4, 5), 3: (3, 2, 3)}[ndim]
        for output_padding in (0, stride - 1):
            yield C(ndim, 2, 4, 6, size, (kernel,) * ndim, stride=stride, padding=padding,
                    output_padding=output_padding, groups=2, transposed=True)
    yield C(2, 2, 3, 4, (4, 5), (3, 3), stride=2, padding=2, dilation=2, output_padding=1,
            transposed=True)
    yield C(2, 1, 8, 8, (5, 6), (4, 4), stride=2, padding=1, groups=8, transposed=True)


SWEEP = list(_sweep())


def _grads(case, x, w, gy, algorithm):
    back = getattr(fastconv, case.op + "_backward")
    # stride_phases computes conv's backward_data and backward_weight: conv_transpose's forward
    # and grad_weight; conv's grad_input and grad_weight
    data_mask = (False, True, False) if case.transposed else (True, False, False)
    gw = back(gy, x, w, **case.args(), output_mask=(False, True, False), algorithm=algorithm)[1]
    if case.transposed:
        data = getattr(fastconv, case.op)(x, w, None, **case.args(), algorithm=algorithm)
    else:
        data = back(gy, x, w, **case.args(), output_mask=data_mask, algorithm=algorithm)[0]
    return data, gw


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", SWEEP, ids=[c.id for c in SWEEP])
def test_stride_phases_matches_reference(case, dtype, rng):
    x, w, _ = case.arrays(rng, dtype)
    y_shape = getattr(reference, case.op)(x.astype(np.float64), w.astype(np.float64), None,
                                          **case.args()).shape
    gy = rng.standard_normal(y_shape).astype(dtype)
    data, gw = _grads(case, x, w, gy, "stride_phases")
    f64 = lambda a: a.astype(np.float64)
    y_ref, (gx_ref, gw_ref, _) = (
        getattr(reference, case.op)(f64(x), f64(w), None, **case.args()),
        getattr(reference, case.op + "_backward")(f64(gy), f64(x), f64(w), **case.args()))
    r_fwd, r_data, r_weight = case.reductions(y_shape)
    if case.transposed:
        assert_close(data, y_ref, dtype=dtype, reduction=r_fwd, what=f"{case.id} forward")
    else:
        assert_close(data, gx_ref, dtype=dtype, reduction=r_data, what=f"{case.id} grad_input")
    assert_close(gw, gw_ref, dtype=dtype, reduction=r_weight, what=f"{case.id} grad_weight")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_stride_phases_threads_and_batch_position(dtype):
    """Bitwise the same with 1 and 2 threads, and a sample's grad_input alone or in a batch."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 24, 17, 19)).astype(dtype)
    w = rng.standard_normal((40, 24, 4, 3)).astype(dtype)
    kw = dict(stride=2, padding=1, algorithm="stride_phases")
    y = fastconv.conv2d(x, w, stride=2, padding=1)
    gy = rng.standard_normal(y.shape).astype(dtype)
    before = fastconv.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            results.append(fastconv.conv2d_backward(gy, x, w, output_mask=(True, True, False),
                                                    **kw)[:2])
    finally:
        fastconv.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
    gx = results[0][0]
    for i in (0, 3):
        alone = fastconv.conv2d_backward(gy[i:i + 1], x[i:i + 1], w,
                                         output_mask=(True, False, False), **kw)[0]
        np.testing.assert_array_equal(alone, gx[i:i + 1])


def test_stride_phases_explain_and_unsupported():
    plan = fastconv.explain("conv2d", (2, 8, 16, 16), (8, 8, 3, 3), stride=2, padding=1,
                            algorithm="stride_phases")["passes"]
    assert plan["forward"]["algorithm"] is None
    assert "backward passes only" in plan["forward"]["unsupported"]
    for p in ("backward_data", "backward_weight"):
        assert plan[p]["algorithm"] == "stride_phases" and plan[p]["rewrite"] == "stride_phases"
        # taps {0, 2} and {1} along each dimension: four stride-1 sub-problems
        assert len(plan[p]["sub_algorithms"]) == 4
        # at least the phase buffer (input 2x8x8x8) and the sub-kernels (8x8x2x2) in float32
        assert plan[p]["workspace_bytes"] >= 4 * (2 * 8 * 8 * 8 + 8 * 8 * 2 * 2)
    plan = fastconv.explain("conv2d", (2, 8, 16, 16), (8, 8, 3, 3), padding=1,
                            algorithm="stride_phases")["passes"]
    assert all(p["algorithm"] is None for p in plan.values())


def test_auto_takes_stride_phases_where_measured():
    """The rule of conv.cc: strided backward_data with overlapping taps and few output channels
    (DeepSpeech conv2); not with many output channels (DCGAN), nor disjoint taps (U-Net)."""
    ds2 = fastconv.explain("conv2d", (4, 32, 79, 341), (32, 32, 5, 10), stride=2)["passes"]
    assert ds2["backward_data"]["algorithm"] == "stride_phases"
    assert ds2["forward"]["algorithm"] != "stride_phases"
    dcgan = fastconv.explain("conv_transpose2d", (8, 256, 16, 16), (256, 128, 4, 4), stride=2,
                             padding=1)["passes"]
    assert dcgan["forward"]["algorithm"] != "stride_phases"
    unet = fastconv.explain("conv_transpose2d", (8, 128, 28, 28), (128, 64, 2, 2),
                            stride=2)["passes"]
    assert unet["backward_weight"]["algorithm"] == "im2col_gemm"


def test_stride_phases_large_batch_runs_in_chunks():
    """Samples whose input phases pass the 16 MiB phase buffer run in chunks of the batch
    (grad_weight sums the chunks); grad_input of a sample is bitwise the same alone."""
    rng = np.random.default_rng(4)
    length = (1 << 22) + 5  # input phases of 8 MiB per sample: one sample per chunk
    x = rng.standard_normal((2, 1, length)).astype(np.float32)
    w = rng.standard_normal((1, 1, 3)).astype(np.float32)
    out = (length - 3) // 2 + 1
    gy = rng.standard_normal((2, 1, out)).astype(np.float32)
    def workspace(batch):
        plan = fastconv.explain("conv1d", (batch, 1, length), w.shape, stride=2,
                                algorithm="stride_phases")
        return plan["passes"]["backward_data"]["workspace_bytes"]
    assert workspace(2) == workspace(1)  # one sample at a time
    gx, gw, _ = fastconv.conv1d_backward(gy, x, w, stride=2, algorithm="stride_phases",
                                         output_mask=(True, True, False))
    x64, gy64 = x[:, 0].astype(np.float64), gy[:, 0].astype(np.float64)
    gx_ref = np.zeros_like(x64)
    for k in range(3):
        gx_ref[:, k:k + 2 * out:2] += gy64 * float(w[0, 0, k])
    gw_ref = [np.sum(gy64 * x64[:, k:k + 2 * out:2]) for k in range(3)]
    np.testing.assert_allclose(gx[:, 0], gx_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gw[0, 0], gw_ref, rtol=1e-4, atol=0.5)
    alone = fastconv.conv1d_backward(gy[1:], x[1:], w, stride=2, algorithm="stride_phases",
                                     output_mask=(True, False, False))[0]
    np.testing.assert_array_equal(alone, gx[1:])
