// Depthwise convolution with channels in the vector lanes, for small planes and strides, where
// the row path (conv_depthwise.cc) spends more time per row than computing it.
//
// A task takes a block of L channels (L = vector lanes) of one sample and transposes them into a
// zero-padded tile [E0][E1][E2][L] (channels innermost): every kernel element (tap) is then one
// vector load and one FMA per output pixel, with no borders to test, and stride and dilation
// are only the step between loads. The result tile [pixel][L] is transposed back into NCHW.
//
//   forward          y[o] = sum over taps k (kd, kh, kw order) of w[k] * tile[o*s + k*d] + bias
//   backward_data    gx[i] = sum over j, then taps (kd, kh, kw) with i + p - k*d = o*s, of
//                    w[k] * gy_j[o]: a gather over grad_input pixels; along W the pixels of one
//                    residue class mod s read consecutive gy pixels (as in the row path)
//   backward_weight  gw[k] = sum over n, then output pixels in order, of gy[o] * tile[o*s + k*d],
//                    one vector accumulator per (j, tap): channels in lanes need no final
//                    lane reduction
//
// Threads split (sample, channel block) tasks (forward, backward_data) or channel blocks
// (backward_weight); each result is computed by one task in an order fixed by the geometry.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "common/denormals.h"
#include "common/parallel.h"
#include "cpu/conv/conv_depthwise_lanes.h"
#include "cpu/conv/epilogue.h"

namespace fastconv::cpu {

namespace {

// Sizes of one pass of the lanes path, shared by the kernels and the workspace report.
struct LanesPlan {
  int64_t L = 1, blocks = 0, tasks = 0;
  int threads = 1;
  // padded input tile (forward, backward_weight): ext[0] x ext[1] x ext[2] pixels, ext[1] the
  // padded input rows that `band` output rows read; forward splits OH into `bands` such bands
  int64_t ext[3] = {0, 0, 0};
  int64_t band = 1, bands = 1;
  int64_t lead = 0, wg = 0;    // backward_data: gy tile rows of wg pixels, lead zeros before
  bool staged = false;         // pack whole planes into `stage`, then copy rows into the tile
  // elements: shared packed weights; per thread: tile, stage, out (result / gy tile, acc, bias)
  int64_t shared = 0, tile = 0, stage = 0, out = 0;
  int64_t taps = 0;  // per thread: taps of the longest tap list (a pointer and a weight each)
  std::vector<std::vector<std::pair<int64_t, int64_t>>> w_taps;  // backward_data: (kw, offset)

  // + one cache line: the tile starts on a cache-line boundary (every vector load is whole)
  int64_t per_thread() const { return tile + stage + out + kAlignElements; }
  static constexpr int64_t kAlignElements = 64;  // >= 64 bytes of any T

