// A plain C++ "vector" of 4 elements for the SIMD kernel templates' generic (baseline ISA)
// instantiations: the compiler vectorises it for whatever the baseline offers.
#pragma once

#include <cstdint>

namespace fastconv::cpu::simd::generic {

template <typename T>
struct Vec4 {
  struct type {
    T v[4];
  };
  using scalar = T;
  static constexpr int kLanes = 4;
  static type set1(T a) { return type{{a, a, a, a}}; }
  static type zero() { return set1(T(0)); }
  static type load(const T* p) { return type{{p[0], p[1], p[2], p[3]}}; }
  static type broadcast(const T* p) { return set1(*p); }
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
  static type sub(type a, type b) {
    type r;
    for (int k = 0; k < 4; ++k) r.v[k] = a.v[k] - b.v[k];
    return r;
  }
  static type mul(type a, type b) {
    type r;
    for (int k = 0; k < 4; ++k) r.v[k] = a.v[k] * b.v[k];
    return r;
  }
  // a > b ? a : b, as the SIMD max: b where b is NaN (or -0.0 against 0).
  static type max(type a, type b) {
    type r;
    for (int k = 0; k < 4; ++k) r.v[k] = a.v[k] > b.v[k] ? a.v[k] : b.v[k];
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

}  // namespace fastconv::cpu::simd::generic
