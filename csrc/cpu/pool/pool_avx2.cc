// AVX2 pooling kernels: the plain C++ row kernels of pool_kernels.h compiled with
// FASTCONV_AVX2_FLAGS, so the compiler vectorises them at that width (called only where cpuid
// and the OS report the ISA). f32_pool_rows__avx2 and f64_pool_rows__avx2.
#include "cpu/pool/pool_kernels.h"

namespace fastconv::cpu::avx2 {

PoolKernels<float> f32_pool_kernels() {
  return pool_kernels::make_pool_kernels<float>("f32_pool_rows__avx2");
}
PoolKernels<double> f64_pool_kernels() {
  return pool_kernels::make_pool_kernels<double>("f64_pool_rows__avx2");
}

}  // namespace fastconv::cpu::avx2
