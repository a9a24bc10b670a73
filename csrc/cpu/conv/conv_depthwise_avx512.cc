// AVX-512 depthwise row kernels (compiled with FASTCONV_AVX512_FLAGS; called only where cpuid and
// the OS report them): the templates of conv_depthwise_kernel.h with blocks of 4 vectors (8 for
// the plane path's row_full), and a non-temporal copy.
#include "cpu/conv/conv_depthwise.h"
#include "cpu/conv/conv_depthwise_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

DepthwiseKernels<float> f32_depthwise_kernels() {
  return simd::depthwise_kernels<simd::avx512::F32, 4, 8, float>(
      "f32_depthwise_row_4x16__avx512", simd::stream_copy<simd::avx512::F32, float>,
      simd::unpack_channels_stream<simd::avx512::F32, float>);
}
DepthwiseKernels<double> f64_depthwise_kernels() {
  return simd::depthwise_kernels<simd::avx512::F64, 4, 8, double>(
      "f64_depthwise_row_4x8__avx512", simd::stream_copy<simd::avx512::F64, double>,
      simd::unpack_channels_stream<simd::avx512::F64, double>);
}

}  // namespace fastconv::cpu::avx512
