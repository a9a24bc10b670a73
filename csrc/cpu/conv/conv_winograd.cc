// Winograd F(4x4, 3x3) for convolutions whose inner two dims are 3x3, stride 1, dilation 1 (any
// padding, any groups): 2-D, and 3-D with any depth kernel kt, stride, dilation and padding.
// forward, backward_data and backward_weight (run_winograd_wgrad, below).
// F(3x3, 3x3) (5x5 tiles, 25 positions xi, points 0, +-1, 2, inf) replaces it where it needs no
// more tiles (choose_tile_size: output sides of at most 6, or 9, as the dilation phases of
// DeepLab's ASPP): everything below holds with m x m output tiles from n x n = (m + 2)^2
// patches at stride m, and n^2 GEMMs; the description says 4, 6 and 36.
//
// 3-D: out[o] = sum_kd conv2d(in[o sd + kd dd - pd], W[:, :, kd]). Each input depth slice is
// transformed once per tile block (V[slice]), the filters once per tap (U[kd]), and M[o] =
// sum_kd U[kd] V[src_depth(o, kd)] accumulates the taps' GEMMs in kd order (reduction C_in/g
// per GEMM, kt GEMMs), then one output transform per output slice. A tile is spatial (n,
// tile_h, tile_w) and covers every slice, so the block's V and M hold all slices (the block is
// cut to kMaxBlock / depth tiles, at least one micro-kernel panel). 2-D is kt = 1, one slice.
// Float32 error as 2-D with the reduction 9 kt C_in/g (tests/test_conv_winograd.py).
//
// Per group, with tiles of 4x4 outputs read from overlapping 6x6 input patches d (stride 4):
//   V = B^T d B          (input transform, one 6x6 matrix per tile and input channel)
//   U = G g G^T          (filter transform, per call)
//   M[xi] = U[xi] . V[xi] for the 36 positions xi: 36 independent GEMMs
//           (C_out/g x C_in/g) . (C_in/g x tiles), on the packed GEMM's micro-kernels
//           (gemm_packed) with U and V written by the transforms directly in the packed layouts
//           (gemm<T>() would re-pack its operands on every call).
//   Y = A^T M A (4x4)    (output transform; + bias; clipped at the output's edges)
// Points 0, +-1, +-2, inf (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks").
// The matrices are exact in binary except G's 1/6, 1/12, 1/24. U was first computed in double;
// computing it in T changed no measured float32 error (C 256, 14x14: 1.21e-5 vs 1.08e-5) and
// halves the filter transform's vectors. The alternative points 0, +-1, +-1/2, inf were not
// implemented or measured (left open); nor F(2x2, 3x3) (on a 3x3 image 4 tiles of 16 = 64
// products where F(3x3) needs 25) or F(6x6, 3x3).
// The transforms are SIMD kernels per ISA (conv_winograd_kernel.h): kWinoLanes tiles (or
// filters) at once, one per lane, gathered from the NCHW planes by scalar loads.
//
// Numerics (float32, N(0,1) data, padding 1, against float64 on the same inputs; see
// tests/test_conv_winograd.py): max|err| / max|y| = 6.0e-6 (C 64, 56x56), 9.7e-6 (128, 28x28),
// 1.1e-5 (256, 14x14), 9.8e-6 (512, 7x7), i.e. 1.2-2.6 x eps32 sqrt(9 C) (grad_input alike);
// im2col_gemm: 3.3e-7 to 5.9e-7. The transforms grow the magnitudes (B^T d B up to 10x per
// side, A^T M A up to 18x).
//
// Data layout (per depth slice, 3-D): tiles are numbered over (n, tile_h, tile_w); blocks of
// nb tiles (a block may span samples; every GEMM column (or row) is one tile and they never
// mix, so a sample's result does not depend on the batch around it) are processed one after
// the other by all threads:
//   V [g][36][nb/nr][C_in/g][nr], M [g][36][C_out/g][nb], U [g][36][C_out/g / mr][C_in/g][mr],
// or, with few tiles, the transposed GEMMs (tiles on the micro-kernel's rows, see Plan).
// Within a block, threads split the input transform over (input channel, 16 tiles), the GEMMs
// over (group, panel of output channels[, xi]) and the output transform over (output channel,
// 16 tiles): every value is computed by one thread in a fixed order, so results are bitwise the
// same for any thread count.
// Workspace (winograd_workspace_bytes, kept by the calling thread across calls): V and M of
// one block, 36 (C_in + C_out) nb sizeof(T) (<= ~10 MiB on ResNet shapes); with one block, one
// panel of U per thread (36 C_in/g mr); with several, the whole U, 4x the weights.
//
// backward_data of a stride-1 3x3 conv is a stride-1 3x3 correlation of grad_output with the
// spatially flipped, in/out-transposed weights and padding 2 - pad (negative: a crop), on an
// output of the input's size: it runs through the same code, the filter transform reading the
// weights in that order (no copy).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/cpu_features.h"
#include "common/denormals.h"
#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/conv/conv_algorithms.h"
#include "cpu/conv/conv_winograd_kernel.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastconv::cpu {

