"""Convolution problems shared by the test files: one ConvCase per problem, named by its id,
with its arrays, the op's arguments and the padding written out independently of fastconv."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

import numpy as np


@dataclass(frozen=True)
class ConvCase:
    ndim: int
    batch: int  # 0 = unbatched
    c_in: int
    c_out: int
    size: Tuple[int, ...]
    kernel: Tuple[int, ...]
    stride: Union[int, Tuple[int, ...]] = 1
    padding: Union[int, str, Tuple[int, ...]] = 0
    dilation: Union[int, Tuple[int, ...]] = 1
    groups: int = 1
    padding_mode: str = "zeros"
    flip: bool = False
    bias: bool = True
    output_padding: Union[int, Tuple[int, ...]] = 0  # transposed only
    transposed: bool = False

    @property
    def id(self) -> str:
        def f(v):
            return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)
        parts = [self.op, f"n{self.batch}" if self.batch else "unbatched", f"c{self.c_in}to{self.c_out}",
                 f"i{f(self.size)}", f"k{f(self.kernel)}", f"s{f(self.stride)}",
                 f"p{f(self.padding)}", f"d{f(self.dilation)}", f"g{self.groups}"]
        if self.transposed:
            parts.append(f"op{f(self.output_padding)}")
        if self.padding_mode != "zeros":
            parts.append(self.padding_mode)
        if self.flip:
            parts.append("flip")
        if not self.bias:
            parts.append("nobias")
        return "_".join(parts)

    def shapes(self):
        lead = (self.batch,) if self.batch else ()
        if self.transposed:
            w = (self.c_in, self.c_out // self.groups) + self.kernel
        else:
            w = (self.c_out, self.c_in // self.groups) + self.kernel
        return lead + (self.c_in,) + self.size, w

    def arrays(self, rng, dtype=np.float64):
        x_shape, w_shape = self.shapes()
        x = rng.standard_normal(x_shape)
        w = rng.standard_normal(w_shape)
        b = rng.standard_normal(self.c_out) if self.bias else None
        cast = lambda a: None if a is None else a.astype(dtype)
        return cast(x), cast(w), cast(b)

    def args(self):
        """The op's keyword arguments."""
        if self.transposed:
            return dict(stride=self.stride, padding=self.padding,
                        output_padding=self.output_padding, groups=self.groups,
                        dilation=self.dilation)
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups, padding_mode=self.padding_mode, flip=self.flip)

    @property
    def op(self) -> str:
        return f"conv_transpose{self.ndim}d" if self.transposed else f"conv{self.ndim}d"

    def reductions(self, out_shape):
        """Lengths of the sums behind each result: forward, grad_input, grad_weight."""
        kvol = int(np.prod(self.kernel))
        per_group_in, per_group_out = self.c_in // self.groups, self.c_out // self.groups
        n = max(self.batch, 1)
        spatial = int(np.prod(out_shape[-self.ndim:]))
        insp = int(np.prod(self.size))
        if self.transposed:
            return per_group_in * kvol, per_group_out * kvol, n * insp
        return per_group_in * kvol, per_group_out * kvol, n * spatial

    def explicit_pads(self, spatial):
        """(before, after) per spatial dim of a conv with an input of size `spatial`."""
        tup = lambda v: (v,) * self.ndim if isinstance(v, int) else tuple(v)
        if self.padding == "valid":
            return [(0, 0)] * self.ndim
        if self.padding == "same":
            return tf_same_pads(spatial, self.kernel, tup(self.stride), tup(self.dilation))
        return [(p, p) for p in tup(self.padding)]


def tf_same_pads(size, kernel, stride, dilation):
    """(before, after) per dimension by TensorFlow's SAME rule, written out independently."""
    pads = []
    for L, k, s, d in zip(size, kernel, stride, dilation):
        out = -(-L // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - L, 0)
        pads.append((total // 2, total - total // 2))
    return pads
