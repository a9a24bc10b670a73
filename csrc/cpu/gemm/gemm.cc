// Packed GEMM driver (BLIS structure): C is computed in mc x nc blocks with the reduction split
// into kc slices; A is packed into mr-row panels and B into nr-column panels, zero-padded at the
// edges, and the ISA's micro-kernel (gemm_kernels.h) runs on every mr x nr tile. Packing reads
// A and B through their strides, so every transposition costs the same code.
//
// The reduction of every C element runs in one fixed order (kc slices in turn, k ascending
// inside), independent of how a caller splits M or N between threads.
#include <algorithm>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>  // _mm_sfence (SSE: x86-64 baseline)
#endif

#include "common/cpu_features.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastconv::cpu {

namespace {

constexpr int64_t kKC = 256;   // one packed A panel (mr x kc) and B panel (kc x nr) stay in L1
constexpr int64_t kMCRows = 128;  // A block of about kMCRows x kc stays in L2
constexpr int64_t kNC = 1024;  // B block of kc x kNC stays in L2

template <typename T>
MicroKernel<T> select_micro_kernel();

template <>
MicroKernel<float> select_micro_kernel<float>() {
  return FASTCONV_ISA_DISPATCH(f32_micro_kernel);
}

template <>
MicroKernel<double> select_micro_kernel<double>() {
  return FASTCONV_ISA_DISPATCH(f64_micro_kernel);
}

template <typename T>
const MicroKernel<T>& kernel_in_use();

// pack_a of an A whose columns are contiguous (A[i, k] = a[i + k * cs]: W^T of backward_data):
// each k gives every panel a run of MR elements (fixed length: vector moves, not a scalar loop of
// runtime length). Blocks of kKB columns are packed panel by panel, so the kKB column runs read
// stay in L1 and are streamed sequentially (U-Net convT 2x2/2 1024->512's W^T: 8 MB, columns
// 8 KB apart; perf: pack_a 5.8% of the call, reading one 32-byte run per page).
template <typename T, int64_t MR>
void pack_a_columns(int64_t mc, int64_t kc, const T* a, int64_t cs, T* packed) {
  constexpr int64_t kKB = 16;
  const int64_t full = mc / MR, rows = mc - full * MR;  // whole panels, then a partial one
  for (int64_t k0 = 0; k0 < kc; k0 += kKB) {
    const int64_t k1 = std::min(kc, k0 + kKB);
    for (int64_t p = 0; p < full; ++p)
      for (int64_t k = k0; k < k1; ++k) {
        const T* src = a + p * MR + k * cs;
        T* dst = packed + (p * kc + k) * MR;
        for (int64_t i = 0; i < MR; ++i) dst[i] = src[i];
      }
    if (rows > 0)
      for (int64_t k = k0; k < k1; ++k) {
        const T* src = a + full * MR + k * cs;
        T* dst = packed + (full * kc + k) * MR;
        for (int64_t i = 0; i < rows; ++i) dst[i] = src[i];
        for (int64_t i = rows; i < MR; ++i) dst[i] = T(0);
      }
  }
}

template <typename T>
void pack_a(int64_t mc, int64_t kc, const T* a, int64_t rs, int64_t cs, int64_t mr, T* packed) {
  if (cs == 1 && kernel_in_use<T>().pack_rows) {  // rows of A are contiguous: block transposes
    kernel_in_use<T>().pack_rows(mc, kc, a, rs, mr, packed);
    return;
  }
  if (rs == 1) {  // columns of A contiguous (W^T of backward_data): runs of mr elements
    switch (mr) {
      case 4: return pack_a_columns<T, 4>(mc, kc, a, cs, packed);
      case 6: return pack_a_columns<T, 6>(mc, kc, a, cs, packed);
      case 8: return pack_a_columns<T, 8>(mc, kc, a, cs, packed);
      default: break;
    }
  }
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int64_t rows = std::min(mr, mc - i0);
    for (int64_t k = 0; k < kc; ++k) {
      T* dst = packed + k * mr;
      for (int64_t i = 0; i < rows; ++i) dst[i] = a[(i0 + i) * rs + k * cs];
      for (int64_t i = rows; i < mr; ++i) dst[i] = T(0);
    }
    packed += mr * kc;
  }
}

