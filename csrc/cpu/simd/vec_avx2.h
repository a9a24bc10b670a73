// AVX2 + FMA vector wrappers for the SIMD kernel templates (e.g. cpu/gemm/gemm_simd_kernel.h).
// Include ONLY from files compiled with FASTCONV_AVX2_FLAGS (CMakeLists.txt), so that these
// inline functions are never compiled for, or merged into, baseline code.
#pragma once

#include <immintrin.h>

#include <cstdint>

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
  // Non-temporal store (p aligned to 32 bytes): for outputs far larger than the caches,
  // no read-for-ownership; weakly ordered, so store_fence() before another thread reads.
  static void stream(float* p, type v) { _mm256_stream_ps(p, v); }
  static void store_fence() { _mm_sfence(); }
  // --- elementwise math (cpu/simd/vmath.h). min/max are the instructions' own: min(a, b) is
  // a < b ? a : b, so with a constant first, min(c, x) / max(c, x) give x where x is NaN.
  using scalar = float;
  using mask = type;
  static type set1(float v) { return _mm256_set1_ps(v); }
  static type sub(type a, type b) { return _mm256_sub_ps(a, b); }
  static type mul(type a, type b) { return _mm256_mul_ps(a, b); }
  static type div(type a, type b) { return _mm256_div_ps(a, b); }
  static type min(type a, type b) { return _mm256_min_ps(a, b); }
  static type max(type a, type b) { return _mm256_max_ps(a, b); }
  static type bit_and(type a, type b) { return _mm256_and_ps(a, b); }
  static type bit_or(type a, type b) { return _mm256_or_ps(a, b); }
  static type bit_xor(type a, type b) { return _mm256_xor_ps(a, b); }
  static type bit_andnot(type a, type b) { return _mm256_andnot_ps(a, b); }  // ~a & b
  // Round to nearest, ties to even.
  static type round(type a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static mask lt(type a, type b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static mask gt(type a, type b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static mask ge(type a, type b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static mask eq(type a, type b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  // m ? a : b, lane by lane.
  static type select(mask m, type a, type b) { return _mm256_blendv_ps(b, a, m); }
  // Per-lane lookup in an 8-entry table: the integer part of q (0 <= q < 8; a NaN q reads
  // entry 0: the conversion gives 0x80000000, whose low 3 bits the permute reads).
  using index = __m256i;
  static index to_index(type q) { return _mm256_cvttps_epi32(q); }
  static type lookup8(const float* table, index i) {
    return _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), i);
  }
  // 2^n for integer-valued n with -126 <= n <= 127, built in the exponent bits: n + 1.5 * 2^23
  // holds n in its low mantissa bits; shifted up into the exponent field and biased.
  static type exp2i(type n) {
    const auto shifted = _mm256_add_ps(n, _mm256_set1_ps(0x1.8p23f));
    const auto bits = _mm256_slli_epi32(_mm256_castps_si256(shifted), 23);
    const auto bias = _mm256_set1_epi32(int32_t{127} << 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(bits, bias));
  }

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
  using type = __m256d;
  static constexpr int kLanes = 4;
  static type zero() { return _mm256_setzero_pd(); }
  static type load(const double* p) { return _mm256_loadu_pd(p); }
  static type broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static type fmadd(type a, type b, type c) { return _mm256_fmadd_pd(a, b, c); }
  static type add(type a, type b) { return _mm256_add_pd(a, b); }
  static void store(double* p, type v) { _mm256_storeu_pd(p, v); }
  // Non-temporal store (p aligned to 32 bytes): for outputs far larger than the caches,
  // no read-for-ownership; weakly ordered, so store_fence() before another thread reads.
  static void stream(double* p, type v) { _mm256_stream_pd(p, v); }
  static void store_fence() { _mm_sfence(); }
  // --- elementwise math (cpu/simd/vmath.h). min/max are the instructions' own: min(a, b) is
  // a < b ? a : b, so with a constant first, min(c, x) / max(c, x) give x where x is NaN.
  using scalar = double;
  using mask = type;
  static type set1(double v) { return _mm256_set1_pd(v); }
  static type sub(type a, type b) { return _mm256_sub_pd(a, b); }
  static type mul(type a, type b) { return _mm256_mul_pd(a, b); }
  static type div(type a, type b) { return _mm256_div_pd(a, b); }
  static type min(type a, type b) { return _mm256_min_pd(a, b); }
  static type max(type a, type b) { return _mm256_max_pd(a, b); }
  static type bit_and(type a, type b) { return _mm256_and_pd(a, b); }
  static type bit_or(type a, type b) { return _mm256_or_pd(a, b); }
  static type bit_xor(type a, type b) { return _mm256_xor_pd(a, b); }
  static type bit_andnot(type a, type b) { return _mm256_andnot_pd(a, b); }  // ~a & b
  // Round to nearest, ties to even.
  static type round(type a) {
    return _mm256_round_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static mask lt(type a, type b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
  static mask gt(type a, type b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
  static mask ge(type a, type b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }
  static mask eq(type a, type b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
  // m ? a : b, lane by lane.
  static type select(mask m, type a, type b) { return _mm256_blendv_pd(b, a, m); }
  // 2^n for integer-valued n with -1022 <= n <= 1023, built in the exponent bits: n + 1.5 * 2^52
  // holds n in its low mantissa bits; shifted up into the exponent field and biased.
  static type exp2i(type n) {
    const auto shifted = _mm256_add_pd(n, _mm256_set1_pd(0x1.8p52));
    const auto bits = _mm256_slli_epi64(_mm256_castpd_si256(shifted), 52);
    const auto bias = _mm256_set1_epi64x(int64_t{1023} << 52);
    return _mm256_castsi256_pd(_mm256_add_epi64(bits, bias));
  }

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

}  // namespace fastconv::cpu::simd::avx2