namespace {

constexpr int64_t kMaxXi = 36;    // transformed positions of F(4x4, 3x3)'s 6x6 tiles (F(3x3): 25)
constexpr int64_t kLanes = kWinoLanes;  // tiles transformed together by one kernel call
constexpr int64_t kGemmBytes = 512 * 1024;  // V[xi] + M[xi] of one block of tiles
// Tiles per block at most: the transforms touch all 36 xi of a tile, so the whole block's V and
// M (36 (C_in + C_out) nb) pass through the caches between the phases; 128 instead of 512 tiles
// (2.4 instead of 9.4 MiB at 64 channels): 8x64x56x56 11.1 vs 13.3 ms, 1x64x224x224 21.8 vs
// 25.7, 8x128x28x28 8.4 vs 9.2, 1x128x112x112 and 1x256x56x56 the same (forward, float32,
// AVX-512, CPU time of one thread, minimum of 3 alternating runs on the loaded machine).
constexpr int64_t kMaxBlock = 128;

template <typename T>
WinogradKernels<T> select_kernels(int m);

template <>
WinogradKernels<float> select_kernels<float>(int m) {
#if defined(FASTCONV_X86_KERNELS) && FASTCONV_X86_KERNELS
  return isa() == Isa::Avx512 ? avx512::f32_winograd_kernels(m)
         : isa() == Isa::Avx2 ? avx2::f32_winograd_kernels(m)
                              : generic::f32_winograd_kernels(m);
#else
  return generic::f32_winograd_kernels(m);
#endif
}

template <>
WinogradKernels<double> select_kernels<double>(int m) {
#if defined(FASTCONV_X86_KERNELS) && FASTCONV_X86_KERNELS
  return isa() == Isa::Avx512 ? avx512::f64_winograd_kernels(m)
         : isa() == Isa::Avx2 ? avx2::f64_winograd_kernels(m)
                              : generic::f64_winograd_kernels(m);
#else
  return generic::f64_winograd_kernels(m);
#endif
}

// The kernels of tile size m (4 or 3), chosen once per process (isa() does not change).
template <typename T>
const WinogradKernels<T>& kernels_for(int64_t m) {
  static const WinogradKernels<T> f4 = select_kernels<T>(4), f3 = select_kernels<T>(3);
  return m == 3 ? f3 : f4;
}

// A stride-1 3x3 correlation over the two inner dims, any correlation over depth:
// y (N, C_out, OD, OH, OW) from x (N, C_in, ID, IH, IW). Output slice o sums over the depth taps
// kd < kt the 2-D correlation of input slice src_depth(o, kd) (none: -1) with the kd-th 3x3
// filters; the input is read at y position (i, j) + (kh, kw) - pad, zero outside; pad may be
// negative. The 3x3 filter of (group grp, output channel co, input channel ci, tap kd) of the
// group is at w + grp * w_group + co * w_co + ci * w_ci + kd * w_kd, read backwards if flip
// (backward_data). 2-D is id = od = kt = 1.
struct Problem {
  int64_t batch, cin, cout, groups, ih, iw, oh, ow, pad_h, pad_w;
  int64_t w_group, w_co, w_ci;
  bool flip;
  int64_t id = 1, od = 1, kt = 1, w_kd = 0;
  int64_t d_stride = 1, d_dil = 1, d_pad = 0;
  // false: input slice o d_stride + kd d_dil - d_pad (forward); true: the o solving that for
  // the forward's input slice (backward_data: o here is the forward's input slice).
  bool d_transposed = false;
  // The depth fields from the geometry: in_depth / out_depth are this problem's (swapped for
  // backward_data), the taps, stride, dilation and padding the forward's.
  void set_depth(const ConvGeometry& g, int64_t in_depth, int64_t out_depth, bool transposed) {
    id = in_depth;
    od = out_depth;
    kt = g.kernel[0];
    w_kd = 9;
    d_stride = g.stride[0];
    d_dil = g.dilation[0];
    d_pad = g.pad_before[0];
    d_transposed = transposed;
  }
  // Output tile m x m: F(4x4, 3x3), or F(3x3, 3x3) where that needs no more tiles
  // (choose_tile_size).
  int64_t m = 4;
  int64_t cig() const { return cin / groups; }
  int64_t cog() const { return cout / groups; }
  int64_t xi() const { return (m + 2) * (m + 2); }  // transformed positions per tile
  int64_t tiles_h() const { return ceil_div(oh, m); }
  int64_t tiles_w() const { return ceil_div(ow, m); }
  int64_t tiles() const { return batch * tiles_h() * tiles_w(); }  // spatial: all depths share
  int64_t src_depth(int64_t o, int64_t kd) const {
    if (!d_transposed) {
      const int64_t i = o * d_stride + kd * d_dil - d_pad;
      return i >= 0 && i < id ? i : -1;
    }
    const int64_t num = o + d_pad - kd * d_dil;
    if (num < 0 || num % d_stride != 0 || num / d_stride >= id) return -1;
    return num / d_stride;
  }
  // src_depth for every (o, kd), and which input slices any output reads.
  std::vector<int64_t> depth_table() const {
    std::vector<int64_t> t(size_t(od * kt));
    for (int64_t o = 0; o < od; ++o)
      for (int64_t kd = 0; kd < kt; ++kd) t[size_t(o * kt + kd)] = src_depth(o, kd);
    return t;
  }
  std::vector<char> taps_used() const {  // taps through which some output reads an input slice
    std::vector<char> used(size_t(kt), 0);
    const std::vector<int64_t> t = depth_table();
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i] >= 0) used[i % size_t(kt)] = 1;
    return used;
  }
  std::vector<char> depths_read() const {
    std::vector<char> used(size_t(id), 0);
    for (int64_t s : depth_table())
      if (s >= 0) used[size_t(s)] = 1;
    return used;
  }
};

