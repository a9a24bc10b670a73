// Single-threaded packed GEMM on strided operands (BLIS structure: pack, block, micro-kernel).
//
//   C[i*ldc + j] (= or +=) sum_k A[i*rs_a + k*cs_a] * B[k*rs_b + j*cs_b]
//
// Any transposition is expressed through the strides, so one routine serves the three
// convolution primitives. Callers parallelise *around* it (over independent output tiles),
// which keeps every output element's reduction order fixed: results do not depend on the
// thread count.
#pragma once

#include <cstdint>

namespace fastconv::cpu {

template <typename T>
struct StridedMatrix {
  const T* data;
  int64_t row_stride;
  int64_t col_stride;
};

template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, StridedMatrix<T> a, StridedMatrix<T> b, T* c,
          int64_t ldc, bool accumulate);


}  // namespace fastconv::cpu
