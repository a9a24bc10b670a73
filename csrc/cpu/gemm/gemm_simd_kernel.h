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

#include <algorithm>
#include <cstdint>
#include <type_traits>

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

// dot_kernel's MR x NR block of C: MR rows of A against NR rows of B, MR * NR accumulators,
// MR + NR loads per MR * NR multiply-adds. V::reduce_add(v): the lanes summed in a fixed order;
// V::load_first(p, n): p[0, n) and zeros (a masked load: reads nothing past p + n).
template <typename V, int MR, int NR, typename T>
inline void dot_block(int64_t len, int64_t segments, int64_t sa, int64_t sb, const T* a,
                      int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t cs,
                      bool accumulate) {
  constexpr int L = V::kLanes;
  typename V::type acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = V::zero();
  const int64_t whole = len / L * L, tail = len - whole;
  for (int64_t s = 0; s < segments; ++s) {
    const T* as = a + s * sa;
    const T* bs = b + s * sb;
    for (int64_t p = 0; p < whole; p += L) {
      typename V::type av[MR], bv[NR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) av[i] = V::load(as + i * lda + p);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) {
        bv[j] = V::load(bs + j * ldb + p);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) acc[i][j] = V::fmadd(av[i], bv[j], acc[i][j]);
      }
    }
    if (tail > 0) {  // one more vector step on the tails, zero-padded by masked loads
      typename V::type av[MR], bv[NR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) av[i] = V::load_first(as + i * lda + whole, tail);
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) bv[j] = V::load_first(bs + j * ldb + whole, tail);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) acc[i][j] = V::fmadd(av[i], bv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      const T sum = V::reduce_add(acc[i][j]);
      T* cij = c + i * ldc + j * cs;
      *cij = accumulate ? *cij + sum : sum;
    }
}

// The dot-product kernel of gemm_kernels.h: blocks of V::kDotRows rows of the operand with more
// rows x V::kDotCols of the other (res2 64->256: 6 dY x 4 X rows measured 1.15x faster than
// 4 x 6, 256->64 the reverse), edge rows and columns one at a time. An element's operations do
// not depend on its block or on the swap (fma(a, b, s) = fma(b, a, s)).
// The short operand's rows run in blocks of about kDotBBytes (kept in L2) and, inside one, the
// long operand's kDotRows rows are reused from L1 across the block (the caller keeps the span
// short).
constexpr int64_t kDotBBytes = 256 * 1024;

template <typename V, typename T>
void dot_rows(int64_t m, int64_t n, int64_t len, int64_t segments, int64_t sa, int64_t sb,
              const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t cs,
              bool accumulate) {
  constexpr int kM = V::kDotRows, kN = V::kDotCols;
  const int64_t span_bytes = std::max<int64_t>(1, len * segments * int64_t(sizeof(T)));
  const int64_t jb = std::max<int64_t>(kN, kDotBBytes / span_bytes / kN * kN);
  for (int64_t j0 = 0; j0 < n; j0 += jb) {
    const int64_t j1 = std::min(n, j0 + jb);
    auto rows = [&](auto mr, int64_t i) {
      constexpr int MR = decltype(mr)::value;
      int64_t j = j0;
      for (; j + kN <= j1; j += kN)
        dot_block<V, MR, kN>(len, segments, sa, sb, a + i * lda, lda, b + j * ldb, ldb,
                             c + i * ldc + j * cs, ldc, cs, accumulate);
      for (; j < j1; ++j)
        dot_block<V, MR, 1>(len, segments, sa, sb, a + i * lda, lda, b + j * ldb, ldb,
                            c + i * ldc + j * cs, ldc, cs, accumulate);
    };
    int64_t i = 0;
    for (; i + kM <= m; i += kM) rows(std::integral_constant<int, kM>(), i);
    for (; i < m; ++i) rows(std::integral_constant<int, 1>(), i);
  }
}

template <typename V, typename T>
void dot_kernel(int64_t m, int64_t n, int64_t len, int64_t segments, int64_t sa, int64_t sb,
                const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
                bool accumulate) {
  if (m >= n) {
    dot_rows<V>(m, n, len, segments, sa, sb, a, lda, b, ldb, c, ldc, 1, accumulate);
  } else {  // C^T = B . A: B's rows are the long side
    dot_rows<V>(n, m, len, segments, sb, sa, b, ldb, a, lda, c, 1, ldc, accumulate);
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
          },
          [](int64_t m, int64_t n, int64_t len, int64_t segments, int64_t sa, int64_t sb,
             const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
             bool accumulate) {
            dot_kernel<V>(m, n, len, segments, sa, sb, a, lda, b, ldb, c, ldc, accumulate);
          }};
}

}  // namespace fastconv::cpu::simd
