// Portable depthwise row kernels: the template of conv_depthwise_kernel.h over a plain C++
// "vector" of 4 elements that the compiler vectorises for the baseline ISA.
// f32_depthwise_row_4x4__generic and f64_depthwise_row_4x4__generic.
#include "cpu/conv/conv_depthwise.h"
#include "cpu/conv/conv_depthwise_kernel.h"

namespace fastconv::cpu::generic {

namespace {

template <typename T>
struct Vec4 {
  struct type {
    T v[4];
  };
  static constexpr int kLanes = 4;
  static type zero() { return type{{T(0), T(0), T(0), T(0)}}; }
  static type load(const T* p) { return type{{p[0], p[1], p[2], p[3]}}; }
  static type broadcast(const T* p) { return type{{*p, *p, *p, *p}}; }
  static type fmadd(type a, type b, type c) {
    type r;
    for (int k = 0; k < 4; ++k) r.v[k] = a.v[k] * b.v[k] + c.v[k];
    return r;
  }
  static type add(type a, type b) {
    type r;
    for (int k = 0; k < 4; ++k) r.v[k] = a.v[k] + b.v[k];
    return r;
  }
  static void store(T* p, type a) {
    for (int k = 0; k < 4; ++k) p[k] = a.v[k];
  }
  static constexpr int kTile = 4;
  static void transpose_tile(const T* src, int64_t lds, T* dst, int64_t ldd) {
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) dst[j * ldd + i] = src[i * lds + j];
  }
};

}  // namespace

DepthwiseKernels<float> f32_depthwise_kernels() {
  return simd::depthwise_kernels<Vec4<float>, 4, float>("f32_depthwise_row_4x4__generic");
}
DepthwiseKernels<double> f64_depthwise_kernels() {
  return simd::depthwise_kernels<Vec4<double>, 4, double>("f64_depthwise_row_4x4__generic");
}

}  // namespace fastconv::cpu::generic