  LanesPlan(const ConvGeometry& g, ConvPass pass, int64_t lanes, int64_t pack_tile,
            int64_t element_size) {
    L = lanes;
    const int64_t C = g.in_channels, m = g.out_channels_per_group(), kvol = g.kernel_volume();
    blocks = ceil_div(C, L);
    if (pass != ConvPass::BackwardData) {
      for (int d : {0, 2}) {  // whole input rows and depth slices, and what the outputs read
        const int64_t o = g.out_size[d], span = (g.kernel[d] - 1) * g.dilation[d] + 1;
        const int64_t reach = o > 0 ? (o - 1) * g.stride[d] + span : 0;
        ext[d] = std::max(g.pad_before[d] + g.in_size[d], reach);
      }
      // Rows of a whole number of transposes go straight into the tile; short odd rows (7, 14,
      // 28) would be mostly element copies, so the plane is transposed as one long row first.
      const int64_t w = g.in_size[2], OH = g.out_size[1];
      staged = !(w % pack_tile == 0 || w >= 64);
      stage = staged ? g.in_plane() * L : 0;
      taps = kvol;
      band = std::max<int64_t>(OH, 1);
      if (pass == ConvPass::Forward && !staged && OH > 1) {
        // Bands of output rows whose input tile and result fit in 256 KiB (L2) together:
        // 112x112 planes are 7 bands of 16 rows. 1 thread, CPU time, one band / bands: 1x32x112x112
        // 3x3 0.283 / 0.252 ms, 2x64x128x128 1.87 / 1.67 ms; 8x144x56x56 (2 bands): the same.
        // (Not staged planes: those are small.)
        const int64_t row_bytes =
            ext[0] * (g.stride[1] * ext[2] + g.out_size[0] * g.out_size[2]) * L * element_size;
        const int64_t budget = int64_t(256) << 10;
        band = std::min(OH, std::max<int64_t>(1, budget / std::max<int64_t>(row_bytes, 1)));
      }
      bands = ceil_div(std::max<int64_t>(OH, 1), band);
      ext[1] = (band - 1) * g.stride[1] + (g.kernel[1] - 1) * g.dilation[1] + 1;
      tile = ext[0] * ext[1] * ext[2] * L;
      if (pass == ConvPass::Forward) {
        tasks = g.batch * blocks * bands;
        shared = blocks * m * kvol * L;
        out = g.out_size[0] * band * g.out_size[2] * L + L;  // result tile, bias vector
      } else {
        tasks = blocks;
        out = g.out_plane() * L + m * kvol * L;  // gy tile and the accumulators
      }
    } else {
      const int64_t s2 = g.stride[2], p2 = g.pad_before[2], d2 = g.dilation[2];
      const int64_t W = g.in_size[2], OW = g.out_size[2];
      lead = ceil_div((g.kernel[2] - 1) * d2, s2);
      int64_t reach = OW;  // gy pixels read past `lead`, at least the row itself
      w_taps.resize(static_cast<size_t>(s2));
      for (int64_t res = 0; res < s2; ++res) {
        const int64_t count = res < W ? ceil_div(W - res, s2) : 0;
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
          const int64_t tw = res + p2 - kw * d2;
          if (((tw % s2) + s2) % s2 != 0) continue;
          w_taps[res].emplace_back(kw, tw / s2);  // exact division
          if (count > 0) reach = std::max(reach, count + tw / s2);
        }
      }
      wg = lead + reach;
      tile = m * g.out_size[0] * g.out_size[1] * wg * L;
      staged = !(OW % pack_tile == 0 || OW >= 64);
      stage = staged ? g.out_plane() * L : 0;
      out = g.in_plane() * L;
      taps = m * kvol;
      tasks = g.batch * blocks;
      shared = blocks * m * kvol * L;
    }
    threads = depthwise_threads(g, tasks);
  }

  // The bytes the kernels allocate: elements, tap lists, and the tap offsets (forward,
  // backward_weight) or the w_taps lists (backward_data, held by the plan).
  int64_t bytes(const ConvGeometry& g, ConvPass pass, int64_t element_size) const {
    int64_t lists = 0;
    if (pass == ConvPass::BackwardData) {
      lists = int64_t(w_taps.size() * sizeof(w_taps[0]));
      for (const auto& v : w_taps) lists += int64_t(v.size() * sizeof(v[0]));
    } else {
      lists = g.kernel_volume() * int64_t(sizeof(int64_t));
    }
    return (shared + int64_t(threads) * per_thread()) * element_size +
           int64_t(threads) * taps * int64_t(2 * sizeof(void*)) + lists;
  }
};

template <typename T>
T* align_to_line(T* p) {
  return reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63));
}

// wl[((cb * m + j) * kvol + k) * L + l] = w[((cb * L + l) * m + j) * kvol + k] (0 past C).
template <typename T>
std::vector<T> pack_weights(const ConvGeometry& g, const T* w, const LanesPlan& p) {
  const int64_t C = g.in_channels, m = g.out_channels_per_group(), kvol = g.kernel_volume();
  const int64_t L = p.L;
  std::vector<T> wl(static_cast<size_t>(p.shared));
  T* out = wl.data();  // written in order (no division per element: 5% of a b1 7x7 call)
  for (int64_t c0 = 0; c0 < p.blocks * L; c0 += L)
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < kvol; ++k)
        for (int64_t l = 0; l < L; ++l)
          *out++ = c0 + l < C ? w[((c0 + l) * m + j) * kvol + k] : T(0);
  return wl;
}

// Element offset of each tap (kd, kh, kw) in the padded input tile.
std::vector<int64_t> tap_offsets(const ConvGeometry& g, const LanesPlan& p) {
  std::vector<int64_t> off;
  for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
      for (int64_t kw = 0; kw < g.kernel[2]; ++kw)
        off.push_back(((kd * g.dilation[0] * p.ext[1] + kh * g.dilation[1]) * p.ext[2] +
                       kw * g.dilation[2]) *
                      p.L);
  return off;
}

