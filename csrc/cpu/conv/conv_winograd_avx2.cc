// AVX2 Winograd transform kernels (compiled with FASTCONV_AVX2_FLAGS; called only where cpuid
// reports AVX2 and FMA): conv_winograd_kernel.h's templates on 256-bit vectors.
#include "cpu/conv/conv_winograd_kernel.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

WinogradKernels<float> f32_winograd_kernels(int m) {
  return simd::winograd_kernels<simd::avx2::F32, float>(
      m, "f32_winograd_f4x4_16__avx2", "f32_winograd_f3x3_16__avx2");
}
WinogradKernels<double> f64_winograd_kernels(int m) {
  return simd::winograd_kernels<simd::avx2::F64, double>(
      m, "f64_winograd_f4x4_16__avx2", "f64_winograd_f3x3_16__avx2");
}

}  // namespace fastconv::cpu::avx2
