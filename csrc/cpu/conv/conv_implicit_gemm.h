// Per-ISA micro-kernels of the implicit-GEMM convolution (conv_implicit_gemm.cc is the driver).
//
// A micro-kernel computes one MR x NR tile of C = A * B where A is packed in MR-row panels
// (a[k * MR + i]) and row k of B is NOT packed: it is the contiguous stretch b + off[k] of the
// zero-padded input frame, read with unaligned vector loads:
//   C[i * ldc + j] (= or +=) sum_{k < kc} a[k * MR + i] * b[off[k] + j]    i < MR, j < NR
// The products of each element are summed in k order, in one vector lane, so the result does not
// depend on where the tile lies in the frame or in C. C always holds a whole MR x NR tile (the
// driver's C buffer is padded), so there is no edge case.
#pragma once

#include <cstdint>

#include "common/cpu_features.h"

namespace fastconv::cpu {

template <typename T>
using ImplicitGemmFn = void (*)(int64_t kc, const T* a, const T* b, const int64_t* off, T* c,
                                int64_t ldc, bool accumulate);

template <typename T>
struct ImplicitGemmKernel {
  const char* name;  // <dtype>_implicit_gemm_<mr>x<nr>__<isa>
  int64_t mr;
  int64_t nr;
  ImplicitGemmFn<T> run;
};

// The register tiles of one ISA, in order of preference; the driver takes the one that computes
// the fewest padded rows x columns for a problem (4 rows for ResNeXt's 4 channels per group,
// fewer columns for small planes).
constexpr int kMaxImplicitGemmKernels = 3;
template <typename T>
struct ImplicitGemmKernels {
  ImplicitGemmKernel<T> kernel[kMaxImplicitGemmKernels];
  int count;
};

// backward_weight's dot-product kernel: an MO x NK block of vector partial sums along positions,
//   acc[(i * NK + j) * L + l] += sum_{v < len / L} dy[i * ldy + v L + l] * f[off[j] + v L + l]
// for i < MO, j < NK, lanes l < L (len a multiple of L): every lane sums its own positions in
// order, so the result depends only on where the positions lie relative to the start.
template <typename T>
using ImplicitDotFn = void (*)(int64_t len, const T* dy, int64_t ldy, const T* f,
                               const int64_t* off, T* acc);

template <typename T>
struct ImplicitDotKernel {
  const char* name;  // <dtype>_implicit_dot_<mo>x<nk>x<lanes>__<isa>
  int64_t mo, nk, lanes;
  ImplicitDotFn<T> run;
};

// backward_weight's tap kernel, for small planes with many output channels: output channels
// along the vector lanes, so every position's products are summed in registers (no lane
// reduction, no vector partial sums in memory) and only the valid positions are visited:
//   c[i * ldc + j] += sum_{p < npos} f[off[i] + qpos[p]] * dyt[p * ldo + j]    i < MR, j < NV L
// each element summing its products in p order (mode kTapAccumulate: c is the first term), or
// summing them from zero, then stored (kTapStore) or added to c (kTapAddSum: c + the sum, the
// column path's K blocks).
enum ImplicitTapMode : int { kTapAccumulate = 0, kTapStore = 1, kTapAddSum = 2 };
template <typename T>
using ImplicitTapFn = void (*)(int64_t npos, const T* f, const int64_t* off, const int64_t* qpos,
                               const T* dyt, int64_t ldo, T* c, int64_t ldc, int mode);

// run_rows: the same sum over the rows p = rows[0..nrows) only (the forward position path
// leaves out the rows of taps that read only zero padding for all of a tile's positions).
template <typename T>
using ImplicitTapRowsFn = void (*)(int64_t nrows, const T* f, const int64_t* off,
                                   const int64_t* qpos, const T* dyt, int64_t ldo,
                                   const int64_t* rows, T* c, int64_t ldc, int mode);
template <typename T>
struct ImplicitTapKernel {
  const char* name;  // <dtype>_implicit_tap_<mr>x<nr>__<isa>
  int64_t mr, nr;    // taps x output channels per call
  ImplicitTapFn<T> run;
  ImplicitTapRowsFn<T> run_rows;
};

// More tap tiles for the forward / backward_data position path, taken where the output channels
// fill them exactly: wider ones (3 to 5 vectors of output channels, fewer rows: fewer broadcasts
// per product) and 7 rows x 2 vectors (a 7x7 plane's 49 positions, padded to 56 by 8 rows).
// Count 0 where an ISA has none.
constexpr int kMaxImplicitTapKernels = 4;
template <typename T>
struct ImplicitTapKernels {
  ImplicitTapKernel<T> kernel[kMaxImplicitTapKernels];
  int count;
};

// The frame build's stride-1 rows (one per ISA: masked vector loads and stores where the ISA
// has them; a 14-wide row by scalar loops was ~20% of ResNeXt res4 b8's forward):
//   dst[r n + i] = lo <= i < hi ? src[r lds + i] : 0    for r < rows, i < n
// src[r lds + i] is never read for i outside [lo, hi) (it may lie outside the input).
template <typename T>
using FrameRowsFn = void (*)(const T* src, int64_t lds, int64_t rows, int64_t lo, int64_t hi,
                             int64_t n, T* dst);

// dst[k ld + i] = src[i lds + k] for i < rows, k < n (cpu/simd/transpose_rows.h): C tiles into
// the output, grad_output rows into position-major tiles, weight rows into panels.
template <typename T>
using TransposeRowsFn = void (*)(const T* src, int64_t lds, int64_t rows, int64_t n, T* dst,
                                 int64_t ld);

FASTCONV_DECLARE_PER_ISA(
    FrameRowsFn<float> f32_frame_rows();
    FrameRowsFn<double> f64_frame_rows();
    TransposeRowsFn<float> f32_transpose_rows();
    TransposeRowsFn<double> f64_transpose_rows();
    ImplicitTapKernels<float> f32_implicit_tap_kernels_pos();
    ImplicitTapKernels<double> f64_implicit_tap_kernels_pos();
    ImplicitTapKernel<float> f32_implicit_tap_kernel();
    ImplicitTapKernel<double> f64_implicit_tap_kernel();
    // _narrow: one vector of output channels
    ImplicitTapKernel<float> f32_implicit_tap_kernel_narrow();
    ImplicitTapKernel<double> f64_implicit_tap_kernel_narrow();
    ImplicitDotKernel<float> f32_implicit_dot_kernel();
    ImplicitDotKernel<double> f64_implicit_dot_kernel();
    ImplicitGemmKernels<float> f32_implicit_gemm_kernels();
    ImplicitGemmKernels<double> f64_implicit_gemm_kernels();)

}  // namespace fastconv::cpu
