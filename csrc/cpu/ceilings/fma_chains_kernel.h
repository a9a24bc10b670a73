// Independent FMA chains over a vector wrapper V (cpu/simd/vec_*.h, or the scalar one in
// fma_chains_generic.cc): kChains accumulators, each updated acc = acc * b + c per round, so that
// the FMA units see kChains independent dependency chains (enough to cover latency x pipes on
// every current x86 core: 4 cycles x 2 pipes = 8). b < 1 keeps the values finite and normal.
#pragma once

#include <cstdint>

namespace fastconv::cpu::ceilings {

template <typename V, typename T, int kChains>
T fma_chains(int64_t iters) {
  const T b_scalar = T(0.999);
  const T c_scalar = T(0.001);
  const auto b = V::broadcast(&b_scalar);
  const auto c = V::broadcast(&c_scalar);
  typename V::type acc[kChains];
  for (int i = 0; i < kChains; ++i) {
    const T seed = T(i + 1);
    acc[i] = V::broadcast(&seed);
  }
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = V::fmadd(acc[i], b, c);
  }
  for (int i = 1; i < kChains; ++i) acc[0] = V::add(acc[0], acc[i]);
  T lanes[V::kLanes];
  V::store(lanes, acc[0]);
  T sum = T(0);
  for (int i = 0; i < V::kLanes; ++i) sum += lanes[i];
  return sum;
}

}  // namespace fastconv::cpu::ceilings
