// The per-ISA SIMD activation kernels (activation_simd.h instantiated in activation_avx2.cc and
// activation_avx512.cc), as a table chosen at run time by fastconv::isa() in activation.cc.
#pragma once

#include <cstdint>
#include <string>

#include "cpu/activation/activation.h"

namespace fastconv::cpu {

enum class VMathFn { Exp = 0, Expm1 = 1, Tanh = 2, Erf = 3 };

template <typename T>
struct ActivationSimdKernels {
  const char* name = nullptr;  // <dtype>_activation_<lanes>__<isa>; nullptr: no SIMD path
  // One contiguous chunk, single-threaded; false where the op has no SIMD kernel. stream: the
  // output's whole aligned vectors with non-temporal stores (fenced before it returns).
  bool (*forward)(Activation, const ActivationParams&, const T*, T*, int64_t, bool) = nullptr;
  bool (*backward)(Activation, const ActivationParams&, const T*, const T*, T*, int64_t,
                   bool) = nullptr;
  // y[i] = fn(x[i]) with cpu/simd/vmath.h (for the accuracy tests).
  void (*vmath)(VMathFn, const T*, T*, int64_t) = nullptr;
};

namespace avx2 {
ActivationSimdKernels<float> f32_activation_kernels();
ActivationSimdKernels<double> f64_activation_kernels();
}  // namespace avx2

namespace avx512 {
ActivationSimdKernels<float> f32_activation_kernels();
ActivationSimdKernels<double> f64_activation_kernels();
}  // namespace avx512

// The kernels of the ISA path in use (fastconv::isa()); all null on the generic path.
template <typename T>
ActivationSimdKernels<T> activation_simd_kernels();

// y[i] = fn(x[i]) on the ISA path in use: the SIMD functions of cpu/simd/vmath.h, or libm's on
// the generic path. fn: exp, expm1, tanh, erf (throws std::invalid_argument otherwise).
template <typename T>
void vmath_eval(const std::string& fn, const T* x, T* y, int64_t n);

}  // namespace fastconv::cpu
