// AVX2 depthwise row kernels (compiled with FASTCONV_AVX2_FLAGS; called only where cpuid and
// the OS report them): the template of conv_depthwise_kernel.h with blocks of 4 vectors.
// f32_depthwise_row_4x8__avx2 and f64_depthwise_row_4x4__avx2.
#include <immintrin.h>

#include "cpu/conv/conv_depthwise.h"
#include "cpu/conv/conv_depthwise_kernel.h"
#include "cpu/simd/vec_avx2.h"

namespace fastconv::cpu::avx2 {

namespace {

using simd::avx2::F32;
using simd::avx2::F64;

void f32_row(int64_t ntaps, const float* w, const float* const* src, int64_t len, float bias,
             float* out) {
  simd::depthwise_row<F32, 4>(ntaps, w, src, len, bias, out);
}
void f64_row(int64_t ntaps, const double* w, const double* const* src, int64_t len, double bias,
             double* out) {
  simd::depthwise_row<F64, 4>(ntaps, w, src, len, bias, out);
}
void f32_dot(int64_t ntaps, const float* const* src, const float* g, int64_t len, float* acc) {
  simd::depthwise_dot<F32>(ntaps, src, g, len, acc);
}
void f64_dot(int64_t ntaps, const double* const* src, const double* g, int64_t len,
             double* acc) {
  simd::depthwise_dot<F64>(ntaps, src, g, len, acc);
}

}  // namespace

DepthwiseKernels<float> f32_depthwise_kernels() {
  return {"f32_depthwise_row_4x8__avx2", F32::kLanes, f32_row, f32_dot};
}
DepthwiseKernels<double> f64_depthwise_kernels() {
  return {"f64_depthwise_row_4x4__avx2", F64::kLanes, f64_row, f64_dot};
}

}  // namespace fastconv::cpu::avx2