template <typename T>
void pack_b(int64_t kc, int64_t nc, const T* b, int64_t rs, int64_t cs, int64_t nr, T* packed) {
  if (rs == 1 && cs != 1 && kernel_in_use<T>().pack_rows) {  // B^T is row-major: block transposes
    kernel_in_use<T>().pack_rows(nc, kc, b, cs, nr, packed);
    return;
  }
  for (int64_t j0 = 0; j0 < nc; j0 += nr) {
    const int64_t cols = std::min(nr, nc - j0);
    for (int64_t k = 0; k < kc; ++k) {
      const T* src = b + k * rs + j0 * cs;
      T* dst = packed + k * nr;
      if (cs == 1) {
        std::copy(src, src + cols, dst);
      } else {
        for (int64_t j = 0; j < cols; ++j) dst[j] = src[j * cs];
      }
      std::fill(dst + cols, dst + nr, T(0));
    }
    packed += nr * kc;
  }
}

template <typename T>
const MicroKernel<T>& kernel_in_use() {
  static const MicroKernel<T> kernel = select_micro_kernel<T>();
  return kernel;
}

// Handles the products with nothing to multiply: an empty C, or k = 0 (C = 0 unless
// accumulating). True when there is nothing left to compute.
template <typename T>
bool empty_product(int64_t m, int64_t n, int64_t k, T* c, int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return true;
  if (k > 0) return false;
  if (!accumulate)
    for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
  return true;
}

}  // namespace

template <typename T>
const MicroKernel<T>& active_micro_kernel() {
  return kernel_in_use<T>();
}

template <typename T>
bool gemm_has_dot() {
  return active_micro_kernel<T>().dot != nullptr;
}

template <typename T>
void gemm_dot(int64_t m, int64_t n, int64_t len, int64_t segments, int64_t sa, int64_t sb,
              const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
              bool accumulate) {
  active_micro_kernel<T>().dot(m, n, len, segments, sa, sb, a, lda, b, ldb, c, ldc, accumulate);
}

template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, StridedMatrix<T> a, StridedMatrix<T> b, T* c,
          int64_t ldc, bool accumulate) {
  if (empty_product(m, n, k, c, ldc, accumulate)) return;
  const MicroKernel<T>& uk = active_micro_kernel<T>();
  const int64_t mr = uk.mr, nr = uk.nr;
  const int64_t mc_max = std::max<int64_t>(mr, kMCRows / mr * mr);
  const int64_t nc_max = kNC / nr * nr;
  // thread_local: each calling thread reuses its packing buffers across calls.
  thread_local std::vector<T> a_pack, b_pack;
  a_pack.resize(size_t(mc_max * kKC));
  b_pack.resize(size_t(kKC * nc_max));

  for (int64_t jc = 0; jc < n; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n - jc);
    for (int64_t pc = 0; pc < k; pc += kKC) {
      const int64_t kc = std::min(kKC, k - pc);
      const bool acc = accumulate || pc > 0;
      pack_b(kc, nc, b.data + pc * b.row_stride + jc * b.col_stride, b.row_stride, b.col_stride,
             nr, b_pack.data());
      for (int64_t ic = 0; ic < m; ic += mc_max) {
        const int64_t mc = std::min(mc_max, m - ic);
        pack_a(mc, kc, a.data + ic * a.row_stride + pc * a.col_stride, a.row_stride, a.col_stride,
               mr, a_pack.data());
        for (int64_t jr = 0; jr < nc; jr += nr) {
          for (int64_t ir = 0; ir < mc; ir += mr) {
            uk.run(kc, a_pack.data() + ir * kc, b_pack.data() + jr * kc, nr,
                   c + (ic + ir) * ldc + jc + jr, ldc, std::min(mr, mc - ir),
                   std::min(nr, nc - jr), acc, nullptr);
          }
        }
      }
    }
  }
}

