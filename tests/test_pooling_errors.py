"""Every bad-input case of the pooling ops: the exception type, and a message naming the op and
the argument."""

from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
from fastconv import _C

X2 = np.zeros((1, 2, 6, 6), np.float32)
X1 = np.zeros((1, 2, 6), np.float32)


def _idx(shape, value=0):
    return np.full(shape, value, np.int64)


CASES = [
    # (id, callable, exception, regex)
    ("max_kernel_zero", lambda: fc.max_pool2d(X2, 0), ValueError,
     r"max_pool2d: argument 'kernel_size' must be positive"),
    ("max_kernel_negative", lambda: fc.max_pool1d(X1, -2), ValueError,
     r"max_pool1d: argument 'kernel_size' must be positive"),
    ("max_kernel_float", lambda: fc.max_pool2d(X2, 2.0), TypeError,
     r"max_pool2d: argument 'kernel_size' must be an int"),
    ("max_kernel_wrong_len", lambda: fc.max_pool2d(X2, (2, 2, 2)), TypeError,
     r"max_pool2d: argument 'kernel_size' must be an int or a tuple of 2 ints"),
    ("max_stride_zero", lambda: fc.max_pool2d(X2, 2, (0, 1)), ValueError,
     r"max_pool2d: argument 'stride' must be positive, got \(0, 1\)"),
    ("avg_stride_negative", lambda: fc.avg_pool2d(X2, 2, -1), ValueError,
     r"avg_pool2d: argument 'stride' must be positive"),
    ("max_dilation_zero", lambda: fc.max_pool2d(X2, 2, dilation=0), ValueError,
     r"max_pool2d: argument 'dilation' must be positive"),
    ("max_padding_negative", lambda: fc.max_pool2d(X2, 2, padding=-1), ValueError,
     r"max_pool2d: argument 'padding' must be non-negative"),
    ("max_padding_over_half", lambda: fc.max_pool2d(X2, 3, padding=2), ValueError,
     r"max_pool2d: pad should be at most half of kernel size, but got pad=2, kernel_size=3 and "
     r"dilation=1"),
    ("max_padding_over_half_dilated", lambda: fc.max_pool1d(X1, 2, 1, 2, 4), ValueError,
     r"max_pool1d: pad should be at most half of kernel size, but got pad=2, kernel_size=2 and "
     r"dilation=4"),
    ("avg_padding_over_half", lambda: fc.avg_pool1d(X1, 2, padding=2), ValueError,
     r"avg_pool1d: pad should be at most half"),
    ("max_padding_bad_string", lambda: fc.max_pool2d(X2, 2, padding="full"), ValueError,
     r"max_pool2d: argument 'padding' must be 'same', 'valid'"),
    ("max_same_with_ceil", lambda: fc.max_pool2d(X2, 2, padding="same", ceil_mode=True),
     ValueError, r"max_pool2d: argument 'ceil_mode' must be False with padding='same'"),
    ("max_output_too_small", lambda: fc.max_pool2d(X2, 7), ValueError,
     r"max_pool2d: output size below 1 in spatial dim 0: floor\(\(input \+ 2 \* padding - "
     r"dilation \* \(kernel_size - 1\) - 1\) / stride\) \+ 1 = floor\(\(6 \+ 2 \* 0 - 1 \* \(7 - 1\)"),
    ("avg_output_too_small_ceil", lambda: fc.avg_pool1d(X1, 7, 1, ceil_mode=True), ValueError,
     r"avg_pool1d: output size below 1 in spatial dim 0: ceil"),
    ("lp_output_too_small", lambda: fc.lp_pool2d(X2, 2, (2, 7)), ValueError,
     r"lp_pool2d: output size below 1 in spatial dim 1"),
    ("max_empty_dilated_window", lambda: fc.max_pool1d(np.zeros((1, 1, 2)), 2, 1, 1, 3),
     ValueError, r"max_pool1d: with dilation=3.*holds no input cell"),
    ("max_wrong_ndim", lambda: fc.max_pool2d(X1[0, 0], 2), ValueError,
     r"max_pool2d: argument 'input' must be 3-D \(unbatched\) or 4-D \(N, C, H, W\), got 1-D"),
    ("avg_wrong_ndim", lambda: fc.avg_pool3d(X1, 2), ValueError,
     r"avg_pool3d: argument 'input' must be 4-D \(unbatched\) or 5-D"),
    ("adaptive_wrong_ndim", lambda: fc.adaptive_avg_pool1d(X2, 2), ValueError,
     r"adaptive_avg_pool1d: argument 'input' must be 2-D \(unbatched\) or 3-D"),
    ("max_integer_dtype", lambda: fc.max_pool2d(X2.astype(np.int32), 2), TypeError,
     r"max_pool2d: argument 'input' has an integer dtype int32; expected float32 or float64"),
    ("avg_bool_dtype", lambda: fc.avg_pool2d(X2 > 0, 2), TypeError,
     r"avg_pool2d: argument 'input' has a boolean dtype"),
    ("lp_integer_dtype", lambda: fc.lp_pool1d(X1.astype(np.int64), 2, 2), TypeError,
     r"lp_pool1d: argument 'input' has an integer dtype"),
    ("adaptive_max_integer_dtype", lambda: fc.adaptive_max_pool2d(X2.astype(np.uint8), 2),
     TypeError, r"adaptive_max_pool2d: argument 'input' has an unsigned integer dtype"),
    ("max_input_none", lambda: fc.max_pool2d(None, 2), TypeError,
     r"max_pool2d: argument 'input' must be an array, got None"),
    ("max_return_indices_not_bool", lambda: fc.max_pool2d(X2, 2, return_indices="yes"),
     TypeError, r"max_pool2d: argument 'return_indices' must be a bool"),
    ("avg_count_include_pad_not_bool", lambda: fc.avg_pool2d(X2, 2, count_include_pad=None),
     TypeError, r"avg_pool2d: argument 'count_include_pad' must be a bool"),
    ("avg_divisor_zero", lambda: fc.avg_pool2d(X2, 2, divisor_override=0), ValueError,
     r"avg_pool2d: argument 'divisor_override' must be non-zero"),
    ("avg_divisor_float", lambda: fc.avg_pool3d(np.zeros((1, 1, 4, 4, 4)), 2,
                                                divisor_override=1.5), TypeError,
     r"avg_pool3d: argument 'divisor_override' must be None or an int"),
    ("lp_norm_zero", lambda: fc.lp_pool2d(X2, 0, 2), ValueError,
     r"lp_pool2d: argument 'norm_type' must be positive"),
    ("lp_norm_negative", lambda: fc.lp_pool1d(X1, -1.5, 2), ValueError,
     r"lp_pool1d: argument 'norm_type' must be positive"),
    ("lp_norm_minus_inf", lambda: fc.lp_pool1d(X1, -np.inf, 2), ValueError,
     r"lp_pool1d: argument 'norm_type' must be positive"),
    ("lp_norm_nan", lambda: fc.lp_pool1d(X1, np.nan, 2), ValueError,
     r"lp_pool1d: argument 'norm_type' must be positive"),
    ("lp_norm_string", lambda: fc.lp_pool1d(X1, "2", 2), TypeError,
     r"lp_pool1d: argument 'norm_type' must be a positive number"),
    ("adaptive_output_zero", lambda: fc.adaptive_avg_pool2d(X2, (0, None)), ValueError,
     r"adaptive_avg_pool2d: argument 'output_size' must be positive"),
    ("adaptive_output_negative", lambda: fc.adaptive_max_pool1d(X1, -1), ValueError,
     r"adaptive_max_pool1d: argument 'output_size' must be positive"),
    ("adaptive_output_wrong_len", lambda: fc.adaptive_avg_pool2d(X2, (2, 2, 2)), TypeError,
     r"adaptive_avg_pool2d: argument 'output_size' must be an int, None or a tuple of 2"),
    ("adaptive_output_huge", lambda: fc.adaptive_avg_pool1d(X1, 2**40), ValueError,
     r"adaptive_avg_pool1d: adaptive pooling supports sizes below 2\*\*31"),
    ("adaptive_empty_input", lambda: fc.adaptive_avg_pool1d(np.zeros((1, 1, 0)), 2), ValueError,
     r"adaptive_avg_pool1d: argument 'input' must have non-empty spatial dims"),
    ("max_output_overflow", lambda: fc.max_pool1d(
        np.lib.stride_tricks.as_strided(np.zeros(1), (2**26, 2**26, 2), (0, 0, 0)), 1),
     ValueError, r"max_pool1d: the output would have shape .* more than the"),
    # max_unpool
    ("unpool_indices_float", lambda: fc.max_unpool1d(X1, X1, 2), TypeError,
     r"max_unpool1d: argument 'indices' must have dtype int64"),
    ("unpool_indices_int32", lambda: fc.max_unpool1d(X1, X1.astype(np.int32), 2), TypeError,
     r"max_unpool1d: argument 'indices' must have dtype int64"),
    ("unpool_indices_shape", lambda: fc.max_unpool1d(X1, _idx((1, 2, 5)), 2), ValueError,
     r"max_unpool1d: argument 'indices' must have shape \(1, 2, 6\), got \(1, 2, 5\)"),
    ("unpool_indices_too_large", lambda: fc.max_unpool1d(X1, _idx((1, 2, 6), 12), 2), ValueError,
     r"max_unpool1d: argument 'indices' holds 12 at \(0, 0, 0\), outside \[0, 12\)"),
    ("unpool_indices_negative", lambda: fc.max_unpool2d(X2, _idx(X2.shape, -1), 2), ValueError,
     r"max_unpool2d: argument 'indices' holds -1"),
    ("unpool_output_size_out_of_range", lambda: fc.max_unpool1d(X1, _idx((1, 2, 6)), 2,
                                                                output_size=(14,)), ValueError,
     r"max_unpool1d: argument 'output_size' \(14,\) is invalid: dim 0 must be strictly between "
     r"10 and 14"),
    ("unpool_output_size_wrong_len", lambda: fc.max_unpool1d(X1, _idx((1, 2, 6)), 2,
                                                             output_size=(1, 12)), ValueError,
     r"max_unpool1d: argument 'output_size' must have 1 or 3 entries"),
    ("unpool_output_size_type", lambda: fc.max_unpool1d(X1, _idx((1, 2, 6)), 2, output_size=12),
     TypeError, r"max_unpool1d: argument 'output_size' must be None or a tuple of ints"),
    ("unpool_output_below_one", lambda: fc.max_unpool1d(np.zeros((1, 1, 1)), _idx((1, 1, 1)), 1,
                                                        padding=1), ValueError,
     r"max_unpool1d: output size below 1 in spatial dim 0"),
    ("unpool_kernel_zero", lambda: fc.max_unpool2d(X2, _idx(X2.shape), 0), ValueError,
     r"max_unpool2d: argument 'kernel_size' must be positive"),
    ("unpool_wrong_ndim", lambda: fc.max_unpool3d(X1, _idx(X1.shape), 2), ValueError,
     r"max_unpool3d: argument 'input' must be 4-D \(unbatched\) or 5-D"),
    ("unpool_backward_index_out_of_range", lambda: fc.max_unpool1d_backward(
        np.zeros((1, 2, 12)), _idx((1, 2, 6), 12)), ValueError,
     r"max_unpool1d_backward: argument 'indices' holds 12 .*outside \[0, 12\)"),
    ("unpool_backward_indices_ndim", lambda: fc.max_unpool1d_backward(
        np.zeros((1, 2, 12)), _idx((2, 6))), ValueError,
     r"max_unpool1d_backward: argument 'indices' must be a 3-D int64 array"),
    ("unpool_backward_integer_grad", lambda: fc.max_unpool1d_backward(
        np.zeros((1, 2, 12), np.int64), _idx((1, 2, 6))), TypeError,
     r"max_unpool1d_backward: argument 'grad_output' has an integer dtype"),
    # backward functions
    ("max_backward_grad_shape", lambda: fc.max_pool2d_backward(
        np.zeros((1, 2, 2, 2), np.float32), X2, _idx((1, 2, 3, 3)), 2), ValueError,
     r"max_pool2d_backward: argument 'grad_output' must have the forward output's shape "
     r"\(1, 2, 3, 3\), got \(1, 2, 2, 2\)"),
    ("max_backward_grad_dtype", lambda: fc.max_pool2d_backward(
        np.zeros((1, 2, 3, 3)), X2, _idx((1, 2, 3, 3)), 2), TypeError,
     r"max_pool2d_backward: argument 'grad_output' has dtype float64"),
    ("max_backward_indices_shape", lambda: fc.max_pool2d_backward(
        np.zeros((1, 2, 3, 3), np.float32), X2, _idx((1, 2, 3, 2)), 2), ValueError,
     r"max_pool2d_backward: argument 'indices' must have shape \(1, 2, 3, 3\)"),
    ("max_backward_indices_range", lambda: fc.max_pool2d_backward(
        np.zeros((1, 2, 3, 3), np.float32), X2, _idx((1, 2, 3, 3), 36), 2), ValueError,
     r"max_pool2d_backward: argument 'indices' holds 36 .*outside \[0, 36\)"),
    ("max_backward_indices_dtype", lambda: fc.max_pool2d_backward(
        np.zeros((1, 2, 3, 3), np.float32), X2, np.zeros((1, 2, 3, 3), np.float32), 2), TypeError,
     r"max_pool2d_backward: argument 'indices' must have dtype int64"),
    ("avg_backward_grad_shape", lambda: fc.avg_pool1d_backward(np.zeros((1, 2, 2), np.float32),
                                                              X1, 2), ValueError,
     r"avg_pool1d_backward: argument 'grad_output' must have the forward output's shape"),
    ("lp_backward_norm", lambda: fc.lp_pool1d_backward(np.zeros((1, 2, 3), np.float32), X1, 0,
                                                       2), ValueError,
     r"lp_pool1d_backward: argument 'norm_type' must be positive"),
    ("adaptive_avg_backward_leading_dims", lambda: fc.adaptive_avg_pool2d_backward(
        np.zeros((1, 3, 2, 2), np.float32), X2), ValueError,
     r"adaptive_avg_pool2d_backward: argument 'grad_output' must be 4-D with the input's leading"),
    ("adaptive_max_backward_indices_range", lambda: fc.adaptive_max_pool1d_backward(
        np.zeros((1, 2, 3), np.float32), X1, _idx((1, 2, 3), 6)), ValueError,
     r"adaptive_max_pool1d_backward: argument 'indices' holds 6"),
]


@pytest.mark.parametrize("call,exc,pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_extension_refuses_out_of_bounds_indices_directly():
    """A direct _C call with bad indices never writes out of bounds: they are skipped and
    reported."""
    values = np.ones((1, 1, 1, 1, 3))
    big = np.zeros((1, 1, 1, 1, 4))
    bad = np.array([0, 4, -7], np.int64).reshape(values.shape)
    for fn in (_C.index_scatter_add, _C.index_scatter_assign):
        with pytest.raises(ValueError, match=r"2 indices outside \[0, 4\) were skipped"):
            fn(values, bad, big)
    with pytest.raises(ValueError, match=r"2 indices outside"):
        _C.index_gather(values, bad, big)
    with pytest.raises(ValueError, match="must be int64"):
        _C.index_scatter_add(values, bad.astype(np.int32), big)
    with pytest.raises(ValueError, match="inconsistent pooling geometry"):
        _C.max_pool_forward(big, values, None, (1, 1, 0), (1, 1, 1), (0, 0, 0), (1, 1, 1))
    with pytest.raises(ValueError, match="must be 5-D"):
        _C.avg_pool_forward(big[0], values, (1, 1, 2), (1, 1, 1), (0, 0, 0), (0, 0, 0), True, 0)
