"""The vectorised exp / expm1 / tanh / erf behind sigmoid, tanh, elu and gelu
(csrc/cpu/simd/vmath.h): max ulp error over every float32 exponent and both signs, special
values, and the activations' independence from an element's position (vector body or tail).

The functions are reached through the test hook ``_C._vmath``, which uses the ISA path in use
(libm's functions on the generic path). ``test_sweep_under_every_path`` reruns the sweep in a
subprocess under each path the machine has; CI also runs this whole file under each path."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv
from fastconv import _C

ORDER = ["generic", "avx2", "avx512"]
FNS = ["exp", "expm1", "tanh", "erf"]

# Max ulp error against the float64 reference (numpy / math, themselves within ~1 ulp of the
# exact value in float64, so float64 bounds include the reference's own error). Measured on
# AVX-512 and AVX2 (identical results): float32 exp 0.91, expm1 1.56, tanh 2.15, erf 2.01
# (2.06 on scripts/fit_erf_float.py's grid, all of it below |x| = 1); float64 exp 1, expm1 2,
# tanh 3, erf 1 (the reference itself is off by 1 at a subnormal).
ULP_BOUND = {
    np.float32: {"exp": 1.5, "expm1": 2.5, "tanh": 3.0, "erf": 2.5},
    np.float64: {"exp": 2.0, "expm1": 3.0, "tanh": 4.0, "erf": 2.0},
}
REFERENCE = {"exp": np.exp, "expm1": np.expm1, "tanh": np.tanh,
             "erf": np.vectorize(math.erf, otypes=[np.float64])}


def sweep_inputs(dtype, n_random=10**6, seed=0):
    """Every exponent of dtype (float32: 1.4e-45 to 3.4e38, subnormals included; float64: every
    other exponent) with 64 / 16 random mantissas each, both signs, plus n_random uniform values
    in [-30, 30] (where the functions are not yet saturated)."""
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        e, per = np.arange(-149, 128), 64
    else:
        e, per = np.arange(-1074, 1024, 2), 16
    x = np.ldexp(rng.uniform(1, 2, size=(e.size, per)), e[:, None]).ravel()
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    x = x[np.isfinite(x)]
    return np.concatenate([x, -x, rng.uniform(-30, 30, n_random).astype(dtype)])


def ulp_errors(got, exact, dtype):
    """|got - exact| in units of the spacing of dtype at exact (the subnormal spacing below);
    0 where both are NaN or equal; inf where one overflows and the other does not."""
    fi = np.finfo(dtype)
    exact = np.asarray(exact, np.float64)
    with np.errstate(all="ignore"):
        rounded = exact.astype(dtype)
        spacing = np.maximum(np.spacing(np.abs(rounded)).astype(np.float64),
                             float(fi.smallest_subnormal))
        diff = np.abs(got.astype(np.float64) - exact) / spacing
    same = (np.isnan(got) & np.isnan(exact)) | (got.astype(np.float64) == exact)
    inf = np.isinf(rounded) | np.isinf(got)
    return np.where(same, 0.0, np.where(inf, np.where(got == rounded, 0.0, np.inf), diff))


def max_ulp(fn, dtype, n_random=10**6):
    x = sweep_inputs(dtype, n_random)
    y = np.empty_like(x)
    _C._vmath(fn, x, y)
    with np.errstate(all="ignore"):
        exact = REFERENCE[fn](x.astype(np.float64))
    u = ulp_errors(y, exact, dtype)
    i = int(np.argmax(u))
    return float(u[i]), float(x[i])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("fn", FNS)
def test_max_ulp_over_the_whole_range(fn, dtype):
    err, at = max_ulp(fn, dtype)
    assert err <= ULP_BOUND[dtype][fn], f"{fn} {np.dtype(dtype)}: {err:.3f} ulp at x={at!r}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_special_values(dtype):
    fi = np.finfo(dtype)
    x = np.asarray([np.nan, np.inf, -np.inf, 0.0, -0.0, fi.smallest_subnormal,
                    -fi.smallest_subnormal, fi.tiny, -fi.tiny, fi.max, -fi.max], dtype)
    out = {}
    for fn in FNS:
        y = np.empty_like(x)
        _C._vmath(fn, x, y)
        out[fn] = y
    nan, inf = np.nan, np.inf
    s, t = fi.smallest_subnormal, fi.tiny
    expected = {
        "exp": [nan, inf, 0, 1, 1, 1, 1, 1, 1, inf, 0],
        "expm1": [nan, inf, -1, 0.0, -0.0, s, -s, t, -t, inf, -1],
        "tanh": [nan, 1, -1, 0.0, -0.0, s, -s, t, -t, 1, -1],
        "erf": [nan, 1, -1, 0.0, -0.0, None, None, None, None, 1, -1],
    }
    for fn, exp_values in expected.items():
        for i, e in enumerate(exp_values):
            if e is None:  # erf(x) = 2x/sqrt(pi) for tiny x: within an ulp
                want = math.erf(float(x[i]))
                assert abs(float(out[fn][i]) - want) <= float(fi.smallest_subnormal) + \
                    abs(want) * float(fi.eps), (fn, x[i], out[fn][i])
                continue
            e = np.asarray(e, dtype)
            got = out[fn][i]
            assert (np.isnan(got) and np.isnan(e)) or \
                (got == e and np.signbit(got) == np.signbit(e)), (fn, x[i], got, e)


def test_unknown_function_is_refused():
    x = np.zeros(3)
    with pytest.raises(ValueError, match="unknown function 'log'"):
        _C._vmath("log", x, np.empty_like(x))


# Under each path in a subprocess: the same sweep (fewer random values), bounds as above.
_PROBE = """
import json, sys, numpy as np
sys.path[:0] = {paths!r}
import test_vmath as t
from fastconv import _C
res = {{}}
for dt in (np.float32, np.float64):
    for fn in t.FNS:
        res[f"{{fn}}_{{np.dtype(dt).name}}"] = t.max_ulp(fn, dt, n_random=10**5)
