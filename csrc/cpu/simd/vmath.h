// Vectorised exp, expm1, tanh and erf: templates over a vector wrapper V (cpu/simd/vec_avx2.h,
// vec_avx512.h: F32 / F64), one formula per function for float and double; the per-type
// constants live in VMathConst<T>. Include only from files compiled with an ISA's flags.
//
// Accuracy (measured by tests/test_vmath.py against a float64 / high-precision reference over
// every float32 exponent from 1e-40 to 1e38, both signs, and random values):
//   exp, expm1: range reduction x = n ln2 + r (ln2 split in two, FMA), |r| <= ln2/2, Taylor
//     polynomial of degree 7 (float) / 13 (double) for exp(r) (expm1(r) keeps r exact in its
//     leading term), scaled by 2^n built in the exponent bits, in two factors so that results
//     in the subnormal range are rounded once; ~1 ulp.
//   tanh(x) = sign(x) * e / (e + 2), e = expm1(2|x|): no cancellation for small |x|; ~2 ulp.
//   erf (float): |x| < 1: x + x * P(x^2); 1 <= |x| < 4: 1 - exp(-x^2) * Q(1/|x|), least-squares
//     polynomials fitted to erf / erfc on Chebyshev nodes; ~2 ulp.
//   erf (double): not vectorised yet -- erf_lanes calls std::erf per lane (correct, slow).
// Special values: NaN in -> NaN out; exp(+inf) = inf, exp(-inf) = 0, expm1(-inf) = -1,
// tanh(+-inf) = +-1, erf(+-inf) = +-1; +-0 and subnormal inputs keep their sign and value where
// the function is odd (expm1, tanh, erf); exp and expm1 overflow to inf and underflow through
// the subnormals to 0 as the correctly rounded result does.
#pragma once

#include <cmath>

