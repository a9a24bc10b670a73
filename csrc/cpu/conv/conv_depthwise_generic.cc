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
};

template <typename T>
void row(int64_t ntaps, const T* w, const T* const* src, int64_t len, T bias, T* out) {
  simd::depthwise_row<Vec4<T>, 4>(ntaps, w, src, len, bias, out);
}

template <typename T>
void dot(int64_t ntaps, const T* const* src, const T* g, int64_t len, T* acc) {
  simd::depthwise_dot<Vec4<T>>(ntaps, src, g, len, acc);
}

}  // namespace

DepthwiseKernels<float> f32_depthwise_kernels() {
  return {"f32_depthwise_row_4x4__generic", 4, row<float>, dot<float>};
}
DepthwiseKernels<double> f64_depthwise_kernels() {
  return {"f64_depthwise_row_4x4__generic", 4, row<double>, dot<double>};
}

}  // namespace fastconv::cpu::generic
