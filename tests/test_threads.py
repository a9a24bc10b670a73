"""Threads: results do not depend on the thread count, and fastconv shares a process with
PyTorch's OpenMP runtime in either import order."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastconv
from fastconv import _C


def test_set_and_get_num_threads(restore_threads):
    fastconv.set_num_threads(1)
    assert fastconv.get_num_threads() == 1
    fastconv.set_num_threads(3)
    assert fastconv.get_num_threads() == 3


@pytest.mark.parametrize("shape", [
    # (batch, c_in, c_out, size, kernel, stride, padding, groups): shapes that split into many
    # tasks, several column tiles and several GEMM blocks, so that threads share the work
    (3, 40, 70, (19, 17), (3, 3), 1, 1, 1),
    (1, 8, 8, (40, 33), (3, 3), 2, 1, 8),
    (2, 40, 40, (7, 9), (3, 3), 1, 1, 40),  # depthwise, channels in lanes (small planes)
    (1, 2, 2, (40, 70), (3, 3), 1, 1, 2),  # depthwise along rows (2 channels: lanes unfilled)
    (2, 96, 32, (14, 14), (1, 1), 1, 0, 1),
    (1, 16, 12, (600,), (5,), 1, 2, 2),
    (2, 64, 40, (27, 28), (1, 1), 2, 0, 1),  # 1x1/2: the pointwise conv of a subsampled input
], ids=["dense3x3", "depthwise_s2", "depthwise_lanes", "depthwise_rows", "pointwise",
        "conv1d_long", "pointwise_s2"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_results_identical_with_1_and_2_threads(shape, dtype, restore_threads):
    n, c_in, c_out, size, kernel, stride, padding, groups = shape
    nd = len(size)
    conv = getattr(fastconv, f"conv{nd}d")
    conv_backward = getattr(fastconv, f"conv{nd}d_backward")
    conv_t = getattr(fastconv, f"conv_transpose{nd}d")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups) + kernel).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    results = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        y = conv(x, w, b, stride, padding, 1, groups)
        grads = conv_backward(y, x, w, stride, padding, 1, groups)
        yt = conv_t(y, w, None, stride, padding, 0, groups)
        results.append((y,) + grads + (yt,))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


_BOTH_LIBRARIES = textwrap.dedent("""
    import sys
    import numpy as np
    first, second = sys.argv[1], sys.argv[2]
    mods = {}
    for name in (first, second):
        mods[name] = __import__(name)
    torch, fastconv = mods["torch"], mods["fastconv"]
    torch.set_num_threads(2)
    fastconv.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 16, 24, 24)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    for _ in range(3):  # interleave the two runtimes' parallel regions
        ours = fastconv.conv2d(x, w, padding=1)
        theirs = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-3)
    print("ok", torch.get_num_threads(), fastconv.get_num_threads())
""")


@pytest.mark.torch
@pytest.mark.parametrize("order", [("torch", "fastconv"), ("fastconv", "torch")],
                         ids=["torch_first", "fastconv_first"])
def test_torch_and_fastconv_share_a_process(order):
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, "-c", _BOTH_LIBRARIES, *order], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "OMP: Error" not in proc.stderr and "OMP: Warning" not in proc.stderr, proc.stderr
    assert proc.stdout.split() == ["ok", "2", "2"]


def test_concurrent_calls_from_python_threads(restore_threads):
    """Kernels run without the GIL, so Python threads can call them at once: each call keeps its
    own workspace and gets the single-threaded result."""
    import threading
    fastconv.set_num_threads(1)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 8, 20, 20))
    w = rng.standard_normal((8, 8, 3, 3))
    expected = fastconv.conv2d(x, w, padding=1)
    results = [None] * 4

    def work(i):
        results[i] = fastconv.conv2d(x, w, padding=1)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_denormals_flushed_inside_kernels_and_caller_mode_restored(rng):
    """Kernels run with flush-to-zero (denormal products would slow them down ~100x) but the
    caller's floating-point mode is untouched afterwards."""
    tiny = np.float32(1e-39)  # a float32 denormal
    assert tiny * np.float32(1.0) != 0
    x = (rng.standard_normal((2, 8, 12, 12)) * 1e-36).astype(np.float32)
    w = (rng.standard_normal((8, 8, 3, 3)) * 1e-3).astype(np.float32)
    y = fastconv.conv2d(x, w, padding=1)
    assert np.all(np.isfinite(y))
    # products ~1e-39 are flushed, so y is the reference up to denormal-sized error
    from fastconv import reference
    ref = reference.conv2d(x.astype(np.float64), w.astype(np.float64), padding=1)
    assert np.max(np.abs(y - ref)) < 1e-36
    # the caller's MXCSR is restored: NumPy still produces denormals in this thread
    assert tiny * np.float32(1.0) != 0
    assert np.float32(1e-30) * np.float32(1e-9) != 0


