// Per-ISA kernels of the small-channel convolution (conv_small_channels.cc is the driver): the
// backward_weight and forward of convolutions with few input channels (stems, first layers), with
// output channels along the vector lanes and the input read in place from zero-padded rows.
//
// The tap kernel keeps an MR x NR block of dW^T in registers: MR taps x NR output channels along
// the vector lanes. Positions come in segments (a piece of one output row): segment u = units[s]
// has len[u] positions, tap i of it reads the input at ptrs[u * ldp + i][p * sw] (a zero-padded
// input row, stride sw along it), and its grad_output, transposed, is in rows at[u] + p of dyt
// (row stride ldo):
//   c[i * ldc + j] += sum_s sum_{p < len[u]} ptrs[u ldp + i][p sw] * dyt[(at[u] + p) ldo + j]
// every element summing its products in (s, p) order in one vector lane.
#pragma once

#include <cstdint>

#include "common/cpu_features.h"

namespace fastconv::cpu {

template <typename T>
using SmallWgradFn = void (*)(int64_t nseg, const int64_t* units, const int64_t* len,
                              const int64_t* at, const T* const* ptrs, int64_t ldp, int64_t sw,
                              const T* dyt, int64_t ldo, T* c, int64_t ldc);
// dst[p * ldd + o] = src[o * lds + p] for o < rows, p < cols.
template <typename T>
using SmallTransposeFn = void (*)(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst,
                                  int64_t ldd);

template <typename T>
struct SmallWgradKernel {
  const char* name;  // <dtype>_small_wgrad_<mr>x<nr>__<isa>
  int64_t mr, nr;    // taps x output channels per call
  SmallWgradFn<T> run;
};

// forward's kernel: an MP x NR block of Y^T (MP positions of one row segment x NR output channels
// along the lanes), summed in registers over a list of taps:
//   out[i * ldo + j] = sum_{t < nk} ptrs[t][off + i * sw] * wt[wrow[t] + j]    i < MP, j < NR
// each element summing its products in t order.
template <typename T>
using SmallForwardFn = void (*)(int64_t nk, const T* const* ptrs, const int64_t* wrow,
                                const T* wt, int64_t off, int64_t sw, T* out, int64_t ldo);

template <typename T>
struct SmallForwardKernel {
  const char* name;  // <dtype>_small_forward_<mp>x<nr>__<isa>
  int64_t mp, nr;    // positions x output channels per call
  SmallForwardFn<T> run;
};

// The tiles of one ISA by increasing width (the driver takes the narrowest that holds the output
// channels, else the widest), backward_weight's then forward's, and the transposition (of
// grad_output into dY^T, of Y^T into y). backward_weight's tiles of other heights (5 and 7 taps)
// for the same widths: the driver takes the height that pads the taps least (K = 25 of a 5x5
// kernel on 8-tap tiles is 32 taps, 28% of the FMAs on zeros).
constexpr int kMaxSmallChannelKernels = 3;
constexpr int kMaxSmallWgradHeights = 6;
template <typename T>
struct SmallChannelKernels {
  SmallWgradKernel<T> kernel[kMaxSmallChannelKernels];
  int count;
  SmallTransposeFn<T> transpose;
  SmallForwardKernel<T> forward[kMaxSmallChannelKernels];
  int forward_count;
  SmallWgradKernel<T> heights[kMaxSmallWgradHeights];
  int height_count;
  SmallForwardKernel<T> forward_heights[kMaxSmallWgradHeights];  // forward's, by positions
  int forward_height_count;
};

FASTCONV_DECLARE_PER_ISA(
    SmallChannelKernels<float> f32_small_channel_kernels();
    SmallChannelKernels<double> f64_small_channel_kernels();)

}  // namespace fastconv::cpu
