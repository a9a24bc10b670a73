// AVX-512 pooling kernels: the plain C++ row kernels of pool_kernels.h compiled with
// FASTCONV_AVX512_FLAGS, so the compiler vectorises them at that width (called only where cpuid
// and the OS report the ISA), plus the global-average plane sums written with intrinsics
// (f32_plane_sum_2x16__avx512, f64_plane_sum_2x8__avx512): plane_sum's fixed order exactly
// (partials 0..31 / 0..15 in two registers, masked tail adding +0.0, the same pairwise tree), so
// the same bits as the generic path; and the float max pooling register tile
// (f32_max_pool_tile_16__avx512) and average pooling gradient tile (f32_avg_pool_grad_tile_16__avx512),
// below.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "cpu/pool/pool_kernels.h"

namespace fastconv::cpu::avx512 {

namespace {

// Upper 256 bits (the zero-masked extract: the unmasked one passes GCC 12 an undefined
// vector and trips -Wmaybe-uninitialized).
// (GCC 12's _mm512_castpd512_pd256 is built the same way: the lower half likewise.)
inline __m256d upper_half(__m512d a) { return _mm512_maskz_extractf64x4_pd(0xF, a, 1); }
inline __m256d lower_half(__m512d a) { return _mm512_maskz_extractf64x4_pd(0xF, a, 0); }
inline __m256 lower_half(__m512 a) { return _mm256_castpd_ps(lower_half(_mm512_castps_pd(a))); }
inline __m256 upper_half(__m512 a) {
  return _mm256_castpd_ps(upper_half(_mm512_castps_pd(a)));
}

// Lanes j < 16 with 0 <= base + j < W.
inline __mmask16 lanes_inside(int64_t base, int64_t W) {
  const int64_t lo = std::clamp<int64_t>(-base, 0, 16), hi = std::clamp<int64_t>(W - base, 0, 16);
  return hi <= lo ? __mmask16(0) : __mmask16(((1u << hi) - 1) & ~((1u << lo) - 1));
}

// Max pooling, float: up to 64 interior output columns as 4 registers (independent
// compare-and-blend chains; a block of n columns, 16 <= n <= 64, puts its last register at
// n - 16, recomputing some columns: the same values, written again), every tap of the window
// in order (rows, then kw), torch's rule as compare-and-blend: take where (v > best) | (v != v)
// (ordered greater-than, unordered self-compare), candidate indices as int32 lanes. Stride 2
// picks the even lanes of two loads (the second masked to the 15 cells a register reads).
struct F32MaxTile16 {
  static constexpr int kCols = 16, kBlock = 64;

  template <bool kIdx, int NV>
  static void block(const float* xp, const int64_t* rows, int64_t nrows, const int64_t* koff,
                    int64_t KW, int64_t s, int64_t ow, int64_t n, float* y, int64_t* yi) {
    const __m512i step = s == 1 ? _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                                    13, 14, 15)
                                : _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
                                                    24, 26, 28, 30);
    int64_t at[NV];
    __m512 best[NV];
    __m512i bi[NV];
    for (int v = 0; v < NV; ++v) {
      at[v] = ow + std::min<int64_t>(16 * v, n - 16);
      best[v] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
      bi[v] = _mm512_add_epi32(_mm512_set1_epi32(int32_t(rows[0] + at[v] * s + koff[0])), step);
    }
    for (int64_t r = 0; r < nrows; ++r)
      for (int64_t kw = 0; kw < KW; ++kw)
        for (int v = 0; v < NV; ++v) {
          const int64_t c = rows[r] + at[v] * s + koff[kw];
          const __m512 x =
              s == 1 ? _mm512_loadu_ps(xp + c)
                     : _mm512_permutex2var_ps(_mm512_loadu_ps(xp + c), step,
                                              _mm512_maskz_loadu_ps(0x7FFF, xp + c + 16));
          const __mmask16 take = _mm512_cmp_ps_mask(x, best[v], _CMP_GT_OQ) |
                                 _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
          best[v] = _mm512_mask_mov_ps(best[v], take, x);
          if (kIdx)
            bi[v] = _mm512_mask_mov_epi32(bi[v], take,
                                          _mm512_add_epi32(_mm512_set1_epi32(int32_t(c)), step));
        }
    for (int v = 0; v < NV; ++v) {
      _mm512_storeu_ps(y + at[v], best[v]);
      if (kIdx) {
        // (zero-masked forms throughout: GCC 12's unmasked ones trip -Wmaybe-uninitialized)
        const __m256i lo = _mm512_maskz_extracti64x4_epi64(0xF, bi[v], 0);
        const __m256i hi = _mm512_maskz_extracti64x4_epi64(0xF, bi[v], 1);
        _mm512_storeu_si512(yi + at[v], _mm512_maskz_cvtepi32_epi64(0xFF, lo));
        _mm512_storeu_si512(yi + at[v] + 8, _mm512_maskz_cvtepi32_epi64(0xFF, hi));
      }
    }
  }