template <typename T>
int64_t gemm_mr() {
  return active_micro_kernel<T>().mr;
}

template <typename T>
int64_t gemm_nr() {
  return active_micro_kernel<T>().nr;
}

template <typename T>
int64_t packed_a_size(int64_t m, int64_t k) {
  const int64_t mr = gemm_mr<T>();
  return (m + mr - 1) / mr * mr * k;
}

template <typename T>
int64_t packed_b_size(int64_t n, int64_t k) {
  const int64_t nr = gemm_nr<T>();
  return (n + nr - 1) / nr * nr * k;
}

template <typename T>
void pack_a_panels(int64_t m, int64_t k, StridedMatrix<T> a, T* packed) {
  pack_a(m, k, a.data, a.row_stride, a.col_stride, gemm_mr<T>(), packed);
}

template <typename T>
void pack_b_panels(int64_t k, int64_t n, StridedMatrix<T> b, T* packed) {
  pack_b(k, n, b.data, b.row_stride, b.col_stride, gemm_nr<T>(), packed);
}

template <typename T>
void gemm_packed_panels(int64_t m, int64_t n, int64_t k, const T* a_packed, int64_t a_panel_stride,
                        const T* b_packed, int64_t b_panel_stride, T* c, int64_t ldc,
                        bool accumulate, const TileEpilogue<T>* epilogue) {
  if (empty_product(m, n, k, c, ldc, accumulate)) return;  // (k = 0: no epilogue applied)
  const MicroKernel<T>& uk = active_micro_kernel<T>();
  const int64_t mr = uk.mr, nr = uk.nr;
  // kc slices in the same order as gemm(); inside one, a B panel stays in L1 while the A panels
  // (m x kc, in L2) stream past it.
  for (int64_t pc = 0; pc < k; pc += kKC) {
    const int64_t kc = std::min(kKC, k - pc);
    const bool acc = accumulate || pc > 0;
    const bool last = pc + kc >= k;
    for (int64_t jr = 0; jr < n; jr += nr) {
      const T* b_panel = b_packed + (jr / nr) * b_panel_stride + pc * nr;
      for (int64_t ir = 0; ir < m; ir += mr) {
        TileEpilogue<T> tile_epilogue;
        if (last && epilogue) {
          tile_epilogue = *epilogue;
          if (epilogue->bias) tile_epilogue.bias = epilogue->bias + ir;
        }
        uk.run(kc, a_packed + (ir / mr) * a_panel_stride + pc * mr, b_panel, nr,
               c + ir * ldc + jr, ldc, std::min(mr, m - ir), std::min(nr, n - jr), acc,
               last && epilogue ? &tile_epilogue : nullptr);
      }
    }
  }
#if defined(__x86_64__) || defined(__i386__)
  // Non-temporal stores are weakly ordered: make them visible before the caller's barrier.
  if (epilogue && epilogue->stream) _mm_sfence();
#endif
}

