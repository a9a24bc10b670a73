// dst[k * ld + i] = src[i * lds + k] for i < rows, k < n: the implicit GEMM's C tiles (positions
// x channels) into NCHW outputs, and grad_output rows into position-major tiles. Included by each
// ISA's file and compiled with its flags: 8 x 8 blocks of AVX shuffles where the file has AVX
// (float; 4 x 4 for double), 4 x 4 SSE blocks in the baseline build, elements at the edges. The
// functions live in an anonymous namespace: each translation unit keeps its own copy.
#pragma once

#include <cstdint>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace fastconv::cpu::simd {
namespace {

// The elements of [i0, rows) x [0, n) and [0, i0) x [k0, n) one by one.
template <typename T>
inline void transpose_edges(const T* src, int64_t lds, int64_t rows, int64_t n, T* dst,
                            int64_t ld, int64_t i0, int64_t k0) {
  for (int64_t k = k0; k < n; ++k)
    for (int64_t i = 0; i < i0; ++i) dst[k * ld + i] = src[i * lds + k];
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = i0; i < rows; ++i) dst[k * ld + i] = src[i * lds + k];
}

#if defined(__SSE2__)
// 4 x 4 SSE blocks of float over [i0, i1) x [k0, k1) (lengths multiples of 4).
inline void transpose_blocks4(const float* src, int64_t lds, float* dst, int64_t ld, int64_t i0,
                              int64_t i1, int64_t k0, int64_t k1) {
  for (int64_t i = i0; i < i1; i += 4) {
    const float* s = src + i * lds;
    for (int64_t k = k0; k < k1; k += 4) {
      __m128 r0 = _mm_loadu_ps(s + k), r1 = _mm_loadu_ps(s + lds + k);
      __m128 r2 = _mm_loadu_ps(s + 2 * lds + k), r3 = _mm_loadu_ps(s + 3 * lds + k);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      _mm_storeu_ps(dst + k * ld + i, r0);
      _mm_storeu_ps(dst + (k + 1) * ld + i, r1);
      _mm_storeu_ps(dst + (k + 2) * ld + i, r2);
      _mm_storeu_ps(dst + (k + 3) * ld + i, r3);
    }
  }
}
#endif

#if defined(__AVX__)
template <typename T>
void transpose_rows(const T* src, int64_t lds, int64_t rows, int64_t n, T* dst, int64_t ld) {
  if constexpr (sizeof(T) == 4) {
    const int64_t i_end = rows / 8 * 8, k_end = n / 8 * 8;
    for (int64_t i0 = 0; i0 < i_end; i0 += 8) {
      const float* s = reinterpret_cast<const float*>(src) + i0 * lds;
      float* d = reinterpret_cast<float*>(dst) + i0;
      for (int64_t k = 0; k < k_end; k += 8) {
        __m256 r[8], t[8];
        for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(s + j * lds + k);
        for (int j = 0; j < 8; j += 2) {
          t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
          t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
        }
        for (int j = 0; j < 8; j += 4) {
          r[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
          r[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xEE);
          r[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
          r[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
        }
        for (int j = 0; j < 4; ++j) {
          _mm256_storeu_ps(d + (k + j) * ld, _mm256_permute2f128_ps(r[j], r[j + 4], 0x20));
          _mm256_storeu_ps(d + (k + j + 4) * ld, _mm256_permute2f128_ps(r[j], r[j + 4], 0x31));
        }
      }
    }
    // the rest in 4 x 4 blocks as far as they go (14-wide rows: 8 + 4 + 2 elements)
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    const int64_t i4 = rows / 4 * 4, k4 = n / 4 * 4;
    transpose_blocks4(s, lds, d, ld, 0, i_end, k_end, k4);
    transpose_blocks4(s, lds, d, ld, i_end, i4, 0, k4);
    transpose_edges(src, lds, rows, n, dst, ld, i4, k4);
  } else {
    const int64_t i_end = rows / 4 * 4, k_end = n / 4 * 4;
    for (int64_t i0 = 0; i0 < i_end; i0 += 4) {
      const double* s = reinterpret_cast<const double*>(src) + i0 * lds;
      double* d = reinterpret_cast<double*>(dst) + i0;
      for (int64_t k = 0; k < k_end; k += 4) {
        const __m256d r0 = _mm256_loadu_pd(s + k), r1 = _mm256_loadu_pd(s + lds + k);
        const __m256d r2 = _mm256_loadu_pd(s + 2 * lds + k), r3 = _mm256_loadu_pd(s + 3 * lds + k);
        const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
        const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
        _mm256_storeu_pd(d + k * ld, _mm256_permute2f128_pd(t0, t2, 0x20));
        _mm256_storeu_pd(d + (k + 1) * ld, _mm256_permute2f128_pd(t1, t3, 0x20));
        _mm256_storeu_pd(d + (k + 2) * ld, _mm256_permute2f128_pd(t0, t2, 0x31));
        _mm256_storeu_pd(d + (k + 3) * ld, _mm256_permute2f128_pd(t1, t3, 0x31));
      }
    }
    transpose_edges(src, lds, rows, n, dst, ld, i_end, k_end);
  }
}
#else
template <typename T>
void transpose_rows(const T* src, int64_t lds, int64_t rows, int64_t n, T* dst, int64_t ld) {
  int64_t i_end = 0, k_end = n;
#if defined(__SSE2__)
  if constexpr (sizeof(T) == 4) {
    i_end = rows / 4 * 4;
    k_end = n / 4 * 4;
    transpose_blocks4(reinterpret_cast<const float*>(src), lds, reinterpret_cast<float*>(dst), ld,
                      0, i_end, 0, k_end);
  }
#endif
  transpose_edges(src, lds, rows, n, dst, ld, i_end, k_end);
}
#endif

}  // namespace
}  // namespace fastconv::cpu::simd