// Sizes of one call, computed the same way by run_winograd and winograd_workspace_bytes.
// Tiles (spatial: one tile covers its 4x4 outputs in every output slice) are processed in
// blocks of nb (whole V panels, a function of the geometry and the micro-kernel only) such that
// one GEMM's operands V[xi] and M[xi] ((C_in/g + C_out/g) x nb) stay in L2 (kGemmBytes), at
// most kMaxBlock tile-slices (tiles x depth).
// With a single block, each GEMM task transforms the filters of its own panel of output
// channels (U never stored whole: 512x512 filters give 36 MiB); with several, U is transformed
// once into the workspace and read by every block.
// The GEMMs run as M[xi] (cog x tiles) = U[xi] . V[xi] (tiles on the micro-kernel's nr
// columns), or, with few tiles (tile_rows), as M[xi]^T (tiles x cog) = V[xi]^T . U[xi]^T
// (tiles on its mr rows): 16 tiles fill two 8-row panels but half of a 32-column one. Both give
// the same bits: every M element is the same k-ordered sum of the same products. Depth: M[o] is
// the sum over the taps kd in order of the GEMMs U[kd] V[src_depth(o, kd)] (accumulating).
struct Plan {
  int64_t mr, nr, nb, blocks, gemm_tasks, u_xs;
  bool tile_rows, fused;
  int64_t vw, uw;            // panel widths: tiles per V panel, output channels per U panel
  int64_t vpanels, upanels;  // per block / per group
  int64_t ldm;               // M row length: tiles (columns) or cog (tile_rows), kLanes-padded
  int threads;
  int64_t tiles_table, u, u_panel, v, m;  // workspace elements (tiles_table: int32)
  bool own_blocks;  // each thread runs whole blocks with its own V and M
  int64_t bytes(int64_t elem) const {
    return tiles_table * 4 + (u + threads * u_panel + (v + m) * (own_blocks ? threads : 1)) * elem;
  }
};

template <typename T>
Plan make_plan(const Problem& p) {
  const MicroKernel<T>& uk = active_micro_kernel<T>();
  Plan pl{};
  pl.mr = uk.mr;
  pl.nr = uk.nr;
  const int64_t tiles = p.tiles(), cig = p.cig(), cog = p.cog(), xis = p.xi();
  const int64_t per_tile = (cig + cog) * int64_t(sizeof(T));
  const int64_t nb = kGemmBytes / std::max<int64_t>(per_tile, 1) / pl.nr * pl.nr;
  const int64_t max_block = kMaxBlock / std::max<int64_t>({p.id, p.od, 1}) / pl.nr * pl.nr;
  const int64_t block = std::clamp<int64_t>(nb, pl.nr, std::max(max_block, pl.nr));
  const int64_t by_cols = ceil_div(tiles, pl.nr) * pl.nr, by_rows = ceil_div(tiles, pl.mr) * pl.mr;
  // Tiles on the rows only where the column panels would be half padding or more: 1x256x14x14
  // (16 tiles) 2.40 vs 2.75 ms, 1x512x7x7 (4 tiles) 4.8 vs 8.7 ms; with more tiles the
  // lane-by-lane V stores into 8-tile panels cost more than the padding saves (1x64x56x56, 196
  // tiles: 2.39 vs 1.62 ms). CPU time of one thread, float32, AVX-512.
  pl.tile_rows = by_cols <= block && 2 * by_rows <= by_cols;
  pl.vw = pl.tile_rows ? pl.mr : pl.nr;
  pl.uw = pl.tile_rows ? pl.nr : pl.mr;
  // Up to 5/4 of the cap in one block rather than a ragged last one of at most a quarter, with U
  // stored as for several blocks (fused, every GEMM task would stream the block's V: 12 MiB at
  // 512 channels). ASPP b1 (144 phase-image tiles: 128 + 16 before), 1 thread, CPU ms, median of
  // 8 interleaved, two runs, base / stretched (/ stretched and fused): d6 fwd 24.9 / 24.9 / 33.2,
  // 23.8 / 23.1 / 30.2; d6 bwd_data 27.5 / 25.6, 23.8 / 22.3; d12 fwd 29.0 / 26.7 / 44.4, 24.2 /
  // 22.9 / 28.7; d12 bwd_data 27.4 / 24.8, 23.8 / 21.9.
  const bool stretched = !pl.tile_rows && by_cols > block && 4 * by_cols <= 5 * block;
  pl.nb = pl.tile_rows ? by_rows : stretched ? by_cols : std::min(by_cols, block);
  pl.vpanels = pl.nb / pl.vw;
  pl.upanels = ceil_div(cog, pl.uw);
  pl.ldm = ceil_div(pl.tile_rows ? cog : pl.nb, kLanes) * kLanes;
  pl.blocks = ceil_div(tiles, pl.nb);
  pl.fused = pl.blocks == 1 && !stretched;
  pl.gemm_tasks = p.groups * pl.upanels * (pl.fused ? 1 : xis);
  // Multiply-adds of the GEMMs and the transforms: small problems run on fewer threads.
  const int64_t work =
      xis * pl.nb * pl.blocks * (p.cin * cog * p.kt * p.od + p.cin * p.id + p.cout * p.od);
  pl.threads = threads_for(std::max<int64_t>(pl.gemm_tasks, p.cin), work);
  // Many blocks: each thread runs whole blocks, all three phases, on its own V and M (no
  // barrier between the phases; the block stays in that core's caches).
  pl.own_blocks = !pl.fused && pl.blocks >= 4 * pl.threads;
  pl.tiles_table = 5 * tiles;
  // Stride between xi planes of U: one panel (fused) or all (stored), plus one cache line so
  // that the filter transform's 36 stores per lane group do not all land in one L1 set.
  pl.u_xs = (pl.fused ? 1 : pl.upanels) * cig * pl.uw + 64 / int64_t(sizeof(T));
  pl.u = pl.fused ? 0 : p.groups * p.kt * xis * pl.u_xs;
  pl.u_panel = pl.fused ? p.kt * xis * pl.u_xs : 0;
  pl.v = p.id * p.groups * xis * pl.vpanels * cig * pl.vw;
  pl.m = p.od * p.groups * xis * (pl.tile_rows ? pl.nb : cog) * pl.ldm;
  return pl;
}

// Workspace reused across calls by the calling thread (common/workspace.h): a fresh multi-MiB
// allocation per call costs its page faults every time.
struct WinogradWorkspace {};
template <typename T>
T* workspace(int slot, int64_t count) {
  return reused_workspace<WinogradWorkspace, 5, T>(slot, count);
}

