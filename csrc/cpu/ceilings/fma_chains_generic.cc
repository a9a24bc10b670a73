// Generic (baseline ISA) multiply-add chains: plain C++, one lane per chain. Without FMA in the
// baseline ISA and without -ffp-contract, a*b+c is a multiply and an add; each still counts as
// 2 flops, so this is the peak that baseline code can reach, not the machine's.
#include "cpu/ceilings/ceilings.h"
#include "cpu/ceilings/fma_chains_kernel.h"

namespace fastconv::cpu::generic {

namespace {

template <typename T>
struct Scalar {
  using type = T;
  static constexpr int kLanes = 1;
  static type broadcast(const T* p) { return *p; }
  static type fmadd(type a, type b, type c) { return a * b + c; }
  static type add(type a, type b) { return a + b; }
  static void store(T* p, type v) { *p = v; }
};

float f32_fma_chains_16x1__generic(int64_t iters) {
  return ceilings::fma_chains<Scalar<float>, float, 16>(iters);
}
double f64_fma_chains_16x1__generic(int64_t iters) {
  return ceilings::fma_chains<Scalar<double>, double, 16>(iters);
}

}  // namespace

FmaChains fma_chains() {
  return {"f32_fma_chains_16x1__generic", f32_fma_chains_16x1__generic, 2 * 16,
          "f64_fma_chains_16x1__generic", f64_fma_chains_16x1__generic, 2 * 16};
}

}  // namespace fastconv::cpu::generic
