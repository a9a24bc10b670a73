// AVX-512 micro-kernels (compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma; called
// only where cpuid and the OS report them). f32_gemm_8x32__avx512 and f64_gemm_8x16__avx512:
// 16 accumulator registers of the 32, two B vectors and one broadcast per step.
#include <immintrin.h>

#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemm_simd_kernel.h"

namespace fastconv::cpu::avx512 {

namespace {

struct F32 {
  using type = __m512;
  static constexpr int kLanes = 16;
  static type zero() { return _mm512_setzero_ps(); }
  static type load(const float* p) { return _mm512_loadu_ps(p); }
  static type broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static type fmadd(type a, type b, type c) { return _mm512_fmadd_ps(a, b, c); }
  static type add(type a, type b) { return _mm512_add_ps(a, b); }
  static void store(float* p, type v) { _mm512_storeu_ps(p, v); }
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
};

void f32_8x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m,
              int64_t n, bool accumulate) {
  simd::micro_kernel<F32, 8, 2>(kc, a, b, c, ldc, m, n, accumulate);
}

void f64_8x16(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, int64_t m,
              int64_t n, bool accumulate) {
  simd::micro_kernel<F64, 8, 2>(kc, a, b, c, ldc, m, n, accumulate);
}

}  // namespace

MicroKernel<float> f32_micro_kernel() { return {"f32_gemm_8x32__avx512", 8, 32, f32_8x32}; }
MicroKernel<double> f64_micro_kernel() { return {"f64_gemm_8x16__avx512", 8, 16, f64_8x16}; }

}  // namespace fastconv::cpu::avx512