  // Separable max pooling's stride-2 row maxima (pool_kernels.h row_maxima<float, 2, K>):
  // hm[j] = fold of src[2 j + k], k < K, for j < n, 16 outputs per step from the even / odd
  // lanes of two loads (and of two loads 2 cells on for the third tap); the last step masked
  // (a scalar tail's data-dependent branches made the whole pass 2x slower). The same
  // compare-and-blend as block: the same bits as max_step.
  template <int K>
  static void row_maxima_s2(const float* __restrict src, float* __restrict hm, int64_t n) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    auto step = [](__m512 a, __m512 v) {
      const __mmask16 take = _mm512_cmp_ps_mask(v, a, _CMP_GT_OQ) |
                             _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      return _mm512_mask_mov_ps(a, take, v);
    };
    for (int64_t j = 0; j < n; j += 16) {
      // outputs j .. j + r - 1 read the cells src[2 j .. end), all inside the row (the caller's
      // interior); each load is masked to those of its 16 cells
      const int64_t r = std::min<int64_t>(16, n - j), end = 2 * (j + r - 1) + K;
      const float* c = src + 2 * j;
      const __m512 lo = _mm512_maskz_loadu_ps(lanes_inside(2 * j, end), c);
      const __m512 hi = _mm512_maskz_loadu_ps(lanes_inside(2 * j + 16, end), c + 16);
      __m512 a = _mm512_permutex2var_ps(lo, even, hi);
      a = step(a, _mm512_permutex2var_ps(lo, odd, hi));
      if constexpr (K == 3) {
        const __m512 lo2 = _mm512_maskz_loadu_ps(lanes_inside(2 * j + 2, end), c + 2);
        const __m512 hi2 = _mm512_maskz_loadu_ps(lanes_inside(2 * j + 18, end), c + 18);
        a = step(a, _mm512_permutex2var_ps(lo2, even, hi2));
      }
      _mm512_mask_storeu_ps(hm + j, lanes_inside(0, r), a);
    }
  }

  // Interior columns [ow, ow + n), 16 <= n <= kBlock.
  template <bool kIdx>
  static void run(const float* xp, const int64_t* rows, int64_t nrows, const int64_t* koff,
                  int64_t KW, int64_t s, int64_t ow, int64_t n, float* y, int64_t* yi) {
    switch ((n + 15) / 16) {
      case 1: return block<kIdx, 1>(xp, rows, nrows, koff, KW, s, ow, n, y, yi);
      case 2: return block<kIdx, 2>(xp, rows, nrows, koff, KW, s, ow, n, y, yi);
      case 3: return block<kIdx, 3>(xp, rows, nrows, koff, KW, s, ow, n, y, yi);
      default: return block<kIdx, 4>(xp, rows, nrows, koff, KW, s, ow, n, y, yi);
    }
  }
};

// Average pooling gradient, float: 16 interior output columns' deltas added into every tap of
// their windows (rows, then kw), as avg_grad_tile does. Stride 2: the deltas spread to the even
// lanes of 31 cells (odd lanes add +0.0, which changes no gradient cell: they start at +0.0 and
// never become -0.0), the second half masked to the 15 cells the tile touches.
struct F32AvgGradTile16 {
  static constexpr int kCols = 16;
  static void run(float* gxp, const int64_t* rows, int64_t nrows, const int64_t* koff,
                  int64_t KW, int64_t s, int64_t ow, const float* delta) {
    const __m512 d = _mm512_loadu_ps(delta + ow);
    const __m512 zero = _mm512_setzero_ps();
    // lanes 2j <- d[j] (j < 8) and d[j + 8]; odd lanes <- 0 (index 16 picks zero's lane 0)
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16,
                                             7, 16);
    const __m512i hi_idx = _mm512_setr_epi32(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14,
                                             16, 15, 16);
    const __m512 d0 = _mm512_permutex2var_ps(d, lo_idx, zero);
    const __m512 d1 = _mm512_permutex2var_ps(d, hi_idx, zero);
    // kw outer, rows inner: consecutive read-modify-writes touch different rows, so a load
    // never waits on the overlapping store just before it; each cell still gets its terms in kw
    // order (a cell lies in one row).
    for (int64_t kw = 0; kw < KW; ++kw)
      for (int64_t r = 0; r < nrows; ++r) {
        float* dst = gxp + (rows[r] + ow * s + koff[kw]);
        if (s == 1) {
          _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_loadu_ps(dst), d));
        } else {
          _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_loadu_ps(dst), d0));
          _mm512_mask_storeu_ps(dst + 16, 0x7FFF,
                                _mm512_add_ps(_mm512_maskz_loadu_ps(0x7FFF, dst + 16), d1));
        }
      }
  }
};

