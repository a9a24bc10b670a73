// The convolution algorithms behind the primitives of conv.h, one set of three per algorithm.
// Same layouts and contracts as conv.h; each is correct for the geometries its predicate in
// choose_conv_algorithm() admits (im2col_gemm: all of them).
#pragma once

#include "common/conv_geometry.h"

namespace fastconv::cpu {

template <typename T>
void forward_im2col_gemm(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void backward_data_im2col_gemm(const ConvGeometry& g, const T* gy, const T* w, T* gx);
template <typename T>
void backward_weight_im2col_gemm(const ConvGeometry& g, const T* x, const T* gy, T* gw);

// Direct depthwise convolution (conv_depthwise.cc): groups == C_in (one input channel per
// group), any depth multiplier C_out / C_in, kernel, stride, padding and dilation, 1D to 3D.
template <typename T>
void forward_depthwise(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void backward_data_depthwise(const ConvGeometry& g, const T* gy, const T* w, T* gx);
template <typename T>
void backward_weight_depthwise(const ConvGeometry& g, const T* x, const T* gy, T* gw);

}  // namespace fastconv::cpu