// Tile table in `tab` (5 x tiles int32): sample, input top-left row and column, output top-left
// row and column of every tile, in tile order, so the kernels never divide.
void fill_tile_table(const Problem& p, int32_t* tab) {
  const int64_t total = p.tiles();
  int32_t *t_n = tab, *t_ih = tab + total, *t_iw = tab + 2 * total, *t_oh = tab + 3 * total,
          *t_ow = tab + 4 * total;
  for (int64_t n = 0, t = 0; n < p.batch; ++n)
    for (int64_t th = 0; th < p.tiles_h(); ++th)
      for (int64_t tw = 0; tw < p.tiles_w(); ++tw, ++t) {
        t_n[t] = int32_t(n);
        t_oh[t] = int32_t(p.m * th);
        t_ow[t] = int32_t(p.m * tw);
        t_ih[t] = int32_t(p.m * th - p.pad_h);
        t_iw[t] = int32_t(p.m * tw - p.pad_w);
      }
}

template <typename T>
void run_winograd(const Problem& p, const T* x, const T* w, const T* bias, bool relu, T* y) {
  const int64_t G = p.groups, cig = p.cig(), cog = p.cog(), kt = p.kt;
  const int64_t total = p.tiles();
  if (total == 0 || p.cout == 0 || p.od == 0) return;
  const WinogradKernels<T>& kern = kernels_for<T>(p.m);
  const int64_t xis = p.xi();
  const Plan pl = make_plan<T>(p);
  const int64_t nb = pl.nb, ldm = pl.ldm;
  const int64_t in_plane = p.ih * p.iw, out_plane = p.oh * p.ow;
  const std::vector<int64_t> src = p.depth_table();
  const std::vector<char> read = p.depths_read(), taps = p.taps_used();

  int32_t* tab = workspace<int32_t>(0, pl.tiles_table);
  fill_tile_table(p, tab);
  int32_t *t_n = tab, *t_ih = tab + total, *t_iw = tab + 2 * total, *t_oh = tab + 3 * total,
          *t_ow = tab + 4 * total;

  // U[grp][kd][xi][panel] packed (A panels of mr output channels, or B panels of nr), all xi;
  // taps no output reads through are neither transformed nor read.
  const int64_t uw = pl.uw, vw = pl.vw, u_xs = pl.u_xs;
  auto transform_panel = [&](int64_t grp, int64_t up, int64_t kd, T* dst, int64_t xs) {
    kern.filter(w + grp * p.w_group + up * uw * p.w_co + kd * p.w_kd, p.w_co, p.w_ci, p.flip,
                std::min(uw, cog - up * uw), cig, uw, dst, xs);
  };
  T* upk = workspace<T>(1, pl.u + pl.threads * pl.u_panel);
  if (!pl.fused) {  // stored U: [grp][kd][xi][panel][ci][uw], xi planes u_xs apart
    const int64_t tasks = G * pl.upanels * kt;
#pragma omp parallel for schedule(static) num_threads(int(std::min<int64_t>(pl.threads, tasks)))
    for (int64_t task = 0; task < tasks; ++task) {
      const FlushDenormals flush_denormals;
      const int64_t kd = task % kt, up = task / kt % pl.upanels, grp = task / (kt * pl.upanels);
      if (taps[size_t(kd)])
        transform_panel(grp, up, kd, upk + (grp * kt + kd) * xis * u_xs + up * cig * uw, u_xs);
    }
  }
  const int64_t v_xs = pl.vpanels * cig * vw;  // V[depth][grp]: [xi][panel][ci][vw]
  const int64_t v_group = xis * v_xs, v_depth = G * v_group;
  const int64_t m_xs = (pl.tile_rows ? nb : cog) * ldm;  // M[o][grp][xi]: [co][ldm] or [tile][ldm]
  const int64_t m_group = xis * m_xs, m_depth = G * m_group;
  // V and M of one block: shared by the threads, or one pair per thread (own_blocks).
  const int v_copies = pl.own_blocks ? pl.threads : 1;
  T* v_all = workspace<T>(2, pl.v * v_copies);
  T* m_all = workspace<T>(3, pl.m * v_copies);
  // V rows are written straight into the packed panels when kLanes tiles are contiguous there
  // (vw a multiple of kLanes), else through a buffer, lane by lane.
  const bool direct = vw % kLanes == 0;
  const int64_t co_groups = ceil_div(cog, kLanes);

  // M[o][grp][xi], output channels [up * uw, + chans), for the block's nt tiles: the taps' GEMMs
  // in kd order (u(kd): U[kd][xi]'s panel), or zeros where no tap reads an input slice.
  auto gemm = [&](int64_t grp, int64_t xi, int64_t up, const auto& u, int64_t nt, const T* v,
                  T* m) {
    const int64_t chans = std::min(uw, cog - up * uw);
    for (int64_t o = 0; o < p.od; ++o) {
      T* mx = m + o * m_depth + grp * m_group + xi * m_xs;
      bool accumulate = false;
      for (int64_t kd = 0; kd < kt; ++kd) {
        const int64_t s = src[size_t(o * kt + kd)];
        if (s < 0) continue;
        const T* vx = v + s * v_depth + grp * v_group + xi * v_xs;
        if (pl.tile_rows) {
          gemm_packed<T>(nt, chans, cig, vx, u(kd), mx + up * uw, ldm, accumulate);
        } else {
          gemm_packed<T>(chans, nt, cig, u(kd), vx, mx + up * uw * ldm, ldm, accumulate);
        }
        accumulate = true;
      }
      if (accumulate) continue;
      if (pl.tile_rows) {
        for (int64_t t = 0; t < nt; ++t) std::fill_n(mx + t * ldm + up * uw, chans, T(0));
      } else {
        std::fill_n(mx + up * uw * ldm, chans * ldm, T(0));
      }
    }
  };

#pragma omp parallel num_threads(pl.threads)
  {
    const FlushDenormals flush_denormals;
    alignas(64) T buf[kMaxXi * kLanes];
    alignas(64) T lane_bias[kLanes];
    int32_t lane_oh[kLanes], lane_ow[kLanes];
    const T* in_planes[kLanes];
    T* out_planes[kLanes];
    T* upanel = upk + pl.u + thread_index() * pl.u_panel;

    // The three phases of the block of nt tiles from tile t0, one task at a time.
    // Input transform, tasks (input slice, input channel, kLanes tiles):
    // V[slice][grp][xi][tile / vw][ci][tile % vw]; slices no output reads are skipped.
    auto in_groups = [&](int64_t nt) { return ceil_div(ceil_div(nt, vw) * vw, kLanes); };
    auto input_task = [&](int64_t task, int64_t t0, int64_t nt, T* v) {
      const int64_t padded = ceil_div(nt, vw) * vw;  // tiles in the V panels
      const int64_t groups_ = in_groups(nt);
      const int64_t di = task / (p.cin * groups_);
      if (!read[size_t(di)]) return;
      const int64_t c = task / groups_ % p.cin, l0 = task % groups_ * kLanes;
      const int64_t grp = c / cig, ci = c % cig;
      const int count = int(std::clamp<int64_t>(nt - l0, 0, kLanes));
      for (int l = 0; l < count; ++l)
        in_planes[l] = x + ((t_n[t0 + l0 + l] * p.cin + c) * p.id + di) * in_plane;
      T* vg = v + di * v_depth + grp * v_group;
      if (direct) {
        kern.input(in_planes, t_ih + t0 + l0, t_iw + t0 + l0, count, p.ih, p.iw,
                   vg + ((l0 / vw) * cig + ci) * vw + l0 % vw, v_xs);
        return;
      }
      kern.input(in_planes, t_ih + t0 + l0, t_iw + t0 + l0, count, p.ih, p.iw, buf, kLanes);
      const int64_t width = std::min(kLanes, padded - l0);
      for (int64_t xi = 0; xi < xis; ++xi) {
        T* vx = vg + xi * v_xs;
        for (int64_t l = 0; l < width; ++l) {
          const int64_t col = l0 + l;
          vx[((col / vw) * cig + ci) * vw + col % vw] = buf[xi * kLanes + l];
        }
      }
    };
    auto input_tasks = [&](int64_t nt) { return p.id * p.cin * in_groups(nt); };
    // 36 GEMMs per group (and output slice, tap), tasks (group, panel of output channels) when
    // the task transforms its panel's filters itself (fused), else (group, xi, panel).
    auto gemm_task = [&](int64_t task, int64_t nt, const T* v, T* m) {
      if (pl.fused) {
        const int64_t grp = task / pl.upanels, up = task % pl.upanels;
        for (int64_t kd = 0; kd < kt; ++kd)
          if (taps[size_t(kd)]) transform_panel(grp, up, kd, upanel + kd * xis * u_xs, u_xs);
        for (int64_t xi = 0; xi < xis; ++xi)
          gemm(grp, xi, up, [&](int64_t kd) { return upanel + (kd * xis + xi) * u_xs; }, nt, v,
               m);
        return;
      }
      const int64_t up = task % pl.upanels, xi = (task / pl.upanels) % xis;
      const int64_t grp = task / (pl.upanels * xis);
      gemm(grp, xi, up,
           [&](int64_t kd) { return upk + ((grp * kt + kd) * xis + xi) * u_xs + up * cig * uw; },
           nt, v, m);
    };
    // Output transform: Y = A^T M A (+ bias), tasks (output slice, then kLanes tiles of one
    // output channel (M rows over tiles), or kLanes output channels of one tile (tile_rows)).
    auto output_task = [&](int64_t task, int64_t t0, int64_t nt, const T* m) {
      const int64_t per_slice = pl.tile_rows ? nt * G * co_groups : p.cout * ceil_div(nt, kLanes);
      const int64_t o = task / per_slice;
      task %= per_slice;
      m += o * m_depth;
      if (pl.tile_rows) {
        const int64_t t = task / (G * co_groups), grp = task / co_groups % G;
        const int64_t co0 = task % co_groups * kLanes;
        const int count = int(std::min<int64_t>(kLanes, cog - co0));
        for (int l = 0; l < count; ++l) {
          const int64_t oc = grp * cog + co0 + l;
          out_planes[l] = y + ((t_n[t0 + t] * p.cout + oc) * p.od + o) * out_plane;
          lane_bias[l] = bias ? bias[oc] : T(0);
          lane_oh[l] = t_oh[t0 + t];
          lane_ow[l] = t_ow[t0 + t];
        }
        kern.output(m + grp * m_group + t * ldm + co0, m_xs, count, out_planes, lane_oh,
                    lane_ow, p.oh, p.ow, lane_bias, relu);
        return;
      }
      const int64_t out_groups = ceil_div(nt, kLanes);
      const int64_t oc = task / out_groups, l0 = task % out_groups * kLanes;
      const int64_t grp = oc / cog, co = oc % cog;
      const int count = int(std::min<int64_t>(kLanes, nt - l0));
      for (int l = 0; l < count; ++l)
        out_planes[l] = y + ((t_n[t0 + l0 + l] * p.cout + oc) * p.od + o) * out_plane;
      std::fill(lane_bias, lane_bias + kLanes, bias ? bias[oc] : T(0));
      kern.output(m + grp * m_group + co * ldm + l0, m_xs, count, out_planes, t_oh + t0 + l0,
                  t_ow + t0 + l0, p.oh, p.ow, lane_bias, relu);
    };
    auto output_tasks = [&](int64_t nt) {
      return p.od * (pl.tile_rows ? nt * G * co_groups : p.cout * ceil_div(nt, kLanes));
    };

    if (pl.own_blocks) {
      T* v = v_all + thread_index() * pl.v;
      T* m = m_all + thread_index() * pl.m;
#pragma omp for schedule(dynamic, 1)
      for (int64_t blk = 0; blk < pl.blocks; ++blk) {
        const int64_t t0 = blk * nb, nt = std::min(nb, total - t0);
        for (int64_t task = 0; task < input_tasks(nt); ++task) input_task(task, t0, nt, v);
        for (int64_t task = 0; task < pl.gemm_tasks; ++task) gemm_task(task, nt, v, m);
        for (int64_t task = 0; task < output_tasks(nt); ++task) output_task(task, t0, nt, m);
      }
    } else {
      for (int64_t t0 = 0; t0 < total; t0 += nb) {
        const int64_t nt = std::min(nb, total - t0);
#pragma omp for schedule(static)
        for (int64_t task = 0; task < input_tasks(nt); ++task) input_task(task, t0, nt, v_all);
#pragma omp for schedule(static)
        for (int64_t task = 0; task < pl.gemm_tasks; ++task) gemm_task(task, nt, v_all, m_all);
#pragma omp for schedule(static)
        for (int64_t task = 0; task < output_tasks(nt); ++task)
          output_task(task, t0, nt, m_all);
      }
    }
  }
}