@pytest.mark.parametrize("geometry", [
    # (x shape, c_out, kernel, stride, padding, dilation): tiles of columns that hold several
    # samples (P = 90 and P = 49), a 1x1 with K = 300 (several reduction slices), a 3x3 for
    # winograd, 3 input channels (small_channels), a dilated 3x3 (the dilation-phases rewrite)
    ((5, 24, 17, 19), 40, 3, 2, 1, 1),
    ((5, 300, 7, 7), 36, 1, 1, 0, 1),
    ((5, 40, 13, 14), 36, 1, 2, 0, 1),
    ((5, 16, 13, 11), 24, 3, 1, 1, 1),
    ((5, 3, 21, 19), 16, 5, 2, 2, 1),
    ((5, 16, 15, 14), 20, 3, 1, 2, 2),
], ids=["3x3s2", "1x1_k300", "1x1s2", "3x3", "c3_5x5s2", "3x3d2"])
@pytest.mark.parametrize("algorithm", ["auto"] + list(_C.conv_algorithms()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_forward_of_a_sample_does_not_depend_on_its_batch(geometry, algorithm, dtype):
    """A sample's forward result (and grad_input) is bitwise the same alone or at any position of
    a larger batch, with every algorithm: every column of a GEMM tile is computed the same way
    wherever it sits (and conv_batch_chunk relies on it)."""
    xs, c_out, k, stride, pad, dil = geometry
    args = dict(stride=stride, padding=pad, dilation=dil, algorithm=algorithm)
    passes = fastconv.explain("conv2d", xs, (c_out, xs[1], k, k), dtype=dtype, **args)["passes"]
    rng = np.random.default_rng(5)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((c_out, xs[1], k, k)).astype(dtype)
    if passes["forward"]["algorithm"] is not None:
        y = fastconv.conv2d(x, w, **args)
        for i in (0, 3):
            np.testing.assert_array_equal(fastconv.conv2d(x[i:i + 1], w, **args), y[i:i + 1])
    if passes["backward_data"]["algorithm"] is not None:
        gy = rng.standard_normal((xs[0], c_out) + fastconv.conv2d(x[:1], w, stride=stride,
                                 padding=pad, dilation=dil).shape[2:]).astype(dtype)
        gx, _, _ = fastconv.conv2d_backward(gy, x, w, output_mask=(True, False, False), **args)
        for i in (0, 3):
            gx_alone, _, _ = fastconv.conv2d_backward(gy[i:i + 1], x[i:i + 1], w,
                                                       output_mask=(True, False, False), **args)
            np.testing.assert_array_equal(gx_alone, gx[i:i + 1])


def _suite_conv_problems():
    """(op, input shape, weight shape, arguments) of every convolution of the benchmark suite."""
    from fastconv.bench import shapes
    for case in shapes.select(shapes.load(()), ["conv", "conv_transpose"], False):
        p, nd = case.params, case.ndim
        transposed = case.op.startswith("conv_transpose")
        kw = dict(stride=p["stride"], padding=p["pad"], dilation=p["dil"], groups=p["groups"])
        if transposed:
            kw["output_padding"] = p.get("opad", (0,) * nd)
            wshape = (p["c"], p["k"] // p["groups"]) + case.kernel()
        else:
            wshape = (p["k"], p["c"] // p["groups"]) + case.kernel()
        yield case.label, case.op, case.input_shape()[1:], wshape, kw


def _random_conv2d_problems(count):
    rng = np.random.default_rng(11)
    for i in range(count):
        groups = int(rng.choice([1, 1, 2, 4]))
        c_in = groups * int(rng.integers(1, 40))
        c_out = groups * int(rng.integers(1, 40))
        k = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        dil = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        pad = (int(rng.integers(0, 4)), int(rng.integers(0, 4)))
        size = tuple(int(rng.integers(max(1, d * (kk - 1) + 1 - 2 * p), 40))
                     for d, kk, p in zip(dil, k, pad))
        yield f"random{i}", "conv2d", (c_in,) + size, (c_out, c_in // groups) + k, \
            dict(stride=stride, padding=pad, dilation=dil, groups=groups)


def test_auto_picks_forward_and_backward_data_by_one_sample():
    """auto's forward and backward_data choice (algorithm, rewrite, and the sub-problems'
    algorithms) is the same at every batch size: with every algorithm batch-invariant (the test
    above), a sample's forward result and grad_input then do not depend on its batch under auto
    either. backward_weight sums over the batch and may choose by it."""
    problems = list(_suite_conv_problems()) + list(_random_conv2d_problems(300))
    differing = []
    for label, op, sample_shape, wshape, kw in problems:
        plans = {}
        for n in (1, 2, 8, 64):
            passes = fastconv.explain(op, (n,) + tuple(sample_shape), wshape, **kw)["passes"]
            plans[n] = [{k: v for k, v in passes[p].items() if k != "workspace_bytes"}
                        for p in ("forward", "backward_data")]
        if any(plans[n] != plans[1] for n in plans):
            differing.append((label, plans))
    assert not differing, differing[:5]


def test_auto_forward_of_a_sample_whose_batch_runs_in_chunks():
    """A batch whose workspace would pass the budget at once runs in chunks of samples with the
    algorithm chosen for one sample: VGG-16 conv4 (512 channels, 28x28) takes winograd, whose
    transformed filters exceed 64 MiB from a few samples on."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 512, 28, 28), dtype=np.float32)
    w = rng.standard_normal((512, 512, 3, 3), dtype=np.float32)
    plans = [fastconv.explain("conv2d", (n, 512, 28, 28), w.shape, padding=1)["passes"]["forward"]
             for n in (1, 9)]
    assert plans[0]["algorithm"] == plans[1]["algorithm"] == "winograd"
    assert plans[1]["workspace_bytes"] < 64 << 20
    y = fastconv.conv2d(x, w, padding=1)
    for i in (0, 8):
        np.testing.assert_array_equal(fastconv.conv2d(x[i:i + 1], w, padding=1), y[i:i + 1])
