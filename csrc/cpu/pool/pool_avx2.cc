// AVX2 pooling kernels: the plain C++ row kernels of pool_kernels.h compiled with
// FASTCONV_AVX2_FLAGS, so the compiler vectorises them at that width (called only where cpuid
// and the OS report the ISA), plus the global-average plane sums written with intrinsics
// (f32_plane_sum_4x8__avx2, f64_plane_sum_4x4__avx2): plane_sum's fixed order exactly (partials
// 0..31 / 0..15 in four registers, masked tail adding +0.0, the same pairwise tree), so the same
// bits as the generic path; and the float max pooling register tile (f32_max_pool_tile_8__avx2).
#include <immintrin.h>

#include <cstdint>
#include <limits>

#include "cpu/pool/pool_kernels.h"

namespace fastconv::cpu::avx2 {

namespace {

// Lane masks for a tail of t cells starting at lane `first` of a register of `lanes` lanes.
inline __m256i tail_mask32(int64_t t, int first) {
  const __m256i lane = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                        _mm256_set1_epi32(first));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(t)), lane);  // lane < t
}
inline __m256i tail_mask64(int64_t t, int first) {
  const __m256i lane = _mm256_add_epi64(_mm256_setr_epi64x(0, 1, 2, 3), _mm256_set1_epi64x(first));
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(t), lane);
}

// Max pooling, float: 8 interior output columns in one register, every tap of the window in
// order (rows, then kw), torch's rule as compare-and-blend: take where (v > best) | (v != v),
// candidate indices as int32 lanes. Stride 2: the even lanes of two loads (the second masked to
// the 7 cells the tile reads).
struct F32MaxTile8 {
  static constexpr int kCols = 8, kBlock = 8;  // (one register per call: n is always 8)
  template <bool kIdx>
  static void run(const float* xp, const int64_t* rows, int64_t nrows, const int64_t* koff,
                  int64_t KW, int64_t s, int64_t ow, int64_t /*n*/, float* y, int64_t* yi) {
    const __m256i step = s == 1 ? _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
                                : _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i seven = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0);
    __m256 best = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    __m256i bi = _mm256_add_epi32(_mm256_set1_epi32(int32_t(rows[0] + ow * s + koff[0])), step);
    for (int64_t r = 0; r < nrows; ++r)
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t c = rows[r] + ow * s + koff[kw];
        __m256 v;
        if (s == 1) {
          v = _mm256_loadu_ps(xp + c);
        } else {
          const __m256 a = _mm256_loadu_ps(xp + c), b = _mm256_maskload_ps(xp + c + 8, seven);
          // per 128-bit lane: (a0 a2 b0 b2 | a4 a6 b4 b6); then reorder the 64-bit pairs
          const __m256 e = _mm256_shuffle_ps(a, b, 0x88);
          v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
        }
        const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                         _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        best = _mm256_blendv_ps(best, v, take);
        if (kIdx)
          bi = _mm256_castps_si256(_mm256_blendv_ps(
              _mm256_castsi256_ps(bi),
              _mm256_castsi256_ps(_mm256_add_epi32(_mm256_set1_epi32(int32_t(c)), step)), take));
      }
    _mm256_storeu_ps(y + ow, best);
    if (kIdx) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(yi + ow),
                          _mm256_cvtepi32_epi64(_mm256_castsi256_si128(bi)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(yi + ow + 4),
                          _mm256_cvtepi32_epi64(_mm256_extracti128_si256(bi, 1)));
    }
  }
};

void f32_plane_sum_4x8(const float* x, int64_t count, int64_t n, const float*, float* sums) {
  for (int64_t q = 0; q < count; ++q) {
    const float* p = x + q * n;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
      a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
      a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
      a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
    }
    const int64_t t = n - i;
    if (t > 0) {  // masked loads read nothing outside the plane; masked lanes add +0.0
      a0 = _mm256_add_ps(a0, _mm256_maskload_ps(p + i, tail_mask32(t, 0)));
      a1 = _mm256_add_ps(a1, _mm256_maskload_ps(p + i + 8, tail_mask32(t, 8)));
      a2 = _mm256_add_ps(a2, _mm256_maskload_ps(p + i + 16, tail_mask32(t, 16)));
      a3 = _mm256_add_ps(a3, _mm256_maskload_ps(p + i + 24, tail_mask32(t, 24)));
    }
    const __m256 b0 = _mm256_add_ps(a0, a2), b1 = _mm256_add_ps(a1, a3);  // w = 16
    const __m256 b = _mm256_add_ps(b0, b1);                                // w = 8
    const __m128 c = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));  // w = 4
    const __m128 d = _mm_add_ps(c, _mm_movehl_ps(c, c));                   // w = 2
    const __m128 e = _mm_add_ss(d, _mm_shuffle_ps(d, d, 1));               // w = 1
    sums[q] = _mm_cvtss_f32(e);
  }
}

void f64_plane_sum_4x4(const double* x, int64_t count, int64_t n, const double*, double* sums) {
  for (int64_t q = 0; q < count; ++q) {
    const double* p = x + q * n;
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      a0 = _mm256_add_pd(a0, _mm256_loadu_pd(p + i));
      a1 = _mm256_add_pd(a1, _mm256_loadu_pd(p + i + 4));
      a2 = _mm256_add_pd(a2, _mm256_loadu_pd(p + i + 8));
      a3 = _mm256_add_pd(a3, _mm256_loadu_pd(p + i + 12));
    }
    const int64_t t = n - i;
    if (t > 0) {
      a0 = _mm256_add_pd(a0, _mm256_maskload_pd(p + i, tail_mask64(t, 0)));
      a1 = _mm256_add_pd(a1, _mm256_maskload_pd(p + i + 4, tail_mask64(t, 4)));
      a2 = _mm256_add_pd(a2, _mm256_maskload_pd(p + i + 8, tail_mask64(t, 8)));
      a3 = _mm256_add_pd(a3, _mm256_maskload_pd(p + i + 12, tail_mask64(t, 12)));
    }
    const __m256d b0 = _mm256_add_pd(a0, a2), b1 = _mm256_add_pd(a1, a3);  // w = 8
    const __m256d b = _mm256_add_pd(b0, b1);                                 // w = 4
    const __m128d c = _mm_add_pd(_mm256_castpd256_pd128(b), _mm256_extractf128_pd(b, 1));  // 2
    const __m128d d = _mm_add_sd(c, _mm_unpackhi_pd(c, c));                  // w = 1
    sums[q] = _mm_cvtsd_f64(d);
  }
}

}  // namespace

PoolKernels<float> f32_pool_kernels() {
  auto k = pool_kernels::make_pool_kernels<float>("f32_pool_rows__avx2");
  k.plane_sums = f32_plane_sum_4x8;
  k.max_forward = pool_kernels::max_pool_forward<float, F32MaxTile8>;
  return k;
}
PoolKernels<double> f64_pool_kernels() {
  auto k = pool_kernels::make_pool_kernels<double>("f64_pool_rows__avx2");
  k.plane_sums = f64_plane_sum_4x4;
  return k;
}

}  // namespace fastconv::cpu::avx2