// Transposes nch channel planes (channel stride ld) into rows of `rows` x W pixels; row r
// starts at dst + row_start(r). Staged: one long transpose into `stage`, then row copies.
template <typename T, typename RowStart>
void pack_rows(const DepthwiseKernels<T>& kern, const LanesPlan& p, const T* src, int64_t ld,
               int64_t nch, int64_t rows, int64_t W, T* stage, T* dst, RowStart row_start) {
  if (p.staged) {
    kern.pack(src, ld, nch, rows * W, stage);
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(dst + row_start(r), stage + r * W * p.L, size_t(W * p.L) * sizeof(T));
  } else {
    for (int64_t r = 0; r < rows; ++r) kern.pack(src + r * W, ld, nch, W, dst + row_start(r));
  }
}

// The input rows that output rows oh0 .. oh0 + band - 1 read, of the block of nch channels at
// xp, into the padded tile: tile row (a, q) holds padded row oh0 * s1 + q of depth slice a, zero
// where that is padding. Columns outside the input are never written: they stay zero.
template <typename T>
void load_input_tile(const ConvGeometry& g, const DepthwiseKernels<T>& kern, const LanesPlan& p,
                     const T* xp, int64_t nch, int64_t oh0, T* tile, T* stage) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t E1 = p.ext[1], E2 = p.ext[2], L = p.L;
  const int64_t pd = g.pad_before[0], ph = g.pad_before[1], pw = g.pad_before[2];
  if (p.staged) kern.pack(xp, g.in_plane(), nch, g.in_plane(), stage);
  for (int64_t a = 0; a < p.ext[0]; ++a)
    for (int64_t q = 0; q < E1; ++q) {
      const int64_t id = a - pd, ih = oh0 * g.stride[1] + q - ph;
      T* row = tile + (a * E1 + q) * E2 * L;
      if (id < 0 || id >= D || ih < 0 || ih >= H) {
        std::fill(row, row + E2 * L, T(0));
      } else if (p.staged) {
        std::memcpy(row + pw * L, stage + (id * H + ih) * W * L, size_t(W * L) * sizeof(T));
      } else {
        kern.pack(xp + (id * H + ih) * W, g.in_plane(), nch, W, row + pw * L);
      }
    }
}

}  // namespace

// Rows or lanes, from measurements of both paths on one thread, float32, AVX-512 (L = 16), on
// the shared 2-core Zen 4 (benchmarks/results/depthwise_cpu.md has the suite's rows; times
// rows / lanes in ms, the best of 5):
// - Lanes need channels to fill them: C = 4 (a quarter of the lanes) 8x4x56x56 3x3 forward
//   0.29 / 0.66, backward_weight 0.23 / 0.84; C = 8 (half) 8x8x56x56 forward 0.57 / 0.69,
//   backward_weight 0.28 / 0.42, but on 14x14 planes 0.096 / 0.051; C = 16 2x16x112x112
//   forward 0.52 / 0.37, backward_weight 0.77 / 0.39. So: more than half the lanes used, or
//   half on rows shorter than 32.
// - The row path is at its best on long rows, for forward and backward_data: 1-D k=4, 64
//   channels, length 256 (b8) forward 0.153 / 0.125, backward_data 0.129 / 0.104; length 1024
//   0.174 / 0.330 and 0.324 / 0.746; length 4096 (b2) 0.52 / 0.73 and 0.35 / 0.90. So: rows
//   from 512 pixels per row. backward_weight stays faster with lanes (1024: 1.30 / 0.69; 4096:
//   0.82 / 0.67; k=31: 3.36 / 1.42).
// - Small planes are where lanes win most (8x960x7x7 3x3: 1.98 / 0.28 ms forward on 2
//   threads); every other suite row too (8x144x56x56 3x3/2 forward 4.28 / 1.06).
// - A tile larger than 4 MiB per thread would not stay in L2 and the workspace would grow with
//   the plane: rows then.
bool depthwise_lanes_preferred(const ConvGeometry& g, ConvPass pass, int64_t element_size) {
  if (const char* force = std::getenv("FASTCONV_DEPTHWISE")) {
    if (std::strcmp(force, "lanes") == 0) return true;
    if (std::strcmp(force, "rows") == 0 || std::strcmp(force, "plane") == 0) return false;
  }
  const bool f64 = element_size == 8;
  const int64_t lanes = f64 ? select_depthwise_kernels<double>().lanes
                            : select_depthwise_kernels<float>().lanes;
  const int64_t pack_tile = f64 ? select_depthwise_kernels<double>().pack_tile
                                : select_depthwise_kernels<float>().pack_tile;
  const int64_t used = g.in_channels, offered = ceil_div(g.in_channels, lanes) * lanes;
  const int64_t row = pass == ConvPass::BackwardData ? g.in_size[2] : g.out_size[2];
  if (2 * used < offered || (2 * used == offered && row >= 32)) return false;
  if (pass != ConvPass::BackwardWeight && row >= 512) return false;
  LanesPlan plan(g, pass, lanes, pack_tile, element_size);
  return plan.per_thread() * element_size <= (int64_t(4) << 20);
}

