// The SIMD activation kernels: one template per formula over a vector wrapper V
// (cpu/simd/vec_avx2.h, vec_avx512.h), instantiated in activation_avx2.cc / activation_avx512.cc
// and called by activation.cc on one contiguous chunk at a time (it does the threading).
// Include only from files compiled with an ISA's flags.
//
// The formulas and their order of operations are those of the scalar functors in activation.cc
// (torch's), with exp / expm1 / tanh / erf from cpu/simd/vmath.h. The tail of a chunk (fewer than
// V::kLanes elements) goes through the same vector code on a zero-padded copy, so an element's
// value never depends on where it falls in the array.
#pragma once

#include <cstdint>

#include "cpu/activation/activation.h"
#include "cpu/activation/activation_kernels.h"
#include "cpu/simd/vmath.h"

namespace fastconv::cpu::simd {

// The compare-and-select ops, with the scalar functors' comparisons (ordered: a NaN x fails
// every one of them), so NaN passes relu forward and -0 stays -0.
template <class V>
struct ReluV {
  using VT = typename V::type;
  VT fwd(VT x) const { return V::select(V::lt(x, V::zero()), V::zero(), x); }
  VT bwd(VT gy, VT x) const { return V::select(V::ge(V::zero(), x), V::zero(), gy); }  // x <= 0
};

template <class V>
struct LeakyReluV {
  using VT = typename V::type;
  using T = typename V::scalar;
  T slope;
  VT fwd(VT x) const { return V::select(V::gt(x, V::zero()), x, V::mul(x, V::set1(slope))); }
  VT bwd(VT gy, VT x) const {
    return V::select(V::gt(x, V::zero()), gy, V::mul(gy, V::set1(slope)));
  }
};

template <class V>
struct HardtanhV {
  using VT = typename V::type;
  using T = typename V::scalar;
  T lo, hi;
  VT fwd(VT x) const {
    const VT l = V::set1(lo), h = V::set1(hi);
    return V::select(V::lt(x, l), l, V::select(V::gt(x, h), h, x));
  }
  VT bwd(VT gy, VT x) const {  // gy where lo < x < hi
    return V::select(V::gt(x, V::set1(lo)), V::select(V::lt(x, V::set1(hi)), gy, V::zero()),
                     V::zero());
  }
};

template <class V>
struct SigmoidV {
  using VT = typename V::type;
  using T = typename V::scalar;
  VT fwd(VT x) const {
    const VT one = V::set1(T(1));
    return V::div(one, V::add(one, vexp<V>(V::bit_xor(V::set1(T(-0.0)), x))));
  }
  VT bwd(VT gy, VT y) const { return V::mul(V::mul(gy, V::sub(V::set1(T(1)), y)), y); }
};

template <class V>
struct TanhV {
  using VT = typename V::type;
  using T = typename V::scalar;
  VT fwd(VT x) const { return vtanh<V>(x); }
  VT bwd(VT gy, VT y) const {
    return V::mul(gy, V::sub(V::set1(T(1)), V::mul(y, y)));
  }
};

template <class V>
struct EluV {
  using VT = typename V::type;
  using T = typename V::scalar;
  T alpha;
  VT fwd(VT x) const {  // x >= 0 keeps elu(-0) = -0; NaN takes the expm1 branch
    return V::select(V::ge(x, V::zero()), x, V::mul(vexpm1<V>(x), V::set1(alpha)));
  }
  VT bwd(VT gy, VT x) const {
    return V::select(V::gt(x, V::zero()), gy,
                     V::mul(V::mul(gy, V::set1(alpha)), vexp<V>(x)));
  }
};

template <class V>
struct GeluV {
  using VT = typename V::type;
  using T = typename V::scalar;
  static constexpr T kAlpha = T(M_SQRT1_2);
  static constexpr T kBeta = T(M_2_SQRTPI * M_SQRT1_2 * 0.5);
  VT fwd(VT x) const {
    const VT e = verf<V>(V::mul(x, V::set1(kAlpha)));
    return V::mul(V::mul(x, V::set1(T(0.5))), V::add(V::set1(T(1)), e));
  }
  VT bwd(VT gy, VT x) const {
    const VT e = verf<V>(V::mul(x, V::set1(kAlpha)));
    const VT cdf = V::mul(V::set1(T(0.5)), V::add(V::set1(T(1)), e));
    const VT pdf = V::mul(V::set1(kBeta), vexp<V>(V::mul(V::mul(x, x), V::set1(T(-0.5)))));
    return V::mul(gy, V::add(cdf, V::mul(x, pdf)));
  }
};

template <class V>
struct GeluTanhV {
  using VT = typename V::type;
  using T = typename V::scalar;
  static constexpr T kBeta = T(M_SQRT2 * M_2_SQRTPI * 0.5);
  static constexpr T kKappa = T(0.044715);
  static VT inner(VT x) {
    const VT x3 = V::mul(V::mul(x, x), x);
    return V::mul(V::set1(kBeta), V::add(x, V::mul(V::set1(kKappa), x3)));
  }
  VT fwd(VT x) const {
    const VT t = vtanh<V>(inner(x));
    return V::mul(V::mul(V::set1(T(0.5)), x), V::add(V::set1(T(1)), t));
  }
  VT bwd(VT gy, VT x) const {
    const VT one = V::set1(T(1));
    const VT x_sq = V::mul(x, x);
    const VT t = vtanh<V>(inner(x));
    const VT left = V::mul(V::set1(T(0.5)), x);
    const VT left_derivative = V::mul(V::set1(T(0.5)), V::add(one, t));
    const VT inner_derivative =
        V::mul(V::set1(kBeta), V::add(one, V::mul(V::set1(T(3) * kKappa), x_sq)));
    const VT right_derivative =
        V::mul(V::mul(left, V::sub(one, V::mul(t, t))), inner_derivative);
    return V::mul(gy, V::add(left_derivative, right_derivative));
  }
};

// Stores the whole vectors of an elementwise map: dst[i .. i + L) = v for i = 0, L, ... < n
// rounded down, with non-temporal stores where `stream` and dst is vector-aligned (no
// read-for-ownership of an output far larger than the caches), fenced before it returns (another
// thread reads them next). Returns the first index left.
template <class V, class F>
int64_t store_vectors(typename V::scalar* dst, int64_t n, bool stream, F&& v) {
  constexpr int L = V::kLanes;
  int64_t i = 0;
  if (stream && reinterpret_cast<uintptr_t>(dst) % (L * sizeof(typename V::scalar)) == 0) {
    for (; i + L <= n; i += L) V::stream(dst + i, v(i));
    V::store_fence();
  } else {
    for (; i + L <= n; i += L) V::store(dst + i, v(i));
  }
  return i;
}

template <class V, class Op>
void map_forward_simd(const Op op, const typename V::scalar* x, typename V::scalar* y,
                      int64_t n, bool stream = false) {
  using T = typename V::scalar;
  constexpr int L = V::kLanes;
  const int64_t i =
      store_vectors<V>(y, n, stream, [&](int64_t j) { return op.fwd(V::load(x + j)); });
  if (i < n) {
    alignas(64) T buf[L] = {};
    for (int64_t j = i; j < n; ++j) buf[j - i] = x[j];
    V::store(buf, op.fwd(V::load(buf)));
    for (int64_t j = i; j < n; ++j) y[j] = buf[j - i];
  }
}

template <class V, class Op>
void map_backward_simd(const Op op, const typename V::scalar* gy,
                       const typename V::scalar* s, typename V::scalar* gx, int64_t n,
                       bool stream) {
  using T = typename V::scalar;
  constexpr int L = V::kLanes;
  const int64_t i = store_vectors<V>(
      gx, n, stream, [&](int64_t j) { return op.bwd(V::load(gy + j), V::load(s + j)); });
  if (i < n) {
    alignas(64) T g[L] = {}, v[L] = {};
    for (int64_t j = i; j < n; ++j) {
      g[j - i] = gy[j];
      v[j - i] = s[j];
    }
    V::store(g, op.bwd(V::load(g), V::load(v)));
    for (int64_t j = i; j < n; ++j) gx[j] = g[j - i];
  }
}

// Calls fn(functor) for op and returns true. relu, leaky_relu and hardtanh are here too: the
// baseline build vectorises their scalar loops with 16-byte SSE only, which ran relu on a
// cache-resident 1x64x112x112 tensor at half torch's speed (AVX-512).
template <class V, class Fn>
bool with_simd_activation(Activation op, const ActivationParams& p, Fn&& fn) {
  using T = typename V::scalar;
  switch (op) {
    case Activation::Relu: fn(ReluV<V>{}); return true;
    case Activation::LeakyRelu: fn(LeakyReluV<V>{static_cast<T>(p.param0)}); return true;
    case Activation::Hardtanh:
      fn(HardtanhV<V>{static_cast<T>(p.param0), static_cast<T>(p.param1)});
      return true;
    case Activation::Sigmoid: fn(SigmoidV<V>{}); return true;
    case Activation::Tanh: fn(TanhV<V>{}); return true;
    case Activation::Elu: fn(EluV<V>{static_cast<T>(p.param0)}); return true;
    case Activation::Gelu: fn(GeluV<V>{}); return true;
    case Activation::GeluTanh: fn(GeluTanhV<V>{}); return true;
    default: return false;
  }
}

template <class V>
bool activation_forward_chunk(Activation op, const ActivationParams& p,
                              const typename V::scalar* x, typename V::scalar* y, int64_t n,
                              bool stream) {
  return with_simd_activation<V>(op, p,
                                 [&](auto f) { map_forward_simd<V>(f, x, y, n, stream); });
}

template <class V>
bool activation_backward_chunk(Activation op, const ActivationParams& p,
                               const typename V::scalar* gy, const typename V::scalar* s,
                               typename V::scalar* gx, int64_t n, bool stream) {
  return with_simd_activation<V>(
      op, p, [&](auto f) { map_backward_simd<V>(f, gy, s, gx, n, stream); });
}

// y = f(x) elementwise for one of vmath.h's functions (the test-only _C._vmath).
template <class V>
void vmath_map(VMathFn fn, const typename V::scalar* x, typename V::scalar* y, int64_t n) {
  auto run = [&](auto f) {
    struct Op {
      decltype(f) g;
      typename V::type fwd(typename V::type v) const { return g(v); }
    };
    map_forward_simd<V>(Op{f}, x, y, n);
  };
  switch (fn) {
    case VMathFn::Exp: return run([](typename V::type v) { return vexp<V>(v); });
    case VMathFn::Expm1: return run([](typename V::type v) { return vexpm1<V>(v); });
    case VMathFn::Tanh: return run([](typename V::type v) { return vtanh<V>(v); });
    case VMathFn::Erf: return run([](typename V::type v) { return verf<V>(v); });
  }
}

// One ISA's kernel table from its vector wrapper V.
template <class V>
ActivationSimdKernels<typename V::scalar> activation_kernels(const char* name) {
  ActivationSimdKernels<typename V::scalar> k;
  k.name = name;
  k.forward = activation_forward_chunk<V>;
  k.backward = activation_backward_chunk<V>;
  k.vmath = vmath_map<V>;
  return k;
}

}  // namespace fastconv::cpu::simd
