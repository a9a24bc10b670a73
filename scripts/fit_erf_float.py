"""Fits the float32 erf table of csrc/cpu/simd/vmath.h (ErfConst<float>::kTable) and reports the
float32 evaluation's max ulp error against math.erf. Run: python scripts/fit_erf_float.py

Interval 0, |x| < 1: erf(x) = x + x P(x^2), P of degree 6 (the existing fit, kept).
Intervals 1-6 split [1, ONE_AT) in equal parts: erf(|x|) = R_i(u), u = |x| S_i + O_i in [-1, 1],
R_i of degree 6, least squares on Chebyshev nodes (slightly widened for the boundary roundings).
Interval 7, |x| >= ONE_AT (erfc < 2^-25): 1.
"""
import math

import numpy as np

ONE_AT = float(np.float32(3.9192059))
INTERVALS = 6
DEGREE = 6
P_SMALL = np.array([7.933422603e-05, -8.034827770e-04, 5.191216711e-03, -2.685539797e-02,
                    1.128362566e-01, -3.761262894e-01, 1.283792257e-01], np.float32)  # highest first
erf = np.vectorize(math.erf)


def fit_intervals():
    width = (ONE_AT - 1.0) / INTERVALS
    rows = []
    for i in range(INTERVALS):
        lo, hi = 1.0 + i * width, 1.0 + (i + 1) * width
        scale, offset = np.float32(2 / (hi - lo)), np.float32(-(2 * lo / (hi - lo) + 1))
        nodes = np.cos(np.pi * (np.arange(4000) + 0.5) / 4000)
        a = np.concatenate([(nodes + 1) / 2 * (hi - lo) + lo, np.linspace(lo - 1e-4, lo, 50),
                            np.linspace(hi, hi + 1e-4, 50)]).astype(np.float32).astype(np.float64)
        u = a * np.float64(scale) + np.float64(offset)
        coef, *_ = np.linalg.lstsq(np.vander(u, DEGREE + 1), erf(a), rcond=None)  # highest first
        rows.append((scale, offset, coef.astype(np.float32)))
    return width, rows


def table(rows):
    """kTable: rows 0..DEGREE = the coefficient of t^(DEGREE-k) per interval, then S, then O."""
    t = np.zeros((DEGREE + 3, 8), np.float32)
    t[:DEGREE + 1, 0] = P_SMALL
    for i, (scale, offset, coef) in enumerate(rows, start=1):
        t[:DEGREE + 1, i] = coef
        t[DEGREE + 1, i], t[DEGREE + 2, i] = scale, offset
    t[DEGREE, 7] = 1.0
    return t


def fma(a, b, c):  # float32 FMA: one rounding of the exact a * b + c (exact in float64 here)
    return (a.astype(np.float64) * b + c).astype(np.float32)


def erf_float32(x, t, width):
    """The kernel's evaluation order (vmath.h verf, ErfConst<float>), in float32."""
    x = x.astype(np.float32)
    a = np.abs(x)
    q = np.minimum(np.float32(7), np.maximum(np.float32(0), fma(
        a, np.float32(1 / width), np.float32(1 - 1 / width))))
    i = np.trunc(q).astype(int)
    large = q >= 1
    u = fma(np.minimum(a, np.float32(4)), t[DEGREE + 1, i], t[DEGREE + 2, i])
    s = np.where(large, u, (x * x).astype(np.float32))
    h = t[0, i]
    for k in range(1, DEGREE + 1):
        h = fma(h, s, t[k, i])
    m = np.where(large, np.copysign(np.float32(1), x), x).astype(np.float32)
    return fma(m, h, np.where(large, np.float32(0), x).astype(np.float32))


def main():
    width, rows = fit_intervals()
    t = table(rows)
    print(f"kIndexScale = {np.float32(1 / width):.9e}f, kIndexOffset = {np.float32(1 - 1 / width):.9e}f")
    for row in t:
        print("{" + ", ".join(f"{v:.9e}f" for v in row) + "},")
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-4.5, 4.5, 2_000_000), np.linspace(0, 4.5, 400_001)]).astype(np.float32)
    exact = erf(x.astype(np.float64))
    ulp = np.abs(erf_float32(x, t, width) - exact) / np.spacing(np.abs(exact).astype(np.float32))
    big = np.abs(x) >= 1
    print(f"max ulp: |x| < 1 {ulp[~big].max():.3f}, |x| >= 1 {ulp[big].max():.3f}")


if __name__ == "__main__":
    main()
