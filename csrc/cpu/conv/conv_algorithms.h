// The convolution algorithms behind the primitives of conv.h, one set of three per algorithm.
// Same layouts and contracts as conv.h; each is correct for the geometries its predicate in
// choose_conv_algorithm() admits (im2col_gemm: all of them).
#pragma once

#include <string>

#include "common/conv_geometry.h"
#include "cpu/conv/conv.h"

namespace fastconv::cpu {

template <typename T>
void forward_im2col_gemm(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu,
                         T* y);
template <typename T>
void backward_data_im2col_gemm(const ConvGeometry& g, const T* gy, const T* w, T* gx);
template <typename T>
void backward_weight_im2col_gemm(const ConvGeometry& g, const T* x, const T* gy, T* gw);
// True where im2col_gemm runs the pass as the pointwise conv of its input subsampled once (1x1
// strided kernels; kernels no larger than their stride, unpadded: forward and backward_weight).
bool im2col_gemm_subsamples(const ConvGeometry& g, ConvPass pass);
// Bytes im2col_gemm allocates for one pass (packed weights, COL and dY tiles per thread).
template <typename T>
int64_t im2col_gemm_workspace_bytes(const ConvGeometry& g, ConvPass pass);

// Winograd F(4x4, 3x3) (conv_winograd.cc): forward, backward_data and backward_weight of
// convolutions whose inner two dims are 3x3 stride-1 dilation-1 (2-D, and 3-D with any depth
// kernel, stride, dilation, padding); winograd_unsupported says why it cannot compute a problem.
std::string winograd_unsupported(ConvPass pass, const ConvGeometry& g);
// Bytes winograd allocates for this problem (transformed filters + one tile block's V and M).
template <typename T>
int64_t winograd_workspace_bytes(const ConvGeometry& g, ConvPass pass);
template <typename T>
void forward_winograd(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu,
                         T* y);
template <typename T>
void backward_data_winograd(const ConvGeometry& g, const T* gy, const T* w, T* gx);
template <typename T>
void backward_weight_winograd(const ConvGeometry& g, const T* x, const T* gy, T* gw);

// Direct depthwise convolution (conv_depthwise.cc): groups == C_in (one input channel per
// group), any depth multiplier C_out / C_in, kernel, stride, padding and dilation, 1D to 3D.
template <typename T>
void forward_depthwise(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu,
                         T* y);
template <typename T>
void backward_data_depthwise(const ConvGeometry& g, const T* gy, const T* w, T* gx);
template <typename T>
void backward_weight_depthwise(const ConvGeometry& g, const T* x, const T* gy, T* gw);
// Bytes the depthwise pass allocates (its row or lanes path: buffers, tap lists, per thread).
template <typename T>
int64_t depthwise_workspace_bytes(const ConvGeometry& g, ConvPass pass);

// Implicit GEMM over a zero-padded input frame (conv_implicit_gemm.cc): forward and
// backward_weight of every geometry, backward_data with stride 1; implicit_gemm_unsupported says
// why it cannot compute a problem.
std::string implicit_gemm_unsupported(ConvPass pass, const ConvGeometry& g);
// Bytes implicit_gemm allocates for this pass (packed weights; per thread: frame, C tile, row
// offsets); -1 for a pass it does not compute.
template <typename T>
int64_t implicit_gemm_workspace_bytes(const ConvGeometry& g, ConvPass pass);
// The larger of two wastes that the choice of "auto" weighs: the fraction of the columns or
// positions it computes that are junk (past the output's width, or padding a band's last register
// tile), and the fraction of a frame plane's (H x W) cells that are halo (no output position).
template <typename T>
double implicit_gemm_waste(const ConvGeometry& g, ConvPass pass);
// Whether implicit_gemm's backward_weight uses its tap kernel (output channels along the vector
// lanes) rather than its dot-product kernel for this geometry.
template <typename T>
bool implicit_gemm_wgrad_by_tap(const ConvGeometry& g);
template <typename T>
void forward_implicit_gemm(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                           bool relu, T* y);
template <typename T>
void backward_data_implicit_gemm(const ConvGeometry& g, const T* gy, const T* w, T* gx);
template <typename T>
void backward_weight_implicit_gemm(const ConvGeometry& g, const T* x, const T* gy, T* gw);

// Forward and backward_weight of convolutions with few input channels (conv_small_channels.cc):
// groups 1, at most 4 input channels, any kernel, stride, padding and dilation, 1D to 3D.
std::string small_channels_unsupported(ConvPass pass, const ConvGeometry& g);
// Bytes it allocates (backward_weight: partial sums per split; forward: W^T; per thread:
// zero-padded input rows, the transposed grad_output / output of a chunk, row stamps and tap
// pointers); -1 for a pass it does not compute.
template <typename T>
int64_t small_channels_workspace_bytes(const ConvGeometry& g, ConvPass pass);
template <typename T>
void forward_small_channels(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                            bool relu, T* y);
template <typename T>
void backward_weight_small_channels(const ConvGeometry& g, const T* x, const T* gy, T* gw);

}  // namespace fastconv::cpu
