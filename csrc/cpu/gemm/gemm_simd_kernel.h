// The SIMD micro-kernel template shared by the AVX2 and AVX-512 files. Each of them instantiates
// it with its own vector wrapper `V` (defined in an anonymous namespace there), so every
// instantiation has internal linkage and is compiled only with its own file's flags: the linker
// can never hand an AVX-512 copy to baseline code.
//
// V provides: type (the register), kLanes, zero(), load(p), broadcast(p), fmadd(a, b, c) = a*b+c,
// store(p, v). The tile is MR rows x NV vectors: MR * NV accumulators stay in registers.
// pack_rows_to_panels also needs kTile and transpose_tile(src, lds, dst, ldd) (a kTile x kTile
// block transpose).
#pragma once

#include <cstdint>

#include "cpu/gemm/gemm_kernels.h"

namespace fastconv::cpu::simd {

// The first NC of the tile's NV vectors of columns (B panels are still NV vectors wide).
template <typename V, int MR, int NV, int NC, typename T>
inline void micro_kernel_columns(int64_t kc, const T* a, const T* b, T* c, int64_t ldc,
                                 int64_t m, int64_t n, bool accumulate) {
  constexpr int NR = NC * V::kLanes;  // columns computed
  if (accumulate) {  // C is read after the loop: fetch it now (it may sit in L3 by then)
    constexpr int kLine = 64 / int(sizeof(T));
    for (int64_t i = 0; i < m; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NR; j += kLine) __builtin_prefetch(c + i * ldc + j, 1);
  }
  typename V::type acc[MR][NC];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NC; ++v) acc[i][v] = V::zero();

  for (int64_t k = 0; k < kc; ++k) {
    typename V::type bv[NC];
#pragma GCC unroll 8
    for (int v = 0; v < NC; ++v) bv[v] = V::load(b + v * V::kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename V::type ai = V::broadcast(a + i);
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) acc[i][v] = V::fmadd(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += NV * V::kLanes;
  }

  if (m == MR && n == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      T* ci = c + i * ldc;
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) {
        typename V::type r = acc[i][v];
        if (accumulate) r = V::add(r, V::load(ci + v * V::kLanes));
        V::store(ci + v * V::kLanes, r);
      }
    }
    return;
  }
  // Edge tile: spill the accumulators and store the m x n corner.
  alignas(64) T tile[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NC; ++v) V::store(tile + i * NR + v * V::kLanes, acc[i][v]);
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    const T* ti = tile + i * NR;
    if (accumulate) {
      for (int64_t j = 0; j < n; ++j) ci[j] += ti[j];
    } else {
      for (int64_t j = 0; j < n; ++j) ci[j] = ti[j];
    }
  }
}

// An mr x nr tile; a last panel with at most half its columns used (P = 196 = 6 x 32 + 4) computes
// only half of them. Every lane runs the same multiply-adds in the same order either way, so a
// column's result does not depend on the width computed (batch invariance).
template <typename V, int MR, int NV, typename T>
inline void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m,
                         int64_t n, bool accumulate) {
  if constexpr (NV % 2 == 0) {
    if (n <= NV / 2 * V::kLanes)
      return micro_kernel_columns<V, MR, NV, NV / 2>(kc, a, b, c, ldc, m, n, accumulate);
  }
  micro_kernel_columns<V, MR, NV, NV>(kc, a, b, c, ldc, m, n, accumulate);
}

// Packs `rows` rows of a row-major matrix S (k contiguous elements each, row stride lds) into
// panels of `width` rows: packed[((r / width) * k + kk) * width + r % width] = S[r, kk], with the
// rows past `rows` zero up to a whole panel. This is the packed-A layout of A = S and the packed-B
// layout of B = S^T (gemm.h), built from kTile x kTile block transposes: contiguous loads and
// stores instead of a strided gather or a stride-width scatter.
template <typename V, typename T>
inline void pack_rows_to_panels(int64_t rows, int64_t k, const T* s, int64_t lds, int64_t width,
                                T* packed) {
  constexpr int64_t kT = V::kTile;
  for (int64_t r0 = 0; r0 < rows; r0 += width) {
    const int64_t n = rows - r0 < width ? rows - r0 : width;
    T* panel = packed + (r0 / width) * k * width;
    int64_t i = 0;
    for (; i + kT <= n; i += kT) {
      const T* src = s + (r0 + i) * lds;
      int64_t kk = 0;
      for (; kk + kT <= k; kk += kT)
        V::transpose_tile(src + kk, lds, panel + kk * width + i, width);
      for (; kk < k; ++kk)
        for (int64_t t = 0; t < kT; ++t) panel[kk * width + i + t] = src[t * lds + kk];
    }
    for (; i < n; ++i) {
      const T* src = s + (r0 + i) * lds;
      for (int64_t kk = 0; kk < k; ++kk) panel[kk * width + i] = src[kk];
    }
    if (n < width)
      for (int64_t kk = 0; kk < k; ++kk)
        for (int64_t t = n; t < width; ++t) panel[kk * width + t] = T(0);
  }
}

// One ISA's micro-kernel entry: the template above with V, MR rows and NV vectors per row.
template <typename V, int MR, int NV, typename T>
MicroKernel<T> simd_micro_kernel(const char* name) {
  return {name, MR, NV * V::kLanes,
          [](int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m, int64_t n,
             bool accumulate) { micro_kernel<V, MR, NV>(kc, a, b, c, ldc, m, n, accumulate); },
          [](int64_t rows, int64_t k, const T* s, int64_t lds, int64_t width, T* packed) {
            pack_rows_to_panels<V>(rows, k, s, lds, width, packed);
          }};
}

}  // namespace fastconv::cpu::simd
