// Activation kernels: one elementwise map (forward: x -> y, backward: (gy, saved) -> gx) driven by
// one functor per activation, instantiated for float and double.
//
// Work is split into fixed chunks of kChunk elements, handed to OpenMP threads; every element is
// a pure function of its inputs, so the result never depends on the thread count. Loops inside a
// chunk run over restrict-qualified pointers (or one pointer when computing in place) so that the
// compiler vectorises the branch-free ops (relu, leaky_relu, hardtanh and every backward that
// needs no transcendental function); the others call libm's exp/tanh/erf per element.
//
// Edge cases follow torch's vectorised CPU kernels (see activation.h); the ones that matter:
//  - relu and hardtanh are comparisons, not max/min: NaN passes through, -0 stays -0.
//  - relu's gradient is 0 where x <= 0 (so 0 at exactly 0, and gy passes for NaN x).
//  - hardtanh's gradient passes only where min < x < max: 0 at both boundaries and for NaN x
//    (torch's scalar tail loop lets gy through for NaN; its vectorised body, used for all but
//    the last few elements of a tensor, gives 0; we follow the vectorised body).
//  - elu(-0) = -0; elu's gradient for x <= 0 or NaN is gy * alpha * exp(x) (NaN for NaN x, as torch's
//    vectorised body gives; its scalar tail gives gy).
#include "cpu/activation/activation.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/cpu_features.h"
#include "common/env.h"
#include "common/parallel.h"
#include "cpu/activation/activation_kernels.h"