import fastconv
print(json.dumps(dict(kernel=fastconv.build_info()["activation_f32"], res=res)))
"""


@pytest.mark.parametrize("isa", ORDER)
def test_sweep_under_every_path(isa):
    detected = fastconv.build_info()["isa_detected"]
    if ORDER.index(isa) > ORDER.index(detected):
        pytest.skip(f"this machine has no {isa}")
    env = dict(os.environ, FASTCONV_ISA=isa)
    paths = [os.path.dirname(__file__), os.path.dirname(os.path.dirname(fastconv.__file__))]
    out = subprocess.run([sys.executable, "-c", _PROBE.format(paths=paths)], env=env,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    got = json.loads(out)
    width = {"generic": "libm", "avx2": "8", "avx512": "16"}[isa]
    assert got["kernel"] == f"f32_activation_{width}__{isa}"
    for dt in (np.float32, np.float64):
        for fn in FNS:
            err, at = got["res"][f"{fn}_{np.dtype(dt).name}"]
            assert err <= ULP_BOUND[dt][fn], f"{isa}: {fn} {np.dtype(dt)}: {err:.3f} ulp at {at!r}"


# --------------------------------------------------------------- activations: body vs tail

def bits_or_nan_equal(a, b, ui):
    """The same bits, or both NaN: which NaN (sign, payload) an instruction propagates when both
    operands are NaN is up to the compiler's operand order, as in torch."""
    return (a.view(ui) == b.view(ui)) | (np.isnan(a) & np.isnan(b))


SMOOTH = [("sigmoid", {}), ("tanh", {}), ("elu", {}), ("elu", {"alpha": -0.3}), ("gelu", {}),
          ("gelu", {"approximate": "tanh"})]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op, params", SMOOTH, ids=[o + "".join(f"_{v}" for v in p.values())
                                                   for o, p in SMOOTH])
def test_value_does_not_depend_on_position(op, params, dtype, rng):
    """An element gets the same bits whether it falls in the vector body or the tail, at any
    offset (alignment) and length of the array."""
    fi = np.finfo(dtype)
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, fi.tiny, -fi.smallest_subnormal, 1e-7, 30.0]
    x = np.concatenate([rng.uniform(-8, 8, 200), specials, rng.uniform(-8, 8, 40)]).astype(dtype)
    gy = rng.standard_normal(x.size).astype(dtype)
    fwd = getattr(fastconv, op)
    bwd = getattr(fastconv, op + "_backward")
    y_full = fwd(x, **params)
    saved = y_full if op in ("sigmoid", "tanh") else x
    g_full = bwd(gy, saved, **params)
    ui = np.uint32 if dtype == np.float32 else np.uint64
    for start in list(range(0, 18)) + [195, 200, 204]:
        for length in (1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33):
            sl = slice(start, start + length)
            y = fwd(x[sl], **params)
            g = bwd(gy[sl], saved[sl], **params)
            assert bits_or_nan_equal(y, y_full[sl], ui).all(), (start, length)
            assert bits_or_nan_equal(g, g_full[sl], ui).all(), (start, length)


# ------------------------------------------------------- activations over the whole range

# Max ulp of the activations (torch's formulas evaluated in the dtype) against the float64
# reference, over the sweep, where the exact result is a normal number. gelu and gelu_tanh only
# for x > -1: below, torch's formula x/2 (1 + erf(x/sqrt 2)) cancels (1 + erf -> 0), which costs
# relative accuracy on every path (libm's generic path too), not the approximations.
# Measured (AVX-512 = AVX2 / generic): float32 sigmoid 2.32 / 2.32, tanh 2.06 / 2.06,
# elu 0.83 / 0.75, gelu 3.42 / 2.37, gelu_tanh 3.18 / 4.24; float64 sigmoid 2, tanh 3, elu 1,
# gelu 3, gelu_tanh 4.
ACT_BOUND = {"sigmoid": 3.0, "tanh": 3.5, "elu": 1.5, "gelu": 4.5, "gelu_tanh": 5.0}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op", list(ACT_BOUND))
def test_activation_max_ulp_over_the_whole_range(op, dtype):
    from fastconv.reference import activation as ref
    x = sweep_inputs(dtype, n_random=2 * 10**5)
    name, kw = ("gelu", {"approximate": "tanh"}) if op == "gelu_tanh" else (op, {})
    y = getattr(fastconv, name)(x, **kw)
    with np.errstate(all="ignore"):
        exact = getattr(ref, name)(x.astype(np.float64), **kw)
    u = ulp_errors(y, exact, dtype)
    where = np.abs(exact) >= np.finfo(dtype).tiny
    if name == "gelu":
        where &= x > -1
    u = np.where(where, u, 0.0)
    i = int(np.argmax(u))
    assert u[i] <= ACT_BOUND[op], f"{op} {np.dtype(dtype)}: {u[i]:.3f} ulp at x={x[i]!r}"
