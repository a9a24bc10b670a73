// AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma; called only where cpuid reports both).
// f32_gemm_6x16__avx2 and f64_gemm_6x8__avx2: 12 accumulator registers of the 16.
#include <immintrin.h>

#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemm_simd_kernel.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

namespace {

using simd::avx2::F32;
using simd::avx2::F64;

void f32_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m,
              int64_t n, bool accumulate) {
  simd::micro_kernel<F32, 6, 2>(kc, a, b, c, ldc, m, n, accumulate);
}

void f64_6x8(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, int64_t m,
             int64_t n, bool accumulate) {
  simd::micro_kernel<F64, 6, 2>(kc, a, b, c, ldc, m, n, accumulate);
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
  return {"f32_gemm_6x16__avx2", 6, 16, f32_6x16, f32_pack_rows};
}
MicroKernel<double> f64_micro_kernel() {
  return {"f64_gemm_6x8__avx2", 6, 8, f64_6x8, f64_pack_rows};
}

}  // namespace fastconv::cpu::avx2
