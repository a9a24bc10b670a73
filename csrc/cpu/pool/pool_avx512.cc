// AVX512 pooling kernels: the plain C++ row kernels of pool_kernels.h compiled with
// FASTCONV_AVX512_FLAGS, so the compiler vectorises them at that width (called only where cpuid
// and the OS report the ISA). f32_pool_rows__avx512 and f64_pool_rows__avx512.
#include "cpu/pool/pool_kernels.h"

namespace fastconv::cpu::avx512 {

PoolKernels<float> f32_pool_kernels() {
  return pool_kernels::make_pool_kernels<float>("f32_pool_rows__avx512");
}
PoolKernels<double> f64_pool_kernels() {
  return pool_kernels::make_pool_kernels<double>("f64_pool_rows__avx512");
}

}  // namespace fastconv::cpu::avx512
