// Dilated stride-1 convolutions as dense ones (dilation phases, a.k.a. space-to-batch).
//
// With stride 1 and dilation d along a dimension, the outputs o with o % d == r read only the
// (zero-padded) input positions p with p % d == r, at p = r + d (o / d + k): each residue class
// r is an independent dilation-1 convolution on a subsampled grid. Padding the padded input up
// to a whole number of rows per class makes every class ("phase") the same size, so the whole
// problem is ONE dilation-1 convolution whose batch holds the phases of each sample
// one after another (inner batch index n * phases + phase): algorithms that need dilation 1
// (winograd) compute dilated convolutions through it. Phases whose last outputs fall past the
// output size compute a few junk outputs, dropped on the way back (and given zero gradients).
// The phases store only the positions that hold input in some phase; the zero cells around
// them become the inner problem's padding (so its backward_data tiles no all-padding cells).
//
// Each pass copies its operands into that layout (gather), runs the inner primitive of conv.h on
// the rewritten geometry with the given algorithm, and copies the result back (scatter):
//   forward          gather x, inner forward (bias, ReLU), scatter y
//   backward_data    gather grad_output (zeros at junk outputs), inner backward_data, scatter
//                    grad_input (positions no output reads get 0)
//   backward_weight  gather x and grad_output; the inner backward_weight is grad_weight itself.
// A sample's phases depend only on that sample, and the inner algorithms are batch-invariant, so
// results keep the determinism rules of conv.h.
#pragma once

#include <cstdint>

#include "common/conv_geometry.h"
#include "cpu/conv/conv.h"

namespace fastconv::cpu {

// Whether the rewrite computes g: stride 1 in every dimension and dilation > 1 in some.
bool dilation_phases_apply(const ConvGeometry& g);
// The dilation-1 geometry of the phase-batched problem (g must satisfy dilation_phases_apply).
ConvGeometry dilation_phases_geometry(const ConvGeometry& g);
// Phases along spatial dimension d (0..2) of g: min(dilation, output size), at least 1.
int64_t dilation_phases_count(const ConvGeometry& g, int d);
// Bytes of the two gather/scatter buffers the rewrite allocates (the same for every pass),
// besides the inner algorithm's own workspace.
int64_t dilation_phases_buffer_bytes(const ConvGeometry& g, int64_t element_size);

template <typename T>
void forward_dilation_phases(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                             bool relu, T* y, ConvAlgorithm inner);
template <typename T>
void backward_data_dilation_phases(const ConvGeometry& g, const T* gy, const T* w, T* gx,
                                   ConvAlgorithm inner);
template <typename T>
void backward_weight_dilation_phases(const ConvGeometry& g, const T* x, const T* gy, T* gw,
                                     ConvAlgorithm inner);

}  // namespace fastconv::cpu
