"""fastconv: hand-written convolution kernels for NumPy (and, later, CuPy, PyTorch and JAX).

The functional API mirrors ``torch.nn.functional``::

    import numpy as np, fastconv
    x = np.random.rand(8, 3, 32, 32).astype(np.float32)
    w = np.random.rand(16, 3, 3, 3).astype(np.float32)
    y = fastconv.conv2d(x, w, padding="same")

Convolutions compute cross-correlation (as every framework does); ``flip=True`` gives true
convolution. ``fastconv.reference`` holds slow NumPy versions of every op for checking.
"""

from __future__ import annotations

from . import _C
from .activation import (elu, elu_backward, gelu, gelu_backward, hardtanh, hardtanh_backward,
                         leaky_relu, leaky_relu_backward, relu, relu6, relu6_backward,
                         relu_backward, sigmoid, sigmoid_backward, tanh, tanh_backward)
from .functional import (conv1d, conv1d_backward, conv2d, conv2d_backward, conv3d,
                         conv3d_backward, conv_transpose1d, conv_transpose1d_backward,
                         conv_transpose2d, conv_transpose2d_backward, conv_transpose3d,
                         conv_transpose3d_backward, explain)
from ._memory import empty_output_cache, output_cache_info, set_output_cache_limit
from . import pooling
from .pooling import *  # noqa: F401,F403 (names listed in pooling.__all__)
from ._validation import positive_int as _positive_int

__version__ = "0.1.0"

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv1d_backward", "conv2d_backward", "conv3d_backward",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_transpose1d_backward",
    "conv_transpose2d_backward", "conv_transpose3d_backward", "set_num_threads",
    "get_num_threads", "build_info", "explain", "output_cache_info", "set_output_cache_limit",
    "empty_output_cache",
    "relu", "relu6", "leaky_relu", "hardtanh", "sigmoid", "tanh", "elu", "gelu", "relu_backward",
    "relu6_backward", "leaky_relu_backward", "hardtanh_backward", "sigmoid_backward",
    "tanh_backward", "elu_backward", "gelu_backward",
] + list(pooling.__all__)


def set_num_threads(n: int) -> None:
    """Sets the number of OpenMP threads fastconv's CPU kernels use (results do not depend on
    it). Other libraries' thread pools are not touched."""
    _C.set_num_threads(_positive_int("set_num_threads", "n", n))


def get_num_threads() -> int:
    """The number of threads fastconv's CPU kernels use."""
    return _C.get_num_threads()


def build_info() -> dict:
    """How this fastconv was built: version, compiler, OpenMP, ISA path, algorithms."""
    return dict(_C.build_info(), version=__version__, num_threads=get_num_threads())
