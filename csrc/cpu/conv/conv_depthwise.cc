// Direct depthwise convolution: groups == C_in, so output channel oc = c * m + j (m = the depth
// multiplier) reads input channel c only, and the reduction per output element is just the
// kernel volume. GEMM is the wrong tool for so short a reduction; this is a bandwidth-minded
// direct convolution instead, with three paths: the row path below (SIMD along W), the lanes
// path of conv_depthwise_lanes.cc (SIMD across channels), which each pass takes where
// depthwise_lanes_preferred says so (small planes and strides: per-row overhead dominates the
// row path there), and the plane path of conv_depthwise_plane.cc (1-D / 2-D: a padded plane as
// one flat row), taken first where depthwise_plane_preferred says so (few channels, tiny calls,
// and backward_data of large 3x3 planes). All sum a forward / backward_data output's taps in the
// same order.
//
// Rows. Every pass works on rows along W (the contiguous dimension). The input rows a task needs
// are first copied into a per-thread buffer, zero-padded in W and, for stride s > 1,
// deinterleaved into s phase rows (phase ph holds padded columns ph, ph + s, ...), so that each
// kernel element (a "tap") reads a contiguous, always in-bounds stretch of one buffer row:
// borders and strides cost nothing in the hot loop. Kernel rows (D, H) that fall outside the
// input are skipped when the taps of an output row are listed. The per-ISA row kernels
// (conv_depthwise.h) keep blocks of up to 4 output vectors in registers across all taps, so a
// 31x31 kernel costs one load and one FMA per tap and vector.
//
//   forward          y[n, cm+j] row = sum over taps (kd, kh, kw) of w * padded x[n, c] row
//   backward_data    gx[n, c] row = sum over j and the taps that hit it of w * padded gy row:
//                    a gather over grad_input positions (each owned by one thread). Along W with
//                    stride s, the positions of one residue class r (iw = r + s*a) are a
//                    correlation of the gy row with the taps kw where (r + pad - kw*dil) is a
//                    multiple of s; no zero-upsampling, no wasted multiplies.
//   backward_weight  gw[cm+j, k] = sum over n and output rows of dot(gy row, tap k's x row),
//                    vector partial sums per tap, reduced to a scalar in lane order at the end.
//
// Threads: forward and backward_data split (n, c) planes, and blocks of rows of a plane when
// N*C is small; backward_weight splits channels c. Every output element is computed by one
// thread in an order that depends only on the geometry (taps in (j, kd, kh, kw) order; for
// backward_weight, n then output rows then vector lanes), so results are bitwise the same for
// any thread count, and a forward sample does not depend on its batch.
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "common/cpu_features.h"
#include "common/denormals.h"
#include "common/parallel.h"
#include "cpu/conv/conv_algorithms.h"
#include "cpu/conv/epilogue.h"
#include "cpu/conv/conv_depthwise.h"
#include "cpu/conv/conv_depthwise_lanes.h"

namespace fastconv::cpu {

template <>
DepthwiseKernels<float> select_depthwise_kernels<float>() {
  return FASTCONV_ISA_DISPATCH(f32_depthwise_kernels);
}

template <>
DepthwiseKernels<double> select_depthwise_kernels<double>() {
  return FASTCONV_ISA_DISPATCH(f64_depthwise_kernels);
}

namespace {

}  // namespace

// Threads for `tasks` tasks of a depthwise pass: one for small problems (a parallel region
// costs more than a few thousand multiply-adds), used by both paths and their workspace sizes.
int depthwise_threads(const ConvGeometry& g, int64_t tasks) {
  return threads_for(tasks, g.batch * g.out_channels * g.out_plane() * g.kernel_volume());
}

namespace {

// Floor division for a possibly negative numerator (b > 0).
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Input positions [lo, hi) read by outputs o0..o1 (inclusive) along one dimension, clipped.
void input_span(int64_t o0, int64_t o1, int64_t s, int64_t p, int64_t k, int64_t d, int64_t size,
                int64_t* lo, int64_t* hi) {
  *lo = std::max<int64_t>(0, o0 * s - p);
  *hi = std::min<int64_t>(size, o1 * s - p + (k - 1) * d + 1);
}

// Output positions [lo, hi) that read inputs i0..i1 (inclusive) along one dimension, clipped.
void output_span(int64_t i0, int64_t i1, int64_t s, int64_t p, int64_t k, int64_t d,
                 int64_t size, int64_t* lo, int64_t* hi) {
  *lo = std::max<int64_t>(0, floor_div(i0 + p - (k - 1) * d + s - 1, s));
  *hi = std::min<int64_t>(size, floor_div(i1 + p, s) + 1);
}

// Layout of the padded, deinterleaved copy of one input plane's rows (forward and
// backward_weight): row (id, ih) starts at (id * H + ih) * row_stride; its phase ph starts
// phase_len later per phase, and element i of phase ph is x[id, ih, ph + i * s - pad] (0 outside
// the row). Tap kw of an output row starts at offset[kw].
struct PaddedRows {
  int64_t phase_len = 0, row_stride = 0;
  std::vector<int64_t> offset;

