// AVX-512 FMA chains (compiled with FASTCONV_AVX512_FLAGS): 16 zmm accumulators of the 32.
#include "cpu/ceilings/ceilings.h"
#include "cpu/ceilings/fma_chains_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

namespace {
float f32_fma_chains_16x16__avx512(int64_t iters) {
  return ceilings::fma_chains<simd::avx512::F32, float, 16>(iters);
}
double f64_fma_chains_16x8__avx512(int64_t iters) {
  return ceilings::fma_chains<simd::avx512::F64, double, 16>(iters);
}
}  // namespace

FmaChains fma_chains() {
  return {"f32_fma_chains_16x16__avx512", f32_fma_chains_16x16__avx512, 2 * 16 * 16,
          "f64_fma_chains_16x8__avx512", f64_fma_chains_16x8__avx512, 2 * 16 * 8};
}

}  // namespace fastconv::cpu::avx512
