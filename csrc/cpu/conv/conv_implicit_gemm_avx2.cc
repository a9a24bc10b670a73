// AVX2 implicit-GEMM micro-kernels (compiled with FASTCONV_AVX2_FLAGS; called only where cpuid
// and the OS report them): 6 rows x 2 vectors and 4 x 3 (12 accumulators of the 16 registers), and
// 6 x 1 for small planes.
// backward_weight: a dot-product kernel of 2 output channels x 6 frame rows (12 accumulators).
#include "cpu/conv/conv_implicit_gemm.h"
#include "cpu/conv/conv_implicit_gemm_kernel.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

// No more position-path tap tiles: wider or taller ones leave too few registers.
ImplicitTapKernels<float> f32_implicit_tap_kernels_pos() { return {{}, 0}; }
ImplicitTapKernels<double> f64_implicit_tap_kernels_pos() { return {{}, 0}; }

ImplicitTapKernel<float> f32_implicit_tap_kernel() {
  return simd::implicit_tap_kernel<simd::avx2::F32, 6, 2, float>("f32_implicit_tap_6x16__avx2");
}
ImplicitTapKernel<double> f64_implicit_tap_kernel() {
  return simd::implicit_tap_kernel<simd::avx2::F64, 6, 2, double>("f64_implicit_tap_6x8__avx2");
}

ImplicitTapKernel<float> f32_implicit_tap_kernel_narrow() {
  return simd::implicit_tap_kernel<simd::avx2::F32, 8, 1, float>("f32_implicit_tap_8x8__avx2");
}
ImplicitTapKernel<double> f64_implicit_tap_kernel_narrow() {
  return simd::implicit_tap_kernel<simd::avx2::F64, 8, 1, double>("f64_implicit_tap_8x4__avx2");
}

ImplicitDotKernel<float> f32_implicit_dot_kernel() {
  return simd::implicit_dot_kernel<simd::avx2::F32, 2, 6, float>(
      "f32_implicit_dot_2x6x8__avx2");
}
ImplicitDotKernel<double> f64_implicit_dot_kernel() {
  return simd::implicit_dot_kernel<simd::avx2::F64, 2, 6, double>(
      "f64_implicit_dot_2x6x4__avx2");
}

ImplicitGemmKernels<float> f32_implicit_gemm_kernels() {
  using V = simd::avx2::F32;
  return {{simd::implicit_gemm_kernel<V, 6, 2, float>("f32_implicit_gemm_6x16__avx2"),
           simd::implicit_gemm_kernel<V, 4, 3, float>("f32_implicit_gemm_4x24__avx2"),
           simd::implicit_gemm_kernel<V, 6, 1, float>("f32_implicit_gemm_6x8__avx2")},
          3};
}
ImplicitGemmKernels<double> f64_implicit_gemm_kernels() {
  using V = simd::avx2::F64;
  return {{simd::implicit_gemm_kernel<V, 6, 2, double>("f64_implicit_gemm_6x8__avx2"),
           simd::implicit_gemm_kernel<V, 4, 3, double>("f64_implicit_gemm_4x12__avx2"),
           simd::implicit_gemm_kernel<V, 6, 1, double>("f64_implicit_gemm_6x4__avx2")},
          3};
}

}  // namespace fastconv::cpu::avx2