namespace fastconv::cpu::simd {

template <typename T>
struct VMathConst;

template <>
struct VMathConst<float> {
  static constexpr float kLn2Hi = 0.693145751953125f;         // ln 2, high bits (exact * n)
  static constexpr float kLn2Lo = 1.428606765330187045e-06f;  // ln 2 - kLn2Hi
  static constexpr float kLog2e = 1.44269504088896341f;
  static constexpr float kExpLo = -110.0f;  // exp(x) rounds to 0 below about -103.97
  static constexpr float kExpHi = 89.0f;    // exp(x) overflows above about 88.72
  static constexpr float kExpm1Lo = -30.0f;  // expm1(x) rounds to -1 below about -17.3
  static constexpr float kBigN = 64.0f;      // n above which 2^n - 1 == 2^n
  static constexpr float kTanhHi = 10.0f;    // tanh(x) rounds to 1 above about 9.01
  static constexpr int kExpDegree = 7;
};

template <>
struct VMathConst<double> {
  static constexpr double kLn2Hi = 0.6931471803691238164902;  // 0x3fe62e42fee00000
  static constexpr double kLn2Lo = 1.908214929270587700e-10;  // ln 2 - kLn2Hi
  static constexpr double kLog2e = 1.4426950408889634074;
  static constexpr double kExpLo = -750.0;  // exp(x) rounds to 0 below about -745.13
  static constexpr double kExpHi = 710.0;   // exp(x) overflows above about 709.78
  static constexpr double kExpm1Lo = -45.0;  // expm1(x) rounds to -1 below about -37.4
  static constexpr double kBigN = 512.0;
  static constexpr double kTanhHi = 20.0;    // tanh(x) rounds to 1 above about 19.06
  static constexpr int kExpDegree = 13;
};

namespace vmath_detail {

// 1/k! for k = 0..13, rounded to T.
template <typename T>
constexpr T kInvFact[14] = {T(1.0),
                            T(1.0),
                            T(1.0 / 2),
                            T(1.0 / 6),
                            T(1.0 / 24),
                            T(1.0 / 120),
                            T(1.0 / 720),
                            T(1.0 / 5040),
                            T(1.0 / 40320),
                            T(1.0 / 362880),
                            T(1.0 / 3628800),
                            T(1.0 / 39916800),
                            T(1.0 / 479001600),
                            T(1.0 / 6227020800.0)};

// n = round(x / ln2), r = x - n ln2 (two FMAs with ln2 split in two).
template <class V>
inline void reduce_ln2(typename V::type x, typename V::type& n, typename V::type& r) {
  using T = typename V::scalar;
  using C = VMathConst<T>;
  n = V::round(V::mul(x, V::set1(C::kLog2e)));
  r = V::fmadd(n, V::set1(-C::kLn2Hi), x);
  r = V::fmadd(n, V::set1(-C::kLn2Lo), r);
}

// sum_{k=from}^{degree} r^(k-from) / k!  (Horner).
template <class V>
inline typename V::type taylor_tail(typename V::type r, int from) {
  using T = typename V::scalar;
  constexpr int d = VMathConst<T>::kExpDegree;
  typename V::type p = V::set1(kInvFact<T>[d]);
  for (int k = d - 1; k >= from; --k) p = V::fmadd(p, r, V::set1(kInvFact<T>[k]));
  return p;
}

}  // namespace vmath_detail

template <class V>
inline typename V::type vexp(typename V::type x) {
  using T = typename V::scalar;
  using C = VMathConst<T>;
  // Constant first: NaN x passes through the clamps (see the wrappers' min/max).
  x = V::min(V::set1(C::kExpHi), V::max(V::set1(C::kExpLo), x));
  typename V::type n, r;
  vmath_detail::reduce_ln2<V>(x, n, r);
  const auto p = vmath_detail::taylor_tail<V>(r, 0);
  // 2^n = 2^n1 * 2^n2, both factors normal, so a subnormal result is rounded once at the end.
  const auto n1 = V::round(V::mul(n, V::set1(T(0.5))));
  const auto n2 = V::sub(n, n1);
  return V::mul(V::mul(p, V::exp2i(n1)), V::exp2i(n2));
}

template <class V>
inline typename V::type vexpm1(typename V::type x) {
  using T = typename V::scalar;
  using C = VMathConst<T>;
  const auto xin = x;
  x = V::min(V::set1(C::kExpHi), V::max(V::set1(C::kExpm1Lo), x));
  typename V::type n, r;
  vmath_detail::reduce_ln2<V>(x, n, r);
  // expm1(r) = r + r^2 (1/2 + r/6 + ...)
  const auto em1r = V::fmadd(V::mul(r, r), vmath_detail::taylor_tail<V>(r, 2), r);
  // expm1(x) = 2^n expm1(r) + (2^n - 1); for large n, (2^(n-1) (expm1(r) + 1)) * 2, which
  // overflows to inf only where the result does.
  const auto s = V::exp2i(V::sub(n, V::set1(T(1))));
  const auto p2 = V::add(s, s);
  const auto small = V::fmadd(p2, em1r, V::sub(p2, V::set1(T(1))));
  const auto big = V::mul(V::mul(s, V::add(em1r, V::set1(T(1)))), V::set1(T(2)));
  const auto y = V::select(V::gt(n, V::set1(C::kBigN)), big, small);
  return V::select(V::eq(xin, V::zero()), xin, y);  // expm1(+-0) = +-0
}

template <class V>
inline typename V::type vtanh(typename V::type x) {
  using T = typename V::scalar;
  using C = VMathConst<T>;
  const auto sign = V::set1(T(-0.0));
  const auto a = V::min(V::set1(C::kTanhHi), V::bit_andnot(sign, x));  // NaN stays NaN
  const auto e = vexpm1<V>(V::add(a, a));
  const auto t = V::div(e, V::add(e, V::set1(T(2))));
  return V::bit_or(t, V::bit_and(sign, x));
}

namespace vmath_detail {

// Least-squares fits (float64, Chebyshev nodes, then rounded to float):
//   erf(x) / x - 1 = P(x^2) on [0, 1], and erfc(x) exp(x^2) = Q(1/x) on [1, 4].
constexpr float kErfP[7] = {7.933422603e-05f, -8.034827770e-04f, 5.191216711e-03f,
                            -2.685539797e-02f, 1.128362566e-01f, -3.761262894e-01f,
                            1.283792257e-01f};
constexpr float kErfcQ[10] = {2.822135761e-02f, -1.658525765e-01f, 4.047804475e-01f,
                              -4.909950495e-01f, 1.988273114e-01f, 2.524098754e-01f,
                              -3.838039637e-01f, 2.232181653e-02f, 5.615408421e-01f,
                              1.335152192e-04f};

template <class V, int N>
inline typename V::type horner(const float (&c)[N], typename V::type t) {
  typename V::type p = V::set1(c[0]);
  for (int k = 1; k < N; ++k) p = V::fmadd(p, t, V::set1(c[k]));
  return p;
}

template <class V>
inline typename V::type erf_f32(typename V::type x) {
  const auto sign = V::set1(-0.0f);
  const auto a = V::bit_andnot(sign, x);
  // |x| < 1: x + x P(x^2) (odd, exact for +-0 and subnormals)
  const auto small = V::fmadd(x, horner<V>(kErfP, V::mul(x, x)), x);
  // 1 <= |x|: 1 - exp(-x^2) Q(1/x), clamped at 4 (erf rounds to 1 there), sign of x
  const auto ac = V::min(V::set1(4.0f), V::max(V::set1(1.0f), a));  // NaN stays NaN
  const auto q = horner<V>(kErfcQ, V::div(V::set1(1.0f), ac));
  // 0 - x^2, not a sign flip: a NaN x keeps its sign, so erf(NaN) is x's NaN on every path
  // and a NaN result does not depend on which NaN operand an instruction propagates.
  const auto e = vexp<V>(V::sub(V::zero(), V::mul(ac, ac)));
  const auto large = V::bit_or(V::sub(V::set1(1.0f), V::mul(e, q)), V::bit_and(sign, x));
  return V::select(V::lt(a, V::set1(1.0f)), small, large);
}

}  // namespace vmath_detail

template <class V>
inline typename V::type verf(typename V::type x) {
  using T = typename V::scalar;
  if constexpr (sizeof(T) == 4) {
    return vmath_detail::erf_f32<V>(x);
  } else {  // TODO: a vectorised double erf; per lane std::erf meanwhile
    alignas(64) T buf[V::kLanes];
    V::store(buf, x);
    for (int i = 0; i < V::kLanes; ++i) buf[i] = std::erf(buf[i]);
    return V::load(buf);
  }
}

}  // namespace fastconv::cpu::simd
