// The small-channel kernels (conv_small_channels.h) as templates over a vector wrapper V
// (cpu/simd/vec_*.h), instantiated by one file per ISA with its own flags. Only V's operations
// and plain arithmetic are used here (no std:: templates shared with baseline code).
#pragma once

#include <cstdint>

#include "cpu/conv/conv_small_channels.h"

namespace fastconv::cpu::simd {

template <typename V, int MR, int NV, typename T>
inline void small_wgrad_kernel(int64_t nseg, const int64_t* units, const int64_t* len,
                               const int64_t* at, const T* const* ptrs, int64_t ldp, int64_t sw,
                               const T* dyt0, int64_t ldo, T* c, int64_t ldc) {
  constexpr int L = V::kLanes;
  typename V::type acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V::load(c + i * ldc + v * L);
  for (int64_t s = 0; s < nseg; ++s) {
    const int64_t u = units[s], n = len[u];
    const T* dyt = dyt0 + at[u] * ldo;
    const T* fi[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) fi[i] = ptrs[u * ldp + i];
    for (int64_t p = 0, q = 0; p < n; ++p, q += sw) {
      typename V::type d[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) d[v] = V::load(dyt + v * L);
      dyt += ldo;
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const typename V::type f = V::broadcast(fi[i] + q);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(f, d[v], acc[i][v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) V::store(c + i * ldc + v * L, acc[i][v]);
}

template <typename V, int MR, int NV, typename T>
SmallWgradKernel<T> small_wgrad_kernel(const char* name) {
  return {name, MR, NV * V::kLanes,
          [](int64_t nseg, const int64_t* units, const int64_t* len, const int64_t* at,
             const T* const* ptrs, int64_t ldp, int64_t sw, const T* dyt, int64_t ldo, T* c,
             int64_t ldc) {
            small_wgrad_kernel<V, MR, NV>(nseg, units, len, at, ptrs, ldp, sw, dyt, ldo, c, ldc);
          }};
}

template <typename V, int MP, int NV, typename T>
inline void small_forward_kernel(int64_t nk, const T* const* ptrs, const int64_t* wrow,
                                 const T* wt, int64_t off, int64_t sw, T* out, int64_t ldo) {
  constexpr int L = V::kLanes;
  typename V::type acc[MP][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MP; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
  for (int64_t t = 0; t < nk; ++t) {
    const T* f = ptrs[t] + off;
    const T* w = wt + wrow[t];
    typename V::type wv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[v] = V::load(w + v * L);
#pragma GCC unroll 16
    for (int i = 0; i < MP; ++i) {
      const typename V::type x = V::broadcast(f);
      f += sw;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(x, wv[v], acc[i][v]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MP; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) V::store(out + i * ldo + v * L, acc[i][v]);
}

template <typename V, int MP, int NV, typename T>
SmallForwardKernel<T> small_forward_kernel(const char* name) {
  return {name, MP, NV * V::kLanes,
          [](int64_t nk, const T* const* ptrs, const int64_t* wrow, const T* wt, int64_t off,
             int64_t sw, T* out, int64_t ldo) {
            small_forward_kernel<V, MP, NV>(nk, ptrs, wrow, wt, off, sw, out, ldo);
          }};
}

// Whole V::kTile blocks through V::transpose_tile, the edges element by element. The channels
// are the short side (cols of Y^T in forward, rows of grad_output in backward_weight). The blocks
// run along dst's rows (few of dst's rows written at a time)
// - in forward, from 32 float channels: strips of positions of Y^T wrote every row of y at once,
//   64 rows 4 KiB apart at 32x32 outputs, thrashing L1's sets (the transposition was a third of
//   DCGAN's 3 -> 64 4x4/2 forward at 1 thread, perf). 1 thread CPU ms along y's rows / along
//   Y^T's: DCGAN 0.592 / 0.764, VGG conv1_1 2.72 / 3.35; Fashion-MNIST conv1 (16 channels)
//   0.611 / 0.584, 0.598 / 0.574;
// - in backward_weight, where dY^T's rows are one cache line (16 float channels: each line
//   written whole by its tiles in turn): Fashion-MNIST conv1 0.69 -> 0.67, 0.62 -> 0.59; not
//   from 32 (DeepSpeech conv1 2.07 -> 2.40, 2.15 -> 2.23).
template <typename V, typename T>
void small_transpose(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst,
                     int64_t ldd) {
  constexpr int64_t B = V::kTile;
  const int64_t rb = rows / B * B, cb = cols / B * B;
  const int64_t channels = ldd > lds ? cols : rows;
  if ((ldd > lds) == (channels * int64_t(sizeof(T)) > 64)) {
    for (int64_t p = 0; p < cb; p += B)
      for (int64_t o = 0; o < rb; o += B)
        V::transpose_tile(src + o * lds + p, lds, dst + p * ldd + o, ldd);
  } else {
    for (int64_t o = 0; o < rb; o += B)
      for (int64_t p = 0; p < cb; p += B)
        V::transpose_tile(src + o * lds + p, lds, dst + p * ldd + o, ldd);
  }
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t p = o < rb ? cb : 0; p < cols; ++p) dst[p * ldd + o] = src[o * lds + p];
}

}  // namespace fastconv::cpu::simd
