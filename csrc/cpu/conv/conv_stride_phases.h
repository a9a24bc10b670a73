// Strided backward passes rewritten as stride-1 problems, one per stride phase (polyphase).
//
// In a convolution of stride s (per dimension), input position i = s q + r meets only the kernel
// taps k with k dil == r + pad (mod s): one arithmetic progression k0, k0 + s', ... (s' =
// s / gcd(s, dil)) per phase r. So
// - backward_data splits into one stride-1 backward_data per phase: grad_input[phase r] =
//   conv^T(grad_output, w[..., k0::s']) with dilation dil / gcd and its own padding;
// - backward_weight splits the same way: the gradient of the taps k0::s' is the stride-1
//   backward_weight of the phase-r-subsampled input with grad_output.
// Each sub-problem runs the "auto" choice of conv.h on its stride-1 geometry (implicit_gemm,
// im2col_gemm's pointwise path for K == s, winograd ...). This layer only gathers the phase
// (input or weight taps) into a buffer and scatters the result back.
#pragma once

#include <string>
#include <vector>

#include "common/conv_geometry.h"
#include "cpu/conv/conv.h"

namespace fastconv::cpu {

// Empty if the rewrite computes `pass` for g (backward_data or backward_weight, some stride > 1).
std::string stride_phases_unsupported(ConvPass pass, const ConvGeometry& g);
// Peak bytes allocated: the phase and sub-kernel buffers plus the largest workspace of the
// sub-problems' algorithms (-1 if one of them does not report it).
template <typename T>
int64_t stride_phases_workspace_bytes(const ConvGeometry& g, ConvPass pass);
// The algorithm each stride-1 sub-problem runs (one per phase with taps, in order), by name.
std::vector<std::string> stride_phases_sub_algorithms(const ConvGeometry& g, ConvPass pass,
                                                      int64_t element_size);
template <typename T>
void backward_data_stride_phases(const ConvGeometry& g, const T* gy, const T* w, T* gx);
template <typename T>
void backward_weight_stride_phases(const ConvGeometry& g, const T* x, const T* gy, T* gw);

}  // namespace fastconv::cpu
