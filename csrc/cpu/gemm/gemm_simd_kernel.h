// The SIMD micro-kernel template shared by the AVX2 and AVX-512 files. Each of them instantiates
// it with its own vector wrapper `V` (defined in an anonymous namespace there), so every
// instantiation has internal linkage and is compiled only with its own file's flags: the linker
// can never hand an AVX-512 copy to baseline code.
//
// V provides: type (the register), kLanes, zero(), load(p), broadcast(p), fmadd(a, b, c) = a*b+c,
// store(p, v), add, max, stream(p, v) (non-temporal, aligned p). The tile is MR rows x NV vectors: MR * NV accumulators stay in registers.
// pack_rows_to_panels also needs kTile and transpose_tile(src, lds, dst, ldd) (a kTile x kTile
// block transpose).
#pragma once

#include <cstdint>

#include "cpu/gemm/gemm_kernels.h"

namespace fastconv::cpu::simd {

// The scalar form of the epilogue (edge tiles; the generic kernel): the same operations as the
// vector one, so an element's bits do not depend on where its tile ends.
template <typename T>
inline T epilogue_scalar(T v, const TileEpilogue<T>* ep, int64_t row) {
  if (ep == nullptr || !(ep->bias || ep->relu)) return v;
  v = v + (ep->bias ? ep->bias[row] : T(0));
  return ep->relu && v < T(0) ? T(0) : v;
}

// The first NC of the tile's NV vectors of columns (B panels are still NV vectors wide).
// V::stream(p, v): a non-temporal store to a vector-aligned p.
template <typename V, int MR, int NV, int NC, bool PrefetchNextB, typename T>
inline void micro_kernel_columns(int64_t kc, const T* a, const T* b, int64_t ldb, T* c,
                                 int64_t ldc, int64_t m, int64_t n, bool accumulate,
                                 const TileEpilogue<T>* ep) {
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
    if constexpr (PrefetchNextB) {
      constexpr int kLine = 64 / int(sizeof(T));
#pragma GCC unroll 8
      for (int j = 0; j < NV * V::kLanes; j += kLine) __builtin_prefetch(b + NV * V::kLanes + j);
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename V::type ai = V::broadcast(a + i);
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) acc[i][v] = V::fmadd(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += ldb;
  }

  const bool bias_relu = ep != nullptr && (ep->bias || ep->relu);
  if (m == MR && n == NR) {
    constexpr int64_t kAlign = int64_t(sizeof(typename V::type));
    const bool stream = ep != nullptr && ep->stream &&
                        (reinterpret_cast<uintptr_t>(c) | uintptr_t(ldc * int64_t(sizeof(T)))) %
                                kAlign == 0;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      T* ci = c + i * ldc;
      typename V::type bias = V::zero();
      if (bias_relu && ep->bias) bias = V::broadcast(ep->bias + i);
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) {
        typename V::type r = acc[i][v];
        if (accumulate) r = V::add(r, V::load(ci + v * V::kLanes));
        if (bias_relu) {
          r = V::add(r, bias);
          if (ep->relu) r = V::max(V::zero(), r);
        }
        if (stream) {
          V::stream(ci + v * V::kLanes, r);
        } else {
          V::store(ci + v * V::kLanes, r);
        }
      }
    }
    return;
  }
  // Edge tile: spill the accumulators (unrolled: constant indices keep acc in registers on the
  // full-tile path) and store the m x n corner.
  alignas(64) T tile[MR * NR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NC; ++v) V::store(tile + i * NR + v * V::kLanes, acc[i][v]);
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    const T* ti = tile + i * NR;
    for (int64_t j = 0; j < n; ++j) {
      const T v = accumulate ? ci[j] + ti[j] : ti[j];
      ci[j] = bias_relu ? epilogue_scalar(v, ep, i) : v;
    }
  }
}

// An mr x nr tile; a last panel with at most half its columns used (P = 196 = 6 x 32 + 4) computes
// only half of them. Every lane runs the same multiply-adds in the same order either way, so a
// column's result does not depend on the width computed (batch invariance).
template <typename V, int MR, int NV, bool PrefetchNextB = false, typename T>
inline void micro_kernel(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc,
                         int64_t m, int64_t n, bool accumulate, const TileEpilogue<T>* ep) {
  if constexpr (NV % 2 == 0) {
    if (n <= NV / 2 * V::kLanes)
      return micro_kernel_columns<V, MR, NV, NV / 2, PrefetchNextB>(kc, a, b, ldb, c, ldc, m, n,
                                                                   accumulate, ep);
  }
  micro_kernel_columns<V, MR, NV, NV, PrefetchNextB>(kc, a, b, ldb, c, ldc, m, n, accumulate, ep);
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
          [](int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m,
             int64_t n, bool accumulate, const TileEpilogue<T>* ep) {
            micro_kernel<V, MR, NV>(kc, a, b, ldb, c, ldc, m, n, accumulate, ep);
          },
          [](int64_t rows, int64_t k, const T* s, int64_t lds, int64_t width, T* packed) {
            pack_rows_to_panels<V>(rows, k, s, lds, width, packed);
          },
          [](int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m,
             int64_t n, bool accumulate, const TileEpilogue<T>* ep) {
            micro_kernel<V, MR, NV, true>(kc, a, b, ldb, c, ldc, m, n, accumulate, ep);
          }};
}

}  // namespace fastconv::cpu::simd
