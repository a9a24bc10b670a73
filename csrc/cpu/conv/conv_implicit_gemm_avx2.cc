// AVX2 implicit-GEMM micro-kernels (compiled with FASTCONV_AVX2_FLAGS; called only where cpuid
// and the OS report them): 6 rows x 2 vectors and 4 x 3 (12 accumulators of the 16 registers), and
// 6 x 1 for small planes.
// backward_weight: a dot-product kernel of 2 output channels x 6 frame rows (12 accumulators).
#include "cpu/conv/conv_implicit_gemm.h"
#include "cpu/conv/conv_implicit_gemm_kernel.h"
#include "cpu/simd/transpose_rows.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

namespace {
// Lanes [a, b) of L lanes (a and b clamped to [0, L]) as a vector mask of whole lanes.
template <typename T>
inline __m256i lane_range(int64_t a, int64_t b) {
  constexpr int64_t L = 32 / sizeof(T);
  a = a < 0 ? 0 : a > L ? L : a;
  b = b < 0 ? 0 : b > L ? L : b;
  if constexpr (sizeof(T) == 4) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(int(a) - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(int(b)), idx));
  } else {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_and_si256(_mm256_cmpgt_epi64(idx, _mm256_set1_epi64x(a - 1)),
                            _mm256_cmpgt_epi64(_mm256_set1_epi64x(b), idx));
  }
}

// A masked load per vector of a row (no fault on masked lanes), a plain store where the whole
// vector lies in the row (masked stores are slow on AMD), masked at the row's end.
template <typename T>
void frame_rows(const T* src, int64_t lds, int64_t rows, int64_t lo, int64_t hi, int64_t n,
                T* dst) {
  constexpr int64_t L = 32 / sizeof(T);
  for (int64_t j = 0; j < n; j += L) {
    const __m256i in = lane_range<T>(lo - j, hi - j);
    const bool whole = j + L <= n;
    const __m256i out = lane_range<T>(0, n - j);
    for (int64_t r = 0; r < rows; ++r) {
      T* d = dst + r * n + j;
      const T* s = src + r * lds + j;
      if constexpr (sizeof(T) == 4) {
        const __m256 v = _mm256_maskload_ps(s, in);
        if (whole) _mm256_storeu_ps(d, v); else _mm256_maskstore_ps(d, out, v);
      } else {
        const __m256d v = _mm256_maskload_pd(s, in);
        if (whole) _mm256_storeu_pd(d, v); else _mm256_maskstore_pd(d, out, v);
      }
    }
  }
}
}  // namespace

FrameRowsFn<float> f32_frame_rows() { return frame_rows<float>; }
FrameRowsFn<double> f64_frame_rows() { return frame_rows<double>; }
TransposeRowsFn<float> f32_transpose_rows() {
  return simd::transpose_rows<simd::avx2::F32, float>;
}
TransposeRowsFn<double> f64_transpose_rows() {
  return simd::transpose_rows<simd::avx2::F64, double>;
}

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
