// Portable depthwise row kernels: the template of conv_depthwise_kernel.h over a plain C++
// "vector" of 4 elements that the compiler vectorises for the baseline ISA.
// f32_depthwise_row_4x4__generic and f64_depthwise_row_4x4__generic.
#include "cpu/conv/conv_depthwise.h"
#include "cpu/conv/conv_depthwise_kernel.h"
#include "cpu/simd/vec_generic.h"

namespace fastconv::cpu::generic {

using simd::generic::Vec4;

DepthwiseKernels<float> f32_depthwise_kernels() {
  return simd::depthwise_kernels<Vec4<float>, 4, float>("f32_depthwise_row_4x4__generic");
}
DepthwiseKernels<double> f64_depthwise_kernels() {
  return simd::depthwise_kernels<Vec4<double>, 4, double>("f64_depthwise_row_4x4__generic");
}

}  // namespace fastconv::cpu::generic
