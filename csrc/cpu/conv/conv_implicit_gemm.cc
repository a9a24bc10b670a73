// Convolution as an implicit GEMM over a zero-padded input "frame": no im2col buffer.
//
// For one (sample, group) the group's input channels are copied once into a zero-padded frame in
// which every kernel tap reads a contiguous, in-bounds stretch. With stride 1 the frame has
// FD x FH x FW cells, F = O + (K-1) dil per dimension, cell f = x[f - pad] (0 outside), and output
// position q = (od FH + oh) FW + ow (frame coordinates) of tap (a, b, e) reads
// frame[q + (a dD FH + b dH) FW + e dW]. So one group's convolution is the GEMM
//   Y'[o, q] = sum_{k = (c, tap)} W[o, k] * frame[rowoff[k] + q]
// whose B operand row k is the frame itself at offset rowoff[k]: B is never packed, the
// micro-kernel (conv_implicit_gemm.h) loads its vectors straight from the frame through the offset
// table. Columns with ow >= OW (or oh >= OH) are junk: computed, never stored (a fraction
// (KW-1) dW / FW of the work). Tiles of columns go through a per-thread C buffer (output channels
// x columns); the valid positions are stored into y with the bias / ReLU epilogue.
//
// Stride s > 1 (polyphase): each channel's frame is deinterleaved into sD sH sW phase frames
// (phase (rd, rh, rw) holds the cells f with f % s == r); tap (a, b, e) reads phase
// ((a dD) % sD, (b dH) % sH, (e dW) % sW) at offset ((a dD) / sD FHp + (b dH) / sH) FWp + (e dW) / sW,
// and the output is stride 1 inside the phases, Fp = O + ((K-1) dil) / s. One code path: stride 1
// is one phase.
//
// Position path: where it computes fewer padded products, the same GEMM runs transposed on
// backward_weight's tap kernel (conv_implicit_gemm.h), output channels along the vector lanes
// and one broadcast frame value per valid output position: Y'^T[p, o] = sum_k frame[rowoff[k] +
// col(p)] W^T[k, o] over the band's valid positions only (no junk columns; positions padded to
// the tile's rows, not to a column tile), then transposed into y. It sums every K block of kKc
// from zero and adds it to the blocks before, exactly as the column path does, so the two give
// bitwise the same results (the choice depends on the bands, hence on the thread count).
//
// Bands: when a group's frame would exceed kFrameBytes, or there are too few (sample, group)
// pairs to keep the threads busy, the output is cut along its outermost non-trivial dimension
// into bands, each with its own frame (plus the kernel's halo); for the threads, only as long as
// a band stays at least twice the halo, then blocks of output channels. Threads split tasks =
// (sample, group, band, output-channel block). Every output element is one vector lane summing its K products in k order (in
// fixed blocks of kKc), whatever band, tile or thread computes it: results are bitwise the same
// for any thread count and for a sample alone or inside any batch.
//
// backward_data with stride 1 is a stride-1 forward correlation of grad_output (padded by
// (K-1) dil - pad per dimension, negative = a crop) with the spatially flipped, in/out-transposed
// weights, on an output of the input's size: the same code. Stride > 1 backward_data is not
// implemented (the predicate says so; im2col_gemm computes it). backward_weight reads the same
// frames with a dot-product kernel (its section below).
#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <immintrin.h>
#endif
#include <type_traits>

#include "common/cpu_features.h"
#include "common/denormals.h"
#include "common/env.h"
#include "common/parallel.h"
#include "cpu/conv/conv_algorithms.h"
#include "cpu/conv/conv_implicit_gemm.h"
#include "cpu/conv/epilogue.h"

namespace fastconv::cpu {

namespace {

// A task's frame, at most (whole rows). 4 MiB rather than 2 lets the i3d 7x7x7/2 stem's
// 3-channel frame (2.3 MiB) stay whole: forward 41 vs 51 ms on im2col_gemm, where 2 bands had
// rebuilt 43% more frame (benchmarks/results/implicit_gemm_cpu.md).
constexpr int64_t kFrameBytes = int64_t(4) << 20;
// Not tuned (sized by the cache levels, left to measure): the C tile of a task stays in L2; the
// B rows of one K block (x the register tile's columns) stay in L1.
constexpr int64_t kCBytes = 192 * 1024;
constexpr int64_t kKc = 256;
// The position path's tables (two int64 per position of a band) stay below 1 MiB per thread.
constexpr int64_t kMaxPositions = 65536;

template <typename T>
ImplicitGemmKernels<T> select_kernels();

template <>
ImplicitGemmKernels<float> select_kernels<float>() {
  return FASTCONV_ISA_DISPATCH(f32_implicit_gemm_kernels);
}

template <>
ImplicitGemmKernels<double> select_kernels<double>() {
  return FASTCONV_ISA_DISPATCH(f64_implicit_gemm_kernels);
}

template <typename T>
ImplicitTapKernel<T> select_tap_kernel(bool narrow);

template <>
ImplicitTapKernel<float> select_tap_kernel<float>(bool narrow) {
  return narrow ? FASTCONV_ISA_DISPATCH(f32_implicit_tap_kernel_narrow)
                : FASTCONV_ISA_DISPATCH(f32_implicit_tap_kernel);
}

template <>
ImplicitTapKernel<double> select_tap_kernel<double>(bool narrow) {
  return narrow ? FASTCONV_ISA_DISPATCH(f64_implicit_tap_kernel_narrow)
                : FASTCONV_ISA_DISPATCH(f64_implicit_tap_kernel);
}

template <typename T>
ImplicitTapKernels<T> select_pos_tap_kernels();

template <>
ImplicitTapKernels<float> select_pos_tap_kernels<float>() {
  return FASTCONV_ISA_DISPATCH(f32_implicit_tap_kernels_pos);
}

template <>
ImplicitTapKernels<double> select_pos_tap_kernels<double>() {
  return FASTCONV_ISA_DISPATCH(f64_implicit_tap_kernels_pos);
}

// FASTCONV_IMPLICIT_TAP_NR=<width> keeps only the position-path tiles of that width, 0 none of
// them (studies).
template <typename T>
ImplicitTapKernels<T> pos_tap_kernels() {
  const ImplicitTapKernels<T> all = select_pos_tap_kernels<T>();
  const char* force = std::getenv("FASTCONV_IMPLICIT_TAP_NR");
  if (!force || !*force) return all;
  ImplicitTapKernels<T> kept{{}, 0};
  for (int i = 0; i < all.count; ++i)
    if (all.kernel[i].nr == std::atoll(force)) kept.kernel[kept.count++] = all.kernel[i];
  return kept;
}

template <typename T>
ImplicitDotKernel<T> select_dot_kernel();

template <>
ImplicitDotKernel<float> select_dot_kernel<float>() {
  return FASTCONV_ISA_DISPATCH(f32_implicit_dot_kernel);
}

template <>
ImplicitDotKernel<double> select_dot_kernel<double>() {
  return FASTCONV_ISA_DISPATCH(f64_implicit_dot_kernel);
}

// A strided correlation y (N, cout, out) = corr(x (N, cin, in), weights): position o of a
// dimension reads x at o s - pad + t dil for tap t, zero outside; pad may be negative.
struct Problem {
  int64_t batch = 0, cin = 0, cout = 0, groups = 1;
  int64_t in[3], out[3], k[3], s[3], dil[3], pad[3];
  int64_t cig() const { return cin / groups; }
  int64_t cog() const { return cout / groups; }
  int64_t kvol() const { return k[0] * k[1] * k[2]; }
  int64_t gemm_k() const { return cig() * kvol(); }
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
  int64_t phases() const { return s[0] * s[1] * s[2]; }
};

Problem forward_problem(const ConvGeometry& g) {
  Problem p;
  p.batch = g.batch;
  p.cin = g.in_channels;
  p.cout = g.out_channels;
  p.groups = g.groups;
  for (int d = 0; d < 3; ++d) {
    p.in[d] = g.in_size[d];
    p.out[d] = g.out_size[d];
    p.k[d] = g.kernel[d];
    p.s[d] = g.stride[d];
    p.dil[d] = g.dilation[d];
    p.pad[d] = g.pad_before[d];
  }
  return p;
}

// gx = corr(gy padded by (K-1) dil - pad, flipped transposed weights), stride 1 only.
Problem backward_data_problem(const ConvGeometry& g) {
  Problem p = forward_problem(g);
  std::swap(p.cin, p.cout);
  for (int d = 0; d < 3; ++d) {
    std::swap(p.in[d], p.out[d]);
    p.pad[d] = (g.kernel[d] - 1) * g.dilation[d] - g.pad_before[d];
  }
  return p;
}

// The phase frames of one band of `len` output positions along dimension `bd`.
struct FrameLayout {
  int64_t o[3];   // output positions of the band per dimension
  int64_t fp[3];  // phase frame size per dimension
  int64_t phase_size = 0, channel = 0;
  int64_t span = 0;  // columns from the first output position to one past the last