// F(3x3, 3x3) where it needs no more tiles than F(4x4, 3x3) (output sides of at most 6, or 9):
// transforms as many tiles, each smaller, and 25 instead of 36 GEMM positions, 0.69x the
// products. DeepLab ASPP's dilation phases (3x3 and 6x6 images) are such; every dense suite
// layer (7x7 and up) keeps F(4x4). FASTCONV_WINOGRAD_TILE=3 or 4 forces one (a test hook, read
// per call; the workspace follows it).
int64_t choose_tile_size(int64_t oh, int64_t ow) {
  if (const char* e = std::getenv("FASTCONV_WINOGRAD_TILE")) {
    if (std::strcmp(e, "3") == 0) return 3;
    if (std::strcmp(e, "4") == 0) return 4;
  }
  return ceil_div(oh, 3) * ceil_div(ow, 3) <= ceil_div(oh, 4) * ceil_div(ow, 4) ? 3 : 4;
}

Problem forward_problem(const ConvGeometry& g) {
  const int64_t cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t kt = g.kernel[0];
  Problem p{g.batch,       g.in_channels,  g.out_channels, g.groups,
            g.in_size[1],  g.in_size[2],   g.out_size[1],  g.out_size[2],
            g.pad_before[1], g.pad_before[2], cog * cig * kt * 9, cig * kt * 9, kt * 9, false};
  p.set_depth(g, g.in_size[0], g.out_size[0], false);
  p.m = choose_tile_size(p.oh, p.ow);
  return p;
}

