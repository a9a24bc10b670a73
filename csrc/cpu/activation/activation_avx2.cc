// AVX2 + FMA activation kernels (compiled with FASTCONV_AVX2_FLAGS; called only where cpuid and the OS
// report them): the templates of activation_simd.h and cpu/simd/vmath.h.
#include "cpu/activation/activation_kernels.h"
#include "cpu/activation/activation_simd.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

ActivationSimdKernels<float> f32_activation_kernels() {
  return simd::activation_kernels<simd::avx2::F32>("f32_activation_8__avx2");
}
ActivationSimdKernels<double> f64_activation_kernels() {
  return simd::activation_kernels<simd::avx2::F64>("f64_activation_4__avx2");
}

}  // namespace fastconv::cpu::avx2
