// Portable packed GEMM: plain C++ that the compiler vectorises for the baseline ISA.
//
// Blocking: C is computed in kMC x kNC blocks with the reduction split into kKC slices; A is
// packed into kMR-row panels (a[k*kMR + i]) and B into kNR-column panels (b[k*kNR + j]), both
// zero-padded at the edges, so the micro-kernel always runs a full kMR x kNR tile and only its
// store is clipped. The register tile is sized for 16 128-bit registers (the x86-64 baseline);
// the SIMD micro-kernels of a later ISA path replace only gemm_micro_kernel.
#include "cpu/gemm/gemm.h"

#include <algorithm>
#include <vector>

namespace fastconv::cpu {

namespace {

template <typename T>
struct Tile {
  static constexpr int64_t kMR = 4;
  static constexpr int64_t kNR = 32 / sizeof(T);  // two 128-bit vectors per row
  static constexpr int64_t kKC = 256;
  static constexpr int64_t kMC = 64;
  static constexpr int64_t kNC = 1024;
};

template <typename T>
void pack_a(int64_t mc, int64_t kc, const T* a, int64_t rs, int64_t cs, T* packed) {
  constexpr int64_t MR = Tile<T>::kMR;
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int64_t rows = std::min(MR, mc - i0);
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t i = 0; i < rows; ++i) packed[k * MR + i] = a[(i0 + i) * rs + k * cs];
      for (int64_t i = rows; i < MR; ++i) packed[k * MR + i] = T(0);
    }
    packed += MR * kc;
  }
}

template <typename T>
void pack_b(int64_t kc, int64_t nc, const T* b, int64_t rs, int64_t cs, T* packed) {
  constexpr int64_t NR = Tile<T>::kNR;
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    const int64_t cols = std::min(NR, nc - j0);
    for (int64_t k = 0; k < kc; ++k) {
      const T* src = b + k * rs + j0 * cs;
      T* dst = packed + k * NR;
      if (cs == 1) {
        for (int64_t j = 0; j < cols; ++j) dst[j] = src[j];
      } else {
        for (int64_t j = 0; j < cols; ++j) dst[j] = src[j * cs];
      }
      for (int64_t j = cols; j < NR; ++j) dst[j] = T(0);
    }
    packed += NR * kc;
  }
}

// One kMR x kNR tile of C from packed panels; `m`, `n` clip the store at C's edges.
template <typename T>
void gemm_micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m, int64_t n,
                       bool accumulate) {
  constexpr int64_t MR = Tile<T>::kMR;
  constexpr int64_t NR = Tile<T>::kNR;
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const T* ak = a + k * MR;
    const T* bk = b + k * NR;
    for (int64_t i = 0; i < MR; ++i) {
      const T ai = ak[i];
      for (int64_t j = 0; j < NR; ++j) acc[i][j] += ai * bk[j];
    }
  }
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (accumulate) {
      for (int64_t j = 0; j < n; ++j) ci[j] += acc[i][j];
    } else {
      for (int64_t j = 0; j < n; ++j) ci[j] = acc[i][j];
    }
  }
}

}  // namespace

template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, StridedMatrix<T> a, StridedMatrix<T> b, T* c,
          int64_t ldc, bool accumulate) {
  using Tl = Tile<T>;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  // thread_local: each calling thread reuses its packing buffers across calls.
  thread_local std::vector<T> a_pack, b_pack;
  a_pack.resize(Tl::kMC * Tl::kKC);
  b_pack.resize(Tl::kKC * (Tl::kNC + Tl::kNR));

  for (int64_t jc = 0; jc < n; jc += Tl::kNC) {
    const int64_t nc = std::min(Tl::kNC, n - jc);
    for (int64_t pc = 0; pc < k; pc += Tl::kKC) {
      const int64_t kc = std::min(Tl::kKC, k - pc);
      const bool acc = accumulate || pc > 0;
      pack_b(kc, nc, b.data + pc * b.row_stride + jc * b.col_stride, b.row_stride, b.col_stride,
             b_pack.data());
      for (int64_t ic = 0; ic < m; ic += Tl::kMC) {
        const int64_t mc = std::min(Tl::kMC, m - ic);
        pack_a(mc, kc, a.data + ic * a.row_stride + pc * a.col_stride, a.row_stride, a.col_stride,
               a_pack.data());
        for (int64_t jr = 0; jr < nc; jr += Tl::kNR) {
          for (int64_t ir = 0; ir < mc; ir += Tl::kMR) {
            gemm_micro_kernel<T>(kc, a_pack.data() + ir * kc, b_pack.data() + jr * kc,
                                 c + (ic + ir) * ldc + jc + jr, ldc, std::min(Tl::kMR, mc - ir),
                                 std::min(Tl::kNR, nc - jr), acc);
          }
        }
      }
    }
  }
}

template void gemm<float>(int64_t, int64_t, int64_t, StridedMatrix<float>, StridedMatrix<float>,
                          float*, int64_t, bool);
template void gemm<double>(int64_t, int64_t, int64_t, StridedMatrix<double>, StridedMatrix<double>,
                           double*, int64_t, bool);

}  // namespace fastconv::cpu