// backward_data of a conv whose inner two dims are stride-1 3x3 is, in those dims, a stride-1
// 3x3 correlation of grad_output with the spatially flipped, in/out-transposed weights:
// w'[grp][ci][co] = flip(w[grp][co][ci]), padding 2 - pad, on an output of the input's size;
// over depth, grad_input slice o gathers every (grad_output slice, tap kd) whose forward read
// slice o (src_depth, d_transposed).
Problem backward_data_problem(const ConvGeometry& g) {
  const int64_t cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t kt = g.kernel[0];
  Problem p{g.batch,         g.out_channels, g.in_channels,  g.groups,
            g.out_size[1],   g.out_size[2],  g.in_size[1],   g.in_size[2],
            2 - g.pad_before[1], 2 - g.pad_before[2], cog * cig * kt * 9, kt * 9, cig * kt * 9,
            true};
  p.set_depth(g, g.out_size[0], g.in_size[0], true);
  p.m = choose_tile_size(p.oh, p.ow);
  return p;
}


// backward_weight (the adjoint of the forward, per tile t and position xi of the 6x6 domain):
//   dU[kd][xi][co][ci] = sum_(t, o) M'[o][xi][co][t] V[src_depth(o, kd)][xi][ci][t],
//   M' = A dY A^T,  V = B^T d B,  dW[co][ci][kd] = G^T dU[kd][co][ci] G.
// Tiles (spatial, over the whole batch) run in fixed blocks of nb (a function of the geometry
// only); per block all threads transform the input (V, every slice read, in packed B panels per
// (group, xi) where the micro-kernel allows, see make_wgrad_plan) and grad_output (M'
// [o][xi][C_out][nb]), then the 36 G GEMM tasks (group, xi), each owned by one thread, add the
// block's sum over its tiles into dU [grp][kd][xi][cog][cig] (gemm_packed: a fixed k order),
// output slices in order, taps in order, blocks in order: the bits do not depend on the thread
// count. Workspace: dU (36 kt C_out C_in/g, 36 MiB at 512x512 float32) + V and M' of one block
// + one GEMM's packed operands per thread.
constexpr int64_t kMaxWgradBlock = 256;  // tiles per block (the GEMMs' reduction length)
// V and M' of one block at most (3-D: all slices of its tiles), where kMaxWgradBlock allows
// more; no 2-D suite shape reaches it (512 + 512 channels: 128 tiles, 18 MiB).
constexpr int64_t kMaxWgradBlockBytes = int64_t(20) << 20;

struct WgradPlan {
  int64_t nb, blocks, v_xs, m_xs;
  bool direct_v;  // V written straight into packed B panels (nr a multiple of kLanes)
  int threads;
  int64_t tiles_table, v, m, du, pack;  // workspace elements (tiles_table: int32)
  int64_t v_depth, m_depth;             // elements per slice of V and M'
  int64_t bytes(int64_t elem) const {
    return tiles_table * 4 + (v + m + du + threads * pack) * elem;
  }
};