  // slack: zeros after each phase (the row kernels read up to a vector past the end).
  PaddedRows(const ConvGeometry& g, int64_t slack) {
    const int64_t s = g.stride[2], d = g.dilation[2], ow = g.out_size[2];
    const int64_t span = (ow > 0 ? (ow - 1) * s : 0) + (g.kernel[2] - 1) * d + 1;
    phase_len = ceil_div(span, s) + slack;
    row_stride = s * phase_len;
    for (int64_t kw = 0; kw < g.kernel[2]; ++kw)
      offset.push_back((kw * d) % s * phase_len + (kw * d) / s);
  }

  template <typename T>
  void fill(const ConvGeometry& g, const T* xrow, T* dst) const {
    const int64_t s = g.stride[2], pad = g.pad_before[2], w = g.in_size[2];
    if (s == 1) {
      // columns -pad .. phase_len - pad - 1 of the row
      const int64_t lead = std::min(pad, phase_len);
      const int64_t copy = std::max<int64_t>(0, std::min(w, phase_len - pad));
      std::fill(dst, dst + lead, T(0));
      if (copy > 0) std::memcpy(dst + pad, xrow, size_t(copy) * sizeof(T));
      const int64_t done = std::min(phase_len, std::max(lead, pad + copy));
      std::fill(dst + done, dst + phase_len, T(0));
      return;
    }
    for (int64_t ph = 0; ph < s; ++ph) {
      T* out = dst + ph * phase_len;
      for (int64_t i = 0; i < phase_len; ++i) {
        const int64_t col = ph + i * s - pad;
        out[i] = (col >= 0 && col < w) ? xrow[col] : T(0);
      }
    }
  }
};

// Splits `planes` planes of `rows` rows each into tasks of whole rows: whole planes when there
// are enough of them to keep every thread busy, else blocks of rows. Which thread computes an
// output never changes how it is computed.
struct RowBlocks {
  int64_t per_block = 1, blocks = 1, tasks = 0;
  RowBlocks(int64_t planes, int64_t rows, int threads) {
    if (planes <= 0 || rows <= 0) return;
    const int64_t wanted = 4 * int64_t(threads);
    blocks = planes >= wanted ? 1 : std::min(rows, ceil_div(wanted, planes));
    per_block = ceil_div(rows, blocks);
    blocks = ceil_div(rows, per_block);
    tasks = planes * blocks;
  }
};

}  // namespace

// ---------------------------------------------------------------------------------- forward

template <typename T>
void forward_depthwise(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu,
                       T* y) {
  if (depthwise_plane_preferred(g, ConvPass::Forward, sizeof(T)))
    return forward_depthwise_plane(g, x, w, bias, relu, y);
  if (depthwise_lanes_preferred(g, ConvPass::Forward, sizeof(T)))
    return forward_depthwise_lanes(g, x, w, bias, relu, y);
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const int64_t C = g.in_channels, m = g.out_channels_per_group(), Cout = g.out_channels;
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t KD = g.kernel[0], KH = g.kernel[1], KW = g.kernel[2], kvol = g.kernel_volume();
  const int64_t rows = OD * OH, in_plane = g.in_plane(), out_plane = g.out_plane();
  if (m == 0 || OW == 0) return;
  const RowBlocks split(g.batch * C, rows, num_threads());
  if (split.tasks == 0) return;
  const PaddedRows layout(g, kDepthwiseSlack);
  const int threads = depthwise_threads(g, split.tasks);

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    std::vector<T> buf(static_cast<size_t>(D * H * layout.row_stride));
    std::vector<const T*> src(static_cast<size_t>(kvol));
    std::vector<int64_t> tap_k(static_cast<size_t>(kvol));
    std::vector<T> tap_w(static_cast<size_t>(kvol));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < split.tasks; ++task) {
      const int64_t blk = task % split.blocks, plane = task / split.blocks;
      const int64_t n = plane / C, c = plane % C;
      const int64_t r0 = blk * split.per_block, r1 = std::min(rows, r0 + split.per_block);
      // The input rows this block reads, padded once into buf.
      const int64_t od0 = r0 / OH, od1 = (r1 - 1) / OH;
      const int64_t oh0 = od0 == od1 ? r0 % OH : 0, oh1 = od0 == od1 ? (r1 - 1) % OH : OH - 1;
      int64_t id_lo, id_hi, ih_lo, ih_hi;
      input_span(od0, od1, g.stride[0], g.pad_before[0], KD, g.dilation[0], D, &id_lo, &id_hi);
      input_span(oh0, oh1, g.stride[1], g.pad_before[1], KH, g.dilation[1], H, &ih_lo, &ih_hi);
      const T* xp = x + (n * C + c) * in_plane;
      for (int64_t id = id_lo; id < id_hi; ++id)
        for (int64_t ih = ih_lo; ih < ih_hi; ++ih)
          layout.fill(g, xp + (id * H + ih) * W, buf.data() + (id * H + ih) * layout.row_stride);

      for (int64_t r = r0; r < r1; ++r) {
        const int64_t od = r / OH, oh = r % OH;
        int64_t nt = 0;
        for (int64_t kd = 0; kd < KD; ++kd) {
          const int64_t id = od * g.stride[0] - g.pad_before[0] + kd * g.dilation[0];
          if (id < 0 || id >= D) continue;
          for (int64_t kh = 0; kh < KH; ++kh) {
            const int64_t ih = oh * g.stride[1] - g.pad_before[1] + kh * g.dilation[1];
            if (ih < 0 || ih >= H) continue;
            const T* row = buf.data() + (id * H + ih) * layout.row_stride;
            for (int64_t kw = 0; kw < KW; ++kw) {
              src[nt] = row + layout.offset[kw];
              tap_k[nt++] = (kd * KH + kh) * KW + kw;
            }
          }
        }
        for (int64_t j = 0; j < m; ++j) {
          const int64_t oc = c * m + j;
          const T* wc = w + oc * kvol;
          for (int64_t t = 0; t < nt; ++t) tap_w[t] = wc[tap_k[t]];
          T* out = y + (n * Cout + oc) * out_plane + r * OW;
          kern.row(nt, tap_w.data(), src.data(), OW, bias ? bias[oc] : T(0), out);
          if (relu) bias_relu_row(out, OW, T(0), true);  // the fused ReLU, row still in L1
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------- backward_data

template <typename T>
void backward_data_depthwise(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  if (depthwise_plane_preferred(g, ConvPass::BackwardData, sizeof(T)))
    return backward_data_depthwise_plane(g, gy, w, gx);
  if (depthwise_lanes_preferred(g, ConvPass::BackwardData, sizeof(T)))
    return backward_data_depthwise_lanes(g, gy, w, gx);
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const int64_t C = g.in_channels, m = g.out_channels_per_group(), Cout = g.out_channels;
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t KD = g.kernel[0], KH = g.kernel[1], KW = g.kernel[2], kvol = g.kernel_volume();
  const int64_t s0 = g.stride[0], s1 = g.stride[1], s2 = g.stride[2];
  const int64_t p0 = g.pad_before[0], p1 = g.pad_before[1], p2 = g.pad_before[2];
  const int64_t d0 = g.dilation[0], d1 = g.dilation[1], d2 = g.dilation[2];
  const int64_t rows = D * H, in_plane = g.in_plane(), out_plane = g.out_plane();
  if (W == 0) return;
  const RowBlocks split(g.batch * C, rows, num_threads());
  if (split.tasks == 0) return;
  // Padded gy rows: `lead` zeros, the row, zeros; tap (r, kw) of residue class r reads the row
  // from lead + (r + p2 - kw * d2) / s2, at most `lead` before its start.
  const int64_t lead = ceil_div((KW - 1) * d2, s2);
  const int64_t row_len =
      lead + std::max(OW, (s2 - 1 + p2) / s2 + ceil_div(W, s2)) + kDepthwiseSlack;
  const int64_t out_rows = OD * OH;
  const int64_t max_taps = m * kvol;
  // Along W, residue class res reads taps kw with (res + p2 - kw * d2) a multiple of s2, from
  // gy row offset (res + p2 - kw * d2) / s2: listed once here.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> w_taps(static_cast<size_t>(s2));
  for (int64_t res = 0; res < s2; ++res)
    for (int64_t kw = 0; kw < KW; ++kw) {
      const int64_t tw = res + p2 - kw * d2;
      if (((tw % s2) + s2) % s2 == 0) w_taps[res].emplace_back(kw, tw / s2);  // exact division
    }
  const int threads = depthwise_threads(g, split.tasks);

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    std::vector<T> buf(static_cast<size_t>(m * out_rows * row_len));
    std::vector<const T*> src(static_cast<size_t>(max_taps));
    std::vector<T> tap_w(static_cast<size_t>(max_taps));
    std::vector<T> phase_out(static_cast<size_t>(s2 > 1 ? ceil_div(W, s2) : 0));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < split.tasks; ++task) {
      const int64_t blk = task % split.blocks, plane = task / split.blocks;
      const int64_t n = plane / C, c = plane % C;
      const int64_t r0 = blk * split.per_block, r1 = std::min(rows, r0 + split.per_block);
      // The gy rows this block of grad_input rows reads, padded into buf.
      const int64_t id0 = r0 / H, id1 = (r1 - 1) / H;
      const int64_t ih0 = id0 == id1 ? r0 % H : 0, ih1 = id0 == id1 ? (r1 - 1) % H : H - 1;
      int64_t od_lo, od_hi, oh_lo, oh_hi;
      output_span(id0, id1, s0, p0, KD, d0, OD, &od_lo, &od_hi);
      output_span(ih0, ih1, s1, p1, KH, d1, OH, &oh_lo, &oh_hi);
      for (int64_t j = 0; j < m; ++j) {
        const T* gyp = gy + (n * Cout + c * m + j) * out_plane;
        for (int64_t od = od_lo; od < od_hi; ++od)
          for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
            T* dst = buf.data() + ((j * OD + od) * OH + oh) * row_len;
            std::fill(dst, dst + lead, T(0));
            std::memcpy(dst + lead, gyp + (od * OH + oh) * OW, size_t(OW) * sizeof(T));
            std::fill(dst + lead + OW, dst + row_len, T(0));
          }
      }

      T* gxp = gx + (n * C + c) * in_plane;
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t id = r / H, ih = r % H;
        T* gxrow = gxp + r * W;
        for (int64_t res = 0; res < std::min(s2, W); ++res) {
          int64_t nt = 0;
          for (int64_t j = 0; j < m; ++j) {
            const T* wc = w + (c * m + j) * kvol;
            for (int64_t kd = 0; kd < KD; ++kd) {
              const int64_t td = id + p0 - kd * d0;
              if (td < 0 || td % s0 != 0 || td / s0 >= OD) continue;
              for (int64_t kh = 0; kh < KH; ++kh) {
                const int64_t th = ih + p1 - kh * d1;
                if (th < 0 || th % s1 != 0 || th / s1 >= OH) continue;
                const T* row = buf.data() + ((j * OD + td / s0) * OH + th / s1) * row_len + lead;
                const T* wk = wc + (kd * KH + kh) * KW;
                for (const auto& tap : w_taps[res]) {
                  src[nt] = row + tap.second;
                  tap_w[nt++] = wk[tap.first];
                }
              }
            }
          }
          if (s2 == 1) {
            kern.row(nt, tap_w.data(), src.data(), W, T(0), gxrow);
          } else {
            const int64_t count = ceil_div(W - res, s2);
            kern.row(nt, tap_w.data(), src.data(), count, T(0), phase_out.data());
            for (int64_t a = 0; a < count; ++a) gxrow[res + a * s2] = phase_out[a];
          }
        }
      }
    }
  }
}

