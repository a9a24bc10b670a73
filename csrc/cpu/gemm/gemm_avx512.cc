// AVX-512 micro-kernels (compiled with FASTCONV_AVX512_FLAGS; called only where cpuid and the OS
// report them): 8 rows x 2 vectors, 16 accumulator registers of the 32, two B vectors and one
// broadcast per step.
#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemm_simd_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

namespace {

// The wrappers plus the non-temporal store of TileEpilogue::stream and the lane sum of the dot
// kernel (the intrinsics' fixed halving tree).
struct F32 : simd::avx512::F32 {
  static constexpr int kDotRows = 6, kDotCols = 4;  // 24 accumulators + 6 vectors of the long side + 1 of the short side of the 32 registers
  static void stream(float* p, type v) { _mm512_stream_ps(p, v); }
  static float reduce_add(type v) { return _mm512_reduce_add_ps(v); }
  static type load_first(const float* p, int64_t n) {
    return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
  }
};
struct F64 : simd::avx512::F64 {
  static constexpr int kDotRows = 6, kDotCols = 4;  // 24 accumulators + 6 vectors of the long side + 1 of the short side of the 32 registers
  static void stream(double* p, type v) { _mm512_stream_pd(p, v); }
  static double reduce_add(type v) { return _mm512_reduce_add_pd(v); }
  static type load_first(const double* p, int64_t n) {
    return _mm512_maskz_loadu_pd(__mmask8((1u << n) - 1), p);
  }
};

}  // namespace

MicroKernel<float> f32_micro_kernel() {
  return simd::simd_micro_kernel<F32, 8, 2, float>("f32_gemm_8x32__avx512");
}
MicroKernel<double> f64_micro_kernel() {
  return simd::simd_micro_kernel<F64, 8, 2, double>("f64_gemm_8x16__avx512");
}

}  // namespace fastconv::cpu::avx512
