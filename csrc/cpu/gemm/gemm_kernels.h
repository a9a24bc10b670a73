// Micro-kernels of the packed GEMM, one set per ISA, each compiled in its own file with its own
// flags (gemm_generic.cc, gemm_avx2.cc, gemm_avx512.cc) and reached only through these tables.
//
// A micro-kernel computes one mr x nr tile of C from packed panels:
//   a[k * mr + i] (i < mr), b[k * ldb + j] (j < nr), k < kc
//   C[i * ldc + j] (= or +=) sum_k a[k * mr + i] * b[k * ldb + j]   for i < m <= mr, j < n <= nr
// The panels are zero-padded to full mr / nr, so only the store is clipped to m x n.
#pragma once

#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/gemm/gemm.h"

namespace fastconv::cpu {

// ldb: B's row stride, nr for a packed panel, or that of a row-major B read in place (its rows
// hold nr valid columns from b). epilogue: nullptr, or the bias (rows of this tile) / ReLU /
// streaming of gemm.h's TileEpilogue.
template <typename T>
using MicroKernelFn = void (*)(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc,
                               int64_t m, int64_t n, bool accumulate,
                               const TileEpilogue<T>* epilogue);

// Packs rows of a row-major matrix (row stride lds, k contiguous elements each) into panels of
// `width` rows, zero-padded: packed[((r / width) * k + kk) * width + r % width] = S[r, kk].
template <typename T>
using PackRowsFn = void (*)(int64_t rows, int64_t k, const T* s, int64_t lds, int64_t width,
                            T* packed);

// Dot-product form for two operands contiguous along the reduction (1x1 backward_weight:
// dW[co, ci] = sum_p dY[co, p] X[ci, p]), no packing:
//   C[i * ldc + j] (= or +=) sum_{s < segments, p < len} A[s * sa + i * lda + p] * B[s * sb + j * ldb + p]
// (i < m, j < n; segments: samples, whose rows lie at fixed strides). Each element: one vector
// accumulator over each segment's whole vectors then its zero-padded tail vector, segments in
// order, its lanes summed in a fixed order at the end: the same operations wherever its block lies.
template <typename T>
using DotKernelFn = void (*)(int64_t m, int64_t n, int64_t len, int64_t segments, int64_t sa,
                             int64_t sb, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                             int64_t ldc, bool accumulate);

template <typename T>
struct MicroKernel {
  const char* name;  // <dtype>_gemm_<mr>x<nr>__<isa>
  int64_t mr;
  int64_t nr;
  MicroKernelFn<T> run;
  PackRowsFn<T> pack_rows = nullptr;  // SIMD block-transpose packing; nullptr: gemm.cc's loops
  // run, also prefetching the next nr columns of every B row (b + nr + k * ldb): for a B read in
  // place, whose kc rows are too many streams for the hardware prefetcher. nullptr: run.
  MicroKernelFn<T> run_prefetch_next_b = nullptr;
  DotKernelFn<T> dot = nullptr;  // nullptr: callers pack and use run (the generic path)
};

FASTCONV_DECLARE_PER_ISA(
    MicroKernel<float> f32_micro_kernel();
    MicroKernel<double> f64_micro_kernel();)

// The micro-kernel for the ISA path in use (fastconv::isa()).
template <typename T>
const MicroKernel<T>& active_micro_kernel();

}  // namespace fastconv::cpu
