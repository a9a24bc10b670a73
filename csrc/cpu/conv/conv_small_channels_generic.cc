// Portable small-channel backward_weight tiles: the template of conv_small_channels_kernel.h
// over the plain C++ 4-element vector of vec_generic.h, 4 taps x 1 and 4 x 2 vectors (fits the
// 16 baseline registers).
#include "cpu/conv/conv_small_channels.h"
#include "cpu/conv/conv_small_channels_kernel.h"
#include "cpu/simd/vec_generic.h"

namespace fastconv::cpu::generic {

SmallChannelKernels<float> f32_small_channel_kernels() {
  using V = simd::generic::Vec4<float>;
  return {{simd::small_wgrad_kernel<V, 4, 1, float>("f32_small_wgrad_4x4__generic"),
           simd::small_wgrad_kernel<V, 4, 2, float>("f32_small_wgrad_4x8__generic")},
          2, simd::small_transpose<V, float>,
          {simd::small_forward_kernel<V, 4, 1, float>("f32_small_forward_4x4__generic"),
           simd::small_forward_kernel<V, 4, 2, float>("f32_small_forward_4x8__generic")},
          2,
          {simd::small_wgrad_kernel<V, 5, 1, float>("f32_small_wgrad_5x4__generic"),
           simd::small_wgrad_kernel<V, 7, 1, float>("f32_small_wgrad_7x4__generic"),
           simd::small_wgrad_kernel<V, 5, 2, float>("f32_small_wgrad_5x8__generic")},
          3,
          {simd::small_forward_kernel<V, 7, 2, float>("f32_small_forward_7x8__generic"),
           simd::small_forward_kernel<V, 7, 1, float>("f32_small_forward_7x4__generic")},
          2};
}
SmallChannelKernels<double> f64_small_channel_kernels() {
  using V = simd::generic::Vec4<double>;
  return {{simd::small_wgrad_kernel<V, 4, 1, double>("f64_small_wgrad_4x4__generic"),
           simd::small_wgrad_kernel<V, 4, 2, double>("f64_small_wgrad_4x8__generic")},
          2, simd::small_transpose<V, double>,
          {simd::small_forward_kernel<V, 4, 1, double>("f64_small_forward_4x4__generic"),
           simd::small_forward_kernel<V, 4, 2, double>("f64_small_forward_4x8__generic")},
          2,
          {simd::small_wgrad_kernel<V, 5, 1, double>("f64_small_wgrad_5x4__generic"),
           simd::small_wgrad_kernel<V, 7, 1, double>("f64_small_wgrad_7x4__generic"),
           simd::small_wgrad_kernel<V, 5, 2, double>("f64_small_wgrad_5x8__generic")},
          3,
          {simd::small_forward_kernel<V, 7, 2, double>("f64_small_forward_7x8__generic"),
           simd::small_forward_kernel<V, 7, 1, double>("f64_small_forward_7x4__generic")},
          2};
}

}  // namespace fastconv::cpu::generic
