// CPU pooling kernels (max, average, adaptive average/max, index scatter/gather for max
// pooling's backward and max_unpool), float and double, reproducing torch's CPU semantics.
//
// Layouts (row-major, contiguous): x (planes, D, H, W), y / indices (planes, OD, OH, OW), where
// planes = N * C. Indices are int64 offsets in the unpadded (n, c) input plane (d * H * W +
// h * W + w), as torch gives them. Each kernel overwrites its whole output. Threads split the
// planes; each output element is written by one thread in a fixed order, so results do not
// depend on the thread count.
#pragma once

#include <cstdint>

#include "common/pool_geometry.h"

namespace fastconv::cpu {

// Max pooling. Window positions start at o * stride - pad_before, step dilation; positions
// outside the input are skipped (padding counts as -inf). Torch's rule, kept bit for bit:
// start at (-inf, first in-bounds position of the window) and take a cell when
// `value > max || isnan(value)` (ties keep the first occurrence; a NaN sticks unless a later NaN
// replaces it, so the window gives NaN and the index of its last NaN). indices may be null.
template <typename T>
void max_pool_forward(const PoolGeometry& g, const T* x, T* y, int64_t* indices);

// Average pooling with torch's divisor: divisor_override if non-zero (torch accepts negative
// ones); else with count_include_pad the window clipped to [-pad_before, in + pad_after); else
// the window clipped to the input. A window with no input cell gives 0.
template <typename T>
void avg_pool_forward(const PoolGeometry& g, bool count_include_pad, int64_t divisor_override,
                      const T* x, T* y);
template <typename T>
void avg_pool_backward(const PoolGeometry& g, bool count_include_pad, int64_t divisor_override,
                       const T* gy, T* gx);

// Adaptive pooling: g.in_size / g.out_size only; windows by adaptive_start / adaptive_end.
template <typename T>
void adaptive_avg_pool_forward(const PoolGeometry& g, const T* x, T* y);
template <typename T>
void adaptive_avg_pool_backward(const PoolGeometry& g, const T* gy, T* gx);
template <typename T>
void adaptive_max_pool_forward(const PoolGeometry& g, const T* x, T* y, int64_t* indices);

// Index scatter/gather between a "small" array s (planes, small_plane) with its indices
// (planes, small_plane) and a "big" array b (planes, big_plane). Indices outside
// [0, big_plane) are never followed: they are counted and the count returned (the caller
// raises); the output then holds unspecified values.
//   scatter, accumulate:  b = 0; b[p, idx[p, i]] += s[p, i]  (max pooling backward, i ascending)
//   scatter, !accumulate: b = 0; b[p, idx[p, i]]  = s[p, i]  (max_unpool; the last write wins)
//   gather:               s[p, i] = b[p, idx[p, i]]          (max_unpool backward)
template <typename T>
int64_t index_scatter(int64_t planes, int64_t small_plane, int64_t big_plane, const T* s,
                      const int64_t* idx, T* b, bool accumulate);
// Max pooling's backward: gx = 0, gx[p, idx[p, o]] += gy[p, o] (index_scatter's accumulate
// result, bit for bit), with the same count of indices outside the plane. Where windows do not
// overlap and every index of a plane lies in its own window (any forward's indices), each gx
// cell is written once, row by row, from the one output whose window holds it (no zero fill +
// scatter pass); other planes and overlapping windows run index_scatter's loop.
template <typename T>
int64_t max_pool_backward(const PoolGeometry& g, const T* gy, const int64_t* idx, T* gx);

template <typename T>
int64_t index_gather(int64_t planes, int64_t small_plane, int64_t big_plane, const T* b,
                     const int64_t* idx, T* s);

}  // namespace fastconv::cpu
