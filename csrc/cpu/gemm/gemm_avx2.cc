// AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma; called only where cpuid reports both).
// f32_gemm_6x16__avx2 and f64_gemm_6x8__avx2: 12 accumulator registers of the 16.
#include <immintrin.h>

#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemm_simd_kernel.h"

namespace fastconv::cpu::avx2 {

namespace {

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

void f32_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m,
              int64_t n, bool accumulate) {
  simd::micro_kernel<F32, 6, 2>(kc, a, b, c, ldc, m, n, accumulate);
}

void f64_6x8(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, int64_t m,
             int64_t n, bool accumulate) {
  simd::micro_kernel<F64, 6, 2>(kc, a, b, c, ldc, m, n, accumulate);
}

}  // namespace

MicroKernel<float> f32_micro_kernel() { return {"f32_gemm_6x16__avx2", 6, 16, f32_6x16}; }
MicroKernel<double> f64_micro_kernel() { return {"f64_gemm_6x8__avx2", 6, 8, f64_6x8}; }

}  // namespace fastconv::cpu::avx2
