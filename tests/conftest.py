"""Shared test helpers: tolerances in one table, comparisons that print the first mismatches."""

from __future__ import annotations

import numpy as np
import pytest

from fastconv import _C, _memory

# In the tests every array fastconv returns comes from its output cache (not only those from
# 1 MiB), and every block handed out starts as 0xFF bytes (NaN): a kernel that leaves an output
# element unwritten fails its comparison instead of passing on a fresh page's zeros or on the
# previous call's values.
_memory._CACHED_FROM_BYTES = 0
_C._set_output_cache_poison(True)

# Relative tolerance per dtype for a result that sums `reduction` products: the float64 reference
# and a float32/float64 kernel differ by rounding, which grows at most ~linearly with the length
# of the sum (sqrt-like in practice); 4 * eps * reduction bounds it with margin.
EPS = {np.dtype(np.float32): np.finfo(np.float32).eps, np.dtype(np.float64): np.finfo(np.float64).eps}


def tolerance(dtype, reduction: int = 1) -> float:
    return 4.0 * float(EPS[np.dtype(dtype)]) * max(1, reduction)


def assert_close(actual, expected, *, dtype=None, reduction: int = 1, scale=None, what="result"):
    """|actual - expected| <= tol * scale elementwise, where scale is the magnitude of the terms
    summed (defaults to max |expected|, at least 1). On failure, lists the first mismatches."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    dtype = actual.dtype if dtype is None else np.dtype(dtype)
    if scale is None:
        scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    tol = tolerance(dtype, reduction) * scale
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bad = ~(diff <= tol)  # also catches NaN
    both_nan = np.isnan(actual) & np.isnan(expected)
    bad &= ~both_nan
    if bad.any():
        idx = np.argwhere(bad)[:5]
        lines = [f"  at {tuple(int(i) for i in ix)}: got {actual[tuple(ix)]!r}, expected "
                 f"{expected[tuple(ix)]!r}" for ix in idx]
        pytest.fail(f"{what}: {int(bad.sum())} of {bad.size} elements differ by more than {tol:.3g} "
                    f"(max diff {np.nanmax(diff):.3g}):\n" + "\n".join(lines), pytrace=False)


@pytest.fixture
def restore_threads():
    """For tests that change fastconv's thread count."""
    import fastconv
    before = fastconv.get_num_threads()
    yield
    fastconv.set_num_threads(before)


def check_backward_weight(x, w, gy, args, algorithm, what, threads=(1, 2, 3)):
    """grad_weight by `algorithm` is bitwise the same for every thread count and matches the
    float64 reference (tolerance scaled by the reduction's length). Needs restore_threads."""
    import fastconv
    from fastconv import reference
    nd = x.ndim - 2
    backward = getattr(fastconv, f"conv{nd}d_backward")
    results = []
    for t in threads:
        fastconv.set_num_threads(t)
        results.append(backward(gy, x, w, **args, output_mask=(False, True, False),
                                algorithm=algorithm)[1])
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    _, gw_ref, _ = getattr(reference, f"conv{nd}d_backward")(
        gy.astype(np.float64), x.astype(np.float64), w.astype(np.float64), **args)
    reduction = x.shape[0] * int(np.prod(gy.shape[2:]))
    assert_close(results[0], gw_ref, dtype=x.dtype, reduction=reduction, what=f"{what} grad_weight")


def check_reused_workspace(algorithm, dtype, cases, poison):
    """For algorithms that keep their workspace across calls (per calling thread, grown, never
    zeroed: csrc/common/workspace.h): after larger calls fill it with NaN (NaN inputs), the
    forward, grad_input and grad_weight of smaller conv2d calls give the same bits as before.
    cases / poison: (input shape, weight shape, conv2d keyword arguments)."""
    import fastconv

    def conv_all(shapes, fill):
        out = []
        for xs, ws, kwargs in shapes:
            r = np.random.default_rng(1)
            x = fill(r, xs)
            w = fill(r, ws)
            args = dict(kwargs, algorithm=algorithm)
            y = fastconv.conv2d(x, w, **args)
            out += [y, *fastconv.conv2d_backward(fill(r, y.shape), x, w,
                                                 output_mask=(True, True, False), **args)[:2]]
        return out

    def fresh(r, shape):
        return r.standard_normal(shape).astype(dtype)

    before = conv_all(cases, fresh)
    conv_all(poison, lambda r, shape: np.full(shape, np.nan, dtype))
    for a, b in zip(conv_all(cases, fresh), before):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: fresh, reproducible random data per test."""
    import zlib
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
