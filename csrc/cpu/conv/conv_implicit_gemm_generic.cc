// Portable implicit-GEMM micro-kernels: the template of conv_implicit_gemm_kernel.h over the
// plain C++ 4-element vector of vec_generic.h, 4 rows x 2 vectors (fits the 16 baseline
// registers), and a 2 x 2 dot-product kernel for backward_weight.
#include "cpu/conv/conv_implicit_gemm.h"
#include "cpu/conv/conv_implicit_gemm_kernel.h"
#include "cpu/simd/transpose_rows.h"
#include "cpu/simd/vec_generic.h"

namespace fastconv::cpu::generic {

namespace {
template <typename T>
void frame_rows(const T* src, int64_t lds, int64_t rows, int64_t lo, int64_t hi, int64_t n,
                T* dst) {
  for (int64_t r = 0; r < rows; ++r, src += lds, dst += n) {
    for (int64_t i = 0; i < lo; ++i) dst[i] = T(0);
    for (int64_t i = lo; i < hi; ++i) dst[i] = src[i];
    for (int64_t i = hi; i < n; ++i) dst[i] = T(0);
  }
}
}  // namespace

FrameRowsFn<float> f32_frame_rows() { return frame_rows<float>; }
FrameRowsFn<double> f64_frame_rows() { return frame_rows<double>; }
TransposeRowsFn<float> f32_transpose_rows() {
  return simd::transpose_rows<simd::generic::Vec4<float>, float>;
}
TransposeRowsFn<double> f64_transpose_rows() {
  return simd::transpose_rows<simd::generic::Vec4<double>, double>;
}

// No more position-path tap tiles: wider or taller ones leave too few registers.
ImplicitTapKernels<float> f32_implicit_tap_kernels_pos() { return {{}, 0}; }
ImplicitTapKernels<double> f64_implicit_tap_kernels_pos() { return {{}, 0}; }

ImplicitTapKernel<float> f32_implicit_tap_kernel() {
  return simd::implicit_tap_kernel<simd::generic::Vec4<float>, 4, 2, float>(
      "f32_implicit_tap_4x8__generic");
}
ImplicitTapKernel<double> f64_implicit_tap_kernel() {
  return simd::implicit_tap_kernel<simd::generic::Vec4<double>, 4, 2, double>(
      "f64_implicit_tap_4x8__generic");
}

ImplicitTapKernel<float> f32_implicit_tap_kernel_narrow() {
  return simd::implicit_tap_kernel<simd::generic::Vec4<float>, 4, 1, float>(
      "f32_implicit_tap_4x4__generic");
}
ImplicitTapKernel<double> f64_implicit_tap_kernel_narrow() {
  return simd::implicit_tap_kernel<simd::generic::Vec4<double>, 4, 1, double>(
      "f64_implicit_tap_4x4__generic");
}

ImplicitDotKernel<float> f32_implicit_dot_kernel() {
  return simd::implicit_dot_kernel<simd::generic::Vec4<float>, 2, 2, float>(
      "f32_implicit_dot_2x2x4__generic");
}
ImplicitDotKernel<double> f64_implicit_dot_kernel() {
  return simd::implicit_dot_kernel<simd::generic::Vec4<double>, 2, 2, double>(
      "f64_implicit_dot_2x2x4__generic");
}

ImplicitGemmKernels<float> f32_implicit_gemm_kernels() {
  const auto k = simd::implicit_gemm_kernel<simd::generic::Vec4<float>, 4, 2, float>(
      "f32_implicit_gemm_4x8__generic");
  return {{k}, 1};
}
ImplicitGemmKernels<double> f64_implicit_gemm_kernels() {
  const auto k = simd::implicit_gemm_kernel<simd::generic::Vec4<double>, 4, 2, double>(
      "f64_implicit_gemm_4x8__generic");
  return {{k}, 1};
}

}  // namespace fastconv::cpu::generic
