// Portable depthwise row kernels: the template of conv_depthwise_kernel.h over a plain C++
// "vector" of 4 elements that the compiler vectorises for the baseline ISA.
// f32_depthwise_row_4x4__generic and f64_depthwise_row_4x4__generic.
#include "cpu/conv/conv_depthwise.h"
#include "cpu/conv/conv_depthwise_kernel.h"
#include "cpu/simd/vec_generic.h"

#include <cstring>

namespace fastconv::cpu::generic {

using simd::generic::Vec4;

namespace {

// No portable non-temporal store: a plain copy.
template <typename T>
void plain_copy(const T* src, int64_t len, T* dst) {
  std::memcpy(dst, src, static_cast<size_t>(len) * sizeof(T));
}

// ... and unpack_channels for its streamed form.
template <typename T>
void plain_unpack(const T* src, int64_t nch, int64_t len, T* dst, int64_t ld) {
  simd::unpack_channels<Vec4<T>>(src, nch, len, dst, ld);
}

}  // namespace

DepthwiseKernels<float> f32_depthwise_kernels() {
  return simd::depthwise_kernels<Vec4<float>, 4, 4, float>("f32_depthwise_row_4x4__generic",
                                                           plain_copy<float>, plain_unpack<float>);
}
DepthwiseKernels<double> f64_depthwise_kernels() {
  return simd::depthwise_kernels<Vec4<double>, 4, 4, double>("f64_depthwise_row_4x4__generic",
                                                             plain_copy<double>, plain_unpack<double>);
}

}  // namespace fastconv::cpu::generic
