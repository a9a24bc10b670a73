// AVX-512 depthwise row kernels (compiled with FASTCONV_AVX512_FLAGS; called only where cpuid and
// the OS report them): the templates of conv_depthwise_kernel.h with blocks of 4 vectors.
#include "cpu/conv/conv_depthwise.h"
#include "cpu/conv/conv_depthwise_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

DepthwiseKernels<float> f32_depthwise_kernels() {
  return simd::depthwise_kernels<simd::avx512::F32, 4, float>("f32_depthwise_row_4x16__avx512");
}
DepthwiseKernels<double> f64_depthwise_kernels() {
  return simd::depthwise_kernels<simd::avx512::F64, 4, double>("f64_depthwise_row_4x8__avx512");
}

}  // namespace fastconv::cpu::avx512
