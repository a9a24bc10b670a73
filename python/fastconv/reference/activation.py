"""Reference activations and their gradients: slow, obviously-correct NumPy, written from the
definitions (float64 inside, result cast to the input's dtype).

The edge cases are spelled out where a definition leaves them open, as torch's CPU kernels decide
them (see fastconv.activation): NaN propagates through every forward; relu and hardtanh keep
-0.0; relu's gradient is 0 at x <= 0; hardtanh's gradient passes only strictly inside
(min_val, max_val), so it is 0 at the boundaries and for NaN; elu's gradient is NaN for NaN.
Backward functions take the forward's output for sigmoid and tanh, its input otherwise.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "relu", "relu6", "leaky_relu", "hardtanh", "sigmoid", "tanh", "elu", "gelu",
    "relu_backward", "relu6_backward", "leaky_relu_backward", "hardtanh_backward",
    "sigmoid_backward", "tanh_backward", "elu_backward", "gelu_backward",
]

_erf = np.frompyfunc(math.erf, 1, 1)


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _out(result, like) -> np.ndarray:
    return np.asarray(result, dtype=np.float64).astype(np.asarray(like).dtype)


def _erf64(x: np.ndarray) -> np.ndarray:
    return np.asarray(_erf(x), dtype=np.float64) if x.size else x.copy()


# ----------------------------------------------------------------------------------- forward

def relu(x):
    x64 = _f64(x)
    return _out(np.where(x64 < 0, 0.0, x64), x)  # NaN and -0.0 are kept


def hardtanh(x, min_val=-1.0, max_val=1.0):
    x64 = _f64(x)
    return _out(np.where(x64 < min_val, min_val, np.where(x64 > max_val, max_val, x64)), x)


def relu6(x):
    return hardtanh(x, 0.0, 6.0)


def leaky_relu(x, negative_slope=0.01):
    x64 = _f64(x)
    return _out(np.where(x64 > 0, x64, x64 * negative_slope), x)


def sigmoid(x):
    x64 = _f64(x)
    with np.errstate(over="ignore"):
        return _out(1.0 / (1.0 + np.exp(-x64)), x)


def tanh(x):
    return _out(np.tanh(_f64(x)), x)


def elu(x, alpha=1.0):
    x64 = _f64(x)
    return _out(np.where(x64 >= 0, x64, np.expm1(np.minimum(x64, 0)) * alpha), x)


def gelu(x, approximate="none"):
    x64 = _f64(x)
    with np.errstate(invalid="ignore", over="ignore"):
        if approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)
            return _out(0.5 * x64 * (1 + np.tanh(inner)), x)
        return _out(0.5 * x64 * (1 + _erf64(x64 / math.sqrt(2))), x)


# ---------------------------------------------------------------------------------- backward

def relu_backward(grad_output, x):
    g, x64 = _f64(grad_output), _f64(x)
    return _out(np.where(x64 <= 0, 0.0, g), x)


def hardtanh_backward(grad_output, x, min_val=-1.0, max_val=1.0):
    g, x64 = _f64(grad_output), _f64(x)
    inside = (x64 > min_val) & (x64 < max_val)
    return _out(np.where(inside, g, 0.0), x)


def relu6_backward(grad_output, x):
    return hardtanh_backward(grad_output, x, 0.0, 6.0)


def leaky_relu_backward(grad_output, x, negative_slope=0.01):
    g, x64 = _f64(grad_output), _f64(x)
    return _out(np.where(x64 > 0, g, g * negative_slope), x)


def sigmoid_backward(grad_output, y):
    g, y64 = _f64(grad_output), _f64(y)
    return _out(g * y64 * (1 - y64), y)


def tanh_backward(grad_output, y):
    g, y64 = _f64(grad_output), _f64(y)
    return _out(g * (1 - y64 * y64), y)


def elu_backward(grad_output, x, alpha=1.0):
    g, x64 = _f64(grad_output), _f64(x)
    with np.errstate(invalid="ignore", over="ignore"):
        return _out(np.where(x64 > 0, g, g * alpha * np.exp(np.where(x64 > 0, 0, x64))), x)


def gelu_backward(grad_output, x, approximate="none"):
    """d/dx [x * cdf(x)] = cdf(x) + x * cdf'(x)."""
    g, x64 = _f64(grad_output), _f64(x)
    with np.errstate(invalid="ignore", over="ignore"):
        if approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = np.tanh(k * (x64 + 0.044715 * x64**3))
            d = 0.5 * (1 + t) + 0.5 * x64 * (1 - t * t) * k * (1 + 3 * 0.044715 * x64**2)
        else:
            cdf = 0.5 * (1 + _erf64(x64 / math.sqrt(2)))
            pdf = np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)
            d = cdf + x64 * pdf
        return _out(g * d, x)
