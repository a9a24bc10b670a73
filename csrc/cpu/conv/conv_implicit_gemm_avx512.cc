// AVX512 implicit-GEMM micro-kernels (compiled with FASTCONV_AVX512_FLAGS; called only where cpuid
// and the OS report them): 8 rows x 3 vectors and 4 x 6 (24 accumulators of the 32 registers), and
// 8 x 2 for small planes (fewer padded columns).
// backward_weight: a dot-product kernel of 4 output channels x 6 frame rows (24 accumulators), and
// a tap kernel of 8 taps x 2 vectors of output channels (12 x 2 measured slower: the 12 tap
// pointers do not fit the general registers). The forward position path also has tap tiles of
// 4 x 5, 6 x 4, 8 x 3 and 7 x 2 vectors (24 accumulators at most).
#include "cpu/conv/conv_implicit_gemm.h"
#include "cpu/conv/conv_implicit_gemm_kernel.h"
#include "cpu/simd/transpose_rows.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

namespace {
// Lanes [a, b) of a mask of L lanes, a and b clamped to [0, L].
inline uint32_t lane_range(int64_t a, int64_t b, int64_t L) {
  a = a < 0 ? 0 : a > L ? L : a;
  b = b < 0 ? 0 : b > L ? L : b;
  return a >= b ? 0u : uint32_t(((uint64_t(1) << b) - 1) & ~((uint64_t(1) << a) - 1));
}

// One zero-masked load and one masked store per vector of a row. Short rows (up to 4 vectors)
// chunk-major: each chunk's masks computed once for all rows; longer rows one after the other.
template <typename T>
void frame_rows(const T* src, int64_t lds, int64_t rows, int64_t lo, int64_t hi, int64_t n,
                T* dst) {
  constexpr int64_t L = 64 / sizeof(T);
  const auto chunk = [&](int64_t j, int64_t r0, int64_t r1) {
    const uint32_t in = lane_range(lo - j, hi - j, L), out = lane_range(0, n - j, L);
    for (int64_t r = r0; r < r1; ++r) {
      if constexpr (sizeof(T) == 4) {
        _mm512_mask_storeu_ps(dst + r * n + j, __mmask16(out),
                              _mm512_maskz_loadu_ps(__mmask16(in), src + r * lds + j));
      } else {
        _mm512_mask_storeu_pd(dst + r * n + j, __mmask8(out),
                              _mm512_maskz_loadu_pd(__mmask8(in), src + r * lds + j));
      }
    }
  };
  if (n <= 4 * L) {
    for (int64_t j = 0; j < n; j += L) chunk(j, 0, rows);
  } else {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n; j += L) chunk(j, r, r + 1);
  }
}
}  // namespace

FrameRowsFn<float> f32_frame_rows() { return frame_rows<float>; }
FrameRowsFn<double> f64_frame_rows() { return frame_rows<double>; }
TransposeRowsFn<float> f32_transpose_rows() {
  return simd::transpose_rows<simd::avx512::F32, float>;
}
TransposeRowsFn<double> f64_transpose_rows() {
  return simd::transpose_rows<simd::avx512::F64, double>;
}

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