// Whole rows of a window sum, float, borders included: up to 64 output columns as 4 registers
// (independent add chains), every tap (rows[r], then t) as loads masked to the cells inside
// the row (window_row_masks). A masked-off cell reads as +0.0, and adding +0.0 changes no sum
// that starts at +0.0 (such a sum is never -0.0), so each column gets the scalar definition's
// sum, in its order (rows, then taps), with the padding skipped. Serves average pooling forward
// (stride 1 or 2, each column divided by its own divisor) and the gather form of its gradient
// (stride 1: gx[iw] = sum over the output rows, then ow ascending, of delta[ow], ow = iw + koff[t]).
struct F32WindowRows16 {
  static constexpr int kCols = 16, kBlock = 64;

  template <int S, int NV>
  static void block(const float* src, const int64_t* rows, int64_t nrows, const int64_t* koff,
                    int64_t KT, int64_t ow, int64_t n, const uint32_t* mk, const float* div,
                    float* y) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    __m512 acc[NV];
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
    for (int64_t r = 0; r < nrows; ++r) {
      const float* row = src + rows[r] + ow * S;
      for (int64_t t = 0; t < KT; ++t)
        for (int v = 0; v < NV; ++v) {
          const uint32_t m = mk[v * KT + t];
          const float* c = row + 16 * S * v + koff[t];
          if (S == 1) {
            acc[v] = _mm512_add_ps(acc[v], _mm512_maskz_loadu_ps(__mmask16(m), c));
          } else {
            acc[v] = _mm512_add_ps(
                acc[v], _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(__mmask16(m), c), even,
                                               _mm512_maskz_loadu_ps(__mmask16(m >> 16), c + 16)));
          }
        }
    }
    for (int v = 0; v < NV; ++v) {
      const int64_t left = n - 16 * v;
      const __mmask16 out = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
      __m512 a = acc[v];
      if (div) a = _mm512_maskz_div_ps(out, a, _mm512_maskz_loadu_ps(out, div + ow + 16 * v));
      _mm512_mask_storeu_ps(y + ow + 16 * v, out, a);
    }
  }

  // y[ow + j] = (sum_r sum_t src[rows[r] + (ow + j) * s + koff[t]]) / div[ow + j] for j < n <=
  // kBlock (div null: no division); s is 1 or 2; mk: window_row_masks from tile ow / 16.
  static void run(const float* src, const int64_t* rows, int64_t nrows, const int64_t* koff,
                  int64_t KT, int64_t s, int64_t ow, int64_t n, const uint32_t* mk,
                  const float* div, float* y) {
    const int nv = int((n + 15) / 16);
#define FASTCONV_WINDOW_BLOCK(S, NV) \
  return block<S, NV>(src, rows, nrows, koff, KT, ow, n, mk, div, y)
    if (s == 1) {
      switch (nv) {
        case 1: FASTCONV_WINDOW_BLOCK(1, 1);
        case 2: FASTCONV_WINDOW_BLOCK(1, 2);
        case 3: FASTCONV_WINDOW_BLOCK(1, 3);
        default: FASTCONV_WINDOW_BLOCK(1, 4);
      }
    }
    switch (nv) {
      case 1: FASTCONV_WINDOW_BLOCK(2, 1);
      case 2: FASTCONV_WINDOW_BLOCK(2, 2);
      case 3: FASTCONV_WINDOW_BLOCK(2, 3);
      default: FASTCONV_WINDOW_BLOCK(2, 4);
    }
#undef FASTCONV_WINDOW_BLOCK
  }

  // Gradient gather of kernel 2, stride 2 along W: gx[iw + j] = sum_r delta[rows[r] + ow_j],
  // ow_j = (iw + j + pad) / 2 (the one window holding the cell; none where ow_j >= OW), j < n.
  static void run_pairs(const float* delta, const int64_t* rows, int64_t nrows, int64_t pad,
                        int64_t OW, int64_t iw, int64_t n, float* gx) {
    const int64_t first = (iw + pad) >> 1;
    const __m512i dup = ((iw + pad) & 1) == 0
        ? _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)
        : _mm512_setr_epi32(0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8);
    const __mmask16 m = lanes_inside(first, OW);
    __m512 acc = _mm512_setzero_ps();
    if (m != 0)
      for (int64_t r = 0; r < nrows; ++r)
        acc = _mm512_add_ps(
            acc, _mm512_maskz_permutexvar_ps(0xFFFF, dup,
                                                 _mm512_maskz_loadu_ps(m, delta + rows[r] + first)));
    const __mmask16 out = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
    _mm512_mask_storeu_ps(gx + iw, out, acc);
  }
};