  FrameLayout(const Problem& p, int bd, int64_t len) {
    for (int d = 0; d < 3; ++d) {
      o[d] = d == bd ? len : p.out[d];
      fp[d] = o[d] + (p.k[d] - 1) * p.dil[d] / p.s[d];
    }
    phase_size = fp[0] * fp[1] * fp[2];
    channel = p.phases() * phase_size;
    span = o[0] * o[1] * o[2] == 0 ? 0 : ((o[0] - 1) * fp[1] + (o[1] - 1)) * fp[2] + o[2];
  }
  int64_t elements(const Problem& p, int64_t slack) const { return p.cig() * channel + slack; }
};

// ceil(a / b) for b > 0 and any sign of a
inline int64_t ceil_div_signed(int64_t a, int64_t b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// The taps of dimension d that read inside the input for some output position in [o_lo, o_hi]:
// tap t reads cell o s + t dil - pad, so the others read only zero padding for all of them.
// Returns [t_lo, t_hi) (a superset of the exact set where the positions' ranges leave gaps).
inline void taps_inside(const Problem& p, int d, int64_t o_lo, int64_t o_hi, int64_t& t_lo,
                        int64_t& t_hi) {
  t_lo = std::clamp<int64_t>(ceil_div_signed(p.pad[d] - o_hi * p.s[d], p.dil[d]), 0, p.k[d]);
  t_hi = std::clamp<int64_t>(ceil_div_signed(p.in[d] + p.pad[d] - o_lo * p.s[d], p.dil[d]),
                             t_lo, p.k[d]);
}

// Whether every tap of dimension d reads inside the input at output position o.
inline bool all_taps_inside(const Problem& p, int d, int64_t o) {
  int64_t t_lo, t_hi;
  taps_inside(p, d, o, o, t_lo, t_hi);
  return t_lo == 0 && t_hi == p.k[d];
}

// Whether the outputs read padding along W only (taps along W: inception-v3 1x7), with the bands
// along D or H: where the position paths order W's edge columns apart from the inner ones.
inline bool w_padding_only(const Problem& p, int bd) {
  const auto none_along = [&](int d) {
    return all_taps_inside(p, d, 0) && all_taps_inside(p, d, p.out[d] - 1);
  };
  return bd != 2 && p.out[2] > 1 && none_along(0) && none_along(1) && !none_along(2);
}

// The output positions of dimension d whose tap t reads inside the input: [o_lo, o_hi) (may be
// empty; not clamped to the output's size).
inline void outputs_inside(const Problem& p, int d, int64_t t, int64_t& o_lo, int64_t& o_hi) {
  o_lo = ceil_div_signed(p.pad[d] - t * p.dil[d], p.s[d]);
  o_hi = std::max(o_lo, ceil_div_signed(p.in[d] + p.pad[d] - t * p.dil[d], p.s[d]));
}

// How one call splits its work and what workspace it takes; computed the same way by the kernel
// and by implicit_gemm_workspace_bytes (fastconv.explain).
template <typename T>
struct Plan {
  ImplicitGemmKernel<T> kernel{};
  int64_t cog_pad = 0;      // output channels rounded up to whole mr panels
  int bd = 2;               // band dimension: the outermost one with more than 1 output
  int64_t band = 1, bands = 1;
  int64_t panels_per_block = 1, blocks = 1;  // output-channel blocks of whole mr panels
  int64_t tile = 0;         // columns per C tile (whole nr); by_pos: positions (whole pos.mr)
  int64_t tasks = 0;
  int threads = 1;
  int64_t shared = 0;       // packed weights, elements
  int64_t frame = 0, cbuf = 0;  // per thread, elements
  // The position path (by_pos): the tap kernel over the valid output positions of a band only,
  // output channels along its lanes (no junk columns); C tiles are positions x channels.
  bool by_pos = false;
  ImplicitTapKernel<T> pos{};
  int64_t positions = 0;    // valid positions of a band, padded to whole pos.mr
  // With one task per (group, channel block) (batch 1, one band), each task packs its own
  // weight panels (per thread, `panels` elements) right before it uses them, instead of all of
  // them up front (ResNeXt res5 b1: 1.2 MB of weights, packing was ~27% of the time).
  bool pack_in_task = false;
  int64_t panels = 0;
  // Packing goes through a tile of whole weight rows (panel_rows x pack_k, per thread), read
  // contiguously and transposed in 4 x 4 blocks (a strided scalar store per element was 18% of
  // ResNeXt res5 b1's forward).
  int64_t pack_k = 0, pack_tile = 0;
  int64_t panel_rows() const { return by_pos ? pos.nr : kernel.mr; }  // channels per panel
  int64_t bytes(const Problem& p) const {
    return (shared + threads * (frame + cbuf + panels + pack_tile)) * int64_t(sizeof(T)) +
           threads * (p.gemm_k() + 2 * positions) * int64_t(sizeof(int64_t));
  }
};

template <typename T>
Plan<T> make_plan(const Problem& p) {
  Plan<T> plan;
  const ImplicitGemmKernels<T> kernels = select_kernels<T>();
  plan.kernel = kernels.kernel[0];
  const int64_t cog = p.cog();
  const auto padded = [](int64_t n, int64_t unit) { return ceil_div(n, unit) * unit; };
  plan.bd = p.out[0] > 1 ? 0 : p.out[1] > 1 ? 1 : 2;
  const int64_t rows = p.out[plan.bd];
  if (p.batch > 0 && p.out_plane() > 0 && cog > 0) {
    // Bands: as long as the frame fits kFrameBytes, and enough of them for the threads.
    int64_t len = rows;
    while (len > 1 &&
           FrameLayout(p, plan.bd, len).elements(p, 0) * int64_t(sizeof(T)) > kFrameBytes)
      len = ceil_div(len, 2);
    // Too few (sample, group) pairs for the threads: more bands, as long as each is at least
    // twice the halo (a frame rebuilt at most 1.5x), then blocks of output channels.
    const int64_t pairs = p.batch * p.groups;
    const int64_t wanted = ceil_div(4 * int64_t(num_threads()), pairs);
    const int64_t halo = (p.k[plan.bd] - 1) * p.dil[plan.bd] / p.s[plan.bd];
    const int64_t thin = std::max<int64_t>(1, rows / std::max<int64_t>(1, 2 * halo));
    plan.bands = std::max(ceil_div(rows, len), std::min(wanted, thin));
    plan.band = ceil_div(rows, plan.bands);
    plan.bands = ceil_div(rows, plan.band);
    // The register tile that computes the fewest padded rows x columns of a band.
    const FrameLayout first(p, plan.bd, plan.band);
    int64_t best = -1;
    for (int i = 0; i < kernels.count; ++i) {
      const ImplicitGemmKernel<T>& k = kernels.kernel[i];
      const int64_t work = padded(cog, k.mr) * padded(first.span, k.nr);
      if (best < 0 || work < best) {
        best = work;
        plan.kernel = k;
      }
    }
    // The position path where it computes fewer padded products: it skips the junk columns
    // ((K-1) dil / F of each row) and pads positions to pos.mr only, not to a column tile.
    // Its one-vector tile where that pads fewer channels (16 per group: ResNeXt res4, and
    // Fashion-MNIST conv2's backward_data, 1 thread, ms column / two-vector / one-vector: 4.9 /
    // 6.2 / 4.1 and 5.0 / 7.1 / 4.0).
    const int64_t npos = first.o[0] * first.o[1] * first.o[2];
    int64_t pos_work = -1;
    for (const bool narrow : {false, true}) {
      const ImplicitTapKernel<T> k = select_tap_kernel<T>(narrow);
      const int64_t work = padded(cog, k.nr) * padded(npos, k.mr);
      if (pos_work < 0 || work < pos_work) {
        pos_work = work;
        plan.pos = k;
      }
    }
    // The position path's other tiles where the output channels fill them and they pad no more
    // positions (the first such, in the ISA's order, on a tie).
    const ImplicitTapKernels<T> more = pos_tap_kernels<T>();
    int64_t more_work = -1;
    for (int i = 0; i < more.count; ++i) {
      const ImplicitTapKernel<T>& k = more.kernel[i];
      const int64_t work = cog * padded(npos, k.mr);
      if (cog % k.nr == 0 && work <= pos_work && (more_work < 0 || work < more_work)) {
        more_work = work;
        plan.pos = k;
      }
    }
    if (more_work >= 0) pos_work = more_work;
    // It must save more than 6% of the products: with its C tile stored by whole rows and one
    // kernel call per K block it ran faster than the column path from 7.5% fewer products,
    // slower under 5% (1 thread, CPU time, forced paths interleaved in one process, time
    // position / column; implicit_gemm_cpu.md round 4): ResNet-50 3x3 64 ch 56x56 b8 (3.9%
    // fewer) 1.03, C3D conv2a (5%) 1.02; inception-v3 7x1 b8 (7.5%) 0.96, ResNeXt res4 g32 b8
    // (10.7%) 0.91-0.98, tacotron2 k5 (11%) 0.94, deeplab d2 b8 (12.5%) 0.92-0.93, ResNeXt res5
    // b1 0.94-0.96, Fashion-MNIST conv2 b64 0.83-0.89, inception-v3 1x7 0.75-0.77.
    // FASTCONV_IMPLICIT_POS=0|1 forces the column / position path (tests, studies).
    const char* force = std::getenv("FASTCONV_IMPLICIT_POS");
    plan.by_pos = force && *force ? force[0] == '1'
                                  : 100 * pos_work < 94 * best && npos <= kMaxPositions;
    if (plan.by_pos) {
      plan.positions = padded(npos, plan.pos.mr);
    }
  }
  const int64_t nr = plan.kernel.nr;
  plan.cog_pad = padded(cog, plan.panel_rows());
  plan.pack_in_task = p.batch * plan.bands == 1;
  plan.shared = plan.pack_in_task ? 0 : p.groups * plan.cog_pad * p.gemm_k();
  if (p.batch == 0 || p.out_plane() == 0 || cog == 0) return plan;
  const int64_t panels = plan.cog_pad / plan.panel_rows();
  const int64_t wanted_blocks =
      ceil_div(4 * int64_t(num_threads()), p.batch * p.groups * plan.bands);
  plan.panels_per_block = ceil_div(panels, std::min(panels, wanted_blocks));
  plan.blocks = ceil_div(panels, plan.panels_per_block);
  if (plan.pack_in_task) plan.panels = plan.panels_per_block * plan.panel_rows() * p.gemm_k();
  // whole kernels (backward_data's rows are runs of kvol flipped taps), about 64 columns
  plan.pack_k = std::min(p.gemm_k(), p.kvol() * std::max<int64_t>(1, 64 / p.kvol()));
  plan.pack_tile = plan.panel_rows() * plan.pack_k;
  plan.tasks = p.batch * p.groups * plan.bands * plan.blocks;
  plan.threads = threads_for(plan.tasks, p.batch * p.cout * p.out_plane() * p.gemm_k());
  const FrameLayout first(p, plan.bd, plan.band);
  plan.frame = first.elements(p, nr);
  const int64_t unit = plan.by_pos ? plan.pos.mr : nr;
  const int64_t fit = kCBytes / (plan.cog_pad * unit * int64_t(sizeof(T)));
  const int64_t columns = plan.by_pos ? plan.positions : first.span;
  plan.tile = unit * std::max<int64_t>(1, std::min(fit, ceil_div(columns, unit)));
  plan.cbuf = plan.cog_pad * plan.tile;
  return plan;
}

// The phase frames of channel `src` (one input plane) for the band starting at output o0.
// Phases that some tap reads (a 1x1 stride-2 kernel reads one of four).
std::vector<char> used_phases(const Problem& p) {
  std::vector<char> used(size_t(p.phases()), 0);
  for (int64_t a = 0; a < p.k[0]; ++a)
    for (int64_t b = 0; b < p.k[1]; ++b)
      for (int64_t e = 0; e < p.k[2]; ++e)
        used[size_t((((a * p.dil[0]) % p.s[0]) * p.s[1] + (b * p.dil[1]) % p.s[1]) * p.s[2] +
                    (e * p.dil[2]) % p.s[2])] = 1;
  return used;
}

// Short rows (a 14-wide plane) by inline loops rather than libc calls: memmove / memset were 15%
// of ResNeXt res4 b8's forward, copying 14 floats at a time. The attribute keeps GCC from turning
// the loops back into those calls; long rows still take them.
#if defined(__GNUC__) && !defined(__clang__)
#define FASTCONV_NO_LIBC_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define FASTCONV_NO_LIBC_LOOPS
#endif
template <typename T>
FASTCONV_NO_LIBC_LOOPS void copy_row(const T* src, int64_t n, T* dst) {
  if (n >= 64) {
    std::memcpy(dst, src, size_t(n) * sizeof(T));
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

template <typename T>
FASTCONV_NO_LIBC_LOOPS void zero_row(T* dst, int64_t n) {
  if (n >= 64) {
    std::memset(dst, 0, size_t(n) * sizeof(T));
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = T(0);
}

template <typename T>
FrameRowsFn<T> select_frame_rows();

template <>
FrameRowsFn<float> select_frame_rows<float>() {
  return FASTCONV_ISA_DISPATCH(f32_frame_rows);
}

template <>
FrameRowsFn<double> select_frame_rows<double>() {
  return FASTCONV_ISA_DISPATCH(f64_frame_rows);
}

template <typename T>
void build_frame(const Problem& p, const FrameLayout& f, int bd, int64_t o0,
                 const std::vector<char>& used, FrameRowsFn<T> frame_rows, const T* src, T* dst) {
  int64_t start[3];  // full-resolution frame coordinate of the band's first cell, minus pad
  for (int d = 0; d < 3; ++d) start[d] = (d == bd ? o0 * p.s[d] : 0) - p.pad[d];
  for (int64_t rd = 0; rd < p.s[0]; ++rd)
    for (int64_t rh = 0; rh < p.s[1]; ++rh)
      for (int64_t rw = 0; rw < p.s[2]; ++rw) {
        const int64_t ph = (rd * p.s[1] + rh) * p.s[2] + rw;
        if (!used[size_t(ph)]) continue;  // read by junk columns only
        T* phase = dst + ph * f.phase_size;
        // cells i along W read x column w0 + i s (stride 1: one copy between zeros)
        const int64_t sw = p.s[2], w0 = start[2] + rw, W = p.in[2], FW = f.fp[2];
        const int64_t lo = std::min(FW, w0 >= 0 ? int64_t(0) : ceil_div(-w0, sw));
        const int64_t hi = std::max(lo, std::min(FW, w0 < W ? ceil_div(W - w0, sw) : 0));
        if (sw == 1) {
          // the rows i1 in [a, b) read x rows, the others are zeros
          const int64_t sh = p.s[1], base = start[1] + rh, FH = f.fp[1];
          const int64_t a = std::min(FH, base >= 0 ? int64_t(0) : ceil_div(-base, sh));
          const int64_t b = std::max(a, std::min(FH, base < p.in[1] ? ceil_div(p.in[1] - base, sh)
                                                                    : int64_t(0)));
          for (int64_t i0 = 0; i0 < f.fp[0]; ++i0) {
            const int64_t xd = start[0] + rd + i0 * p.s[0];
            T* plane = phase + i0 * FH * FW;
            if (xd < 0 || xd >= p.in[0] || hi == lo || a == b) {
              zero_row(plane, FH * FW);
              continue;
            }
            zero_row(plane, a * FW);
            frame_rows(src + (xd * p.in[1] + base + a * sh) * W + w0, sh * W, b - a, lo, hi, FW,
                       plane + a * FW);
            zero_row(plane + b * FW, (FH - b) * FW);
          }
          continue;
        }
        for (int64_t i0 = 0; i0 < f.fp[0]; ++i0) {
          const int64_t xd = start[0] + rd + i0 * p.s[0];
          for (int64_t i1 = 0; i1 < f.fp[1]; ++i1) {
            const int64_t xh = start[1] + rh + i1 * p.s[1];
            T* row = phase + (i0 * f.fp[1] + i1) * FW;
            if (xd < 0 || xd >= p.in[0] || xh < 0 || xh >= p.in[1] || hi == lo) {
              zero_row(row, FW);
              continue;
            }
            const T* xrow = src + (xd * p.in[1] + xh) * W;
            zero_row(row, lo);
            for (int64_t i = lo; i < hi; ++i) row[i] = xrow[w0 + i * sw];
            zero_row(row + hi, FW - hi);
          }
        }
      }
}

template <typename T>
TransposeRowsFn<T> select_transpose_rows();

template <>
TransposeRowsFn<float> select_transpose_rows<float>() {
  return FASTCONV_ISA_DISPATCH(f32_transpose_rows);
}

template <>
TransposeRowsFn<double> select_transpose_rows<double>() {
  return FASTCONV_ISA_DISPATCH(f64_transpose_rows);
}

// Y (N, cout, out) = corr(x, weights) + bias, ReLU; weight_row(grp, o, k0, k1, dst, stride) writes
// row o of a group's weight matrix W[o, k] to dst[(k - k0) * stride], k0 <= k < k1.
template <typename T, typename WeightRow>
void implicit_gemm(const Problem& p, const T* x, WeightRow weight_row, const T* bias, bool relu,
                   T* y) {
  const Plan<T> plan = make_plan<T>(p);
  if (plan.tasks == 0) return;
  const ImplicitGemmKernel<T> kern = plan.kernel;
  const int64_t G = p.groups, cig = p.cig(), cog = p.cog(), K = p.gemm_k();
  const ImplicitTapKernel<T> pos = plan.pos;
  const int64_t mr = plan.panel_rows(), nr = kern.nr, panels = plan.cog_pad / mr;
  const int64_t in_plane = p.in_plane(), out_plane = p.out_plane();
  const int64_t KD = p.k[0], KH = p.k[1], KW = p.k[2];
  const int64_t k_blocks = std::max<int64_t>(1, ceil_div(K, kKc));
  const int bd = plan.bd;
  const int threads = plan.threads;
  const int64_t per_thread = plan.frame + plan.cbuf + plan.panels + plan.pack_tile;
  const std::unique_ptr<T[]> a_packed(new T[size_t(plan.shared)]);  // every element written
  // Zero-filled once: a frame's slack and stale cells past a shorter band are read by junk
  // columns only.
  std::vector<T> workspace(size_t(threads * per_thread));
  const int64_t per_thread_offsets = K + 2 * plan.positions;
  std::vector<int64_t> offsets(size_t(threads * per_thread_offsets));
  const std::vector<char> used = used_phases(p);
  const FrameRowsFn<T> frame_rows = select_frame_rows<T>();
  const TransposeRowsFn<T> transpose_rows = select_transpose_rows<T>();
  // The next (sample, group)'s input is prefetched into L2 while this one's kernel runs: the
  // frame build waited on it (building a frame twice, the second build took ~1/3 of the time of
  // the first). 1 thread, CPU ms, min of 31, off / on: ResNeXt res4 b8 forward 3.46 / 3.27,
  // backward_data 3.43 / 3.34; res5 b1, Fashion-MNIST conv2 even. Only where that input
  // (the whole of it, not a band) fits L2 with room to spare.
  // FASTCONV_IMPLICIT_PREFETCH=0|1 forces it off / on (studies).
  const bool prefetch_next =
      env_switch("FASTCONV_IMPLICIT_PREFETCH")
          .value_or(cig * in_plane * int64_t(sizeof(T)) <= (int64_t(256) << 10));
  // The position path leaves out, per tile of positions, the taps that read only zero padding
  // for all of them, as oneDNN does (inception-v3 7x1 on 17x17 pads 3 rows on either side: 10%
  // of the products read padding; Fashion-MNIST conv2, 5x5 on 14x14: 16%). Only products with
  // zero are left out, so the sums are the same (and each K block's still summed from zero in k
  // order). FASTCONV_IMPLICIT_SKIP_PADDING=0|1 forces it off / on (tests, studies).
  const bool skip_padding =
      plan.by_pos && env_switch("FASTCONV_IMPLICIT_SKIP_PADDING").value_or(true);
  // The band's positions: row-major, or with padding along W only, the columns whose W taps all
  // read inside first, row-major, then each edge column top to bottom, so that a tile of edge
  // positions leaves out the W taps that read padding (inception-v3 1x7 on 17x17: 10% of the
  // products; a row-major tile spans a whole row's taps). Not with padding along H too:
  // Fashion-MNIST conv2 (5x5 on 14x14) computed 4% fewer products but ran 5% slower (column
  // tiles lose some of the H skip, read the frame a row apart per position, and store single
  // positions).
  const bool edges_apart = skip_padding && w_padding_only(p, bd);

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    // An MR-row panel of a group's weights: a[k mr + i] = W[panel mr + i, k], in blocks of
    // pack_k columns: whole rows into the thread's tile (contiguous), then transposed into the
    // panel (whole rows at a stride of mr thrashed L1: 28% of ResNeXt res5 b1's backward_data).
    T* const pack_tile = workspace.data() + thread_index() * per_thread + per_thread - plan.pack_tile;
    const auto pack = [&](int64_t grp, int64_t panel, T* a) {
      const int64_t o0 = panel * mr;
      for (int64_t k0 = 0; k0 < K; k0 += plan.pack_k) {
        const int64_t k1 = std::min(K, k0 + plan.pack_k), kn = k1 - k0;
        for (int64_t i = 0; i < mr; ++i) {
          if (o0 + i < cog) {
            weight_row(grp, o0 + i, k0, k1, pack_tile + i * kn, int64_t(1));
          } else {
            std::fill(pack_tile + i * kn, pack_tile + (i + 1) * kn, T(0));
          }
        }
        transpose_rows(pack_tile, kn, mr, kn, a + k0 * mr, mr);
      }
    };
    // every group's panels up front: a_packed[(grp panels + panel) K mr + k mr + i]
    if (!plan.pack_in_task) {
#pragma omp for schedule(static)
      for (int64_t gp = 0; gp < G * panels; ++gp)
        pack(gp / panels, gp % panels, a_packed.get() + gp * K * mr);
    }
    T* frame = workspace.data() + thread_index() * per_thread;
    T* cbuf = frame + plan.frame;
    int64_t* rowoff = offsets.data() + thread_index() * per_thread_offsets;
    int64_t rowoff_len = -1;                    // the band length rowoff was built for
    int64_t pos_o0 = -1, pos_len = -1, np = 0;  // by_pos: the band fpos, opos, tile_rows are for
    int64_t* fpos = rowoff + K;                 // by_pos: a valid position's frame column
    int64_t* opos = fpos + plan.positions;      // and its offset in the output plane
    T* own_panels = cbuf + plan.cbuf;           // pack_in_task: the task's weight panels
    // by_pos: the rows k of the GEMM a tile of positions needs, per set of tap ranges: a tile
    // whose positions all lie where some taps read only zero padding leaves those taps out
    // (see tap_rows below). tile_rows[t]: the tile's entry in row_sets, -1 for every row.
    std::vector<std::pair<std::array<int64_t, 6>, std::vector<int64_t>>> row_sets;
    std::vector<int> tile_rows;
    const auto tap_rows = [&](int64_t np, int64_t np_pad) {
      tile_rows.assign(size_t(np_pad / pos.mr), -1);
      for (int64_t t0 = 0; t0 < np; t0 += pos.mr) {
        // the box of the tile's positions (output coordinates), and the taps that read inside
        // the input for some position in it
        int64_t lo[3] = {p.out[0], p.out[1], p.out[2]}, hi[3] = {-1, -1, -1};
        for (int64_t q = t0; q < std::min(np, t0 + pos.mr); ++q) {
          const int64_t o[3] = {opos[q] / (p.out[1] * p.out[2]), opos[q] / p.out[2] % p.out[1],
                                opos[q] % p.out[2]};
          for (int d = 0; d < 3; ++d) {
            lo[d] = std::min(lo[d], o[d]);
            hi[d] = std::max(hi[d], o[d]);
          }
        }
        std::array<int64_t, 6> taps{};
        bool all = true;
        for (int d = 0; d < 3; ++d) {
          taps_inside(p, d, lo[d], hi[d], taps[2 * d], taps[2 * d + 1]);
          all = all && taps[2 * d] == 0 && taps[2 * d + 1] == p.k[d];
        }
        if (all) continue;
        size_t set = 0;
        while (set < row_sets.size() && row_sets[set].first != taps) ++set;
        if (set == row_sets.size()) {
          std::vector<int64_t> rows;
          for (int64_t c = 0; c < cig; ++c)
            for (int64_t a = taps[0]; a < taps[1]; ++a)
              for (int64_t b = taps[2]; b < taps[3]; ++b)
                for (int64_t e = taps[4]; e < taps[5]; ++e)
                  rows.push_back(((c * KD + a) * KH + b) * KW + e);
          row_sets.emplace_back(taps, std::move(rows));
        }
        tile_rows[size_t(t0 / pos.mr)] = int(set);
      }
    };
#pragma omp for schedule(static)
    for (int64_t task = 0; task < plan.tasks; ++task) {
      const int64_t blk = task % plan.blocks, band = (task / plan.blocks) % plan.bands;
      const int64_t grp = (task / (plan.blocks * plan.bands)) % G;
      const int64_t n = task / (plan.blocks * plan.bands * G);
      const int64_t panel0 = blk * plan.panels_per_block;
      const int64_t panel1 = std::min(panels, panel0 + plan.panels_per_block);
      const int64_t oc0 = panel0 * mr, oc1 = std::min(cog, panel1 * mr);
      const int64_t o0 = band * plan.band, len = std::min(plan.band, p.out[bd] - o0);
      const FrameLayout f(p, bd, len);
      const T* xg = x + (n * p.cin + grp * cig) * in_plane;
      for (int64_t c = 0; c < cig; ++c)
        build_frame(p, f, bd, o0, used, frame_rows, xg + c * in_plane, frame + c * f.channel);
#if defined(__SSE2__)
      // (the next task of this thread, under schedule(static), unless this is its last)
      if (prefetch_next && task + 1 < plan.tasks &&
          (task + 1) / (plan.blocks * plan.bands) != task / (plan.blocks * plan.bands)) {
        const char* next = reinterpret_cast<const char*>(xg + cig * in_plane);
        for (int64_t b = 0; b < cig * in_plane * int64_t(sizeof(T)); b += 64)
          _mm_prefetch(next + b, _MM_HINT_T1);
      }
#endif

      // The offsets depend on the band's length only: rebuilt when it changes (their integer
      // divisions were 5-8% of ResNeXt res4 b8 / res5 b1, rebuilt per task).
      if (len != rowoff_len) {
        rowoff_len = len;
        for (int64_t c = 0, k = 0; c < cig; ++c)
          for (int64_t a = 0; a < KD; ++a)
            for (int64_t b = 0; b < KH; ++b)
              for (int64_t e = 0; e < KW; ++e, ++k) {
                const int64_t td = a * p.dil[0], th = b * p.dil[1], tw = e * p.dil[2];
                const int64_t phase = ((td % p.s[0]) * p.s[1] + th % p.s[1]) * p.s[2] + tw % p.s[2];
                rowoff[k] = c * f.channel + phase * f.phase_size +
                            ((td / p.s[0]) * f.fp[1] + th / p.s[1]) * f.fp[2] + tw / p.s[2];
              }
      }
      // ag: the task's first panel (panel0)
      const T* ag = own_panels;
      if (plan.pack_in_task) {
        for (int64_t panel = panel0; panel < panel1; ++panel)
          pack(grp, panel, own_panels + (panel - panel0) * K * mr);
      } else {
        ag = a_packed.get() + (grp * panels + panel0) * K * mr;
      }
      T* yg = y + (n * p.cout + grp * cog) * out_plane;
      if (plan.by_pos) {
        // The band's positions (see edges_apart), the same for every task of a band (group,
        // sample, channel block): built once per band on each thread (the tiles' tap boxes took
        // ~7% of ResNeXt res4 g32 b8's forward, one task per (sample, group), when built per
        // task)
        const bool same_band = o0 == pos_o0 && len == pos_len;
        pos_o0 = o0;
        pos_len = len;
        if (!same_band) np = 0;
        const auto add = [&](int64_t i0, int64_t i1, int64_t w) {
          const int64_t od = i0 + (bd == 0 ? o0 : 0), oh = i1 + (bd == 1 ? o0 : 0);
          const int64_t ow = w + (bd == 2 ? o0 : 0);
          fpos[np] = (i0 * f.fp[1] + i1) * f.fp[2] + w;
          opos[np++] = (od * p.out[1] + oh) * p.out[2] + ow;
        };
        const auto inner_column = [&](int64_t w) { return all_taps_inside(p, 2, w); };
        const int64_t np_pad = ceil_div(f.o[0] * f.o[1] * f.o[2], pos.mr) * pos.mr;
        if (!same_band) {
          for (int64_t i0 = 0; i0 < f.o[0]; ++i0)
            for (int64_t i1 = 0; i1 < f.o[1]; ++i1)
              for (int64_t w = 0; w < f.o[2]; ++w)
                if (!edges_apart || inner_column(w)) add(i0, i1, w);
          if (edges_apart)
            for (int64_t w = 0; w < f.o[2]; ++w)
              if (!inner_column(w))
                for (int64_t i0 = 0; i0 < f.o[0]; ++i0)
                  for (int64_t i1 = 0; i1 < f.o[1]; ++i1) add(i0, i1, w);
          std::fill(fpos + np, fpos + np_pad, int64_t(0));  // padding positions: never stored
          if (skip_padding) tap_rows(np, np_pad);
        }
        for (int64_t q0 = 0; q0 < np_pad; q0 += plan.tile) {
          const int64_t cols = std::min(plan.tile, np_pad - q0);
          // Bitwise the column path's sums: each K block of kKc summed in k order from zero,
          // then added to the sum of the blocks before it (the kernel's kTapStore for the first
          // block, kTapAddSum for the others). So which path a plan takes (it depends on the
          // bands, hence on the thread count) never changes a result. One call per block:
          // sub-blocks of 64 / 128 K rows (their weights in L1) were slower (1 thread, ms,
          // forced position path, sub-blocks of 64 / 128 / 256: Fashion-MNIST conv2 b64 3.47 /
          // 3.31 / 3.30, ResNeXt res4 b8 3.36 / 3.31 / 3.13).
          for (int64_t k0 = 0; k0 < K; k0 += kKc) {
            const int64_t k1 = std::min(K, k0 + kKc);
            const int mode = k0 == 0 ? kTapStore : kTapAddSum;
            for (int64_t panel = panel0; panel < panel1; ++panel)
              for (int64_t j = 0; j < cols; j += pos.mr) {
                T* c = cbuf + j * plan.cog_pad + panel * mr;
                const int set = skip_padding ? tile_rows[size_t((q0 + j) / pos.mr)] : -1;
                if (set < 0) {
                  pos.run(k1 - k0, frame, fpos + q0 + j, rowoff + k0,
                          ag + ((panel - panel0) * K + k0) * mr, mr, c, plan.cog_pad, mode);
                  continue;
                }
                // the set's rows in [k0, k1): the block's sum over them alone is the same
                // (only products with zero padding are left out); a block with none of them
                // sums to zero (the first block's store still writes it)
                const std::vector<int64_t>& rows = row_sets[size_t(set)].second;
                const auto r0 = std::lower_bound(rows.begin(), rows.end(), k0);
                const auto r1 = std::lower_bound(r0, rows.end(), k1);
                if (r1 > r0 || mode == kTapStore)
                  pos.run_rows(r1 - r0, frame, fpos + q0 + j, rowoff,
                               ag + (panel - panel0) * K * mr, mr,
                               rows.data() + (r0 - rows.begin()), c, plan.cog_pad, mode);
              }
          }
          // Transposed straight into y (channels x positions) in 4 x 4 blocks, run by run of
          // consecutive output positions (row-major: the whole tile, as a band's positions are
          // one contiguous stretch of the output plane; edge columns apart: rows of the inner
          // columns, single positions of the edge columns). A strided scalar store per element
          // was 6.5% of Fashion-MNIST conv2's forward; a transposition into a buffer and a row
          // copy from it, 6.5% of ResNeXt res4 g32 b8's.
          const int64_t q1 = std::min(np, q0 + cols);
          for (int64_t r0 = q0, r1; r0 < q1; r0 = r1) {
            for (r1 = r0 + 1; r1 < q1 && opos[r1] == opos[r1 - 1] + 1;) ++r1;
            T* const y0 = yg + oc0 * out_plane + opos[r0];
            transpose_rows(cbuf + (r0 - q0) * plan.cog_pad + oc0, plan.cog_pad, r1 - r0, oc1 - oc0,
                           y0, out_plane);
            if (bias || relu)
              for (int64_t o = oc0; o < oc1; ++o)
                bias_relu_row(y0 + (o - oc0) * out_plane, r1 - r0,
                              bias ? bias[grp * cog + o] : T(0), relu);
          }
        }
        continue;
      }
      for (int64_t q0 = 0; q0 < f.span; q0 += plan.tile) {
        const int64_t cols = std::min(plan.tile, f.span - q0), subtiles = ceil_div(cols, nr);
        for (int64_t kb = 0; kb < k_blocks; ++kb) {
          const int64_t k0 = kb * kKc, kc = std::min(kKc, K - k0);
          for (int64_t j = 0; j < subtiles; ++j)
            for (int64_t panel = panel0; panel < panel1; ++panel)
              kern.run(kc, ag + ((panel - panel0) * K + k0) * mr, frame + q0 + j * nr, rowoff + k0,
                       cbuf + panel * mr * plan.tile + j * nr, plan.tile, kb > 0);
        }
        // The valid positions of the tile: output rows (i0, i1), columns below o[2].
        const int64_t q1 = q0 + cols;
        int64_t row = q0 / f.fp[2];
        for (int64_t qr = row * f.fp[2]; qr < q1; qr += f.fp[2], ++row) {
          const int64_t i0 = row / f.fp[1], i1 = row % f.fp[1];
          if (i1 >= f.o[1] || i0 >= f.o[0]) continue;
          const int64_t c0 = std::max(qr, q0), c1 = std::min({qr + f.o[2], q1});
          if (c1 <= c0) continue;
          const int64_t od = i0 + (bd == 0 ? o0 : 0), oh = i1 + (bd == 1 ? o0 : 0);
          const int64_t ow = c0 - qr + (bd == 2 ? o0 : 0);
          T* yrow = yg + (od * p.out[1] + oh) * p.out[2] + ow;
          for (int64_t o = oc0; o < oc1; ++o) {
            T* dst = yrow + o * out_plane;
            copy_row(cbuf + o * plan.tile + (c0 - q0), c1 - c0, dst);
            if (bias || relu) bias_relu_row(dst, c1 - c0, bias ? bias[grp * cog + o] : T(0), relu);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------- backward_weight
//
//   dW[o, k = (c, tap)] = sum_n sum_q dYf[o, q] * frame_n[rowoff[k] + q]
// with dYf = grad_output placed in frame coordinates (zeros at the junk columns): both operands are
// contiguous along q, so the dot-product kernel (conv_implicit_gemm.h) keeps MO x NK vectors of
// partial sums, one lane per position class q mod lanes, in a per-task buffer across all positions
// of a chunk of (sample, band) steps, and reduces the lanes in order at the end. Tasks = chunk x
// group x block of input channels (frames are built for the block's channels only); the chunks
// (at most kMaxChunks, their count and the bands a function of the geometry only) are partial
// sums added in chunk order, so results are bitwise the same for any thread count.
// The tap kernel instead (where the output channels per group fill its tile and there are > 3
// input channels per group) puts output channels along the lanes:
//   dW^T[k, o] = sum_n sum_{valid p} frame_n[rowoff[k] + q(p)] * dY^T[p, o]
// summed in registers in p order (no lane reduction, no junk columns); grad_output is transposed
// per step into the task's buffer. Its tasks also split the output channels (whole tiles).
// Not tuned (sized by the cache levels; the chunk caps are im2col_gemm's backward_weight ones):
constexpr int64_t kPartialBytes = int64_t(1) << 20;  // a task's vector partial sums
constexpr int64_t kDotColumns = 512;                  // positions per kernel call (L1 blocks)
constexpr int64_t kMaxChunks = 8;
constexpr int64_t kChunkBytes = int64_t(8) << 20;     // the chunks' partial dW, at most
// Tasks (group x channel block x chunk) wanted before chunking the steps: a fixed number, not
// the thread count, so that the summation order depends on the geometry only.
constexpr int64_t kMinWgradTasks = 16;
constexpr int64_t kMinTapTasks = 4;  // by splitting input channels (repeated transpositions)
// grad_output rows per tap-kernel call: 16 / 8 KiB were slower (1 thread, CPU ms 64 / 16 / 8
// KiB: inception-v3 7x1 b8 12.2 / 14.8 / 16.4, 1x7 10.0 / 10.3 / 10.8, Fashion-MNIST conv2 b64
// 4.3 / 4.9 / 4.7; ResNeXt g32 res3 / res4 / res5 even; implicit_gemm_cpu.md round 5)
constexpr int64_t kTapBytes = 64 * 1024;

template <typename T>
struct WgradPlan {
  ImplicitDotKernel<T> kernel{};
  // The tap kernel instead (output channels along the lanes, valid positions only): partial sums
  // are dW^T rows (kc_pad x cog_pad), dyf holds grad_output transposed (positions x cog_pad)
  // and the offset table also holds the positions' frame columns.
  ImplicitTapKernel<T> tap{};
  bool by_tap = false;
  int64_t positions = 0;  // valid output positions of the longest band
  int64_t tap_positions = 1;  // per kernel call: their grad_output rows stay in L2
  int64_t ob = 0, oblocks = 1;  // output channels per task (whole tap tiles; the dot kernel: all)
  int bd = 2;
  int64_t band = 1, bands = 0, steps = 0;
  int64_t cb = 1, cblocks = 0;       // input channels per task
  int64_t chunks = 1, per_chunk = 1;
  int64_t cog_pad = 0, kc_pad = 0;  // partial-sum rows x columns (whole kernel blocks)
  int64_t ld = 0;                   // dYf row stride (the longest band's span, whole vectors)
  int64_t tasks = 0;
  int threads = 1;
  int64_t shared = 0, frame = 0, dyf = 0, partial = 0;  // elements
  int64_t tap_offsets = 0;  // the tap kernel's offsets again, tap-major (the padding skip)
  int64_t bytes() const {
    return (shared + threads * (frame + dyf + partial)) * int64_t(sizeof(T)) +
           threads * (kc_pad + positions + tap_offsets) * int64_t(sizeof(int64_t));
  }
};

// The tap kernel where output channels fill its tiles exactly and each position feeds enough
// taps to pay for transposing its grad_output: ahead of the dot kernel on every such row measured
// (2 threads, AVX-512: ResNeXt res5 g32 b1 0.22x -> 1.06x torch, ResNet-50 res2 3x3 b1 0.56x ->
// 0.87x, Fashion-MNIST conv2 b64 0.39x -> 0.59x); with 16 output channels on 32-channel tiles
// (ResNeXt res4: 0.65x -> 0.51x) or <= 3 input channels (VGG conv1_1: 0.80x -> 0.40x) it loses.
// The one-vector tile where the output channels fill it but not the two-vector one (ResNeXt res4
// g32 b8, 16 per group: 1.29x -> 1.91x torch; implicit_gemm_cpu.md, round 2).
template <typename T>
bool choose_tap_kernel(const Problem& p, ImplicitTapKernel<T>* tap) {
  if (p.cig() <= 3) return false;
  // (Not the wide tiles: slower here, 1 thread, CPU ms two-vector / wide, inception-v3 1x7 b8
  // 10.1 / 10.9 on 4 x 80, 7x1 12.1 / 12.9 on 6 x 64; implicit_gemm_cpu.md round 5.)
  for (const bool narrow : {false, true}) {
    *tap = select_tap_kernel<T>(narrow);
    if (p.cog() % tap->nr == 0) return true;
  }
  return false;
}

template <typename T>
WgradPlan<T> make_wgrad_plan(const Problem& p) {
  WgradPlan<T> plan;
  plan.kernel = select_dot_kernel<T>();
  const int64_t cig = p.cig(), cog = p.cog(), kvol = p.kvol(), K = p.gemm_k();
  const int64_t L = plan.kernel.lanes, mo = plan.kernel.mo, nk = plan.kernel.nk;
  if (cog == 0 || K == 0) return plan;
  plan.by_tap = choose_tap_kernel(p, &plan.tap);
  plan.cog_pad = ceil_div(cog, plan.by_tap ? plan.tap.nr : mo) * (plan.by_tap ? plan.tap.nr : mo);
  plan.ob = plan.cog_pad;
  if (plan.by_tap) {
    // Tasks split the output channels first (each transposes only its own grad_output rows;
    // frames are cheap to rebuild), then, for few steps, the input channels (each repeats the
    // transposition of its grad_output rows), then chunks.
    const int64_t tiles = plan.cog_pad / plan.tap.nr;
    plan.ob = ceil_div(tiles, std::min(tiles, ceil_div(kMinWgradTasks, p.groups))) * plan.tap.nr;
  }
  plan.oblocks = ceil_div(plan.cog_pad, plan.ob);
  const int64_t per_channel = plan.ob * kvol * (plan.by_tap ? 1 : L) * int64_t(sizeof(T));
  plan.cb = std::max<int64_t>(1, std::min(cig, kPartialBytes / per_channel));
  if (plan.by_tap) {
    const int64_t min_steps = std::max<int64_t>(1, std::min(p.batch, kMaxChunks));
    plan.cb = std::min(plan.cb, ceil_div(cig, ceil_div(kMinTapTasks,
                                                       p.groups * plan.oblocks * min_steps)));
    plan.tap_positions = std::max<int64_t>(1, kTapBytes / (plan.ob * int64_t(sizeof(T))));
  }
  plan.cblocks = ceil_div(cig, plan.cb);
  const int64_t kunit = plan.by_tap ? plan.tap.mr : nk;
  plan.kc_pad = ceil_div(plan.cb * kvol, kunit) * kunit;
  if (plan.by_tap) plan.tap_offsets = plan.cb * kvol;
  plan.partial = plan.ob * plan.kc_pad * (plan.by_tap ? 1 : L);
  plan.bd = p.out[0] > 1 ? 0 : p.out[1] > 1 ? 1 : 2;
  const int64_t rows = p.out[plan.bd];
  if (p.batch > 0 && p.out_plane() > 0) {
    Problem block = p;  // the frame holds cb channels of a group
    block.cin = plan.cb * p.groups;
    // bands: the frame of cb channels and the band's grad_output rows (dYf) each fit kFrameBytes
    const auto too_big = [&](int64_t len) {
      const FrameLayout f(block, plan.bd, len);
      return std::max(f.elements(block, 0), plan.cog_pad * f.span) * int64_t(sizeof(T)) >
             kFrameBytes;
    };
    int64_t len = rows;
    while (len > 1 && too_big(len)) len = ceil_div(len, 2);
    plan.bands = ceil_div(rows, len);
    plan.band = ceil_div(rows, plan.bands);
    plan.bands = ceil_div(rows, plan.band);
    const FrameLayout first(block, plan.bd, plan.band);
    plan.frame = first.elements(block, L);
    plan.ld = ceil_div(first.span, L) * L;
    plan.dyf = plan.cog_pad * plan.ld;
    if (plan.by_tap) {
      plan.positions = first.o[0] * first.o[1] * first.o[2];
      plan.dyf = plan.positions * plan.ob;
    }
  }
  plan.steps = p.batch * plan.bands;
  const int64_t dw = p.groups * cog * K;
  const int64_t affordable = 1 + kChunkBytes / int64_t(sizeof(T)) / dw;
  // Chunks only where the groups and channel blocks alone give too few tasks: every chunk
  // costs a zeroed partial-sum buffer, a lane reduction and a pass over dW, which dominated
  // ResNeXt g32 (res4 b8: 8 chunks of one sample each; implicit_gemm_cpu.md, round 2).
  const int64_t wanted = ceil_div(kMinWgradTasks, p.groups * plan.cblocks * plan.oblocks);
  plan.chunks =
      std::max<int64_t>(1, std::min({plan.steps, kMaxChunks, affordable, wanted}));
  // Chunks of equal steps where a few more of them give that: the tasks (chunk-major) then cost
  // the same, and a static schedule shares them evenly. inception-v3 7x1 b8 had 3 chunks of
  // 3 / 3 / 2 samples x 6 output-channel blocks: 27 vs 21 sample-blocks on 2 threads, one
  // thread idle 22% of the time.
  for (int64_t c = plan.chunks; c <= std::min({plan.steps, kMaxChunks, affordable}); ++c)
    if (plan.steps % c == 0) {
      plan.chunks = c;
      break;
    }
  plan.per_chunk = std::max<int64_t>(1, ceil_div(plan.steps, plan.chunks));
  plan.chunks = std::max<int64_t>(1, ceil_div(plan.steps, plan.per_chunk));
  plan.shared = (plan.chunks - 1) * dw;
  plan.tasks = plan.chunks * p.groups * plan.cblocks * plan.oblocks;
  plan.threads = threads_for(plan.tasks, p.batch * p.cout * p.out_plane() * K);
  return plan;
}

// True if every value is finite: x - x is 0 for finite x, NaN for inf and NaN. An integer OR of
// the comparisons vectorises (a float sum, `sum += x * 0`, did not without reassociation: a
// serial chain of adds, ~25% of ResNeXt res3 g32 b8's backward_weight).
template <typename T>
bool all_finite(const T* v, int64_t n) {
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= int(!(v[i] - v[i] == T(0)));
  return bad == 0;
}

// Returns false, leaving gw unspecified, if the frames held a non-finite input value: the junk
// columns multiply frame cells by 0, and 0 * inf would put a NaN where the gradient has none.
template <typename T>
bool wgrad_implicit_gemm(const Problem& p, const T* x, const T* gy, T* gw) {
  const WgradPlan<T> plan = make_wgrad_plan<T>(p);
  if (plan.tasks == 0) return true;
  if (plan.steps == 0) {  // no samples or no output positions: an empty sum, no workspace
    std::fill(gw, gw + p.groups * p.cog() * p.gemm_k(), T(0));
    return true;
  }
  const ImplicitDotKernel<T> kern = plan.kernel;
  int nonfinite = 0;
  const int64_t G = p.groups, cig = p.cig(), cog = p.cog(), K = p.gemm_k(), kvol = p.kvol();
  const int64_t L = kern.lanes, mo = kern.mo, nk = kern.nk, kc_pad = plan.kc_pad;
  const int64_t in_plane = p.in_plane(), out_plane = p.out_plane(), dw = G * cog * K;
  const int64_t KD = p.k[0], KH = p.k[1], KW = p.k[2];
  const int bd = plan.bd;
  const int threads = plan.threads;
  const int64_t per_thread = plan.frame + plan.dyf + plan.partial;
  std::vector<T> partial_dw(size_t(plan.shared));  // chunk c > 0 sums into block c - 1
  std::vector<T> workspace(size_t(threads * per_thread));  // zero: the frame slack is read
  const int64_t per_thread_offsets = kc_pad + plan.positions + plan.tap_offsets;
  std::vector<int64_t> offsets(size_t(threads * per_thread_offsets));
  const std::vector<char> used = used_phases(p);
  const FrameRowsFn<T> frame_rows = select_frame_rows<T>();
  const TransposeRowsFn<T> transpose_rows = select_transpose_rows<T>();
  const int64_t next_bytes =
      (plan.cb * in_plane + (plan.by_tap ? plan.ob : cog) * out_plane) * int64_t(sizeof(T));
  const bool prefetch_next =
      env_switch("FASTCONV_IMPLICIT_PREFETCH").value_or(next_bytes <= (int64_t(256) << 10));
  Problem block = p;
  block.cin = plan.cb * p.groups;
  const ImplicitTapKernel<T> tap = plan.tap;
  const int64_t ob = plan.ob;
  // (as the forward's position path: FASTCONV_IMPLICIT_SKIP_PADDING=0|1 forces it off / on)
  const bool skip_padding =
      plan.by_tap && env_switch("FASTCONV_IMPLICIT_SKIP_PADDING").value_or(true);
  // With padding along W only (taps along W: inception-v3 1x7), the tap kernel's positions go
  // column by column for the left edge columns, row-major for the inner ones [wl, wr) (whose W
  // taps all read inside), then column by column for the right edge: every tap's valid positions
  // are then one range (a suffix of the left columns, the inner block, a prefix of the right
  // ones), and the tiles leave out the rest (1x7: 10% of the products). The order depends on the
  // geometry only (it is also the order of the sums), not on the padding skip.
  const bool edges_apart = plan.by_tap && w_padding_only(p, bd);
  int64_t wl = 0, wr = p.out[2];  // (bands along D or H: a band's columns are all of them)
  if (edges_apart) {
    while (wl < p.out[2] && !all_taps_inside(p, 2, wl)) ++wl;
    wr = std::max(wl, wr);
    while (wr > wl && !all_taps_inside(p, 2, wr - 1)) --wr;
  }

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    T* frame = workspace.data() + thread_index() * per_thread;
    T* dyf = frame + plan.frame;
    T* partial = dyf + plan.dyf;
    int64_t* rowoff = offsets.data() + thread_index() * per_thread_offsets;
    int64_t* qpos = rowoff + kc_pad;
    int64_t* tap_rowoff = qpos + plan.positions;  // the tap kernel's offsets, tap-major
#pragma omp for schedule(static)
    for (int64_t task = 0; task < plan.tasks; ++task) {
      const int64_t oblk = task % plan.oblocks, cblk = (task / plan.oblocks) % plan.cblocks;
      const int64_t grp = (task / (plan.oblocks * plan.cblocks)) % G;
      const int64_t chunk = task / (plan.oblocks * plan.cblocks * G);
      const int64_t ob0 = oblk * plan.ob, ob1 = std::min(cog, ob0 + plan.ob);  // tap kernel
      const int64_t c0 = cblk * plan.cb, c1 = std::min(cig, c0 + plan.cb), kc = (c1 - c0) * kvol;
      std::fill(partial, partial + plan.partial, T(0));
      int64_t rowoff_len = -1;  // the band length rowoff was built for, in this task
      const int64_t s0 = chunk * plan.per_chunk, s1 = std::min(plan.steps, s0 + plan.per_chunk);
      for (int64_t step = s0; step < s1; ++step) {
        const int64_t n = step / plan.bands, o0 = (step % plan.bands) * plan.band;
        const int64_t len = std::min(plan.band, p.out[bd] - o0);
        const FrameLayout f(block, bd, len);
        const T* xg = x + (n * p.cin + grp * cig) * in_plane;
        for (int64_t c = c0; c < c1; ++c)
          build_frame(p, f, bd, o0, used, frame_rows, xg + c * in_plane,
                      frame + (c - c0) * f.channel);
        // (the tap kernel reads valid positions only: no junk products)
        if (!plan.by_tap && !all_finite(frame, (c1 - c0) * f.channel)) {
#pragma omp atomic write
          nonfinite = 1;
        }
#if defined(__SSE2__)
        // the next step's input channels and grad_output rows into L2 while this one's kernel
        // runs (as the forward's prefetch). 1 thread CPU ms, min of 15, off / on: ResNeXt res4
        // b8 3.19 / 3.05, res3 b8 5.35 / 5.31, Fashion-MNIST conv2 b64 3.35 / 3.26.
        const int64_t next_n = (step + 1) / plan.bands;
        if (prefetch_next && step + 1 < s1 && next_n != n) {
          const auto prefetch = [](const T* from, int64_t count) {
            const char* b = reinterpret_cast<const char*>(from);
            for (int64_t i = 0; i < count * int64_t(sizeof(T)); i += 64)
              _mm_prefetch(b + i, _MM_HINT_T1);
          };
          prefetch(x + (next_n * p.cin + grp * cig + c0) * in_plane, (c1 - c0) * in_plane);
          const int64_t r0 = plan.by_tap ? ob0 : 0, r1 = plan.by_tap ? ob1 : cog;
          prefetch(gy + (next_n * p.cout + grp * cog + r0) * out_plane, (r1 - r0) * out_plane);
        }
#endif
        // The offsets depend on the band's length only (c0 is the task's): rebuilt when it
        // changes, not per step (as the forward's).
        if (len != rowoff_len) {
          rowoff_len = len;
          for (int64_t c = c0, k = 0; c < c1; ++c)
            for (int64_t a = 0; a < KD; ++a)
              for (int64_t b = 0; b < KH; ++b)
                for (int64_t e = 0; e < KW; ++e, ++k) {
                  const int64_t td = a * p.dil[0], th = b * p.dil[1], tw = e * p.dil[2];
                  const int64_t phase =
                      ((td % p.s[0]) * p.s[1] + th % p.s[1]) * p.s[2] + tw % p.s[2];
                  rowoff[k] = (c - c0) * f.channel + phase * f.phase_size +
                              ((td / p.s[0]) * f.fp[1] + th / p.s[1]) * f.fp[2] + tw / p.s[2];
                }
          std::fill(rowoff + kc, rowoff + kc_pad, int64_t(0));  // padding rows: never stored
        }
        const T* gyg = gy + (n * p.cout + grp * cog) * out_plane;
        if (plan.by_tap) {
          // grad_output's rows ob0..ob1 transposed (positions x ob; padding channels hold stale
          // values, which only reach padding lanes of the partial sums, never stored) and
          // each valid position's frame column
          // (in the order of edges_apart: the inner columns [w0, w1), all of the band's if not)
          const int64_t w0 = edges_apart ? wl : 0, w1 = edges_apart ? wr : f.o[2];
          int64_t np = 0;
          const auto gy_row = [&](int64_t i0, int64_t i1) {
            const int64_t od = i0 + (bd == 0 ? o0 : 0), oh = i1 + (bd == 1 ? o0 : 0);
            const int64_t ow = bd == 2 ? o0 : 0;
            return gyg + ob0 * out_plane + (od * p.out[1] + oh) * p.out[2] + ow;
          };
          const auto edge_column = [&](int64_t w) {
            for (int64_t i0 = 0; i0 < f.o[0]; ++i0)
              for (int64_t i1 = 0; i1 < f.o[1]; ++i1, ++np) {
                qpos[np] = (i0 * f.fp[1] + i1) * f.fp[2] + w;
                const T* src = gy_row(i0, i1) + w;
                for (int64_t o = 0; o < ob1 - ob0; ++o) dyf[np * ob + o] = src[o * out_plane];
              }
          };
          for (int64_t w = 0; w < w0; ++w) edge_column(w);
          for (int64_t i0 = 0; i0 < f.o[0]; ++i0)
            for (int64_t i1 = 0; i1 < f.o[1]; ++i1) {
              for (int64_t w = w0; w < w1; ++w)
                qpos[np + w - w0] = (i0 * f.fp[1] + i1) * f.fp[2] + w;
              // rows of grad_output read contiguously, transposed in blocks (a strided scalar
              // store per element was ~8% of inception-v3 7x1's backward_weight)
              transpose_rows(gy_row(i0, i1) + w0, out_plane, ob1 - ob0, w1 - w0, dyf + np * ob, ob);
              np += w1 - w0;
            }
          for (int64_t w = w1; w < f.o[2]; ++w) edge_column(w);
          const int64_t nc = c1 - c0;
          if (!skip_padding || nc % tap.mr != 0) {
            for (int64_t p0 = 0; p0 < np; p0 += plan.tap_positions)
              for (int64_t k0 = 0; k0 < kc_pad; k0 += tap.mr)
                for (int64_t oc = 0; oc < ob1 - ob0; oc += tap.nr)
                  tap.run(std::min(plan.tap_positions, np - p0), frame, rowoff + k0, qpos + p0,
                          dyf + p0 * ob + oc, ob, partial + k0 * ob + oc, ob, kTapAccumulate);
            continue;
          }
          // Tiles of one tap and tap.mr channels (rows kvol apart in dW^T), each over the
          // positions where that tap reads inside the input only: the products left out are
          // with zero padding (inception-v3 7x1: 10% of them), so the sums are the same.
          for (int64_t t = 0; t < kvol; ++t)
            for (int64_t c = 0; c < nc; ++c) tap_rowoff[t * nc + c] = rowoff[c * kvol + t];
          for (int64_t p0 = 0; p0 < np; p0 += plan.tap_positions) {
            const int64_t p1 = std::min(np, p0 + plan.tap_positions);
            for (int64_t t = 0; t < kvol; ++t) {
              const int64_t tt[3] = {t / (KH * KW), t / KW % KH, t % KW};
              int64_t first = 0, last = 0;  // the tap's valid positions lie in [first, last]
              for (int d = 0; d < 3; ++d) {
                int64_t lo, hi;  // output positions (of the band) reading inside the input
                outputs_inside(p, d, tt[d], lo, hi);
                const int64_t shift = d == bd ? o0 : 0;
                lo = std::clamp<int64_t>(lo - shift, 0, f.o[d]);
                hi = std::clamp<int64_t>(hi - shift, lo, f.o[d]);
                if (hi == lo) first = last = -1;
                if (first < 0) continue;
                if (edges_apart && d == 2) {
                  // column w outside [wl, wr) holds positions [w rows, (w + 1) rows), the inner
                  // block [wl rows, wr rows); lo <= wl and hi >= wr (inner columns read every tap)
                  const int64_t rows = f.o[0] * f.o[1];
                  first = lo * rows;
                  last = hi * rows - 1;
                  continue;
                }
                first = first * f.o[d] + lo;
                last = last * f.o[d] + hi - 1;
              }
              const int64_t q0 = std::max(p0, first), q1 = std::min(p1, last + 1);
              if (first < 0 || q1 <= q0) continue;
              for (int64_t ci = 0; ci < nc; ci += tap.mr)
                for (int64_t oc = 0; oc < ob1 - ob0; oc += tap.nr)
                  tap.run(q1 - q0, frame, tap_rowoff + t * nc + ci, qpos + q0,
                          dyf + q0 * ob + oc, ob, partial + (ci * kvol + t) * ob + oc, kvol * ob,
                          kTapAccumulate);
            }
          }
          continue;
        }
        // dYf: the band's grad_output rows at their frame columns, zeros elsewhere
        const int64_t span = ceil_div(f.span, L) * L;
        for (int64_t o = 0; o < plan.cog_pad; ++o) {
          T* row = dyf + o * plan.ld;
          std::fill(row, row + span, T(0));
          if (o >= cog) continue;
          for (int64_t i0 = 0; i0 < f.o[0]; ++i0)
            for (int64_t i1 = 0; i1 < f.o[1]; ++i1) {
              const int64_t od = i0 + (bd == 0 ? o0 : 0), oh = i1 + (bd == 1 ? o0 : 0);
              const int64_t ow = bd == 2 ? o0 : 0;
              std::memcpy(row + (i0 * f.fp[1] + i1) * f.fp[2],
                          gyg + o * out_plane + (od * p.out[1] + oh) * p.out[2] + ow,
                          size_t(f.o[2]) * sizeof(T));
            }
        }
        for (int64_t q0 = 0; q0 < span; q0 += kDotColumns) {
          const int64_t qlen = std::min(kDotColumns, span - q0);
          for (int64_t op = 0; op < plan.cog_pad; op += mo)
            for (int64_t j = 0; j < kc_pad; j += nk)
              kern.run(qlen, dyf + op * plan.ld + q0, plan.ld, frame + q0, rowoff + j,
                       partial + ((op / mo) * (kc_pad / nk) + j / nk) * mo * nk * L);
        }
      }
      // lanes reduced in order into this chunk's dW
      T* dst = chunk == 0 ? gw : partial_dw.data() + (chunk - 1) * dw;
      if (plan.by_tap) {
        // in 4 x 4 blocks: a strided scalar read per element was ~3% of inception-v3 7x1's
        // backward_weight (1 thread CPU ms, min of 15, before / after: 7x1 11.23 / 11.00, 1x7
        // 9.51 / 9.32, ResNeXt res4 b8 3.77 / 3.48)
        transpose_rows(partial, ob, kc, ob1 - ob0, dst + (grp * cog + ob0) * K + c0 * kvol, K);
        continue;
      }
      for (int64_t o = 0; o < cog; ++o)
        for (int64_t k = 0; k < kc; ++k) {
          const T* v = partial + (((o / mo) * (kc_pad / nk) + k / nk) * mo * nk +
                                  (o % mo) * nk + k % nk) * L;
          T sum = v[0];
          for (int64_t l = 1; l < L; ++l) sum += v[l];
          dst[(grp * cog + o) * K + c0 * kvol + k] = sum;
        }
    }
    if (plan.chunks > 1) {  // gw += the other chunks' partial sums, in chunk order
      constexpr int64_t kSpan = 4096;
#pragma omp for schedule(static)
      for (int64_t e0 = 0; e0 < dw; e0 += kSpan) {
        const int64_t e1 = std::min(dw, e0 + kSpan);
        for (int64_t c = 1; c < plan.chunks; ++c) {
          const T* src = partial_dw.data() + (c - 1) * dw;
          for (int64_t e = e0; e < e1; ++e) gw[e] += src[e];
        }
      }
    }
  }
  return nonfinite == 0;
}

}  // namespace

std::string implicit_gemm_unsupported(ConvPass pass, const ConvGeometry& g) {
  switch (pass) {
    case ConvPass::Forward: return {};
    case ConvPass::BackwardData:
      for (int d = 0; d < 3; ++d)
        if (g.stride[d] != 1)
          return "its backward_data needs stride 1 (a strided grad_input is not implemented), "
                 "got stride " + std::to_string(g.stride[d]) + " along spatial dimension " +
                 std::to_string(d);
      return {};
    case ConvPass::BackwardWeight: return {};
  }
  return {};
}

template <typename T>
int64_t implicit_gemm_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  if (!implicit_gemm_unsupported(pass, g).empty()) return -1;
  if (pass == ConvPass::BackwardWeight) {
    const Problem p = forward_problem(g);
    const WgradPlan<T> plan = make_wgrad_plan<T>(p);
    return plan.tasks == 0 || plan.steps == 0 ? 0 : plan.bytes();
  }
  const Problem p = pass == ConvPass::Forward ? forward_problem(g) : backward_data_problem(g);
  const Plan<T> plan = make_plan<T>(p);
  return plan.tasks == 0 ? 0 : plan.bytes(p);
}

template <typename T>
bool implicit_gemm_wgrad_by_tap(const ConvGeometry& g) {
  ImplicitTapKernel<T> tap;
  return choose_tap_kernel(forward_problem(g), &tap);
}

template <typename T>
double implicit_gemm_waste(const ConvGeometry& g, ConvPass pass) {
  if (!implicit_gemm_unsupported(pass, g).empty() || pass == ConvPass::BackwardWeight) return 1;
  const Problem p = pass == ConvPass::Forward ? forward_problem(g) : backward_data_problem(g);
  const Plan<T> plan = make_plan<T>(p);
  if (plan.tasks == 0) return 0;
  const int64_t rows = p.out[plan.bd], last = rows - (plan.bands - 1) * plan.band;
  const auto computed = [&](int64_t len) {
    const FrameLayout f(p, plan.bd, len);
    return plan.by_pos ? ceil_div(f.o[0] * f.o[1] * f.o[2], plan.pos.mr) * plan.pos.mr
                       : ceil_div(f.span, plan.kernel.nr) * plan.kernel.nr;
  };
  const double columns = double(plan.bands - 1) * double(computed(plan.band)) +
                         double(computed(last));
  const double junk = 1.0 - double(p.out_plane()) / columns;
  // The halo: the cells of a frame plane (H x W of a phase) that are no output position. Even
  // where no junk is computed, the position path's loads spread over it (ASPP 3x3 d6 on 33x33,
  // 46% halo: forward 38 vs 30 ms on im2col_gemm, d12 (66%) 45 vs 34; d4 on 28x28 (40%) even,
  // 84 vs 81; 1 thread). Not along D: whole halo planes are never read (the i3d stem, 4 output
  // planes in 7, won on implicit_gemm). Frames rebuilt for thin bands are not counted: a frame
  // cell costs a copy against the C_out/group x taps products that read it (C3D conv2a, 8 bands
  // of 2 of 16 rows with 2 halo rows each, 1.8x the frame built: forward 228 vs 263 ms on
  // im2col_gemm, 1 thread).
  const FrameLayout whole(p, plan.bd, rows);
  const double halo =
      1.0 - double(p.out[1] * p.out[2]) / double(whole.fp[1] * whole.fp[2]);
  return std::max(junk, halo);
}

template <typename T>
void forward_implicit_gemm(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                           bool relu, T* y) {
  const Problem p = forward_problem(g);
  const int64_t cog = p.cog(), K = p.gemm_k();
  implicit_gemm(
      p, x,
      [&](int64_t grp, int64_t o, int64_t k0, int64_t k1, T* dst, int64_t stride) {
        const T* row = w + (grp * cog + o) * K;
        for (int64_t k = k0; k < k1; ++k) dst[(k - k0) * stride] = row[k];
      },
      bias, relu, y);
}

template <typename T>
void backward_data_implicit_gemm(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  const Problem p = backward_data_problem(g);
  // Row c of group grp, column k = (o, tap) is w[grp cog + o, c, flipped tap].
  const int64_t cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t kvol = g.kernel_volume();
  implicit_gemm(
      p, gy,
      [&](int64_t grp, int64_t c, int64_t k0, int64_t k1, T* dst, int64_t stride) {
        // k0 and k1 are whole multiples of kvol (or K)
        for (int64_t o = k0 / kvol; o < k1 / kvol; ++o, dst += kvol * stride) {
          const T* flipped = w + ((grp * cog + o) * cig + c) * kvol + kvol - 1;
          for (int64_t t = 0; t < kvol; ++t) dst[t * stride] = flipped[-t];
        }
      },
      static_cast<const T*>(nullptr), false, gx);
}

template <typename T>
void backward_weight_implicit_gemm(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  if (!wgrad_implicit_gemm(forward_problem(g), x, gy, gw))
    backward_weight_im2col_gemm(g, x, gy, gw);  // inf / NaN inputs: no junk products
}

template void backward_weight_implicit_gemm<float>(const ConvGeometry&, const float*,
                                                   const float*, float*);
template void backward_weight_implicit_gemm<double>(const ConvGeometry&, const double*,
                                                    const double*, double*);
template int64_t implicit_gemm_workspace_bytes<float>(const ConvGeometry&, ConvPass);
template int64_t implicit_gemm_workspace_bytes<double>(const ConvGeometry&, ConvPass);
template bool implicit_gemm_wgrad_by_tap<float>(const ConvGeometry&);
template bool implicit_gemm_wgrad_by_tap<double>(const ConvGeometry&);
template double implicit_gemm_waste<float>(const ConvGeometry&, ConvPass);
template double implicit_gemm_waste<double>(const ConvGeometry&, ConvPass);
template void forward_implicit_gemm<float>(const ConvGeometry&, const float*, const float*,
                                           const float*, bool, float*);
template void forward_implicit_gemm<double>(const ConvGeometry&, const double*, const double*,
                                            const double*, bool, double*);
template void backward_data_implicit_gemm<float>(const ConvGeometry&, const float*, const float*,
                                                 float*);
template void backward_data_implicit_gemm<double>(const ConvGeometry&, const double*,
                                                  const double*, double*);

}  // namespace fastconv::cpu
