// AVX2 small-channel backward_weight tiles (compiled with FASTCONV_AVX2_FLAGS; called only where
// cpuid and the OS report them): 8 taps x 1 vector and 6 x 2 (12 accumulators of the 16
// registers); 5 x 1, 7 x 1 and 5 x 2 for K = 25, 147, ...; forward also 7 x 1 and 4 x 2.
#include "cpu/conv/conv_small_channels.h"
#include "cpu/conv/conv_small_channels_kernel.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

SmallChannelKernels<float> f32_small_channel_kernels() {
  using V = simd::avx2::F32;
  return {{simd::small_wgrad_kernel<V, 8, 1, float>("f32_small_wgrad_8x8__avx2"),
           simd::small_wgrad_kernel<V, 6, 2, float>("f32_small_wgrad_6x16__avx2")},
          2, simd::small_transpose<V, float>,
          {simd::small_forward_kernel<V, 12, 1, float>("f32_small_forward_12x8__avx2"),
           simd::small_forward_kernel<V, 6, 2, float>("f32_small_forward_6x16__avx2")},
          2,
          {simd::small_wgrad_kernel<V, 5, 1, float>("f32_small_wgrad_5x8__avx2"),
           simd::small_wgrad_kernel<V, 7, 1, float>("f32_small_wgrad_7x8__avx2"),
           simd::small_wgrad_kernel<V, 5, 2, float>("f32_small_wgrad_5x16__avx2")},
          3,
          {simd::small_forward_kernel<V, 7, 1, float>("f32_small_forward_7x8__avx2"),
           simd::small_forward_kernel<V, 4, 2, float>("f32_small_forward_4x16__avx2")},
          2};
}
SmallChannelKernels<double> f64_small_channel_kernels() {
  using V = simd::avx2::F64;
  return {{simd::small_wgrad_kernel<V, 8, 1, double>("f64_small_wgrad_8x4__avx2"),
           simd::small_wgrad_kernel<V, 6, 2, double>("f64_small_wgrad_6x8__avx2")},
          2, simd::small_transpose<V, double>,
          {simd::small_forward_kernel<V, 12, 1, double>("f64_small_forward_12x4__avx2"),
           simd::small_forward_kernel<V, 6, 2, double>("f64_small_forward_6x8__avx2")},
          2,
          {simd::small_wgrad_kernel<V, 5, 1, double>("f64_small_wgrad_5x4__avx2"),
           simd::small_wgrad_kernel<V, 7, 1, double>("f64_small_wgrad_7x4__avx2"),
           simd::small_wgrad_kernel<V, 5, 2, double>("f64_small_wgrad_5x8__avx2")},
          3,
          {simd::small_forward_kernel<V, 7, 1, double>("f64_small_forward_7x4__avx2"),
           simd::small_forward_kernel<V, 4, 2, double>("f64_small_forward_4x8__avx2")},
          2};
}

}  // namespace fastconv::cpu::avx2