void f32_plane_sum_2x16(const float* x, int64_t count, int64_t n, const float*, float* sums) {
  for (int64_t q = 0; q < count; ++q) {
    const float* p = x + q * n;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p + i));
      a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + i + 16));
    }
    const int64_t tail = n - i;
    if (tail > 0) {
      const __mmask16 m0 = tail >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << tail) - 1);
      const __mmask16 m1 = tail > 16 ? __mmask16((1u << (tail - 16)) - 1) : __mmask16(0);
      a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(m0, p + i));
      a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(m1, p + i + 16));
    }
    const __m512 a = _mm512_add_ps(a0, a1);                                 // w = 16
    const __m256 b = _mm256_add_ps(lower_half(a), upper_half(a));  // w = 8
    const __m128 c = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));  // w = 4
    const __m128 d = _mm_add_ps(c, _mm_movehl_ps(c, c));                    // w = 2
    const __m128 e = _mm_add_ss(d, _mm_shuffle_ps(d, d, 1));                // w = 1
    sums[q] = _mm_cvtss_f32(e);
  }
}

void f64_plane_sum_2x8(const double* x, int64_t count, int64_t n, const double*, double* sums) {
  for (int64_t q = 0; q < count; ++q) {
    const double* p = x + q * n;
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      a0 = _mm512_add_pd(a0, _mm512_loadu_pd(p + i));
      a1 = _mm512_add_pd(a1, _mm512_loadu_pd(p + i + 8));
    }
    const int64_t tail = n - i;
    if (tail > 0) {
      const __mmask8 m0 = tail >= 8 ? __mmask8(0xFF) : __mmask8((1u << tail) - 1);
      const __mmask8 m1 = tail > 8 ? __mmask8((1u << (tail - 8)) - 1) : __mmask8(0);
      a0 = _mm512_add_pd(a0, _mm512_maskz_loadu_pd(m0, p + i));
      a1 = _mm512_add_pd(a1, _mm512_maskz_loadu_pd(m1, p + i + 8));
    }
    const __m512d a = _mm512_add_pd(a0, a1);                                            // w = 8
    const __m256d b = _mm256_add_pd(lower_half(a), upper_half(a));  // w = 4
    const __m128d c = _mm_add_pd(_mm256_castpd256_pd128(b), _mm256_extractf128_pd(b, 1));   // 2
    const __m128d d = _mm_add_sd(c, _mm_unpackhi_pd(c, c));                             // w = 1
    sums[q] = _mm_cvtsd_f64(d);
  }
}

}  // namespace

PoolKernels<float> f32_pool_kernels() {
  auto k = pool_kernels::make_pool_kernels<float>("f32_pool_rows__avx512");
  k.plane_sums = f32_plane_sum_2x16;
  k.max_forward = pool_kernels::max_pool_forward<float, F32MaxTile16>;
  k.avg_forward = pool_kernels::avg_pool_forward<float, F32WindowRows16>;
  k.avg_backward = pool_kernels::avg_pool_backward<float, F32AvgGradTile16, F32WindowRows16>;
  return k;
}
PoolKernels<double> f64_pool_kernels() {
  auto k = pool_kernels::make_pool_kernels<double>("f64_pool_rows__avx512");
  k.plane_sums = f64_plane_sum_2x8;
  return k;
}

}  // namespace fastconv::cpu::avx512
