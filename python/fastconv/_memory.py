"""Memory for the arrays fastconv returns.

Outputs and gradients from 1 MiB come from fastconv's output cache (csrc/common/output_cache.h):
when such an array is gone, its memory is kept, up to a limit, for the next output of about its
size, so a repeated call writes to pages that are already mapped rather than to freshly faulted,
kernel-zeroed ones. Like CuPy's memory pool or PyTorch's CUDA caching allocator, the cache holds
memory after the arrays are freed: ``FASTCONV_OUTPUT_CACHE_MB`` (default 256, 0 turns it off) or
:func:`set_output_cache_limit` bound it, :func:`empty_output_cache` gives it back.

The arrays are ordinary writable, C-contiguous NumPy arrays starting on a 64-byte boundary (the
kernels' non-temporal stores need vector-aligned rows; NumPy's own large arrays start 16 bytes
past one). Their ``base`` is the capsule that gives the memory back.
"""

from __future__ import annotations

import math

import numpy as np

from . import _C

_CACHED_FROM_BYTES = 1 << 20  # smaller arrays: np.empty (glibc's arenas serve them warm anyway)


def empty(shape, dtype) -> np.ndarray:
    """np.empty(shape, dtype), from the output cache from 1 MiB."""
    dtype = np.dtype(dtype)
    count = math.prod(shape)  # not np.prod: 5 us on a tuple, more than a small conv
    if count * dtype.itemsize < _CACHED_FROM_BYTES:
        return np.empty(shape, dtype=dtype)
    return _C.empty_output(shape, dtype)


def output_cache_info() -> dict:
    """The output cache's state: ``cached_bytes`` / ``cached_blocks`` (held for reuse),
    ``live_bytes`` (in arrays still alive), ``limit_bytes``, ``hits`` and ``misses``
    (blocks served from the cache / freshly allocated since the process started)."""
    return _C.output_cache_info()


def set_output_cache_limit(nbytes: int) -> None:
    """Caps the memory the output cache holds for reuse (0 turns the cache off); frees the least
    recently released blocks above it. Arrays still alive are never affected."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
        raise ValueError(f"set_output_cache_limit: argument 'nbytes' must be an int >= 0, "
                         f"got {nbytes!r}")
    _C.set_output_cache_limit(int(nbytes))


def empty_output_cache() -> None:
    """Frees every block the output cache holds; arrays still alive are never affected."""
    _C.empty_output_cache()
