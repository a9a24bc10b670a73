"""fastconv's output cache (fastconv/_memory.py, csrc/common/output_cache.h): the arrays it
returns from 1 MiB reuse the memory of arrays the caller let go of, up to a limit. The tests'
conftest routes every output through the cache, poisoned with NaN bytes."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastconv
from fastconv import _C, _memory

MIB = 1 << 20
F32 = np.dtype(np.float32)


def info():
    return fastconv.output_cache_info()


@pytest.fixture
def production_threshold(monkeypatch):
    monkeypatch.setattr(_memory, "_CACHED_FROM_BYTES", MIB)


@pytest.fixture
def set_limit():
    saved = info()["limit_bytes"]
    yield fastconv.set_output_cache_limit
    fastconv.set_output_cache_limit(saved)


def test_small_outputs_are_plain_numpy_arrays(production_threshold):
    y = fastconv.relu(np.ones((4, 4), np.float32))
    assert y.flags.owndata


def test_large_outputs_come_from_the_cache_aligned_and_writable(production_threshold):
    x = np.random.default_rng(0).standard_normal((2, 8, 128, 128)).astype(np.float32)  # 1 MiB
    live = info()["live_bytes"]
    y = fastconv.relu(x)
    assert not y.flags.owndata and y.flags.c_contiguous and y.flags.writeable
    assert y.ctypes.data % 64 == 0
    assert info()["live_bytes"] >= live + y.nbytes
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(y)), y)


def test_a_released_block_serves_the_next_output_of_its_size():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 40, 40)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    y = fastconv.conv2d(x, w, padding=1)
    expected, address = y.copy(), y.ctypes.data
    y.fill(np.nan)  # what the next call finds in the block, if it reuses it
    del y
    hits = info()["hits"]
    y = fastconv.conv2d(x, w, padding=1)
    assert info()["hits"] == hits + 1 and y.ctypes.data == address
    np.testing.assert_array_equal(y, expected)


def test_views_keep_their_block():
    x = np.random.default_rng(2).standard_normal((4, 300)).astype(np.float32)
    y = fastconv.relu(x)
    row = y[1]
    del y
    z = fastconv.relu(-x)
    assert not np.shares_memory(row, z)
    np.testing.assert_array_equal(row, np.maximum(x[1], 0))


def test_blocks_start_poisoned_in_the_tests():
    assert np.isnan(_C.empty_output((1000,), F32)).all()


def test_the_limit_bounds_what_is_held(set_limit):
    set_limit(3 * MIB)
    arrays = [_C.empty_output((MIB // 4,), F32) for _ in range(5)]  # 1 MiB each
    del arrays
    assert 0 < info()["cached_bytes"] <= 3 * MIB
    big = _C.empty_output((MIB,), F32)  # 4 MiB: more than the limit, never held
    del big
    assert info()["cached_bytes"] <= 3 * MIB
    fastconv.empty_output_cache()
    assert info()["cached_bytes"] == 0 and info()["cached_blocks"] == 0
    assert info()["limit_bytes"] == 3 * MIB


def test_limit_zero_turns_the_cache_off(set_limit):
    set_limit(0)
    a = _C.empty_output((MIB // 4,), F32)
    del a
    hits = info()["hits"]
    a = _C.empty_output((MIB // 4,), F32)
    assert info()["cached_bytes"] == 0 and info()["hits"] == hits


def test_live_arrays_survive_emptying_the_cache(set_limit):
    x = np.random.default_rng(3).standard_normal((3, 200, 300)).astype(np.float32)
    y = fastconv.relu(x)
    fastconv.empty_output_cache()
    set_limit(0)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    del y  # goes back to a cache that holds nothing: freed at once
    assert info()["cached_bytes"] == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True, None])
def test_a_bad_limit_is_refused(bad):
    with pytest.raises(ValueError, match="set_output_cache_limit: argument 'nbytes'"):
        fastconv.set_output_cache_limit(bad)


def test_calls_from_several_python_threads():
    rng = np.random.default_rng(4)
    inputs = [rng.standard_normal((2, 4, 96, 96)).astype(np.float32) for _ in range(4)]
    failures = []

    def work(x):
        for _ in range(25):
            y = fastconv.max_pool2d(fastconv.relu(x), 2)
            if not np.array_equal(y, np.maximum(x, 0).reshape(2, 4, 48, 2, 48, 2).max((3, 5))):
                failures.append(y)

    threads = [threading.Thread(target=work, args=(x,)) for x in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


@pytest.mark.parametrize("setting, limit", [("7", 7 * MIB), ("0", 0), ("lots", 256 * MIB)])
def test_the_environment_sets_the_limit(setting, limit):
    env = dict(os.environ, FASTCONV_OUTPUT_CACHE_MB=setting)
    out = subprocess.run([sys.executable, "-c", "import fastconv; "
                          "print(fastconv.output_cache_info()['limit_bytes'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout) == limit


def test_tracemalloc_sees_the_outputs():
    import tracemalloc
    x = np.random.default_rng(5).standard_normal((3, 200, 300)).astype(np.float32)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        y = fastconv.relu(x)
        during, _ = tracemalloc.get_traced_memory()
        del y
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert during - before >= x.nbytes and after - before < x.nbytes
