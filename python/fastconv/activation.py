"""Elementwise activation functions and their backward, on NumPy arrays, mirroring
torch.nn.functional (names, argument names, defaults and values, edge cases included).

Any shape (0-d and empty too), float32 or float64; a non-contiguous input is copied. Results
keep the input's dtype and are computed in it (float32 math for float32, as torch does).

``inplace=True`` writes the result into the caller's array and returns that array; nothing else
ever modifies an input. A non-contiguous array is computed into a contiguous copy that is then
written back with ``input[...] = result``, so the caller still sees its own array updated.

Backward functions return grad_input from grad_output and what torch's backward uses: the
forward's *output* for sigmoid and tanh, its *input* for every other op.

sigmoid, tanh, elu and gelu use vectorised exp / expm1 / tanh / erf on the AVX2 and AVX-512
paths (csrc/cpu/simd/vmath.h: within 2-3 ulp of the exact function over the whole range) and
libm's on the generic path, so results differ between paths by a few ulp; within one path an
element's result does not depend on its position, the array's size or the thread count.

Edge cases (all as torch 2.x's CPU kernels give them; see csrc/cpu/activation/activation.cc):

* NaN propagates through every forward; relu(-0.0) and hardtanh(-0.0) are -0.0.
* relu's gradient is 0 where x <= 0, so 0 at exactly 0; for NaN input grad_output passes.
* hardtanh's and relu6's gradient passes only where min_val < x < max_val: it is 0 at both
  boundaries and for NaN input. (torch's vectorised loop gives 0 for NaN; its scalar loop, used
  for the last few elements of a tensor, lets grad_output through. We follow the vectorised loop.)
* leaky_relu's gradient at exactly 0 and for NaN is grad_output * negative_slope.
* elu(x) = expm1(x) * alpha for x < 0 (so elu(-0.0) = -0.0); elu's gradient for NaN input is
  NaN (torch's vectorised loop; its scalar tail gives grad_output).
* gelu(+inf) is +inf. torch gives NaN for float32 tensors of two or more elements (it hands them
  to oneDNN) and +inf for float64 and single elements; we give +inf for every dtype and size.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _C
from ._memory import empty as _empty
from ._validation import as_float_array, check_same_dtype

GELU_APPROXIMATIONS = ("none", "tanh")


# ------------------------------------------------------------------------------------ checks

def _real(op: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: argument '{name}' must be a real number, got {value!r}")
    return float(value)


def _flag(op: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: argument '{name}' must be a bool, got {value!r}")
    return bool(value)


def _approximate(op: str, approximate) -> str:
    if not isinstance(approximate, str):
        raise TypeError(f"{op}: argument 'approximate' must be a str, one of "
                        f"{', '.join(map(repr, GELU_APPROXIMATIONS))}, got {approximate!r}")
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"{op}: argument 'approximate' must be one of "
                         f"{', '.join(map(repr, GELU_APPROXIMATIONS))}, got {approximate!r}")
    return approximate


def _hardtanh_bounds(op: str, min_val, max_val):
    lo, hi = _real(op, "min_val", min_val), _real(op, "max_val", max_val)
    if lo > hi:
        raise ValueError(f"{op}: argument 'min_val' must not be greater than 'max_val', got "
                         f"min_val={min_val!r}, max_val={max_val!r}")
    return lo, hi


# -------------------------------------------------------------------------------- machinery

def _contiguous(a: np.ndarray) -> np.ndarray:
    """a itself where C-contiguous, else a C-ordered copy (np.ascontiguousarray would turn 0-d
    arrays into 1-d ones)."""
    return a if a.flags.c_contiguous else a.copy(order="C")


def _forward(op: str, kernel: str, input, inplace: bool, param0: float = 0.0,
             param1: float = 0.0) -> np.ndarray:
    x = as_float_array(op, "input", input)
    if not _flag(op, "inplace", inplace):
        x = _contiguous(x)
        y = _empty(x.shape, x.dtype)
        _C.activation_forward(x, y, kernel, param0, param1)
        return y
    if x is not input:
        raise TypeError(f"{op}: inplace=True needs argument 'input' to be a NumPy array to write "
                        f"into, got {type(input).__name__}")
    if not x.flags.writeable:
        raise ValueError(f"{op}: inplace=True but argument 'input' is a read-only array; pass a "
                         f"writable array or use inplace=False")
    if x.flags.c_contiguous:
        _C.activation_forward(x, x, kernel, param0, param1)
    else:  # compute on a contiguous copy, then write back into the caller's strided array
        tmp = x.copy(order="C")
        _C.activation_forward(tmp, tmp, kernel, param0, param1)
        x[...] = tmp
    return x


def _backward(op: str, kernel: str, grad_output, saved, saved_name: str, param0: float = 0.0,
              param1: float = 0.0) -> np.ndarray:
    s = as_float_array(op, saved_name, saved)
    g = as_float_array(op, "grad_output", grad_output)
    check_same_dtype(op, saved_name, s.dtype, grad_output=g)
    if g.shape != s.shape:
        raise ValueError(f"{op}: argument 'grad_output' must have the shape of '{saved_name}' "
                         f"{s.shape}, got {g.shape}")
    g, s = _contiguous(g), _contiguous(s)
    gx = _empty(s.shape, s.dtype)
    _C.activation_backward(g, s, gx, kernel, param0, param1)
    return gx


# ----------------------------------------------------------------------------------- forward

def relu(input, inplace: bool = False) -> np.ndarray:
    """max(x, 0); NaN stays NaN, -0.0 stays -0.0."""
    return _forward("relu", "relu", input, inplace)


def relu6(input, inplace: bool = False) -> np.ndarray:
    """min(max(x, 0), 6), i.e. hardtanh(x, 0, 6) as in torch."""
    return _forward("relu6", "hardtanh", input, inplace, 0.0, 6.0)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False) -> np.ndarray:
    """x where x > 0, else x * negative_slope."""
    slope = _real("leaky_relu", "negative_slope", negative_slope)
    return _forward("leaky_relu", "leaky_relu", input, inplace, slope)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> np.ndarray:
    """x clamped to [min_val, max_val] (min_val > max_val is an error, as in torch)."""
    lo, hi = _hardtanh_bounds("hardtanh", min_val, max_val)
    return _forward("hardtanh", "hardtanh", input, inplace, lo, hi)


def sigmoid(input) -> np.ndarray:
    """1 / (1 + exp(-x))."""
    return _forward("sigmoid", "sigmoid", input, False)


def tanh(input) -> np.ndarray:
    """tanh(x)."""
    return _forward("tanh", "tanh", input, False)


def elu(input, alpha: float = 1.0, inplace: bool = False) -> np.ndarray:
    """x where x >= 0, else expm1(x) * alpha."""
    a = _real("elu", "alpha", alpha)
    return _forward("elu", "elu", input, inplace, a)


def gelu(input, approximate: str = "none") -> np.ndarray:
    """x * Phi(x) = x / 2 * (1 + erf(x / sqrt(2))); approximate='tanh' gives
    x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))."""
    kernel = "gelu_tanh" if _approximate("gelu", approximate) == "tanh" else "gelu"
    return _forward("gelu", kernel, input, False)


# ---------------------------------------------------------------------------------- backward

def relu_backward(grad_output, input) -> np.ndarray:
    """grad_output where input > 0, else 0 (0 at exactly 0)."""
    return _backward("relu_backward", "relu", grad_output, input, "input")


def relu6_backward(grad_output, input) -> np.ndarray:
    """grad_output where 0 < input < 6, else 0."""
    return _backward("relu6_backward", "hardtanh", grad_output, input, "input", 0.0, 6.0)


def leaky_relu_backward(grad_output, input, negative_slope: float = 0.01) -> np.ndarray:
    """grad_output where input > 0, else grad_output * negative_slope."""
    slope = _real("leaky_relu_backward", "negative_slope", negative_slope)
    return _backward("leaky_relu_backward", "leaky_relu", grad_output, input, "input", slope)


def hardtanh_backward(grad_output, input, min_val: float = -1.0,
                      max_val: float = 1.0) -> np.ndarray:
    """grad_output where min_val < input < max_val, else 0."""
    lo, hi = _hardtanh_bounds("hardtanh_backward", min_val, max_val)
    return _backward("hardtanh_backward", "hardtanh", grad_output, input, "input", lo, hi)


def sigmoid_backward(grad_output, output) -> np.ndarray:
    """grad_output * (1 - output) * output, from the forward's output."""
    return _backward("sigmoid_backward", "sigmoid", grad_output, output, "output")


def tanh_backward(grad_output, output) -> np.ndarray:
    """grad_output * (1 - output^2), from the forward's output."""
    return _backward("tanh_backward", "tanh", grad_output, output, "output")


def elu_backward(grad_output, input, alpha: float = 1.0) -> np.ndarray:
    """grad_output where input > 0, else grad_output * alpha * exp(input)."""
    a = _real("elu_backward", "alpha", alpha)
    return _backward("elu_backward", "elu", grad_output, input, "input", a)


def gelu_backward(grad_output, input, approximate: str = "none") -> np.ndarray:
    """grad_output * d/dx gelu(x) at the input."""
    kernel = "gelu_tanh" if _approximate("gelu_backward", approximate) == "tanh" else "gelu"
    return _backward("gelu_backward", kernel, grad_output, input, "input")
