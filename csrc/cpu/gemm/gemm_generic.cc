// Portable micro-kernels: plain C++ that the compiler vectorises for the baseline ISA.
// f32_gemm_4x8__generic and f64_gemm_4x4__generic: the register tile fits the 16 128-bit
// registers of the x86-64 baseline (two vectors per row).
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastconv::cpu::generic {

namespace {

template <typename T, int64_t MR, int64_t NR>
void micro_kernel(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t m,
                  int64_t n,
                  bool accumulate, const TileEpilogue<T>* ep) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const T* ak = a + k * MR;
    const T* bk = b + k * ldb;
    for (int64_t i = 0; i < MR; ++i) {
      const T ai = ak[i];
      for (int64_t j = 0; j < NR; ++j) acc[i][j] += ai * bk[j];
    }
  }
  // The epilogue's operations as in gemm_simd_kernel.h (streaming does not apply here).
  const bool bias_relu = ep != nullptr && (ep->bias || ep->relu);
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    const T bias = bias_relu && ep->bias ? ep->bias[i] : T(0);
    for (int64_t j = 0; j < n; ++j) {
      T v = accumulate ? ci[j] + acc[i][j] : acc[i][j];
      if (bias_relu) {
        v = v + bias;
        if (ep->relu && v < T(0)) v = T(0);
      }
      ci[j] = v;
    }
  }
}

}  // namespace

MicroKernel<float> f32_micro_kernel() {
  return {"f32_gemm_4x8__generic", 4, 8, micro_kernel<float, 4, 8>};
}
MicroKernel<double> f64_micro_kernel() {
  return {"f64_gemm_4x4__generic", 4, 4, micro_kernel<double, 4, 4>};
}

}  // namespace fastconv::cpu::generic