template <typename T>
WgradPlan make_wgrad_plan(const Problem& p) {
  WgradPlan pl{};
  const int64_t tiles = p.tiles(), xis = p.xi();
  const int64_t per_tile = (p.cin + p.cout) * int64_t(sizeof(T));
  // One xi plane of V and M' within kGemmBytes, whole lane groups, at least one.
  const int64_t nb = kGemmBytes / std::max<int64_t>(per_tile, 1) / kLanes * kLanes;
  const int64_t block_tile_bytes = xis * (p.id * p.cin + p.od * p.cout) * int64_t(sizeof(T));
  const int64_t max_block = std::clamp<int64_t>(
      kMaxWgradBlockBytes / std::max<int64_t>(block_tile_bytes, 1) / kLanes * kLanes, kLanes,
      kMaxWgradBlock);
  pl.nb = std::min(std::clamp<int64_t>(nb, kLanes, max_block),
                   std::max<int64_t>(ceil_div(tiles, kLanes) * kLanes, kLanes));
  pl.blocks = ceil_div(tiles, pl.nb);
  const int64_t work = xis * pl.nb * pl.blocks *
                       (p.cin * p.cog() * p.kt * p.od + p.cin * p.id + p.cout * p.od);
  pl.threads = threads_for(std::max<int64_t>(xis * p.groups, p.cin), work);
  pl.tiles_table = 5 * tiles;
  // xi planes one cache line more apart than their rows need, so that a transform's 36 stores
  // per lane group do not all land in one L1 set (as U's in make_plan)
  // V directly in packed B panels ([grp][xi][cig / nr][tile][nr], lanes over input channels):
  // no per-GEMM packing of V (1-thread CPU time, min of 6, loaded: 8x64x56x56 9.77 -> 9.21 ms,
  // 8x256x14x14 11.09 -> 10.66, 1x64x224x224 18.21 -> 17.98); else [xi][C_in][nb], lanes
  // over tiles.
  const int64_t nr = active_micro_kernel<T>().nr;
  pl.direct_v = nr % kLanes == 0;
  pl.v_xs = (pl.direct_v ? ceil_div(p.cig(), nr) * nr * pl.nb : p.cin * pl.nb) +
            64 / int64_t(sizeof(T));
  pl.m_xs = p.cout * pl.nb + 64 / int64_t(sizeof(T));
  pl.v_depth = (pl.direct_v ? p.groups : 1) * xis * pl.v_xs;
  pl.m_depth = xis * pl.m_xs;
  pl.v = p.id * pl.v_depth;
  pl.m = p.od * pl.m_depth;
  pl.du = p.kt * xis * p.cout * p.cig();
  // Per thread: one GEMM's packed operands (M' as A panels, V^T as B panels unless direct_v).
  pl.pack = packed_a_size<T>(p.cog(), pl.nb) +
            (pl.direct_v ? 0 : packed_b_size<T>(p.cig(), pl.nb));
  return pl;
}

