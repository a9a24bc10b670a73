// AVX-512 depthwise row kernels (compiled with FASTCONV_AVX512_FLAGS; called only where cpuid and
// the OS report them): the templates of conv_depthwise_kernel.h with blocks of 4 vectors (8 for
// the plane path's row_full), and a non-temporal copy.
#include <immintrin.h>

#include "cpu/conv/conv_depthwise.h"
#include "cpu/conv/conv_depthwise_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

namespace {

// Element copies up to dst's first 64-byte line, whole lines with streaming stores, then the rest.
template <typename T, typename V>
void stream_copy(const T* src, int64_t len, T* dst) {
  constexpr int64_t L = V::kLanes;
  int64_t i = 0;
  for (; i < len && (reinterpret_cast<uintptr_t>(dst + i) & 63) != 0; ++i) dst[i] = src[i];
  for (; i + L <= len; i += L) V::stream(dst + i, V::load(src + i));
  for (; i < len; ++i) dst[i] = src[i];
  _mm_sfence();  // streaming stores are weakly ordered: done before another thread reads dst
}

struct F32S : simd::avx512::F32 {
  static void stream(float* p, type v) { _mm512_stream_ps(p, v); }
};
struct F64S : simd::avx512::F64 {
  static void stream(double* p, type v) { _mm512_stream_pd(p, v); }
};

}  // namespace

DepthwiseKernels<float> f32_depthwise_kernels() {
  return simd::depthwise_kernels<simd::avx512::F32, 4, 8, float>(
      "f32_depthwise_row_4x16__avx512", stream_copy<float, F32S>);
}
DepthwiseKernels<double> f64_depthwise_kernels() {
  return simd::depthwise_kernels<simd::avx512::F64, 4, 8, double>(
      "f64_depthwise_row_4x8__avx512", stream_copy<double, F64S>);
}

}  // namespace fastconv::cpu::avx512
