// Per-ISA kernels of the direct depthwise convolution (conv_depthwise.cc is the driver).
//
// Both kernels work on "taps": a tap is one kernel element, given as a weight and a pointer to
// the (padded, stride-deinterleaved) source row that this kernel element reads, so that output
// position i of the row reads src[i]. Borders and strides are resolved by the driver when it
// builds the padded rows, so the kernels have no branches in their hot loops.
//
//   row:  out[i] = (sum_t w[t] * src[t][i]) + bias             for i < len, taps summed in order
//   dot:  acc[t*lanes + l] += lane l of sum_i g[i] * src[t][i]  (vector partial sums, fixed order)
//
// The channels-in-lanes kernels (conv_depthwise_lanes.cc) hold L = lanes channels of one
// sample in the vector lanes: data is [pixel][L], one vector per pixel.
//
//   pack:      dst[i*L + c] = src[c*ld + i] (c < nch; lanes nch..L zero), i < len
//   unpack:    dst[c*ld + i] = src[i*L + c] (c < nch), i < len
//   lanes_row: out[i*out_step] = (sum_t w[t] * src[t][i*src_step]) + bias (null: none), vectors
//              of L lanes, i < len, taps summed in order
//   lanes_dot: acc[t*L] += sum over rows r, then i, of g[r*g_row_step + i*L] *
//              src[t][r*src_row_step + i*src_step], vectors, summed in that order
//   row_full:  row, but every vector is stored whole: out must hold len rounded up to lanes
//   copy_rows: dst[r*dst_stride + i] = src[r*src_stride + i], r < rows, i < n (src and dst
//              do not overlap)
//   stream:    dst[i] = src[i], i < len, with non-temporal stores where dst is aligned (no
//              read-for-ownership of dst's lines; the plane path's outputs larger than L2)
//   unpack_stream: unpack, whole lines of dst with non-temporal stores (the lanes path's)
//
// Every src[t] must be readable and finite up to len rounded up to kDepthwiseSlack elements past
// len (the driver zero-fills that slack); out and g are touched only below len. Results do not
// depend on where a row starts in memory or on the thread that runs it.
#pragma once

#include <cstdint>

#include "common/cpu_features.h"

namespace fastconv::cpu {

// Elements readable past the end of every source row (>= the widest vector: 16 float lanes).
constexpr int64_t kDepthwiseSlack = 16;

template <typename T>
struct DepthwiseKernels {
  const char* name;  // <dtype>_depthwise_row_<vectors>x<lanes>__<isa>
  int64_t lanes;     // vector width of dot's partial sums, and L of the channels-in-lanes path
  int64_t pack_tile;  // pack / unpack transpose blocks of pack_tile x pack_tile elements
  void (*row)(int64_t ntaps, const T* w, const T* const* src, int64_t len, T bias, T* out);
  void (*dot)(int64_t ntaps, const T* const* src, const T* g, int64_t len, T* acc);
  void (*pack)(const T* src, int64_t ld, int64_t nch, int64_t len, T* dst);
  void (*unpack)(const T* src, int64_t nch, int64_t len, T* dst, int64_t ld);
  void (*lanes_row)(int64_t ntaps, const T* const* w, const T* const* src, int64_t src_step,
                    int64_t len, const T* bias, T* out, int64_t out_step);
  void (*lanes_dot)(int64_t ntaps, const T* const* src, int64_t src_step, int64_t src_row_step,
                    const T* g, int64_t g_row_step, int64_t rows, int64_t len, T* acc);
  // lanes_row for unit stride and dilation along W: nrows rows of kw taps, tap k of row r at
  // src[r] + k * tstep (tstep = +-L); same result as lanes_row, fewer loads
  void (*lanes_window)(int64_t nrows, int64_t kw, const T* const* w, const T* const* src,
                       int64_t tstep, int64_t len, const T* bias, T* out);
  void (*row_full)(int64_t ntaps, const T* w, const T* const* src, int64_t len, T bias, T* out);
  void (*copy_rows)(const T* src, int64_t src_stride, int64_t rows, int64_t n, T* dst,
                    int64_t dst_stride);
  void (*stream)(const T* src, int64_t len, T* dst);
  void (*unpack_stream)(const T* src, int64_t nch, int64_t len, T* dst, int64_t ld);
};

FASTCONV_DECLARE_PER_ISA(
    DepthwiseKernels<float> f32_depthwise_kernels();
    DepthwiseKernels<double> f64_depthwise_kernels();)

}  // namespace fastconv::cpu
