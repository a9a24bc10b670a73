// Portable Winograd transform kernels: conv_winograd_kernel.h's templates over a plain C++
// "vector" of 4 elements that the compiler vectorises for the baseline ISA.
#include <cstdint>

#include "cpu/conv/conv_winograd_kernel.h"

namespace fastconv::cpu::generic {

namespace {

template <typename T>
struct Vec4 {
  struct type {
    T v[4];
  };
  using scalar = T;
  static constexpr int kLanes = 4;
  static type zero() { return set1(T(0)); }
  static type set1(T a) { return type{{a, a, a, a}}; }
  static type load(const T* p) { return type{{p[0], p[1], p[2], p[3]}}; }
  static void store(T* p, type a) {
    for (int k = 0; k < 4; ++k) p[k] = a.v[k];
  }
  static type add(type a, type b) {
    for (int k = 0; k < 4; ++k) a.v[k] += b.v[k];
    return a;
  }
  static type sub(type a, type b) {
    for (int k = 0; k < 4; ++k) a.v[k] -= b.v[k];
    return a;
  }
  static type mul(type a, type b) {
    for (int k = 0; k < 4; ++k) a.v[k] *= b.v[k];
    return a;
  }
  // dst[j * ldd + i] = src[i * lds + j], i, j < kTile.
  static constexpr int kTile = 4;
  static void transpose_tile(const T* src, int64_t lds, T* dst, int64_t ldd) {
    for (int i = 0; i < kTile; ++i)
      for (int j = 0; j < kTile; ++j) dst[j * ldd + i] = src[i * lds + j];
  }
  // a > b ? a : b, as the SIMD max: b where b is NaN (or -0.0 against 0).
  static type max(type a, type b) {
    for (int k = 0; k < 4; ++k) a.v[k] = a.v[k] > b.v[k] ? a.v[k] : b.v[k];
    return a;
  }
};

}  // namespace

WinogradKernels<float> f32_winograd_kernels() {
  return simd::winograd_kernels<Vec4<float>, float>("f32_winograd_f4x4_16__generic");
}
WinogradKernels<double> f64_winograd_kernels() {
  return simd::winograd_kernels<Vec4<double>, double>(
      "f64_winograd_f4x4_16__generic");
}

}  // namespace fastconv::cpu::generic
