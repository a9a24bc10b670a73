// AVX2 + FMA chains (compiled with FASTCONV_AVX2_FLAGS): 12 ymm accumulators of the 16.
#include "cpu/ceilings/ceilings.h"
#include "cpu/ceilings/fma_chains_kernel.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

namespace {
float f32_fma_chains_12x8__avx2(int64_t iters) {
  return ceilings::fma_chains<simd::avx2::F32, float, 12>(iters);
}
double f64_fma_chains_12x4__avx2(int64_t iters) {
  return ceilings::fma_chains<simd::avx2::F64, double, 12>(iters);
}
}  // namespace

FmaChains fma_chains() {
  return {"f32_fma_chains_12x8__avx2", f32_fma_chains_12x8__avx2, 2 * 12 * 8,
          "f64_fma_chains_12x4__avx2", f64_fma_chains_12x4__avx2, 2 * 12 * 4};
}

}  // namespace fastconv::cpu::avx2
