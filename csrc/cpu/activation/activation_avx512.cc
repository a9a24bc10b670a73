// AVX-512 activation kernels (compiled with FASTCONV_AVX512_FLAGS; called only where cpuid and the OS
// report them): the templates of activation_simd.h and cpu/simd/vmath.h.
#include "cpu/activation/activation_kernels.h"
#include "cpu/activation/activation_simd.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

ActivationSimdKernels<float> f32_activation_kernels() {
  return simd::activation_kernels<simd::avx512::F32>("f32_activation_16__avx512");
}
ActivationSimdKernels<double> f64_activation_kernels() {
  return simd::activation_kernels<simd::avx512::F64>("f64_activation_8__avx512");
}

}  // namespace fastconv::cpu::avx512
