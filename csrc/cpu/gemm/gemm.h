// Single-threaded packed GEMM on strided operands (BLIS structure: pack, block, micro-kernel).
//
//   C[i*ldc + j] (= or +=) sum_k A[i*rs_a + k*cs_a] * B[k*rs_b + j*cs_b]
//
// Any transposition is expressed through the strides, so one routine serves the three
// convolution primitives. Callers parallelise *around* it (over independent output tiles),
// which keeps every output element's reduction order fixed: results do not depend on the
// thread count.
#pragma once

#include <cstdint>

namespace fastconv::cpu {

template <typename T>
struct StridedMatrix {
  const T* data;
  int64_t row_stride;
  int64_t col_stride;
};

// What the last reduction slice of a C tile does on its way out (forward convolutions: the bias
// and ReLU of epilogue.h fused into the store, so that a large output is written once):
//   C = C' + bias[row] (bias nullptr: + 0, as bias_relu_row adds 0 where only relu is fused),
//   then max(0, C) keeping NaN and -0.0 when relu; applied only where bias or relu is set.
// stream: non-temporal stores where a tile's rows are vector-aligned (an output far larger than
// the caches, written once: no read-for-ownership of its lines). Same values either way.
template <typename T>
struct TileEpilogue {
  const T* bias = nullptr;  // per row of C (offset by the driver to each tile's first row)
  bool relu = false;
  bool stream = false;
};

template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, StridedMatrix<T> a, StridedMatrix<T> b, T* c,
          int64_t ldc, bool accumulate);

// Operands packed once and reused across calls (weights across column tiles), or produced
// directly in packed form (im2col writing B panels), skip gemm()'s per-call packing.
//   packed A: ceil(m / mr) panels, panel q holds a[(q * k + kk) * mr + i] = A[q * mr + i, kk]
//   packed B: ceil(n / nr) panels, panel q holds b[(q * k + kk) * nr + j] = B[kk, q * nr + j]
// zero-padded to whole panels; mr and nr are those of the active micro-kernel.
template <typename T>
int64_t gemm_mr();
template <typename T>
int64_t gemm_nr();
template <typename T>
int64_t packed_a_size(int64_t m, int64_t k);  // elements
template <typename T>
int64_t packed_b_size(int64_t n, int64_t k);
template <typename T>
void pack_a_panels(int64_t m, int64_t k, StridedMatrix<T> a, T* packed);
template <typename T>
void pack_b_panels(int64_t k, int64_t n, StridedMatrix<T> b, T* packed);
// C (=|+=) A * B from packed operands; same reduction order as gemm().
template <typename T>
void gemm_packed(int64_t m, int64_t n, int64_t k, const T* a_packed, const T* b_packed, T* c,
                 int64_t ldc, bool accumulate);
// The same with explicit panel strides (elements from one panel's start to the next): a caller
// that builds B one reduction slice at a time passes A's panels at an offset into the whole
// packed A (a_packed + pc * mr, a_panel_stride = k_total * mr). Slices that start at multiples
// of gemm_kc() and span at most gemm_kc() keep gemm()'s reduction order. `epilogue` (optional)
// is applied by the stores of the call's last slice: pass it with the last slice of C's reduction.
template <typename T>
void gemm_packed_panels(int64_t m, int64_t n, int64_t k, const T* a_packed, int64_t a_panel_stride,
                        const T* b_packed, int64_t b_panel_stride, T* c, int64_t ldc,
                        bool accumulate, const TileEpilogue<T>* epilogue = nullptr);
// C (=|+=) A * B with A in packed panels (as gemm_packed_panels) and B row-major, read in place:
// B[kk, j] = b[kk * ldb + j], no packing (the forward of a 1x1 conv: B is the input's rows). Only
// the columns past the last whole nr panel are packed. Same reduction order as gemm_packed_panels
// (kc slices); the epilogue applies to the last slice.
template <typename T>
void gemm_packed_a_rowmajor_b(int64_t m, int64_t n, int64_t k, const T* a_packed,
                              int64_t a_panel_stride, const T* b, int64_t ldb, T* c, int64_t ldc,
                              bool accumulate, const TileEpilogue<T>* epilogue = nullptr);
// Dot-product form (gemm_kernels.h DotKernelFn) for A and B both contiguous along the reduction,
// in `segments` runs of len (samples: A's at a + s * sa, B's at b + s * sb):
//   C[i * ldc + j] (= or +=) sum_{s < segments, p < len} A[s * sa + i * lda + p] * B[s * sb + j * ldb + p]
// no packing; an element's bits depend only on len, segments and the ISA. gemm_has_dot(): the active ISA
// has one (not the generic path: callers pack and use the GEMM there).
template <typename T>
bool gemm_has_dot();
template <typename T>
void gemm_dot(int64_t m, int64_t n, int64_t len, int64_t segments, int64_t sa, int64_t sb,
              const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
              bool accumulate);
// The reduction slice length of gemm() and gemm_packed() (fixed, independent of the ISA).
int64_t gemm_kc();

}  // namespace fastconv::cpu
