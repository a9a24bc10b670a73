// AVX2 + FMA micro-kernels (compiled with FASTCONV_AVX2_FLAGS; called only where cpuid reports
// both): 6 rows x 2 vectors, 12 accumulator registers of the 16.
#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemm_simd_kernel.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

namespace {

// The wrappers (their stream() serves TileEpilogue::stream) plus the dot kernel's lane sum
// (a fixed halving tree: high half + low half until one lane is left). and masked load of a tail.
struct F32 : simd::avx2::F32 {
  // 12 accumulators + 4 vectors of the long side + 1 of the short side: all 16 registers
  static constexpr int kDotRows = 4, kDotCols = 3;
  static float reduce_add(type v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static type load_first(const float* p, int64_t n) {  // lanes < n: sign bit set
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), lanes));
  }
};
struct F64 : simd::avx2::F64 {
  // 12 accumulators + 4 vectors of the long side + 1 of the short side: all 16 registers
  static constexpr int kDotRows = 4, kDotCols = 3;
  static double reduce_add(type v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
  static type load_first(const double* p, int64_t n) {
    const __m256i lanes = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_maskload_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), lanes));
  }
};

}  // namespace

MicroKernel<float> f32_micro_kernel() {
  return simd::simd_micro_kernel<F32, 6, 2, float>("f32_gemm_6x16__avx2");
}
MicroKernel<double> f64_micro_kernel() {
  return simd::simd_micro_kernel<F64, 6, 2, double>("f64_gemm_6x8__avx2");
}

}  // namespace fastconv::cpu::avx2
