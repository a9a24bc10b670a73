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
//   erf: |x| < 1: x + x * P(x^2); above, float: six polynomials in |x| up to 3.92 (then 1),
//     picked per lane by a table lookup; double: 1 - exp(-x^2) * Q(1/|x|) up to 6 (then 1);
//     fits in ErfConst; ~2 ulp.
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

namespace vmath_detail {

// expm1(x) for kExpm1Lo <= x <= 40 (float) / 700 (double), where 2^n - 1 is representable
// enough: 2^n expm1(r) + (2^n - 1), r and n from reduce_ln2. NaN in, NaN out.
template <class V>
inline typename V::type expm1_moderate(typename V::type x, typename V::type& n,
                                       typename V::type& em1r) {
  using T = typename V::scalar;
  typename V::type r;
  reduce_ln2<V>(x, n, r);
  // expm1(r) = r + r^2 (1/2 + r/6 + ...)
  em1r = V::fmadd(V::mul(r, r), taylor_tail<V>(r, 2), r);
  const auto p2 = V::exp2i(n);
  return V::fmadd(p2, em1r, V::sub(p2, V::set1(T(1))));
}

}  // namespace vmath_detail

template <class V>
inline typename V::type vexpm1(typename V::type x) {
  using T = typename V::scalar;
  using C = VMathConst<T>;
  const auto xin = x;
  x = V::min(V::set1(C::kExpHi), V::max(V::set1(C::kExpm1Lo), x));
  typename V::type n, em1r;
  const auto small = vmath_detail::expm1_moderate<V>(x, n, em1r);
  // For large n: (2^(n-1) (expm1(r) + 1)) * 2, which overflows to inf only where the result
  // does (2^n itself is not representable for n = 128 / 1024).
  const auto s = V::exp2i(V::sub(n, V::set1(T(1))));
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
  // 0 <= 2|x| <= 2 kTanhHi: the moderate range of expm1, exact at 0
  typename V::type n, em1r;
  const auto e = vmath_detail::expm1_moderate<V>(V::add(a, a), n, em1r);
  const auto t = V::div(e, V::add(e, V::set1(T(2))));
  return V::bit_or(t, V::bit_and(sign, x));
}

namespace vmath_detail {

template <typename T>
struct ErfConst;

// float: one polynomial of degree 6 per lane, its coefficients looked up from 8 intervals of
// |x| (V::lookup8): interval 0 is [0, 1), where erf(x) = x + x P(x^2) (P: least-squares fit,
// float64 on Chebyshev nodes); intervals 1-6 split [1, 3.9192059) in six equal parts, where
// erf(|x|) = R_i(u), u = |x| S_i + O_i in [-1, 1] (least-squares fits on Chebyshev nodes, error
// < 5e-9; scripts/fit_erf_float.py computes the table and its float32 ulp error); interval 7
// (from 3.9192059 on, where erfc(x) < 2^-25) is the constant 1. Row k of kTable is the
// coefficient of t^(6-k) per interval, then S and O. 9 FMAs and 9 lane permutes: the
// one-interval degree-15 fit it replaced took 25 FMAs, and gelu ran at 0.8x torch's speed.
template <>
struct ErfConst<float> {
  static constexpr bool kLookup = true;
  static constexpr int kDegree = 6;
  static constexpr float kIndexScale = 2.055353403e+00f;    // interval = 1 + (|x| - 1) / h
  static constexpr float kIndexOffset = -1.055353522e+00f;  // h = (3.9192059 - 1) / 6
  alignas(32) static constexpr float kTable[kDegree + 3][8] = {
      {7.933422603e-05f, 4.237716894e-06f, 2.049657951e-06f, -5.350691481e-07f,
       -3.898429384e-07f, -7.377062161e-08f, -6.542811182e-09f, 0.000000000e+00f},
      {-8.034827770e-04f, -4.057152546e-05f, 4.133206403e-06f, 9.477024832e-06f,
       2.832272685e-06f, 3.801354183e-07f, 2.698754642e-08f, 0.000000000e+00f},
      {5.191216711e-03f, -1.587034785e-05f, -1.706135081e-04f, -7.330185326e-05f,
       -1.388574492e-05f, -1.390826128e-06f, -7.849870798e-08f, 0.000000000e+00f},
      {-2.685539797e-02f, 2.413792303e-03f, 1.354517532e-03f, 3.515614662e-04f,
       4.948496644e-05f, 3.993215159e-06f, 1.896723916e-07f, 0.000000000e+00f},
      {1.128362566e-01f, -1.769669726e-02f, -5.795841571e-03f, -1.088776626e-03f,
       -1.212567804e-04f, -8.139038073e-06f, -3.323844737e-07f, 0.000000000e+00f},
      {-3.761262894e-01f, 5.851187184e-02f, 1.377322990e-02f, 2.019388368e-03f,
       1.844189683e-04f, 1.049093680e-05f, 3.717815105e-07f, 0.000000000e+00f},
      {1.283792257e-01f, 9.212942123e-01f, 9.855672717e-01f, 9.982777834e-01f,
       9.998678565e-01f, 9.999935031e-01f, 9.999998212e-01f, 1.000000000e+00f},
      // S_i, O_i (interval 0 evaluates in t = x^2, interval 7 at any t)
      {0.000000000e+00f, 4.110706806e+00f, 4.110706806e+00f, 4.110706806e+00f,
       4.110706806e+00f, 4.110706806e+00f, 4.110706806e+00f, 0.000000000e+00f},
      {0.000000000e+00f, -5.110706806e+00f, -7.110706806e+00f, -9.110707283e+00f,
       -1.111070728e+01f, -1.311070728e+01f, -1.511070728e+01f, 0.000000000e+00f}};
};

// double: erf(x) / x - 1 = P(x^2) on [0, 1] is the Taylor series to degree 18 in x^2 (terms
// below 5e-18); erfc(x) exp(x^2) = Q(u) on [1, 6], u = (1/x - 7/12) * 12/5 in [-1, 1], is
// mpmath's Chebyshev fit of degree 25 (error 3e-18 relative), as monomials in u.
template <>
struct ErfConst<double> {
  static constexpr bool kLookup = false;
  static constexpr double kP[19] = {
      4.763348040515068e-18,  -9.063970842808673e-17, 1.6342614095367152e-15,
      -2.7835162072109215e-14, 4.4632242632864775e-13, -6.7113668551641105e-12,
      9.422759064650411e-11,  -1.2290555301717928e-09, 1.4807192815879218e-08,
      -1.6365844691234924e-07, 1.6462114365889248e-06, -1.492565035840625e-05,
      0.00012055332981789664, -0.0008548327023450853, 0.005223977625442188,
      -0.026866170645131252,  0.11283791670955126,    -0.37612638903183754,
      0.1283791670955126};
  static constexpr double kQ[26] = {
      -1.5768862025723247e-10, 2.5468476986980347e-10, 7.524998639958394e-10,
      -1.7126459020885055e-09, 1.2721860114138617e-10, 7.54774855236345e-10,
      1.489723854536665e-09,  1.859081176056101e-09,  -1.894047143360001e-08,
      5.024743480562218e-08,  -9.525923867006882e-08, 1.2460614536136813e-07,
      1.9437886254096963e-09, -6.626710261591158e-07, 2.582847619754022e-06,
      -6.498275147459027e-06, 1.088270964169292e-05,  -4.046592518288805e-06,
      -5.528650342017051e-05, 0.00026560546597435597, -0.0007383867425245655,
      0.0010344322263817528,  0.0028211318978707835,  -0.030831050508430807,
      0.1653626900126146,     0.28972211632346423};
  static constexpr double kUScale = 2.4, kUOffset = -1.4;  // u = 2.4 / x - 1.4
  static constexpr double kHi = 6.0;  // erf(x) rounds to 1 above about 5.93
};

// Horner, highest degree first.
template <class V, int N>
inline typename V::type horner(const typename V::scalar (&c)[N], typename V::type t) {
  typename V::type p = V::set1(c[0]);
  for (int k = 1; k < N; ++k) p = V::fmadd(p, t, V::set1(c[k]));
  return p;
}

}  // namespace vmath_detail

