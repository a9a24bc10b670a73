// The column matrix of one (sample, group) of a convolution, visited without materialising it.
//
// Row r = (c, a, b, e) is input channel c of the group and kernel offset (a, b, e); column p is
// output position (od, oh, ow). Cell (r, p) holds x[c, od*s0 - p0 + a*d0, oh*s1 - p1 + b*d1,
// ow*s2 - p2 + e*d2], or 0 where that index falls outside the input (padding).
//
// walk_columns() visits the cells of rows [r0, r1) x columns [c0, c1) one output row segment at
// a time, split into runs: `zero(row, col, len)` for cells in the padding and
// `run(row, col, x_index, len, x_step)` for `len` cells reading x[x_index + t*x_step], where
// row = r - r0 and col = p - c0 locate the run's first cell in the tile. im2col copies along the
// runs; col2im (its adjoint) accumulates along them, so both share this one piece of index
// arithmetic. Output coordinates advance by counting, not dividing, along a row.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/conv_geometry.h"
#include "common/parallel.h"

namespace fastconv::cpu {

template <typename Run, typename Zero>
inline void walk_columns(const ConvGeometry& g, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                         Run run, Zero zero) {
  const int64_t OH = g.out_size[1], OW = g.out_size[2];
  const int64_t ID = g.in_size[0], IH = g.in_size[1], IW = g.in_size[2];
  const int64_t KH = g.kernel[1], KW = g.kernel[2];
  const int64_t kvol = g.kernel_volume();
  const int64_t sw = g.stride[2];
  const int64_t ow_first = c0 % OW, oh_first = (c0 / OW) % OH, od_first = c0 / (OW * OH);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / kvol, kofs = r % kvol;
    const int64_t ka = kofs / (KH * KW), kb = (kofs / KW) % KH, ke = kofs % KW;
    const int64_t x_channel = c * ID * IH * IW;
    const int64_t row = r - r0;
    const int64_t z_offset = ka * g.dilation[0] - g.pad_before[0];
    const int64_t y_offset = kb * g.dilation[1] - g.pad_before[1];
    const int64_t x_offset = ke * g.dilation[2] - g.pad_before[2];
    // Cells t in [lo, hi) of a segment starting at ow read inside the row: 0 <= ix0 + t*sw < IW
    // with ix0 = ow*sw + x_offset. Whole output rows (ow = 0, len = OW) share one pair.
    auto inside = [&](int64_t ix0, int64_t len, int64_t& lo, int64_t& hi) {
      lo = std::min(len, ix0 >= 0 ? int64_t(0) : ceil_div(-ix0, sw));
      hi = std::max(lo, std::min(len, ix0 < IW ? ceil_div(IW - ix0, sw) : 0));
    };
    int64_t row_lo, row_hi;
    inside(x_offset, OW, row_lo, row_hi);
    int64_t ow = ow_first, oh = oh_first, od = od_first;
    for (int64_t p = c0; p < c1;) {
      const int64_t len = std::min(OW - ow, c1 - p);
      const int64_t iz = od * g.stride[0] + z_offset;
      const int64_t iy = oh * g.stride[1] + y_offset;
      const int64_t col = p - c0;
      if (iz < 0 || iz >= ID || iy < 0 || iy >= IH) {
        zero(row, col, len);
      } else {
        const int64_t ix0 = ow * sw + x_offset;
        int64_t lo = row_lo, hi = row_hi;
        if (ow != 0 || len != OW) inside(ix0, len, lo, hi);
        if (lo > 0) zero(row, col, lo);
        if (hi > lo)
          run(row, col + lo, x_channel + (iz * IH + iy) * IW + ix0 + lo * sw, hi - lo, sw);
        if (len > hi) zero(row, col + hi, len - hi);
      }
      p += len;
      ow = 0;  // every later segment starts a new output row
      if (++oh == OH) {
        oh = 0;
        ++od;
      }
    }
  }
}

}  // namespace fastconv::cpu
