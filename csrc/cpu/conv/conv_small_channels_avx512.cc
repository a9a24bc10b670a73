// AVX-512 small-channel backward_weight tiles (compiled with FASTCONV_AVX512_FLAGS; called only
// where cpuid and the OS report them): 6 taps x 4 vectors of output channels (24 accumulators of
// the 32 registers: 64 float channels, a stem's whole width), 8 x 2 and 8 x 1; the same widths
// 5 and 7 taps high (K = 25, 147, 1029 without padding taps; 7 x 4 would not fit). Forward: the
// 6 x 64 tile also 7 (28 accumulators, the broadcast folded into the FMAs) and 4 positions high
// (rows of 56 / 112 positions).
#include "cpu/conv/conv_small_channels.h"
#include "cpu/conv/conv_small_channels_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

SmallChannelKernels<float> f32_small_channel_kernels() {
  using V = simd::avx512::F32;
  return {{simd::small_wgrad_kernel<V, 8, 1, float>("f32_small_wgrad_8x16__avx512"),
           simd::small_wgrad_kernel<V, 8, 2, float>("f32_small_wgrad_8x32__avx512"),
           simd::small_wgrad_kernel<V, 6, 4, float>("f32_small_wgrad_6x64__avx512")},
          3, simd::small_transpose<V, float>,
          {simd::small_forward_kernel<V, 14, 1, float>("f32_small_forward_14x16__avx512"),
           simd::small_forward_kernel<V, 12, 2, float>("f32_small_forward_12x32__avx512"),
           simd::small_forward_kernel<V, 6, 4, float>("f32_small_forward_6x64__avx512")},
          3,
          {simd::small_wgrad_kernel<V, 5, 1, float>("f32_small_wgrad_5x16__avx512"),
           simd::small_wgrad_kernel<V, 7, 1, float>("f32_small_wgrad_7x16__avx512"),
           simd::small_wgrad_kernel<V, 5, 2, float>("f32_small_wgrad_5x32__avx512"),
           simd::small_wgrad_kernel<V, 7, 2, float>("f32_small_wgrad_7x32__avx512"),
           simd::small_wgrad_kernel<V, 5, 4, float>("f32_small_wgrad_5x64__avx512")},
          5,
          {simd::small_forward_kernel<V, 7, 4, float>("f32_small_forward_7x64__avx512"),
           simd::small_forward_kernel<V, 4, 4, float>("f32_small_forward_4x64__avx512")},
          2};
}
SmallChannelKernels<double> f64_small_channel_kernels() {
  using V = simd::avx512::F64;
  return {{simd::small_wgrad_kernel<V, 8, 1, double>("f64_small_wgrad_8x8__avx512"),
           simd::small_wgrad_kernel<V, 8, 2, double>("f64_small_wgrad_8x16__avx512"),
           simd::small_wgrad_kernel<V, 6, 4, double>("f64_small_wgrad_6x32__avx512")},
          3, simd::small_transpose<V, double>,
          {simd::small_forward_kernel<V, 14, 1, double>("f64_small_forward_14x8__avx512"),
           simd::small_forward_kernel<V, 12, 2, double>("f64_small_forward_12x16__avx512"),
           simd::small_forward_kernel<V, 6, 4, double>("f64_small_forward_6x32__avx512")},
          3,
          {simd::small_wgrad_kernel<V, 5, 1, double>("f64_small_wgrad_5x8__avx512"),
           simd::small_wgrad_kernel<V, 7, 1, double>("f64_small_wgrad_7x8__avx512"),
           simd::small_wgrad_kernel<V, 5, 2, double>("f64_small_wgrad_5x16__avx512"),
           simd::small_wgrad_kernel<V, 7, 2, double>("f64_small_wgrad_7x16__avx512"),
           simd::small_wgrad_kernel<V, 5, 4, double>("f64_small_wgrad_5x32__avx512")},
          5,
          {simd::small_forward_kernel<V, 7, 4, double>("f64_small_forward_7x32__avx512"),
           simd::small_forward_kernel<V, 4, 4, double>("f64_small_forward_4x32__avx512")},
          2};
}

}  // namespace fastconv::cpu::avx512
