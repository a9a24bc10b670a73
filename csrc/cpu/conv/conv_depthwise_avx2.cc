// AVX2 depthwise row kernels (compiled with FASTCONV_AVX2_FLAGS; called only where cpuid and the
// OS report them): the templates of conv_depthwise_kernel.h with blocks of 4 vectors (6 for the
// plane path's row_full: 6 accumulators, a weight and a load of 16 registers), and a
// non-temporal copy.
#include "cpu/conv/conv_depthwise.h"
#include "cpu/conv/conv_depthwise_kernel.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

DepthwiseKernels<float> f32_depthwise_kernels() {
  return simd::depthwise_kernels<simd::avx2::F32, 4, 6, float>(
      "f32_depthwise_row_4x8__avx2", simd::stream_copy<simd::avx2::F32, float>,
      simd::unpack_channels_stream<simd::avx2::F32, float>);
}
DepthwiseKernels<double> f64_depthwise_kernels() {
  return simd::depthwise_kernels<simd::avx2::F64, 4, 6, double>(
      "f64_depthwise_row_4x4__avx2", simd::stream_copy<simd::avx2::F64, double>,
      simd::unpack_channels_stream<simd::avx2::F64, double>);
}

}  // namespace fastconv::cpu::avx2
