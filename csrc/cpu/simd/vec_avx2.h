// AVX2 + FMA vector wrappers for the SIMD kernel templates (e.g. cpu/gemm/gemm_simd_kernel.h).
// Include ONLY from files compiled with FASTCONV_AVX2_FLAGS (CMakeLists.txt), so that these
// inline functions are never compiled for, or merged into, baseline code.
#pragma once

#include <immintrin.h>

namespace fastconv::cpu::simd::avx2 {

struct F32 {
  using type = __m256;
  static constexpr int kLanes = 8;
  static type zero() { return _mm256_setzero_ps(); }
  static type load(const float* p) { return _mm256_loadu_ps(p); }
  static type broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static type fmadd(type a, type b, type c) { return _mm256_fmadd_ps(a, b, c); }
  static type add(type a, type b) { return _mm256_add_ps(a, b); }
  static void store(float* p, type v) { _mm256_storeu_ps(p, v); }
};

struct F64 {
  using type = __m256d;
  static constexpr int kLanes = 4;
  static type zero() { return _mm256_setzero_pd(); }
  static type load(const double* p) { return _mm256_loadu_pd(p); }
  static type broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static type fmadd(type a, type b, type c) { return _mm256_fmadd_pd(a, b, c); }
  static type add(type a, type b) { return _mm256_add_pd(a, b); }
  static void store(double* p, type v) { _mm256_storeu_pd(p, v); }
};

}  // namespace fastconv::cpu::simd::avx2
