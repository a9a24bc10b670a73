// AVX-512 micro-kernels (compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma; called
// only where cpuid and the OS report them). f32_gemm_8x32__avx512 and f64_gemm_8x16__avx512:
// 16 accumulator registers of the 32, two B vectors and one broadcast per step.
#include <immintrin.h>

#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemm_simd_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

namespace {

using simd::avx512::F32;
using simd::avx512::F64;

void f32_8x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m,
              int64_t n, bool accumulate) {
  simd::micro_kernel<F32, 8, 2>(kc, a, b, c, ldc, m, n, accumulate);
}

void f64_8x16(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, int64_t m,
              int64_t n, bool accumulate) {
  simd::micro_kernel<F64, 8, 2>(kc, a, b, c, ldc, m, n, accumulate);
}

void f32_pack_rows(int64_t rows, int64_t k, const float* s, int64_t lds, int64_t width,
                   float* packed) {
  simd::pack_rows_to_panels<F32>(rows, k, s, lds, width, packed);
}

void f64_pack_rows(int64_t rows, int64_t k, const double* s, int64_t lds, int64_t width,
                   double* packed) {
  simd::pack_rows_to_panels<F64>(rows, k, s, lds, width, packed);
}

}  // namespace

MicroKernel<float> f32_micro_kernel() {
  return {"f32_gemm_8x32__avx512", 8, 32, f32_8x32, f32_pack_rows};
}
MicroKernel<double> f64_micro_kernel() {
  return {"f64_gemm_8x16__avx512", 8, 16, f64_8x16, f64_pack_rows};
}

}  // namespace fastconv::cpu::avx512
