// The SIMD micro-kernel template shared by the AVX2 and AVX-512 files. Each of them instantiates
// it with its own vector wrapper `V` (defined in an anonymous namespace there), so every
// instantiation has internal linkage and is compiled only with its own file's flags: the linker
// can never hand an AVX-512 copy to baseline code.
//
// V provides: type (the register), kLanes, zero(), load(p), broadcast(p), fmadd(a, b, c) = a*b+c,
// store(p, v). The tile is MR rows x NV vectors: MR * NV accumulators stay in registers.
#pragma once

#include <cstdint>

#include "cpu/gemm/gemm_kernels.h"

namespace fastconv::cpu::simd {

template <typename V, int MR, int NV, typename T>
inline void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m,
                         int64_t n, bool accumulate) {
  constexpr int NR = NV * V::kLanes;
  typename V::type acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();

  for (int64_t k = 0; k < kc; ++k) {
    typename V::type bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * V::kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename V::type ai = V::broadcast(a + i);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += NR;
  }

  if (m == MR && n == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      T* ci = c + i * ldc;
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
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
    for (int v = 0; v < NV; ++v) V::store(tile + i * NR + v * V::kLanes, acc[i][v]);
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

// One ISA's micro-kernel entry: the template above with V, MR rows and NV vectors per row.
template <typename V, int MR, int NV, typename T>
MicroKernel<T> simd_micro_kernel(const char* name) {
  return {name, MR, NV * V::kLanes,
          [](int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m, int64_t n,
             bool accumulate) { micro_kernel<V, MR, NV>(kc, a, b, c, ldc, m, n, accumulate); }};
}

}  // namespace fastconv::cpu::simd
