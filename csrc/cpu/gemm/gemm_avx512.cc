// AVX-512 micro-kernels (compiled with FASTCONV_AVX512_FLAGS; called only where cpuid and the OS
// report them): 8 rows x 2 vectors, 16 accumulator registers of the 32, two B vectors and one
// broadcast per step.
#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemm_simd_kernel.h"
#include "cpu/simd/vec_avx512.h"

namespace fastconv::cpu::avx512 {

namespace {

// The wrappers (their stream() serves TileEpilogue::stream) plus the dot kernel's lane sum
// (the intrinsics' fixed halving tree). and masked load of a tail.
struct F32 : simd::avx512::F32 {
  // 24 accumulators + 6 vectors of the long side + 1 of the short side: 31 of 32 registers
  static constexpr int kDotRows = 6, kDotCols = 4;
  static float reduce_add(type v) { return _mm512_reduce_add_ps(v); }
  static type load_first(const float* p, int64_t n) {
    return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
  }
};
struct F64 : simd::avx512::F64 {
  // 24 accumulators + 6 vectors of the long side + 1 of the short side: 31 of 32 registers
  static constexpr int kDotRows = 6, kDotCols = 4;
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
