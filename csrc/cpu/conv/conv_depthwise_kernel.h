// The depthwise row kernels (see conv_depthwise.h) as templates over a vector wrapper V
// (cpu/simd/vec_*.h, or the plain C++ one of conv_depthwise_generic.cc). Each ISA's file
// instantiates them with its own V, compiled with its own flags.
//
// Only V's operations and plain arithmetic are used here (no std:: templates), so that no
// function compiled with an ISA's flags can be shared with baseline code by the linker.
#pragma once

#include <cstdint>

#include "cpu/conv/conv_depthwise.h"

namespace fastconv::cpu::simd {

// NV vectors of the output row starting at out (the last one clipped to `valid` elements):
// NV accumulators stay in registers across all taps.
template <typename V, int NV, typename T>
inline void depthwise_row_block(int64_t ntaps, const T* w, const T* const* src, int64_t i,
                                int64_t valid, T bias, T* out) {
  constexpr int64_t L = V::kLanes;
  typename V::type acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = V::zero();
  for (int64_t t = 0; t < ntaps; ++t) {
    const typename V::type wt = V::broadcast(w + t);
    const T* s = src[t] + i;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] = V::fmadd(wt, V::load(s + v * L), acc[v]);
  }
  const typename V::type b = V::broadcast(&bias);
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = V::add(acc[v], b);
  if (valid == NV * L) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) V::store(out + i + v * L, acc[v]);
    return;
  }
  alignas(64) T tmp[NV * L];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) V::store(tmp + v * L, acc[v]);
  for (int64_t k = 0; k < valid; ++k) out[i + k] = tmp[k];
}

// out[i] = sum_t w[t] * src[t][i] + bias for i < len, in blocks of U vectors; the last block
// has as many vectors as it needs (so a 56-wide row is one block of 4 AVX-512 vectors).
template <typename V, int U, typename T>
inline void depthwise_row(int64_t ntaps, const T* w, const T* const* src, int64_t len, T bias,
                          T* out) {
  constexpr int64_t L = V::kLanes;
  int64_t i = 0;
  for (; i + U * L <= len; i += U * L)
    depthwise_row_block<V, U>(ntaps, w, src, i, U * L, bias, out);
  const int64_t rest = len - i;
  if (rest <= 0) return;
  switch ((rest + L - 1) / L) {
    case 1: depthwise_row_block<V, 1>(ntaps, w, src, i, rest, bias, out); break;
    case 2: depthwise_row_block<V, (U < 2 ? U : 2)>(ntaps, w, src, i, rest, bias, out); break;
    case 3: depthwise_row_block<V, (U < 3 ? U : 3)>(ntaps, w, src, i, rest, bias, out); break;
    default: depthwise_row_block<V, U>(ntaps, w, src, i, rest, bias, out); break;
  }
}

// acc[t*L .. t*L+L) += per-lane sums of g[i] * src[t][i], i < len. Four partial sums (vector
// index mod 4) combined as (p0 + p1) + (p2 + p3): a fixed order for every row.
template <typename V, typename T>
inline void depthwise_dot(int64_t ntaps, const T* const* src, const T* g, int64_t len, T* acc) {
  constexpr int64_t L = V::kLanes;
  const int64_t full = len / L;  // whole vectors of g
  const int64_t rest = len - full * L;
  alignas(64) T gtail[L];
  for (int64_t k = 0; k < L; ++k) gtail[k] = k < rest ? g[full * L + k] : T(0);
  for (int64_t t = 0; t < ntaps; ++t) {
    const T* s = src[t];
    typename V::type p[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
    int64_t v = 0;
    for (; v + 4 <= full; v += 4) {
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u)
        p[u] = V::fmadd(V::load(g + (v + u) * L), V::load(s + (v + u) * L), p[u]);
    }
    for (; v < full; ++v) p[v % 4] = V::fmadd(V::load(g + v * L), V::load(s + v * L), p[v % 4]);
    if (rest) p[v % 4] = V::fmadd(V::load(gtail), V::load(s + v * L), p[v % 4]);
    const typename V::type sum = V::add(V::add(p[0], p[1]), V::add(p[2], p[3]));
    V::store(acc + t * L, V::add(V::load(acc + t * L), sum));
  }
}

// One ISA's kernel table from its vector wrapper V, U vectors per block of an output row.
template <typename V, int U, typename T>
DepthwiseKernels<T> depthwise_kernels(const char* name) {
  return {name, V::kLanes,
          [](int64_t ntaps, const T* w, const T* const* src, int64_t len, T bias, T* out) {
            depthwise_row<V, U>(ntaps, w, src, len, bias, out);
          },
          [](int64_t ntaps, const T* const* src, const T* g, int64_t len, T* acc) {
            depthwise_dot<V>(ntaps, src, g, len, acc);
          }};
}

}  // namespace fastconv::cpu::simd