template <typename T>
void run_winograd_wgrad(const Problem& p, const T* x, const T* gy, T* gw) {
  const int64_t G = p.groups, cig = p.cig(), cog = p.cog(), kt = p.kt;
  const int64_t total = p.tiles();
  if (p.cout == 0 || cig == 0) return;
  // Per tap, the first output slice that reads an input slice (-1: none; its dW is zero).
  const std::vector<int64_t> src = p.depth_table();
  std::vector<int64_t> first_o(size_t(kt), -1);
  for (int64_t o = p.od - 1; o >= 0; --o)
    for (int64_t kd = 0; kd < kt; ++kd)
      if (src[size_t(o * kt + kd)] >= 0) first_o[size_t(kd)] = o;
  if (total == 0) {
    std::fill(gw, gw + p.cout * cig * kt * 9, T(0));
    return;
  }
  const WinogradKernels<T>& kern = kernels_for<T>(p.m);
  const int64_t xis = p.xi();
  const WgradPlan pl = make_wgrad_plan<T>(p);
  const int64_t nb = pl.nb;
  const int64_t in_plane = p.ih * p.iw, out_plane = p.oh * p.ow;
  const std::vector<char> read = p.depths_read();

  int32_t* tab = workspace<int32_t>(0, pl.tiles_table);
  fill_tile_table(p, tab);
  int32_t *t_n = tab, *t_ih = tab + total, *t_iw = tab + 2 * total, *t_oh = tab + 3 * total,
          *t_ow = tab + 4 * total;
  T* v = workspace<T>(1, pl.v);
  T* m = workspace<T>(2, pl.m);
  T* du = workspace<T>(3, pl.du);
  T* packs = workspace<T>(4, pl.threads * pl.pack);
  const int64_t a_size = packed_a_size<T>(cog, nb);
  const int64_t nr = active_micro_kernel<T>().nr;
  const int64_t v_xs = pl.v_xs, m_xs = pl.m_xs, du_xs = cog * cig;

#pragma omp parallel num_threads(pl.threads)
  {
    const FlushDenormals flush_denormals;
    const T* planes[kLanes];
    int32_t lane_h[kLanes], lane_w[kLanes];
    for (int64_t t0 = 0; t0 < total; t0 += nb) {
      const int64_t nt = std::min(nb, total - t0), groups = ceil_div(nt, kLanes);
      // Per slice, direct_v: input tasks (tile, group, kLanes input channels of the padded
      // panels); else (input channel, kLanes tiles). grad_output: (output channel, kLanes tiles).
      const int64_t ci_groups = ceil_div(cig, nr) * nr / kLanes;
      const int64_t in_per_slice = pl.direct_v ? nt * G * ci_groups : p.cin * groups;
      const int64_t in_tasks = p.id * in_per_slice, out_per_slice = p.cout * groups;
#pragma omp for schedule(static)
      for (int64_t task = 0; task < in_tasks + p.od * out_per_slice; ++task) {
        if (task >= in_tasks) {
          const int64_t o = (task - in_tasks) / out_per_slice;
          const int64_t r = (task - in_tasks) % out_per_slice;
          const int64_t co = r / groups, l0 = r % groups * kLanes;
          const int count = int(std::min<int64_t>(kLanes, nt - l0));
          for (int l = 0; l < count; ++l)
            planes[l] = gy + ((t_n[t0 + l0 + l] * p.cout + co) * p.od + o) * out_plane;
          kern.output_adjoint(planes, t_oh + t0 + l0, t_ow + t0 + l0, count, p.oh, p.ow,
                              m + o * pl.m_depth + co * nb + l0, m_xs);
          continue;
        }
        const int64_t di = task / in_per_slice, r = task % in_per_slice;
        if (!read[size_t(di)]) continue;
        T* vd = v + di * pl.v_depth;
        if (pl.direct_v) {
          const int64_t t = r / (G * ci_groups), grp = r / ci_groups % G;
          const int64_t c0 = r % ci_groups * kLanes;
          const int count = int(std::clamp<int64_t>(cig - c0, 0, kLanes));
          for (int l = 0; l < count; ++l)
            planes[l] = x + ((t_n[t0 + t] * p.cin + grp * cig + c0 + l) * p.id + di) * in_plane;
          std::fill(lane_h, lane_h + kLanes, t_ih[t0 + t]);
          std::fill(lane_w, lane_w + kLanes, t_iw[t0 + t]);
          kern.input(planes, lane_h, lane_w, count, p.ih, p.iw,
                     vd + grp * xis * v_xs + ((c0 / nr) * nt + t) * nr + c0 % nr, v_xs);
          continue;
        }
        const int64_t c = r / groups, l0 = r % groups * kLanes;
        const int count = int(std::min<int64_t>(kLanes, nt - l0));
        for (int l = 0; l < count; ++l)
          planes[l] = x + ((t_n[t0 + l0 + l] * p.cin + c) * p.id + di) * in_plane;
        kern.input(planes, t_ih + t0 + l0, t_iw + t0 + l0, count, p.ih, p.iw, vd + c * nb + l0,
                   v_xs);
      }
#pragma omp for schedule(static)
      for (int64_t task = 0; task < G * xis; ++task) {
        const int64_t grp = task / xis, xi = task % xis;
        // gemm() on the strided M' and V, packed into this call's workspace (same bits)
        T* a_pk = packs + thread_index() * pl.pack;
        for (int64_t o = 0; o < p.od; ++o) {
          bool packed_a = false;
          for (int64_t kd = 0; kd < kt; ++kd) {
            const int64_t s = src[size_t(o * kt + kd)];
            if (s < 0) continue;
            if (!packed_a) {
              pack_a_panels<T>(cog, nt, {m + o * pl.m_depth + xi * m_xs + grp * cog * nb, nb, 1},
                               a_pk);
              packed_a = true;
            }
            T* vd = v + s * pl.v_depth;
            T* b_pk = pl.direct_v ? vd + task * v_xs : a_pk + a_size;
            if (!pl.direct_v)
              pack_b_panels<T>(nt, cig, {vd + xi * v_xs + grp * cig * nb, 1, nb}, b_pk);
            gemm_packed<T>(cog, cig, nt, a_pk, b_pk, du + ((grp * kt + kd) * xis + xi) * du_xs,
                           cig, t0 > 0 || o > first_o[size_t(kd)]);
          }
        }
      }
    }
#pragma omp for schedule(static)
    for (int64_t oc = 0; oc < p.cout; ++oc) {
      const int64_t grp = oc / cog, co = oc % cog;
      for (int64_t kd = 0; kd < kt; ++kd) {
        T* dw = gw + (oc * cig * kt + kd) * 9;
        if (first_o[size_t(kd)] < 0) {  // no output slice reads through this tap
          for (int64_t ci = 0; ci < cig; ++ci) std::fill_n(dw + ci * kt * 9, 9, T(0));
          continue;
        }
        for (int64_t ci = 0; ci < cig; ci += kLanes)
          kern.filter_adjoint(du + (grp * kt + kd) * xis * du_xs + co * cig + ci, du_xs,
                              int(std::min<int64_t>(kLanes, cig - ci)), dw + ci * kt * 9,
                              kt * 9);
      }
    }
  }
}

}  // namespace

template <typename T>
int64_t winograd_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  if (pass == ConvPass::BackwardWeight)
    return make_wgrad_plan<T>(forward_problem(g)).bytes(int64_t(sizeof(T)));
  const Problem p = pass == ConvPass::BackwardData ? backward_data_problem(g) : forward_problem(g);
  return make_plan<T>(p).bytes(int64_t(sizeof(T)));
}

template int64_t winograd_workspace_bytes<float>(const ConvGeometry&, ConvPass);
template int64_t winograd_workspace_bytes<double>(const ConvGeometry&, ConvPass);

// Any depth kernel, stride, dilation and padding; the inner two dims 3x3 stride 1 dilation 1.
std::string winograd_unsupported(ConvPass, const ConvGeometry& g) {  // all three passes
  if (g.kernel[1] != 3 || g.kernel[2] != 3)
    return "winograd needs a 3x3 kernel in the inner two dims";
  if (g.stride[1] != 1 || g.stride[2] != 1) return "winograd needs stride 1 in the inner two dims";
  if (g.dilation[1] != 1 || g.dilation[2] != 1)
    return "winograd needs dilation 1 in the inner two dims";
  return {};
}

template <typename T>
void forward_winograd(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu,
                      T* y) {
  run_winograd(forward_problem(g), x, w, bias, relu, y);
}

template <typename T>
void backward_data_winograd(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  run_winograd<T>(backward_data_problem(g), gy, w, nullptr, false, gx);
}

template <typename T>
void backward_weight_winograd(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  run_winograd_wgrad<T>(forward_problem(g), x, gy, gw);
}

template void forward_winograd<float>(const ConvGeometry&, const float*, const float*,
                                      const float*, bool, float*);
template void forward_winograd<double>(const ConvGeometry&, const double*, const double*,
                                       const double*, bool, double*);
template void backward_data_winograd<float>(const ConvGeometry&, const float*, const float*,
                                            float*);
template void backward_data_winograd<double>(const ConvGeometry&, const double*, const double*,
                                             double*);

template void backward_weight_winograd<float>(const ConvGeometry&, const float*, const float*,
                                              float*);
template void backward_weight_winograd<double>(const ConvGeometry&, const double*,
                                               const double*, double*);

}  // namespace fastconv::cpu