template <typename T>
void gemm_packed_a_rowmajor_b(int64_t m, int64_t n, int64_t k, const T* a_packed,
                              int64_t a_panel_stride, const T* b, int64_t ldb, T* c, int64_t ldc,
                              bool accumulate, const TileEpilogue<T>* epilogue) {
  if (empty_product(m, n, k, c, ldc, accumulate)) return;  // (k = 0: no epilogue applied)
  const MicroKernel<T>& uk = active_micro_kernel<T>();
  const MicroKernelFn<T> run_prefetching = uk.run_prefetch_next_b ? uk.run_prefetch_next_b : uk.run;
  const int64_t mr = uk.mr, nr = uk.nr;
  thread_local std::vector<T> tail;  // the last, partial panel of B, packed
  for (int64_t pc = 0; pc < k; pc += kKC) {
    const int64_t kc = std::min(kKC, k - pc);
    const bool acc = accumulate || pc > 0;
    const bool last = pc + kc >= k;
    for (int64_t jr = 0; jr < n; jr += nr) {
      const int64_t cols = std::min(nr, n - jr);
      const T* b_panel = b + pc * ldb + jr;
      int64_t ldb_panel = ldb;
      if (cols < nr) {  // reading nr columns in place would run past B's rows
        tail.resize(size_t(kKC * nr));
        for (int64_t kk = 0; kk < kc; ++kk) {
          std::copy(b_panel + kk * ldb, b_panel + kk * ldb + cols, tail.data() + kk * nr);
          std::fill(tail.data() + kk * nr + cols, tail.data() + (kk + 1) * nr, T(0));
        }
        b_panel = tail.data();
        ldb_panel = nr;
      }
      for (int64_t ir = 0; ir < m; ir += mr) {
        TileEpilogue<T> tile_epilogue;
        if (last && epilogue) {
          tile_epilogue = *epilogue;
          if (epilogue->bias) tile_epilogue.bias = epilogue->bias + ir;
        }
        // The first row panel brings the B panel into L1 and fetches the next one.
        (ir == 0 && cols == nr ? run_prefetching : uk.run)(
            kc, a_packed + (ir / mr) * a_panel_stride + pc * mr, b_panel, ldb_panel,
            c + ir * ldc + jr, ldc, std::min(mr, m - ir), cols, acc,
            last && epilogue ? &tile_epilogue : nullptr);
      }
    }
  }
#if defined(__x86_64__) || defined(__i386__)
  if (epilogue && epilogue->stream) _mm_sfence();
#endif
}

template <typename T>
void gemm_packed(int64_t m, int64_t n, int64_t k, const T* a_packed, const T* b_packed, T* c,
                 int64_t ldc, bool accumulate) {
  gemm_packed_panels(m, n, k, a_packed, k * gemm_mr<T>(), b_packed, k * gemm_nr<T>(), c, ldc,
                     accumulate, static_cast<const TileEpilogue<T>*>(nullptr));
}

int64_t gemm_kc() { return kKC; }

#define FASTCONV_INSTANTIATE_GEMM(T)                                                            \
  template int64_t gemm_mr<T>();                                                                \
  template int64_t gemm_nr<T>();                                                                \
  template int64_t packed_a_size<T>(int64_t, int64_t);                                          \
  template int64_t packed_b_size<T>(int64_t, int64_t);                                          \
  template void pack_a_panels<T>(int64_t, int64_t, StridedMatrix<T>, T*);                       \
  template void pack_b_panels<T>(int64_t, int64_t, StridedMatrix<T>, T*);                       \
  template void gemm_packed<T>(int64_t, int64_t, int64_t, const T*, const T*, T*, int64_t, bool); \
  template void gemm_packed_panels<T>(int64_t, int64_t, int64_t, const T*, int64_t, const T*,      \
                                      int64_t, T*, int64_t, bool, const TileEpilogue<T>*);     \
  template void gemm_packed_a_rowmajor_b<T>(int64_t, int64_t, int64_t, const T*, int64_t,         \
                                            const T*, int64_t, T*, int64_t, bool,                 \
                                            const TileEpilogue<T>*);
FASTCONV_INSTANTIATE_GEMM(float)
template bool gemm_has_dot<float>();
template bool gemm_has_dot<double>();
template void gemm_dot<float>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const float*,
                              int64_t, const float*, int64_t, float*, int64_t, bool);
template void gemm_dot<double>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                               const double*, int64_t, const double*, int64_t, double*, int64_t,
                               bool);
FASTCONV_INSTANTIATE_GEMM(double)
#undef FASTCONV_INSTANTIATE_GEMM

template void gemm<float>(int64_t, int64_t, int64_t, StridedMatrix<float>, StridedMatrix<float>,
                          float*, int64_t, bool);
template void gemm<double>(int64_t, int64_t, int64_t, StridedMatrix<double>, StridedMatrix<double>,
                           double*, int64_t, bool);
template const MicroKernel<float>& active_micro_kernel<float>();
template const MicroKernel<double>& active_micro_kernel<double>();

}  // namespace fastconv::cpu