namespace fastconv::cpu {

namespace {

constexpr int64_t kChunk = 1 << 14;  // elements per parallel work item (64 KiB of float)

// ---------------------------------------------------------------------------- the functors
// fwd(x) is the forward; bwd(gy, saved) is the backward. Constants are written as torch writes
// them: double expressions converted to T.

template <typename T>
struct Relu {
  T fwd(T x) const { return x < T(0) ? T(0) : x; }
  T bwd(T gy, T x) const { return x <= T(0) ? T(0) : gy; }
};

template <typename T>
struct LeakyRelu {
  T slope;
  T fwd(T x) const { return x > T(0) ? x : x * slope; }
  T bwd(T gy, T x) const { return x > T(0) ? gy : gy * slope; }
};

template <typename T>
struct Hardtanh {
  T lo, hi;
  T fwd(T x) const { return x < lo ? lo : (x > hi ? hi : x); }
  T bwd(T gy, T x) const { return (x > lo && x < hi) ? gy : T(0); }
};

template <typename T>
struct Sigmoid {
  T fwd(T x) const { return T(1) / (T(1) + std::exp(-x)); }
  T bwd(T gy, T y) const { return gy * (T(1) - y) * y; }  // saved = output
};

template <typename T>
struct Tanh {
  T fwd(T x) const { return std::tanh(x); }
  T bwd(T gy, T y) const { return gy * (T(1) - y * y); }  // saved = output
};

template <typename T>
struct Elu {
  T alpha;
  // x >= 0 (not x > 0) keeps elu(-0) = -0, as torch's; NaN takes the expm1 branch.
  T fwd(T x) const { return x >= T(0) ? x : std::expm1(x) * alpha; }
  T bwd(T gy, T x) const { return x > T(0) ? gy : gy * alpha * std::exp(x); }
};

template <typename T>
struct Gelu {
  static constexpr T kAlpha = T(M_SQRT1_2);
  static constexpr T kBeta = T(M_2_SQRTPI * M_SQRT1_2 * 0.5);  // 1 / sqrt(2 pi)
  T fwd(T x) const { return x * T(0.5) * (T(1) + std::erf(x * kAlpha)); }
  T bwd(T gy, T x) const {
    const T cdf = T(0.5) * (T(1) + std::erf(x * kAlpha));
    const T pdf = kBeta * std::exp(x * x * T(-0.5));
    return gy * (cdf + x * pdf);
  }
};

template <typename T>
struct GeluTanh {
  static constexpr T kBeta = T(M_SQRT2 * M_2_SQRTPI * 0.5);  // sqrt(2 / pi)
  static constexpr T kKappa = T(0.044715);
  T fwd(T x) const {
    const T inner = kBeta * (x + kKappa * (x * x * x));
    return T(0.5) * x * (T(1) + std::tanh(inner));
  }
  T bwd(T gy, T x) const {
    const T x_sq = x * x;
    const T inner = kBeta * (x + kKappa * (x * x * x));
    const T t = std::tanh(inner);
    const T left = T(0.5) * x;
    const T left_derivative = T(0.5) * (T(1) + t);
    const T inner_derivative = kBeta * (T(1) + T(3) * kKappa * x_sq);
    const T right_derivative = left * (T(1) - t * t) * inner_derivative;
    return gy * (left_derivative + right_derivative);
  }
};

// ------------------------------------------------------------------------------- the maps

template <typename F>
void for_each_chunk(int64_t n, F&& body) {
  const int64_t chunks = ceil_div(n, kChunk);
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    body(begin, std::min(n, begin + kChunk) - begin);
  }
}

template <typename T, typename Op>
void map_forward(const Op op, const T* x, T* y, int64_t n) {
  if (x == y) {
    for_each_chunk(n, [&](int64_t begin, int64_t len) {
      T* __restrict p = y + begin;
      for (int64_t i = 0; i < len; ++i) p[i] = op.fwd(p[i]);
    });
  } else {
    for_each_chunk(n, [&](int64_t begin, int64_t len) {
      const T* __restrict in = x + begin;
      T* __restrict out = y + begin;
      for (int64_t i = 0; i < len; ++i) out[i] = op.fwd(in[i]);
    });
  }
}

template <typename T, typename Op>
void map_backward(const Op op, const T* gy, const T* saved, T* gx, int64_t n) {
  for_each_chunk(n, [&](int64_t begin, int64_t len) {
    const T* __restrict g = gy + begin;
    const T* __restrict s = saved + begin;
    T* __restrict out = gx + begin;
    for (int64_t i = 0; i < len; ++i) out[i] = op.bwd(g[i], s[i]);
  });
}

// Calls fn(functor) with the functor of `op`: the one place an op name becomes code.
template <typename T, typename Fn>
void with_activation(Activation op, const ActivationParams& p, Fn&& fn) {
  const T p0 = static_cast<T>(p.param0), p1 = static_cast<T>(p.param1);
  switch (op) {
    case Activation::Relu: return fn(Relu<T>{});
    case Activation::LeakyRelu: return fn(LeakyRelu<T>{p0});
    case Activation::Hardtanh: return fn(Hardtanh<T>{p0, p1});
    case Activation::Sigmoid: return fn(Sigmoid<T>{});
    case Activation::Tanh: return fn(Tanh<T>{});
    case Activation::Elu: return fn(Elu<T>{p0});
    case Activation::Gelu: return fn(Gelu<T>{});
    case Activation::GeluTanh: return fn(GeluTanh<T>{});
  }
  throw std::invalid_argument("unknown activation");
}

}  // namespace

Activation parse_activation(const std::string& name) {
  if (name == "relu") return Activation::Relu;
  if (name == "leaky_relu") return Activation::LeakyRelu;
  if (name == "hardtanh") return Activation::Hardtanh;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "tanh") return Activation::Tanh;
  if (name == "elu") return Activation::Elu;
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_tanh") return Activation::GeluTanh;
  throw std::invalid_argument("unknown activation '" + name +
                              "'; expected one of: relu, leaky_relu, hardtanh, sigmoid, tanh, "
                              "elu, gelu, gelu_tanh");
}

template <typename T>
ActivationSimdKernels<T> activation_simd_kernels() {
#ifdef FASTCONV_X86_KERNELS
  switch (isa()) {
    case Isa::Avx512:
      if constexpr (sizeof(T) == 4) return avx512::f32_activation_kernels();
      else return avx512::f64_activation_kernels();
    case Isa::Avx2:
      if constexpr (sizeof(T) == 4) return avx2::f32_activation_kernels();
      else return avx2::f64_activation_kernels();
    case Isa::Generic: break;
  }
#endif
  return {};
}

