"""Slow, obviously-correct NumPy versions of every fastconv op and its backward, written from the
definitions (not ported from the C++), with torch.nn.functional's semantics. They compute in
float64. fastconv's tests use them as the oracle; users can use them to check results.

One module per op family: ``conv`` (convolution and transposed convolution), ``pooling``,
``activation``;
all their functions are also available here, e.g. ``fastconv.reference.conv2d``.
"""

from . import activation, conv, pooling
from .activation import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
