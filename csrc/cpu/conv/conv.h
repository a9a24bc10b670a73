// The three CPU convolution primitives, from which the six public ops are derived:
//
//   forward          y  = conv(x, w) + bias                     (conv fprop; conv_transpose dgrad)
//   backward_data    gx = conv^T(gy, w)                          (conv dgrad; conv_transpose fprop)
//   backward_weight  gw = sum_n corr(x_n, gy_n)                  (wgrad of both)
//
// forward applies the epilogue of epilogue.h: + bias (if not null), then ReLU if `relu`.
// Layouts (row-major, contiguous): x (N, C_in, D, H, W), w (C_out, C_in/groups, KD, KH, KW),
// y (N, C_out, OD, OH, OW), bias (C_out) or null. Each primitive overwrites its output.
// Each op has a list of algorithms; choose_conv_algorithm picks one for `Auto`.
#pragma once

#include <string>
#include <vector>

#include "common/conv_geometry.h"

namespace fastconv::cpu {

enum class ConvAlgorithm {
  Auto,
  Im2colGemm,  // tiles of the column matrix packed and multiplied; correct for every geometry
  Winograd,    // F(4x4, 3x3): 2-D 3x3 stride-1, all three passes (dilated: through the
               // dilation-phases rewrite)
  Depthwise,   // direct, SIMD along output rows or across channels; groups == C_in (any
               // depth multiplier)
  ImplicitGemm,  // GEMM reading a zero-padded input frame in place (no im2col); forward,
                 // backward_weight, and backward_data with stride 1
  StridePhases,  // rewrite: a strided backward pass as stride-1 problems, one per stride phase,
                 // each run by the auto choice (conv_stride_phases.h)
  SmallChannels,  // forward and backward_weight with <= 4 input channels, groups 1 (stems):
                  // output channels along the vector lanes
};

enum class ConvPass { Forward, BackwardData, BackwardWeight };

ConvAlgorithm parse_conv_algorithm(const std::string& name);  // throws std::invalid_argument
const char* conv_algorithm_name(ConvAlgorithm algorithm);
std::vector<std::string> conv_algorithm_names();  // every algorithm but "auto"
// Empty if `algorithm` computes `pass` for geometry g; otherwise, why it cannot.
std::string conv_algorithm_unsupported(ConvAlgorithm algorithm, ConvPass pass,
                                       const ConvGeometry& g);
// The rewrite through which `algorithm` computes this pass of g ("dilation_phases": a dilated
// stride-1 conv as a dense one, for an algorithm that needs dilation 1), or null where it computes
// g as it is (and for Auto).
const char* conv_rewrite(ConvAlgorithm algorithm, ConvPass pass, const ConvGeometry& g);
// The algorithm that runs: `requested` itself (std::invalid_argument if it cannot compute this
// pass and geometry), or for Auto the choice of the heuristic.
// element_size (4 or 8) matters where a workspace budget does.
ConvAlgorithm choose_conv_algorithm(const ConvGeometry& g, ConvPass pass, ConvAlgorithm requested,
                                    int64_t element_size);
// Bytes the algorithm's kernel allocates for this pass (-1: the algorithm does not report it),
// a rewrite's buffers included.
int64_t conv_workspace_bytes(ConvAlgorithm algorithm, ConvPass pass, const ConvGeometry& g,
                             int64_t element_size);
// Samples per call of the algorithm's kernel: the whole batch, or for forward and backward_data
// the largest chunk whose workspace fits the per-call budget (64 MiB). Chunks give the same bits:
// every algorithm computes a sample's forward and grad_input the same in any batch.
int64_t conv_batch_chunk(ConvAlgorithm algorithm, ConvPass pass, const ConvGeometry& g,
                         int64_t element_size);

// What a call runs: the algorithm (choose_conv_algorithm) and the samples per kernel call
// (conv_batch_chunk), remembered per thread for the last few problems. Throws like
// choose_conv_algorithm.
struct ConvPlan {
  ConvAlgorithm algorithm = ConvAlgorithm::Auto;
  int64_t batch_chunk = 0;
};
ConvPlan plan_conv(const ConvGeometry& g, ConvPass pass, ConvAlgorithm requested,
                   int64_t element_size);

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu, T* y,
                  ConvAlgorithm algorithm);

template <typename T>
void conv_backward_data(const ConvGeometry& g, const T* gy, const T* w, T* gx,
                        ConvAlgorithm algorithm);

template <typename T>
void conv_backward_weight(const ConvGeometry& g, const T* x, const T* gy, T* gw,
                          ConvAlgorithm algorithm);

}  // namespace fastconv::cpu