// -------------------------------------------------------------------------- backward_weight

template <typename T>
void backward_weight_depthwise(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  if (depthwise_plane_preferred(g, ConvPass::BackwardWeight, sizeof(T)))
    return backward_weight_depthwise_plane(g, x, gy, gw);
  if (depthwise_lanes_preferred(g, ConvPass::BackwardWeight, sizeof(T)))
    return backward_weight_depthwise_lanes(g, x, gy, gw);
  // Per (n, c) and depth slice, the input is copied into a buffer of padded rows of R elements
  // (zero rows above and below, rows deinterleaved by the H stride into sh phase planes, columns
  // by the W stride as in PaddedRows), and each grad_output plane slice into rows of the same
  // R elements (zeros after OW). Then tap (kh, kw) is ONE long dot product over OH * R elements:
  // output row oh meets buffer row oh + (kh * dh) / sh of phase plane (kh * dh) % sh, and the
  // zeros of the padded grad_output rows cancel the columns no output reads. (With non-finite
  // inputs, those cancelled products can turn a result NaN where the exact sum would not.)
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const int64_t C = g.in_channels, m = g.out_channels_per_group(), Cout = g.out_channels;
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t KD = g.kernel[0], KH = g.kernel[1], KW = g.kernel[2], kvol = g.kernel_volume();
  const int64_t sh = g.stride[1], ph = g.pad_before[1], dh = g.dilation[1];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  if (m == 0 || kvol == 0) return;
  const int64_t L = kern.lanes;
  const PaddedRows layout(g, 0);
  const int64_t R = layout.row_stride;
  const int64_t hspan = (OH > 0 ? (OH - 1) * sh : 0) + (KH - 1) * dh + 1;
  const int64_t phase_rows = ceil_div(hspan, sh) + 1;  // + 1 zero row: the dot reads past OH rows
  const int64_t slice = sh * phase_rows * R;           // one depth slice of the buffer
  const int64_t dot_len = OH * R;
  const int64_t g_len = ceil_div(std::max<int64_t>(dot_len, 1), L) * L;
  const bool empty = g.batch == 0 || OD * OH * OW == 0;
  const int threads = depthwise_threads(g, C);

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    std::vector<T> buf(empty ? 0 : static_cast<size_t>(D * slice + R + L));
    std::vector<T> gpad(empty ? 0 : static_cast<size_t>(g_len));
    std::vector<T> acc(static_cast<size_t>(m * kvol * L));
    std::vector<const T*> src(static_cast<size_t>(KH * KW));
#pragma omp for schedule(static)
    for (int64_t c = 0; c < C; ++c) {
      std::fill(acc.begin(), acc.end(), T(0));
      for (int64_t n = 0; n < g.batch && !empty; ++n) {
        const T* xp = x + (n * C + c) * in_plane;
        for (int64_t id = 0; id < D; ++id)
          for (int64_t q = 0; q < sh * phase_rows; ++q) {  // padded row q = p + i * sh
            const int64_t p = q / phase_rows, i = q % phase_rows, ih = p + i * sh - ph;
            T* dst = buf.data() + id * slice + q * R;
            if (ih >= 0 && ih < H) {
              layout.fill(g, xp + (id * H + ih) * W, dst);
            } else {
              std::fill(dst, dst + R, T(0));
            }
          }
        std::fill(buf.begin() + D * slice, buf.end(), T(0));
        for (int64_t od = 0; od < OD; ++od)
          for (int64_t j = 0; j < m; ++j) {
            const T* gp = gy + (n * Cout + c * m + j) * out_plane + od * OH * OW;
            std::fill(gpad.begin(), gpad.end(), T(0));
            for (int64_t oh = 0; oh < OH; ++oh)
              std::memcpy(gpad.data() + oh * R, gp + oh * OW, static_cast<size_t>(OW) * sizeof(T));
            for (int64_t kd = 0; kd < KD; ++kd) {
              const int64_t id = od * g.stride[0] - g.pad_before[0] + kd * g.dilation[0];
              if (id < 0 || id >= D) continue;
              const T* sl = buf.data() + id * slice;
              for (int64_t kh = 0; kh < KH; ++kh) {
                const T* rows = sl + ((kh * dh) % sh * phase_rows + (kh * dh) / sh) * R;
                for (int64_t kw = 0; kw < KW; ++kw) src[kh * KW + kw] = rows + layout.offset[kw];
              }
              kern.dot(KH * KW, src.data(), gpad.data(), dot_len,
                       acc.data() + (j * kvol + kd * KH * KW) * L);
            }
          }
      }
      sum_lanes(acc.data(), m * kvol, L, gw + c * m * kvol);
    }
  }
}

