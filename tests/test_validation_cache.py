"""The validated-geometry cache of small calls (fastconv/_validation.py, _memoized): a cache hit
must behave exactly like a full validation, and the cache must never keep user data alive."""

import gc
import weakref

import numpy as np
import pytest

import fastconv
from fastconv._validation import validate_conv, validate_conv_transpose


def _arrays(rng, shape=(2, 4, 9, 9), wshape=(6, 4, 3, 3)):
    return rng.standard_normal(shape).astype(np.float32), \
        rng.standard_normal(wshape).astype(np.float32)


def test_cache_hit_gives_the_same_result_on_new_data(rng):
    x, w = _arrays(rng)
    first = fastconv.conv2d(x, w, stride=2, padding=1)
    x2, w2 = _arrays(rng)
    second = fastconv.conv2d(x2, w2, stride=2, padding=1)  # same key: a cache hit
    np.testing.assert_array_equal(second, fastconv.conv2d(x2, w2, stride=(2, 2),
                                                          padding=[1, 1]))  # list: no cache
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("argument", [True, np.int64(1), 1.0])
def test_argument_types_that_hash_like_int_are_validated_fully(rng, argument):
    x, w = _arrays(rng)
    fastconv.conv2d(x, w, stride=1)  # caches stride=1
    if isinstance(argument, np.integer):  # a NumPy integer is a valid stride
        fastconv.conv2d(x, w, stride=argument)
        return
    with pytest.raises(TypeError, match="conv2d: argument 'stride'"):
        fastconv.conv2d(x, w, stride=argument)


def test_unbatched_input_after_a_batched_call(rng):
    x, w = _arrays(rng, shape=(1, 4, 9, 9))
    batched = fastconv.conv2d(x, w)
    unbatched = fastconv.conv2d(x[0], w)
    assert unbatched.shape == batched.shape[1:]
    np.testing.assert_array_equal(unbatched, batched[0])
    again = fastconv.conv2d(x[0], w)  # a hit on the unbatched key
    np.testing.assert_array_equal(again, batched[0])


def test_errors_are_never_cached(rng):
    x, w = _arrays(rng)
    for _ in range(2):
        with pytest.raises(ValueError, match="conv2d: given groups=3"):
            fastconv.conv2d(x, w, groups=3)


@pytest.mark.parametrize("validate, args", [
    (validate_conv, (1, 0, 1, 1, "zeros")),
    (validate_conv_transpose, (1, 0, 0, 1, 1)),
])
def test_the_cache_does_not_keep_arrays_alive(rng, validate, args):
    transposed = validate is validate_conv_transpose
    x, w = _arrays(rng, wshape=(4, 6, 3, 3) if transposed else (6, 4, 3, 3))
    op = "conv_transpose2d" if transposed else "conv2d"
    for _ in range(2):  # a miss, then a hit
        problem = validate(op, 2, x, w, None, *args)
        assert problem.input is x and problem.weight is w
    refs = [weakref.ref(x), weakref.ref(w)]
    del x, w, problem
    gc.collect()
    assert all(r() is None for r in refs)


def test_plans_are_cached_but_errors_are_not(rng):
    """The C++ side remembers each thread's plans (cpu::plan_conv): a forced algorithm that cannot
    compute a problem raises on every call, and a problem planned under one thread count still
    gives the same bits under another."""
    x, w = _arrays(rng)
    for _ in range(2):
        with pytest.raises(ValueError, match="argument 'algorithm'"):
            fastconv.conv2d(x, w, stride=2, algorithm="winograd")
    previous = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        one = fastconv.conv2d(x, w, padding=1)
        fastconv.set_num_threads(2)
        two = fastconv.conv2d(x, w, padding=1)
    finally:
        fastconv.set_num_threads(previous)
    np.testing.assert_array_equal(one, two)


def test_forward_launch_cache_matches_the_full_path(rng):
    """functional._FORWARD_LAUNCHES: a repeated forward call skips validation; its result must be
    the full path's, for bias / relu / unbatched / 'same' padding, on fresh data every call."""
    from fastconv import functional
    x, w = _arrays(rng, shape=(3, 4, 11, 10))
    b = rng.standard_normal(6).astype(np.float32)
    variants = [dict(), dict(bias=b), dict(bias=b, activation="relu"), dict(padding="same"),
                dict(stride=(2, 1), padding=(1, 2), dilation=2)]
    for kwargs in variants:
        for _ in range(2):  # a miss, then a hit
            x2 = rng.standard_normal(x.shape).astype(np.float32)
            got = fastconv.conv2d(x2, w, **kwargs)
            kwargs_list = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
            stride = kwargs.get("stride", 1)
            kwargs_list["stride"] = list(stride) if isinstance(stride, tuple) else [stride] * 2
            np.testing.assert_array_equal(got, fastconv.conv2d(x2, w, **kwargs_list))
        unbatched = fastconv.conv2d(x2[1], w, **kwargs)
        np.testing.assert_array_equal(unbatched, fastconv.conv2d(x2[1:2], w, **kwargs)[0])
    assert any(key[0] == "conv2d" for key in functional._FORWARD_LAUNCHES)


def test_forward_launch_cache_keeps_no_arrays_and_inputs_intact(rng):
    from fastconv import functional
    x, w = _arrays(rng)
    x_nc = np.asfortranarray(x)  # a non-contiguous input on a hit is copied, never changed
    before = x_nc.copy()
    fastconv.conv2d(x, w)
    np.testing.assert_array_equal(fastconv.conv2d(x_nc, w), fastconv.conv2d(x, w))
    np.testing.assert_array_equal(x_nc, before)
    refs = [weakref.ref(x), weakref.ref(w), weakref.ref(x_nc)]
    del x, w, x_nc
    gc.collect()
    assert all(r() is None for r in refs)
    for launch in functional._FORWARD_LAUNCHES.values():
        assert not any(isinstance(v, np.ndarray) for v in launch)


def test_forward_launch_cache_still_rejects_bad_arguments(rng):
    x, w = _arrays(rng)
    fastconv.conv2d(x, w, activation="relu")
    with pytest.raises(ValueError, match="argument 'activation'"):
        fastconv.conv2d(x, w, activation="gelu")
    fastconv.conv2d(x, w, algorithm="im2col_gemm")
    with pytest.raises(ValueError, match="argument 'algorithm'"):
        fastconv.conv2d(x, w, algorithm="no_such")
    with pytest.raises(TypeError):
        fastconv.conv2d(x.astype(np.float64), w)  # dtype is part of the key
