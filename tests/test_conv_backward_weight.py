"""im2col_gemm's backward_weight at the edges of its blocking: GEMM-K rows (C_in/groups x
kernel volume) and output channels per group just below, at and above the micro-kernel's panel
widths (nr = 8/16/32 rows, mr = 4/6/8 channels over the ISA paths) and the 8x8 / 4x4 transpose
blocks, output planes that end inside a transpose block, short-K conv1d (C_in = 1) whose work
splits over output channels, blocks past the 256-row / 256-channel caps, and the (sample, column
tile) steps split into chunks of partial sums; against the float64 reference and bitwise across
1, 2 and 3 threads."""

from __future__ import annotations

import numpy as np
import pytest

import fastconv

from conftest import check_backward_weight

# (c_in, c_out, size, kernel, stride, padding, dilation, groups, batch)
CASES = [
    (1, 7, (203,), (10,), 5, 0, 1, 1, 2),        # K = 10, cog just below mr
    (1, 9, (203,), (10,), 5, 0, 1, 1, 2),
    (1, 33, (167,), (10,), 5, 3, 1, 1, 1),       # K = 10, cog above 32
    (1, 64, (250,), (8,), 4, 0, 1, 1, 3),        # K = 8: one transpose block
    (31, 5, (7, 9), (1, 1), 1, 0, 1, 1, 2),      # pointwise, K = 31 below nr=32, P = 63
    (32, 6, (8, 8), (1, 1), 1, 0, 1, 1, 1),      # K = 32 at nr, P = 64
    (33, 17, (5, 13), (1, 1), 1, 0, 1, 1, 2),    # K = 33 above, P = 65
    (17, 16, (9, 7), (1, 1), 1, 0, 1, 1, 1),     # K = 17 just above 16
    (3, 8, (11, 10), (3, 3), 1, 1, 1, 1, 2),     # K = 27
    (4, 9, (9, 9), (3, 3), 2, 1, 1, 1, 2),       # K = 36, stride 2
    (7, 15, (10, 11), (3, 3), 1, 2, 2, 1, 1),    # K = 63, dilation 2
    (16, 32, (6, 7), (2, 2), 1, 0, 1, 1, 3),     # K = 64 at 2 * nr
    (12, 10, (8, 9), (3, 3), 1, 1, 1, 2, 2),     # groups 2: K = 54, cog = 5
    (16, 40, (7, 7), (5, 5), 1, 2, 1, 1, 2),     # K = 400, cog = 40: several row blocks
    (8, 12, (3, 5, 6), (3, 3, 3), 1, 1, 1, 2, 2),  # 3-D, groups 2: K = 108, cog = 6
    (1, 300, (120,), (9,), 2, 4, 1, 1, 3),       # cog = 300 above the 256-channel block cap
    (64, 9, (6, 5), (3, 3), 1, 1, 1, 1, 2),      # K = 576: several 256-row blocks
    (5, 7, (6, 7), (3, 3), 2, 1, 1, 1, 11),      # batch 11: 8 chunks of steps, some empty
    (64, 16, (30, 41), (3, 3), 1, 1, 1, 1, 1),   # batch 1, several column tiles in chunks
]


def _id(c):
    c_in, c_out, size, kernel, stride, padding, dilation, groups, batch = c
    return (f"conv{len(size)}d_n{batch}_c{c_in}to{c_out}_i{'x'.join(map(str, size))}_"
            f"k{'x'.join(map(str, kernel))}_s{stride}_p{padding}_d{dilation}_g{groups}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_backward_weight_at_block_edges(case, dtype, rng, restore_threads):
    c_in, c_out, size, kernel, stride, padding, dilation, groups, batch = case
    nd = len(size)
    x = rng.standard_normal((batch, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups) + kernel).astype(dtype)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = getattr(fastconv, f"conv{nd}d")(x, w, **args)
    gy = rng.standard_normal(y.shape).astype(dtype)
    check_backward_weight(x, w, gy, args, "im2col_gemm", _id(case))
