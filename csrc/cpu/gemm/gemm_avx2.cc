// AVX2 + FMA micro-kernels (compiled with FASTCONV_AVX2_FLAGS; called only where cpuid reports
// both): 6 rows x 2 vectors, 12 accumulator registers of the 16.
#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemm_simd_kernel.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

namespace {

// The wrappers plus the non-temporal store of TileEpilogue::stream.
struct F32 : simd::avx2::F32 {
  static void stream(float* p, type v) { _mm256_stream_ps(p, v); }
};
struct F64 : simd::avx2::F64 {
  static void stream(double* p, type v) { _mm256_stream_pd(p, v); }
};

}  // namespace

MicroKernel<float> f32_micro_kernel() {
  return simd::simd_micro_kernel<F32, 6, 2, float>("f32_gemm_6x16__avx2");
}
MicroKernel<double> f64_micro_kernel() {
  return simd::simd_micro_kernel<F64, 6, 2, double>("f64_gemm_6x8__avx2");
}

}  // namespace fastconv::cpu::avx2
