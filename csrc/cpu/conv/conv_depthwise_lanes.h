// The three paths of the direct depthwise convolution (conv_depthwise.cc drives them):
//   rows   (conv_depthwise.cc)        one output row along W per kernel call, SIMD along W
//   lanes  (conv_depthwise_lanes.cc)  a block of L channels of one sample transposed into a
//                                     padded [D][H][W][L] tile, SIMD across channels
//   plane  (conv_depthwise_plane.cc)  1-D / 2-D: a whole padded plane as one flat row, SIMD
//                                     along it
#pragma once

#include <cstdint>

#include "common/conv_geometry.h"
#include "cpu/conv/conv.h"
#include "cpu/conv/conv_depthwise.h"

namespace fastconv::cpu {

// out[k] = the sum of the L lanes acc[k * L .. k * L + L), lane 0 first, for k < count: the
// backward_weight passes' last step, in one fixed order (the same bits on every thread count).
template <typename T>
inline void sum_lanes(const T* acc, int64_t count, int64_t L, T* out) {
  for (int64_t k = 0; k < count; ++k) {
    T sum = T(0);
    for (int64_t l = 0; l < L; ++l) sum += acc[k * L + l];
    out[k] = sum;
  }
}

// The kernel table of the running ISA (conv_depthwise.cc).
template <typename T>
DepthwiseKernels<T> select_depthwise_kernels();

// Threads for `tasks` tasks of a depthwise pass, by its work (conv_depthwise.cc): both paths and
// their workspace sizes use it.
int depthwise_threads(const ConvGeometry& g, int64_t tasks);

// Whether a pass writes its output (of `bytes`) with non-temporal stores: outputs over 8 MiB
// (conv_depthwise_plane.cc has the measurements); FASTCONV_DEPTHWISE_STREAM=0|1 forces it.
bool depthwise_stream_output(int64_t bytes);

// Whether the plane path can compute this pass (1-D / 2-D; backward_data: unit strides and
// padding no wider than the kernel), and whether it does (conv_depthwise_plane.cc).
// FASTCONV_DEPTHWISE=plane forces it where it can.
bool depthwise_plane_supported(const ConvGeometry& g, ConvPass pass);
bool depthwise_plane_preferred(const ConvGeometry& g, ConvPass pass, int64_t element_size);

template <typename T>
void forward_depthwise_plane(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                             bool relu, T* y);
template <typename T>
void backward_data_depthwise_plane(const ConvGeometry& g, const T* gy, const T* w, T* gx);
template <typename T>
void backward_weight_depthwise_plane(const ConvGeometry& g, const T* x, const T* gy, T* gw);
template <typename T>
int64_t depthwise_plane_workspace_bytes(const ConvGeometry& g, ConvPass pass);

// Whether the lanes path computes this pass (a function of one sample's geometry and the ISA,
// never of the batch or the thread count). FASTCONV_DEPTHWISE=rows|lanes forces a path (tests,
// measurements; plane forces lanes off).
bool depthwise_lanes_preferred(const ConvGeometry& g, ConvPass pass, int64_t element_size);

// Bytes of the lanes path's buffers per thread for this pass (its tile, staging and result).
int64_t depthwise_lanes_thread_bytes(const ConvGeometry& g, ConvPass pass, int64_t element_size);

template <typename T>
void forward_depthwise_lanes(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                             bool relu, T* y);
template <typename T>
void backward_data_depthwise_lanes(const ConvGeometry& g, const T* gy, const T* w, T* gx);
template <typename T>
void backward_weight_depthwise_lanes(const ConvGeometry& g, const T* x, const T* gy, T* gw);
// Bytes the lanes path allocates for this pass (packed weights, tap lists, per-thread tiles).
template <typename T>
int64_t depthwise_lanes_workspace_bytes(const ConvGeometry& g, ConvPass pass);

}  // namespace fastconv::cpu