int64_t depthwise_lanes_thread_bytes(const ConvGeometry& g, ConvPass pass, int64_t element_size) {
  const bool f64 = element_size == 8;
  const int64_t lanes = f64 ? select_depthwise_kernels<double>().lanes
                            : select_depthwise_kernels<float>().lanes;
  const int64_t pack_tile = f64 ? select_depthwise_kernels<double>().pack_tile
                                : select_depthwise_kernels<float>().pack_tile;
  return LanesPlan(g, pass, lanes, pack_tile, element_size).per_thread() * element_size;
}

// ---------------------------------------------------------------------------------- forward

template <typename T>
void forward_depthwise_lanes(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                             bool relu, T* y) {
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const LanesPlan p(g, ConvPass::Forward, kern.lanes, kern.pack_tile, sizeof(T));
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  if (p.tasks == 0 || OD * OH * OW == 0) return;
  const int64_t L = p.L, C = g.in_channels, m = g.out_channels_per_group();
  const int64_t Cout = g.out_channels, kvol = g.kernel_volume();
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t s0 = g.stride[0], s1 = g.stride[1], s2 = g.stride[2];
  const int64_t E1 = p.ext[1], E2 = p.ext[2], KW = g.kernel[2];
  const bool window = s2 == 1 && g.dilation[2] == 1;  // lanes_window's case
  const std::vector<T> wl = pack_weights(g, w, p);
  const std::vector<int64_t> off = tap_offsets(g, p);
  const auto unpack =
      depthwise_stream_output(g.batch * Cout * out_plane * int64_t(sizeof(T))) ? kern.unpack_stream
                                                                               : kern.unpack;

#pragma omp parallel num_threads(p.threads)
  {
    const FlushDenormals flush_denormals;
    std::vector<T> buf(static_cast<size_t>(p.per_thread()));
    T* tile = align_to_line(buf.data());
    T* stage = tile + p.tile;
    T* out = stage + p.stage;
    T* bvec = out + OD * p.band * OW * L;
    std::vector<const T*> ptrs(static_cast<size_t>(2 * p.taps));
    const T** src = ptrs.data();
    const T** wt = src + p.taps;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < p.tasks; ++task) {
      const int64_t b = task % p.bands, n = task / p.bands / p.blocks;
      const int64_t cb = task / p.bands % p.blocks, c0 = cb * L;
      const int64_t nch = std::min(L, C - c0);
      const int64_t oh0 = b * p.band, rows = std::min(OH, oh0 + p.band) - oh0;
      load_input_tile(g, kern, p, x + (n * C + c0) * in_plane, nch, oh0, tile, stage);
      for (int64_t j = 0; j < m; ++j) {
        for (int64_t t = 0; t < kvol; ++t) wt[t] = wl.data() + ((cb * m + j) * kvol + t) * L;
        if (bias)
          for (int64_t l = 0; l < L; ++l) bvec[l] = l < nch ? bias[(c0 + l) * m + j] : T(0);
        for (int64_t od = 0; od < OD; ++od)
          for (int64_t r = 0; r < rows; ++r) {
            const T* base = tile + (od * s0 * E1 + r * s1) * E2 * L;
            T* orow = out + (od * p.band + r) * OW * L;
            if (window) {  // kvol / KW rows of KW taps
              for (int64_t r = 0; r < kvol / KW; ++r) src[r] = base + off[r * KW];
              kern.lanes_window(kvol / KW, KW, wt, src, L, OW, bias ? bvec : nullptr, orow);
            } else {
              for (int64_t t = 0; t < kvol; ++t) src[t] = base + off[t];
              kern.lanes_row(kvol, wt, src, s2 * L, OW, bias ? bvec : nullptr, orow, L);
            }
          }
        for (int64_t od = 0; od < OD; ++od) {
          T* yj = y + (n * Cout + c0 * m + j) * out_plane + (od * OH + oh0) * OW;
          T* res = out + od * p.band * OW * L;
          // the ReLU on the result tile (elementwise: the same values), before the transpose:
          // a streamed y is not read back
          if (relu) bias_relu_row(res, rows * OW * L, T(0), true);
          unpack(res, nch, rows * OW, yj, m * out_plane);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------- backward_data

template <typename T>
void backward_data_depthwise_lanes(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const LanesPlan p(g, ConvPass::BackwardData, kern.lanes, kern.pack_tile, sizeof(T));
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  if (p.tasks == 0 || D * H * W == 0) return;
  const int64_t L = p.L, C = g.in_channels, m = g.out_channels_per_group();
  const int64_t Cout = g.out_channels, kvol = g.kernel_volume();
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t KH = g.kernel[1], KW = g.kernel[2];
  const int64_t s0 = g.stride[0], s1 = g.stride[1], s2 = g.stride[2];
  const int64_t p0 = g.pad_before[0], p1 = g.pad_before[1];
  const int64_t d0 = g.dilation[0], d1 = g.dilation[1];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  // unit stride and dilation along W: every tap kw of a gy row, at offsets p2 - kw
  const bool window = s2 == 1 && g.dilation[2] == 1;
  const std::vector<T> wl = pack_weights(g, w, p);
  const auto unpack =
      depthwise_stream_output(g.batch * C * in_plane * int64_t(sizeof(T))) ? kern.unpack_stream
                                                                            : kern.unpack;

#pragma omp parallel num_threads(p.threads)
  {
    const FlushDenormals flush_denormals;
    std::vector<T> buf(static_cast<size_t>(p.per_thread()));
    T* tile = align_to_line(buf.data());
    T* stage = tile + p.tile;
    T* gxt = stage + p.stage;
    std::vector<const T*> ptrs(static_cast<size_t>(2 * p.taps));
    const T** src = ptrs.data();
    const T** wt = src + p.taps;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < p.tasks; ++task) {
      const int64_t n = task / p.blocks, cb = task % p.blocks, c0 = cb * L;
      const int64_t nch = std::min(L, C - c0);
      if (out_plane > 0)
        for (int64_t j = 0; j < m; ++j)
          pack_rows(kern, p, gy + (n * Cout + c0 * m + j) * out_plane, m * out_plane, nch,
                    OD * OH, OW, stage, tile,
                    [&](int64_t r) { return ((j * OD * OH + r) * p.wg + p.lead) * L; });
      for (int64_t id = 0; id < D; ++id)
        for (int64_t ih = 0; ih < H; ++ih)
          for (int64_t res = 0; res < std::min(s2, W); ++res) {
            int64_t nt = 0, nrows = 0;
            for (int64_t j = 0; j < m; ++j) {
              const T* wj = wl.data() + (cb * m + j) * kvol * L;
              for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                const int64_t td = id + p0 - kd * d0;
                if (td < 0 || td % s0 != 0 || td / s0 >= OD) continue;
                for (int64_t kh = 0; kh < KH; ++kh) {
                  const int64_t th = ih + p1 - kh * d1;
                  if (th < 0 || th % s1 != 0 || th / s1 >= OH) continue;
                  const T* row = tile + (((j * OD + td / s0) * OH + th / s1) * p.wg + p.lead) * L;
                  if (window) src[nrows++] = row + p.w_taps[0][0].second * L;
                  for (const auto& tap : p.w_taps[res]) {
                    if (!window) src[nt] = row + tap.second * L;
                    wt[nt++] = wj + ((kd * KH + kh) * KW + tap.first) * L;
                  }
                }
              }
            }
            T* gxrow = gxt + ((id * H + ih) * W + res) * L;
            if (window) {  // rows of KW taps kw = 0, 1, ..., each one pixel back along gy
              kern.lanes_window(nrows, KW, wt, src, -L, W, nullptr, gxrow);
            } else {
              kern.lanes_row(nt, wt, src, L, ceil_div(W - res, s2), nullptr, gxrow, s2 * L);
            }
          }
      unpack(gxt, nch, in_plane, gx + (n * C + c0) * in_plane, in_plane);
    }
  }
}

// -------------------------------------------------------------------------- backward_weight

template <typename T>
void backward_weight_depthwise_lanes(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const LanesPlan p(g, ConvPass::BackwardWeight, kern.lanes, kern.pack_tile, sizeof(T));
  const int64_t L = p.L, C = g.in_channels, m = g.out_channels_per_group();
  const int64_t Cout = g.out_channels, kvol = g.kernel_volume();
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t s0 = g.stride[0], s1 = g.stride[1], s2 = g.stride[2];
  const int64_t E1 = p.ext[1], E2 = p.ext[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  if (p.tasks == 0 || m == 0 || kvol == 0) return;
  const std::vector<int64_t> off = tap_offsets(g, p);

#pragma omp parallel num_threads(p.threads)
  {
    const FlushDenormals flush_denormals;
    std::vector<T> buf(static_cast<size_t>(p.per_thread()));
    T* tile = align_to_line(buf.data());
    T* stage = tile + p.tile;
    T* gt = stage + p.stage;
    T* acc = gt + out_plane * L;
    std::vector<const T*> src(static_cast<size_t>(2 * p.taps));
#pragma omp for schedule(static)
    for (int64_t cb = 0; cb < p.blocks; ++cb) {
      const int64_t c0 = cb * L, nch = std::min(L, C - c0);
      std::fill(acc, acc + m * kvol * L, T(0));
      for (int64_t n = 0; n < g.batch && out_plane > 0; ++n) {
        load_input_tile(g, kern, p, x + (n * C + c0) * in_plane, nch, 0, tile, stage);
        for (int64_t j = 0; j < m; ++j) {
          kern.pack(gy + (n * Cout + c0 * m + j) * out_plane, m * out_plane, nch, out_plane, gt);
          for (int64_t od = 0; od < OD; ++od) {  // the OH rows of a slice in one call
            const T* base = tile + od * s0 * E1 * E2 * L;
            for (int64_t t = 0; t < kvol; ++t) src[t] = base + off[t];
            kern.lanes_dot(kvol, src.data(), s2 * L, s1 * E2 * L, gt + od * OH * OW * L,
                           OW * L, OH, OW, acc + j * kvol * L);
          }
        }
      }
      for (int64_t c = 0; c < nch; ++c)
        for (int64_t j = 0; j < m; ++j)
          for (int64_t k = 0; k < kvol; ++k)
            gw[((c0 + c) * m + j) * kvol + k] = acc[(j * kvol + k) * L + c];
    }
  }
}

template <typename T>
int64_t depthwise_lanes_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const LanesPlan p(g, pass, kern.lanes, kern.pack_tile, sizeof(T));
  const bool runs = p.tasks > 0 && (pass == ConvPass::Forward        ? g.out_plane() > 0
                                    : pass == ConvPass::BackwardData ? g.in_plane() > 0
                                    : g.out_channels > 0 && g.kernel_volume() > 0);
  return runs ? p.bytes(g, pass, int64_t(sizeof(T))) : 0;  // as the passes return early
}

template void forward_depthwise_lanes<float>(const ConvGeometry&, const float*, const float*,
                                             const float*, bool, float*);
template void forward_depthwise_lanes<double>(const ConvGeometry&, const double*, const double*,
                                              const double*, bool, double*);
template void backward_data_depthwise_lanes<float>(const ConvGeometry&, const float*,
                                                   const float*, float*);
template void backward_data_depthwise_lanes<double>(const ConvGeometry&, const double*,
                                                    const double*, double*);
template void backward_weight_depthwise_lanes<float>(const ConvGeometry&, const float*,
                                                     const float*, float*);
template void backward_weight_depthwise_lanes<double>(const ConvGeometry&, const double*,
                                                      const double*, double*);
template int64_t depthwise_lanes_workspace_bytes<float>(const ConvGeometry&, ConvPass);
template int64_t depthwise_lanes_workspace_bytes<double>(const ConvGeometry&, ConvPass);

}  // namespace fastconv::cpu
