// AVX-512 vector wrappers for the SIMD kernel templates (e.g. cpu/gemm/gemm_simd_kernel.h).
// Include ONLY from files compiled with FASTCONV_AVX512_FLAGS (CMakeLists.txt), so that these
// inline functions are never compiled for, or merged into, baseline code.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace fastconv::cpu::simd::avx512 {

struct F32 {
  using type = __m512;
  static constexpr int kLanes = 16;
  static type zero() { return _mm512_setzero_ps(); }
  static type load(const float* p) { return _mm512_loadu_ps(p); }
  static type broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static type fmadd(type a, type b, type c) { return _mm512_fmadd_ps(a, b, c); }
  static type add(type a, type b) { return _mm512_add_ps(a, b); }
  static void store(float* p, type v) { _mm512_storeu_ps(p, v); }
  // Transposes a kTile x kTile block: dst[j * ldd + i] = src[i * lds + j].
  static constexpr int kTile = 8;
  __attribute__((always_inline)) static void transpose_tile(const float* src, int64_t lds,
                                                            float* dst, int64_t ldd) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
      _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
      _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
  }
};

struct F64 {
  using type = __m512d;
  static constexpr int kLanes = 8;
  static type zero() { return _mm512_setzero_pd(); }
  static type load(const double* p) { return _mm512_loadu_pd(p); }
  static type broadcast(const double* p) { return _mm512_set1_pd(*p); }
  static type fmadd(type a, type b, type c) { return _mm512_fmadd_pd(a, b, c); }
  static type add(type a, type b) { return _mm512_add_pd(a, b); }
  static void store(double* p, type v) { _mm512_storeu_pd(p, v); }
  // Transposes a kTile x kTile block: dst[j * ldd + i] = src[i * lds + j].
  static constexpr int kTile = 4;
  __attribute__((always_inline)) static void transpose_tile(const double* src, int64_t lds,
                                                            double* dst, int64_t ldd) {
    const __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + lds);
    const __m256d r2 = _mm256_loadu_pd(src + 2 * lds), r3 = _mm256_loadu_pd(src + 3 * lds);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
  }
};

}  // namespace fastconv::cpu::simd::avx512
