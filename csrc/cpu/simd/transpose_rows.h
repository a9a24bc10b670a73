// dst[k * ld + i] = src[i * lds + k] for i < rows, k < n: the implicit GEMM's C tiles (positions
// x channels) into NCHW outputs, and grad_output rows into position-major tiles. A template over
// an ISA's vector wrapper V (cpu/simd/vec_*.h), instantiated by each ISA's file with its flags:
// V::kTile x V::kTile blocks through V::transpose_tile (8 x 8 AVX shuffles for float, 4 x 4 for
// double), then float's 4 x 4 SSE blocks as far as they go (14-wide rows: 8 + 4 + 2; the only
// blocks of the baseline build, whose V has no SIMD transposition), the edges element by element.
// The functions live in an anonymous namespace: each translation unit keeps its own copy.
#pragma once

#include <cstdint>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace fastconv::cpu::simd {
namespace {

// tile(src + i lds + k, lds, dst + k ld + i, ld) over [i0, i1) x [k0, k1) in blocks of B x B
// (the lengths multiples of B).
template <int64_t B, typename T, typename Tile>
inline void transpose_blocks(const T* src, int64_t lds, T* dst, int64_t ld, int64_t i0,
                             int64_t i1, int64_t k0, int64_t k1, Tile tile) {
  for (int64_t i = i0; i < i1; i += B)
    for (int64_t k = k0; k < k1; k += B) tile(src + i * lds + k, lds, dst + k * ld + i, ld);
}

#if defined(__SSE2__)
inline void transpose_tile4_sse(const float* src, int64_t lds, float* dst, int64_t ld) {
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + lds);
  __m128 r2 = _mm_loadu_ps(src + 2 * lds), r3 = _mm_loadu_ps(src + 3 * lds);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(dst, r0);
  _mm_storeu_ps(dst + ld, r1);
  _mm_storeu_ps(dst + 2 * ld, r2);
  _mm_storeu_ps(dst + 3 * ld, r3);
}
#endif

template <typename V, typename T>
void transpose_rows(const T* src, int64_t lds, int64_t rows, int64_t n, T* dst, int64_t ld) {
  constexpr int64_t B = V::kTile;
#if defined(__SSE2__)
  constexpr bool kSse4 = sizeof(T) == 4;
#else
  constexpr bool kSse4 = false;
#endif
  int64_t i_done = 0, k_done = 0;  // [0, i_done) x [0, k_done) transposed
  if constexpr (!kSse4 || B > 4) {
    i_done = rows / B * B;
    k_done = n / B * B;
    transpose_blocks<B>(src, lds, dst, ld, 0, i_done, 0, k_done, V::transpose_tile);
  }
#if defined(__SSE2__)
  if constexpr (kSse4) {
    const int64_t i4 = rows / 4 * 4, k4 = n / 4 * 4;
    transpose_blocks<4>(src, lds, dst, ld, 0, i_done, k_done, k4, transpose_tile4_sse);
    transpose_blocks<4>(src, lds, dst, ld, i_done, i4, 0, k4, transpose_tile4_sse);
    i_done = i4;
    k_done = k4;
  }
#endif
  for (int64_t k = k_done; k < n; ++k)
    for (int64_t i = 0; i < i_done; ++i) dst[k * ld + i] = src[i * lds + k];
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = i_done; i < rows; ++i) dst[k * ld + i] = src[i * lds + k];
}

}  // namespace
}  // namespace fastconv::cpu::simd
