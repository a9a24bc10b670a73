// AVX-512 Winograd transform kernels (compiled with FASTCONV_AVX512_FLAGS; called only where
// cpuid and the OS report them): conv_winograd_kernel.h's templates, one vector per 16 lanes
// (float) or two (double).
#include "cpu/conv/conv_winograd_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

WinogradKernels<float> f32_winograd_kernels(int m) {
  return simd::winograd_kernels<simd::avx512::F32, float>(
      m, "f32_winograd_f4x4_16__avx512", "f32_winograd_f3x3_16__avx512");
}
WinogradKernels<double> f64_winograd_kernels(int m) {
  return simd::winograd_kernels<simd::avx512::F64, double>(
      m, "f64_winograd_f4x4_16__avx512", "f64_winograd_f3x3_16__avx512");
}

}  // namespace fastconv::cpu::avx512
