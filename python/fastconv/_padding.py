"""padding_mode for convolution: pad the input before a zero-padding-free kernel, and the adjoint
of that padding for the backward pass (gradients of padded cells flow back to their sources)."""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

_NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x: np.ndarray, pads: Sequence[Tuple[int, int]], mode: str) -> np.ndarray:
    """Pads the trailing len(pads) axes of x as torch.nn.ConvNd's padding_mode does."""
    lead = [(0, 0)] * (x.ndim - len(pads))
    return np.pad(x, lead + list(pads), mode=_NUMPY_MODE[mode])


def pad_backward(grad: np.ndarray, pads: Sequence[Tuple[int, int]], mode: str) -> np.ndarray:
    """Adjoint of pad(): sums the gradient of every padded cell into the cell it copies."""
    first = grad.ndim - len(pads)
    for i, (before, after) in enumerate(pads):
        axis = first + i
        size = grad.shape[axis] - before - after
        # source[j] = which unpadded position padded position j copies
        source = np.pad(np.arange(size), (before, after), mode=_NUMPY_MODE[mode])
        moved = np.moveaxis(grad, axis, 0)
        folded = np.zeros((size,) + moved.shape[1:], dtype=grad.dtype)
        np.add.at(folded, source, moved)
        grad = np.moveaxis(folded, 0, axis)
    return np.ascontiguousarray(grad)