template <class V>
inline typename V::type verf(typename V::type x) {
  using T = typename V::scalar;
  using E = vmath_detail::ErfConst<T>;
  const auto sign = V::set1(T(-0.0));
  const auto one = V::set1(T(1));
  const auto a = V::bit_andnot(sign, x);
  if constexpr (E::kLookup) {
    // q = the interval as a float in [0, 7] (min / max keep a NaN, which reads interval 0 and
    // comes out of x + x P(x^2) as x's NaN); the mask and the index both come from q.
    const auto q = V::min(V::set1(T(7)),
                          V::max(V::zero(), V::fmadd(a, V::set1(E::kIndexScale),
                                                     V::set1(E::kIndexOffset))));
    const auto i = V::to_index(q);
    const auto large = V::ge(q, one);
    const auto capped = V::min(V::set1(T(4)), a);  // interval 7's S = 0 would give inf * 0
    const auto u = V::fmadd(capped, V::lookup8(E::kTable[E::kDegree + 1], i),
                            V::lookup8(E::kTable[E::kDegree + 2], i));
    const auto t = V::select(large, u, V::mul(x, x));
    auto h = V::lookup8(E::kTable[0], i);
    for (int k = 1; k <= E::kDegree; ++k) h = V::fmadd(h, t, V::lookup8(E::kTable[k], i));
    // |x| >= 1: sign(x) R(u) (the sign OR-ed in: exact); below: x + x P(x^2) (odd, exact for
    // +-0 and subnormals).
    const auto m = V::select(large, V::bit_or(one, V::bit_and(sign, x)), x);
    return V::fmadd(m, h, V::select(large, V::zero(), x));
  } else {
    // |x| < 1: x + x P(x^2) (odd, exact for +-0 and subnormals)
    const auto small = V::fmadd(x, vmath_detail::horner<V>(E::kP, V::mul(x, x)), x);
    // 1 <= |x|: 1 - exp(-x^2) Q(u), clamped at kHi (erf rounds to 1 there), sign of x
    const auto ac = V::min(V::set1(E::kHi), V::max(one, a));  // NaN stays NaN
    const auto u = V::fmadd(V::div(one, ac), V::set1(E::kUScale), V::set1(E::kUOffset));
    const auto q = vmath_detail::horner<V>(E::kQ, u);
    // 0 - x^2, not a sign flip: a NaN x keeps its sign, so erf(NaN) is x's NaN on every path
    // and a NaN result does not depend on which NaN operand an instruction propagates.
    const auto e = vexp<V>(V::sub(V::zero(), V::mul(ac, ac)));
    const auto large = V::bit_or(V::sub(one, V::mul(e, q)), V::bit_and(sign, x));
    return V::select(V::lt(a, one), small, large);
  }
}

}  // namespace fastconv::cpu::simd
