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

template <typename V, int MO, int NK, typename T>
inline void implicit_dot_kernel(int64_t len, const T* dy, int64_t ldy, const T* f,
                                const int64_t* off, T* acc_out) {
  constexpr int L = V::kLanes;
  typename V::type acc[MO][NK];
  const T* fj[NK];
#pragma GCC unroll 8
  for (int j = 0; j < NK; ++j) fj[j] = f + off[j];
#pragma GCC unroll 8
  for (int i = 0; i < MO; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NK; ++j) acc[i][j] = V::load(acc_out + (i * NK + j) * L);
  for (int64_t q = 0; q < len; q += L) {
    typename V::type d[MO];
#pragma GCC unroll 8
    for (int i = 0; i < MO; ++i) d[i] = V::load(dy + i * ldy + q);
#pragma GCC unroll 8
    for (int j = 0; j < NK; ++j) {
      const typename V::type fv = V::load(fj[j] + q);
#pragma GCC unroll 8
      for (int i = 0; i < MO; ++i) acc[i][j] = V::fmadd(d[i], fv, acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MO; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NK; ++j) V::store(acc_out + (i * NK + j) * L, acc[i][j]);
}

template <typename V, int MO, int NK, typename T>
ImplicitDotKernel<T> implicit_dot_kernel(const char* name) {
  return {name, MO, NK, V::kLanes,
          [](int64_t len, const T* dy, int64_t ldy, const T* f, const int64_t* off, T* acc) {
            implicit_dot_kernel<V, MO, NK>(len, dy, ldy, f, off, acc);
          }};
}

// kRows: row p of the sum is k = rows[p] (qpos[k], dyt + k ldo) instead of p, so that the
// forward position path can leave out the taps that read only zero padding.
template <typename V, int MR, int NV, bool kRows, typename T>
inline void implicit_tap_kernel(int64_t npos, const T* f, const int64_t* off, const int64_t* qpos,
                                const T* dyt, int64_t ldo, const int64_t* rows, T* c,
                                int64_t ldc, int mode) {
  constexpr int L = V::kLanes;
  typename V::type acc[MR][NV];
  const T* fi[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) fi[i] = f + off[i];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[i][v] = mode == kTapAccumulate ? V::load(c + i * ldc + v * L) : V::zero();
  for (int64_t p = 0; p < npos; ++p) {
    const int64_t k = kRows ? rows[p] : p;
    const int64_t q = qpos[k];
    typename V::type d[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) d[v] = V::load(dyt + k * ldo + v * L);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename V::type fv = V::broadcast(fi[i] + q);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(fv, d[v], acc[i][v]);
    }
  }
  if (mode == kTapAddSum) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        acc[i][v] = V::add(V::load(c + i * ldc + v * L), acc[i][v]);
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) V::store(c + i * ldc + v * L, acc[i][v]);
}

template <typename V, int MR, int NV, typename T>
ImplicitTapKernel<T> implicit_tap_kernel(const char* name) {
  return {name, MR, NV * V::kLanes,
          [](int64_t npos, const T* f, const int64_t* off, const int64_t* qpos, const T* dyt,
             int64_t ldo, T* c, int64_t ldc, int mode) {
            implicit_tap_kernel<V, MR, NV, false>(npos, f, off, qpos, dyt, ldo, nullptr, c, ldc,
                                                  mode);
          },
          [](int64_t nrows, const T* f, const int64_t* off, const int64_t* qpos, const T* dyt,
             int64_t ldo, const int64_t* rows, T* c, int64_t ldc, int mode) {
            implicit_tap_kernel<V, MR, NV, true>(nrows, f, off, qpos, dyt, ldo, rows, c, ldc,
                                                 mode);
          }};
}

}  // namespace fastconv::cpu::simd