template <typename T>
void vmath_eval(const std::string& fn, const T* x, T* y, int64_t n) {
  VMathFn f;
  T (*scalar)(T);
  if (fn == "exp") {
    f = VMathFn::Exp, scalar = [](T v) { return std::exp(v); };
  } else if (fn == "expm1") {
    f = VMathFn::Expm1, scalar = [](T v) { return std::expm1(v); };
  } else if (fn == "tanh") {
    f = VMathFn::Tanh, scalar = [](T v) { return std::tanh(v); };
  } else if (fn == "erf") {
    f = VMathFn::Erf, scalar = [](T v) { return std::erf(v); };
  } else {
    throw std::invalid_argument("unknown function '" + fn + "'; expected exp, expm1, tanh, erf");
  }
  const auto k = activation_simd_kernels<T>();
  for_each_chunk(n, [&](int64_t begin, int64_t len) {
    if (k.vmath) {
      k.vmath(f, x + begin, y + begin, len);
    } else {
      for (int64_t i = begin; i < begin + len; ++i) y[i] = scalar(x[i]);
    }
  });
}

// Whether the SIMD maps write an output of `bytes` with non-temporal stores: where it is far
// larger than the caches and not written in place (a streamed line is not read for ownership,
// so a map moves 2 or 3 arrays' bytes instead of 3 or 4). FASTCONV_ACTIVATION_STREAM=0/1
// forces it (A/B timings; read per call).
bool stream_output(int64_t bytes, bool in_place) {
  return !in_place &&
         env_switch("FASTCONV_ACTIVATION_STREAM").value_or(bytes > (int64_t(16) << 20));
}

template <typename T>
void activation_forward(Activation op, const ActivationParams& params, const T* x, T* y,
                        int64_t n) {
  const auto k = activation_simd_kernels<T>();
  // A call with n = 0 does nothing but say whether the op has a SIMD kernel.
  if (k.forward && k.forward(op, params, x, y, 0, false)) {
    const bool stream = stream_output(n * int64_t(sizeof(T)), x == y);
    for_each_chunk(n, [&](int64_t begin, int64_t len) {
      k.forward(op, params, x + begin, y + begin, len, stream);
    });
    return;
  }
  with_activation<T>(op, params, [&](auto f) { map_forward(f, x, y, n); });
}

template <typename T>
void activation_backward(Activation op, const ActivationParams& params, const T* grad_output,
                         const T* saved, T* grad_input, int64_t n) {
  const auto k = activation_simd_kernels<T>();
  if (k.backward && k.backward(op, params, grad_output, saved, grad_input, 0, false)) {
    const bool stream = stream_output(n * int64_t(sizeof(T)),
                                      grad_input == grad_output || grad_input == saved);
    for_each_chunk(n, [&](int64_t begin, int64_t len) {
      k.backward(op, params, grad_output + begin, saved + begin, grad_input + begin, len, stream);
    });
    return;
  }
  with_activation<T>(op, params,
                     [&](auto f) { map_backward(f, grad_output, saved, grad_input, n); });
}

template ActivationSimdKernels<float> activation_simd_kernels<float>();
template ActivationSimdKernels<double> activation_simd_kernels<double>();
template void vmath_eval<float>(const std::string&, const float*, float*, int64_t);
template void vmath_eval<double>(const std::string&, const double*, double*, int64_t);
template void activation_forward<float>(Activation, const ActivationParams&, const float*, float*,
                                        int64_t);
template void activation_forward<double>(Activation, const ActivationParams&, const double*,
                                         double*, int64_t);
template void activation_backward<float>(Activation, const ActivationParams&, const float*,
                                         const float*, float*, int64_t);
template void activation_backward<double>(Activation, const ActivationParams&, const double*,
                                          const double*, double*, int64_t);

}  // namespace fastconv::cpu
