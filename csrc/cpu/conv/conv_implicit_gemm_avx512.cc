// AVX512 implicit-GEMM micro-kernels (compiled with FASTCONV_AVX512_FLAGS; called only where cpuid
// and the OS report them): 8 rows x 3 vectors and 4 x 6 (24 accumulators of the 32 registers), and
// 8 x 2 for small planes (fewer padded columns).
// backward_weight: a dot-product kernel of 4 output channels x 6 frame rows (24 accumulators), and
// a tap kernel of 8 taps x 2 vectors of output channels (12 x 2 measured slower: the 12 tap
// pointers do not fit the general registers). The forward position path also has tap tiles of
// 4 x 5, 6 x 4, 8 x 3 and 7 x 2 vectors (24 accumulators at most).
#include "cpu/conv/conv_implicit_gemm.h"
#include "cpu/conv/conv_implicit_gemm_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

ImplicitTapKernels<float> f32_implicit_tap_kernels_pos() {
  using V = simd::avx512::F32;
  return {{simd::implicit_tap_kernel<V, 4, 5, float>("f32_implicit_tap_4x80__avx512"),
           simd::implicit_tap_kernel<V, 6, 4, float>("f32_implicit_tap_6x64__avx512"),
           simd::implicit_tap_kernel<V, 8, 3, float>("f32_implicit_tap_8x48__avx512"),
           simd::implicit_tap_kernel<V, 7, 2, float>("f32_implicit_tap_7x32__avx512")},
          4};
}
ImplicitTapKernels<double> f64_implicit_tap_kernels_pos() {
  using V = simd::avx512::F64;
  return {{simd::implicit_tap_kernel<V, 4, 5, double>("f64_implicit_tap_4x40__avx512"),
           simd::implicit_tap_kernel<V, 6, 4, double>("f64_implicit_tap_6x32__avx512"),
           simd::implicit_tap_kernel<V, 8, 3, double>("f64_implicit_tap_8x24__avx512"),
           simd::implicit_tap_kernel<V, 7, 2, double>("f64_implicit_tap_7x16__avx512")},
          4};
}

ImplicitTapKernel<float> f32_implicit_tap_kernel() {
  return simd::implicit_tap_kernel<simd::avx512::F32, 8, 2, float>("f32_implicit_tap_8x32__avx512");
}
ImplicitTapKernel<double> f64_implicit_tap_kernel() {
  return simd::implicit_tap_kernel<simd::avx512::F64, 8, 2, double>(
      "f64_implicit_tap_8x16__avx512");
}

ImplicitTapKernel<float> f32_implicit_tap_kernel_narrow() {
  return simd::implicit_tap_kernel<simd::avx512::F32, 8, 1, float>("f32_implicit_tap_8x16__avx512");
}
ImplicitTapKernel<double> f64_implicit_tap_kernel_narrow() {
  return simd::implicit_tap_kernel<simd::avx512::F64, 8, 1, double>("f64_implicit_tap_8x8__avx512");
}

ImplicitDotKernel<float> f32_implicit_dot_kernel() {
  return simd::implicit_dot_kernel<simd::avx512::F32, 4, 6, float>(
      "f32_implicit_dot_4x6x16__avx512");
}
ImplicitDotKernel<double> f64_implicit_dot_kernel() {
  return simd::implicit_dot_kernel<simd::avx512::F64, 4, 6, double>(
      "f64_implicit_dot_4x6x8__avx512");
}

ImplicitGemmKernels<float> f32_implicit_gemm_kernels() {
  using V = simd::avx512::F32;
  return {{simd::implicit_gemm_kernel<V, 8, 3, float>("f32_implicit_gemm_8x48__avx512"),
           simd::implicit_gemm_kernel<V, 4, 6, float>("f32_implicit_gemm_4x96__avx512"),
           simd::implicit_gemm_kernel<V, 8, 2, float>("f32_implicit_gemm_8x32__avx512")},
          3};
}
ImplicitGemmKernels<double> f64_implicit_gemm_kernels() {
  using V = simd::avx512::F64;
  return {{simd::implicit_gemm_kernel<V, 8, 3, double>("f64_implicit_gemm_8x24__avx512"),
           simd::implicit_gemm_kernel<V, 4, 6, double>("f64_implicit_gemm_4x48__avx512"),
           simd::implicit_gemm_kernel<V, 8, 2, double>("f64_implicit_gemm_8x16__avx512")},
          3};
}

}  // namespace fastconv::cpu::avx512
