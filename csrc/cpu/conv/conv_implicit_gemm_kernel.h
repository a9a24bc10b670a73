// The implicit-GEMM micro-kernel (conv_implicit_gemm.h) as a template over a vector wrapper V
// (cpu/simd/vec_*.h, or cpu/simd/vec_generic.h). Each ISA's file instantiates it with its own V,
// compiled with its own flags. Only V's operations and plain arithmetic are used here (no std::
// templates), so that no function compiled with an ISA's flags can be shared with baseline code.
#pragma once

#include <cstdint>

#include "cpu/conv/conv_implicit_gemm.h"

namespace fastconv::cpu::simd {

template <typename V, int MR, int NV, typename T>
inline void implicit_gemm_micro_kernel(int64_t kc, const T* a, const T* b, const int64_t* off,
                                       T* c, int64_t ldc, bool accumulate) {
  constexpr int L = V::kLanes;
  typename V::type acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
  for (int64_t k = 0; k < kc; ++k) {
    const T* bk = b + off[k];
    typename V::type bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = V::load(bk + v * L);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename V::type ai = V::broadcast(a + i);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(ai, bv[v], acc[i][v]);
    }
    a += MR;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    T* ci = c + i * ldc;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      typename V::type r = acc[i][v];
      if (accumulate) r = V::add(r, V::load(ci + v * L));
      V::store(ci + v * L, r);
    }
  }
}

template <typename V, int MR, int NV, typename T>
ImplicitGemmKernel<T> implicit_gemm_kernel(const char* name) {
  return {name, MR, NV * V::kLanes, [](int64_t kc, const T* a, const T* b, const int64_t* off,
                                       T* c, int64_t ldc, bool accumulate) {
            implicit_gemm_micro_kernel<V, MR, NV>(kc, a, b, off, c, ldc, accumulate);
          }};
}

}  // namespace fastconv::cpu::simd