// The bytes the row path allocates, computed as the three passes above allocate them.
template <typename T>
int64_t rows_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const int64_t C = g.in_channels, m = g.out_channels_per_group();
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t KH = g.kernel[1], KW = g.kernel[2], kvol = g.kernel_volume();
  const int64_t s2 = g.stride[2], p2 = g.pad_before[2], d2 = g.dilation[2];
  const int64_t t = int64_t(sizeof(T)), ptr = int64_t(sizeof(void*));
  const int64_t i64 = int64_t(sizeof(int64_t));
  switch (pass) {
    case ConvPass::Forward: {
      if (m == 0 || OW == 0) return 0;
      const RowBlocks split(g.batch * C, OD * OH, num_threads());
      if (split.tasks == 0) return 0;
      const PaddedRows layout(g, kDepthwiseSlack);
      const int64_t threads = depthwise_threads(g, split.tasks);
      return KW * i64 + threads * (D * H * layout.row_stride * t + kvol * (ptr + i64 + t));
    }
    case ConvPass::BackwardData: {
      if (W == 0) return 0;
      const RowBlocks split(g.batch * C, D * H, num_threads());
      if (split.tasks == 0) return 0;
      const int64_t lead = ceil_div((KW - 1) * d2, s2);
      const int64_t row_len =
          lead + std::max(OW, (s2 - 1 + p2) / s2 + ceil_div(W, s2)) + kDepthwiseSlack;
      int64_t pairs = 0;
      for (int64_t res = 0; res < s2; ++res)
        for (int64_t kw = 0; kw < KW; ++kw)
          pairs += ((res + p2 - kw * d2) % s2 + s2) % s2 == 0;
      const int64_t threads = depthwise_threads(g, split.tasks);
      return s2 * int64_t(sizeof(std::vector<std::pair<int64_t, int64_t>>)) + pairs * 2 * i64 +
             threads * ((m * OD * OH * row_len + (s2 > 1 ? ceil_div(W, s2) : 0)) * t +
                        m * kvol * (ptr + t));
    }
    case ConvPass::BackwardWeight: {
      if (m == 0 || kvol == 0) return 0;
      const PaddedRows layout(g, 0);
      const int64_t R = layout.row_stride, L = kern.lanes, sh = g.stride[1];
      const int64_t hspan = (OH > 0 ? (OH - 1) * sh : 0) + (KH - 1) * g.dilation[1] + 1;
      const int64_t slice = sh * (ceil_div(hspan, sh) + 1) * R;
      const int64_t g_len = ceil_div(std::max<int64_t>(OH * R, 1), L) * L;
      const bool empty = g.batch == 0 || OD * OH * OW == 0;
      const int64_t threads = depthwise_threads(g, C);
      return KW * i64 + threads * ((empty ? 0 : D * slice + R + L + g_len) * t +
                                   m * kvol * L * t + KH * KW * ptr);
    }
  }
  return 0;
}

template <typename T>
int64_t depthwise_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  if (depthwise_plane_preferred(g, pass, sizeof(T)))
    return depthwise_plane_workspace_bytes<T>(g, pass);
  return depthwise_lanes_preferred(g, pass, sizeof(T)) ? depthwise_lanes_workspace_bytes<T>(g, pass)
                                                       : rows_workspace_bytes<T>(g, pass);
}

template int64_t depthwise_workspace_bytes<float>(const ConvGeometry&, ConvPass);
template int64_t depthwise_workspace_bytes<double>(const ConvGeometry&, ConvPass);
template void forward_depthwise<float>(const ConvGeometry&, const float*, const float*,
                                       const float*, bool, float*);
template void forward_depthwise<double>(const ConvGeometry&, const double*, const double*,
                                        const double*, bool, double*);
template void backward_data_depthwise<float>(const ConvGeometry&, const float*, const float*,
                                             float*);
template void backward_data_depthwise<double>(const ConvGeometry&, const double*, const double*,
                                              double*);
template void backward_weight_depthwise<float>(const ConvGeometry&, const float*, const float*,
                                               float*);
template void backward_weight_depthwise<double>(const ConvGeometry&, const double*,
                                                const double*, double*);

}  // namespace fastconv::cpu
