// Winograd F(4x4, 3x3) for 2-D, 3x3, stride-1, dilation-1 convolutions (any padding, any groups).
//
// Per group, with tiles of 4x4 outputs read from overlapping 6x6 input patches d (stride 4):
//   V = B^T d B          (input transform, one 6x6 matrix per tile and input channel)
//   U = G g G^T          (filter transform, once per call, computed in double, stored as T)
//   M[xi] = U[xi] . V[xi] for the 36 positions xi: 36 independent GEMMs
//           (C_out/g x C_in/g) . (C_in/g x tiles), on the packed GEMM's micro-kernels
//           (gemm_kernels.h) with U packed once per call and V written by the input transform
//           directly in the packed-B layout. (gemm<T>() itself re-packs A on every call: with U
//           as A that cost more than the GEMM on 256/512-channel layers.)
//   Y = A^T M A (4x4)    (output transform; + bias; clipped at the output's edges)
// Points 0, +-1, +-2, inf (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks").
// The matrices are exact in binary except G's 1/6, 1/12, 1/24, hence U is computed in double.
// The alternative points 0, +-1, +-1/2, inf were not implemented or measured (left open).
//
// Numerics (float32, N(0,1) data, padding 1, against float64 on the same inputs; see
// tests/test_conv_winograd.py): max|err| / max|y| = 6.7e-6 (C 64, 56x56), 1.2e-5 (128, 28x28),
// 1.6e-5 (256, 14x14), 8.7e-6 (512, 7x7), i.e. 1.1-3.0 x eps32 sqrt(9 C); im2col_gemm: 3.5e-7 to
// 5.1e-7. The transforms grow the magnitudes (B^T d B up to 10x per side, A^T M A up to 18x).
//
// Data layout: tiles are numbered over (n, tile_h, tile_w); blocks of nb tiles (a block may
// span samples; every GEMM column is one tile and columns never mix, so a sample's result does
// not depend on the batch around it) are processed one after the other by all threads:
//   V [g][36][nb/nr][C_in/g][nr], M [g][36][C_out/g][nb], U [g][36][C_out/g / mr][C_in/g][mr].
// Within a block, threads split the input transform over input channels, the GEMMs over
// (group, xi, mr rows) and the output transform over output channels: every value is computed
// by one thread in a fixed order, so results are bitwise the same for any thread count.
// Workspace (winograd_workspace_bytes): U = 4x the weights (36 vs 9 per filter; 512x512 float32:
// 36 MiB) plus V and M of one block, 36 (C_in + C_out) nb sizeof(T) (<= ~10 MiB on ResNet
// shapes), kept by the calling thread across calls.
//
// backward_data of a stride-1 3x3 conv is a stride-1 3x3 correlation of grad_output with the
// spatially flipped, in/out-transposed weights and padding 2 - pad (negative: a crop), on an
// output of the input's size: it runs through the same code.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common/denormals.h"
#include "common/parallel.h"
#include "cpu/conv/conv_algorithms.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastconv::cpu {

namespace {

constexpr int64_t kXi = 36;       // 6x6 transformed positions
constexpr int64_t kLanes = 16;    // tiles transformed together (inner, vectorisable loop)
constexpr int64_t kGemmBytes = 512 * 1024;  // V[xi] + M[xi] of one block of tiles
constexpr int64_t kMaxBlock = 512;          // tiles per block at most

// A stride-1 3x3 correlation: y (N, C_out, OH, OW) from x (N, C_in, IH, IW); the input is read
// at y position (i, j) + (kh, kw) - pad, zero outside; pad may be negative.
struct Problem {
  int64_t batch, cin, cout, groups, ih, iw, oh, ow, pad_h, pad_w;
  int64_t cig() const { return cin / groups; }
  int64_t cog() const { return cout / groups; }
  int64_t tiles_h() const { return ceil_div(oh, 4); }
  int64_t tiles_w() const { return ceil_div(ow, 4); }
  int64_t tiles() const { return batch * tiles_h() * tiles_w(); }
};


// Tiles per block: a multiple of the micro-kernel's nr, a function of the geometry only. One
// GEMM's operands V[xi] and M[xi] ((C_in/g + C_out/g) x nb) stay in L2 (kGemmBytes).
template <typename T>
int64_t tile_block(const Problem& p, int64_t nr) {
  const int64_t per_tile = (p.cig() + p.cog()) * int64_t(sizeof(T));
  const int64_t nb = kGemmBytes / std::max<int64_t>(per_tile, 1) / nr * nr;
  const int64_t needed = ceil_div(p.tiles(), nr) * nr;
  return std::min(needed, std::clamp<int64_t>(nb, nr, kMaxBlock / nr * nr));
}

// U[grp][xi] packed for the micro-kernel's A operand: panels of mr output channels,
// upk[((grp*36 + xi)*panels + panel)*cig*mr + ci*mr + r] = (G w[grp*cog + panel*mr + r][ci] G^T)[xi],
// zero for r past the group's channels. From w (C_out, C_in/g, 3, 3); computed in double.
template <typename T>
void transform_filters(const Problem& p, const T* w, int64_t mr, T* upk) {
  const int64_t cig = p.cig(), cog = p.cog(), panels = ceil_div(cog, mr);
  const int64_t xs = panels * cig * mr;  // stride between xi planes
  // Tasks: (grp, panel, chunk of kChunk input channels); each computes its 36 x (kChunk*mr)
  // values into a local buffer, then writes one contiguous run per xi plane.
  constexpr int64_t kChunk = 32;
  const int64_t chunks = ceil_div(cig, kChunk), tasks = p.groups * panels * chunks;
  const int threads = int(std::min<int64_t>(num_threads(), std::max<int64_t>(tasks / 4, 1)));
#pragma omp parallel num_threads(threads)
  {
    std::vector<T> buf(size_t(kXi * kChunk * mr));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t chunk = task % chunks, panel = (task / chunks) % panels;
      const int64_t grp = task / (chunks * panels);
      const int64_t c0 = chunk * kChunk, nc = std::min(kChunk, cig - c0), len = nc * mr;
      for (int64_t ci = 0; ci < nc; ++ci) {
        for (int64_t r = 0; r < mr; ++r) {
          const int64_t co = panel * mr + r, slot = ci * mr + r;
          if (co >= cog) {
            for (int64_t xi = 0; xi < kXi; ++xi) buf[xi * len + slot] = T(0);
            continue;
          }
          const T* g = w + ((grp * cog + co) * cig + c0 + ci) * 9;
          // G g G^T with G's rows (1/4, 0, 0), -(1, 1, 1)/6, -(1, -1, 1)/6,
          // (1/24, 1/12, 1/6), (1/24, -1/12, 1/6), (0, 0, 1); in double.
          constexpr double k4 = 1.0 / 4, k6 = 1.0 / 6, k12 = 1.0 / 12, k24 = 1.0 / 24;
          auto g_times = [&](double g0, double g1, double g2, double* out, int stride) {
            const double s02 = g0 + g2, s = k24 * g0 + k6 * g2, e = k12 * g1;
            out[0] = k4 * g0;
            out[stride] = -k6 * (s02 + g1);
            out[2 * stride] = -k6 * (s02 - g1);
            out[3 * stride] = s + e;
            out[4 * stride] = s - e;
            out[5 * stride] = g2;
          };
          double t[6][3];  // G g
          for (int c = 0; c < 3; ++c) g_times(g[c], g[3 + c], g[6 + c], &t[0][c], 3);
          for (int i = 0; i < 6; ++i) {
            double v[6];
            g_times(t[i][0], t[i][1], t[i][2], v, 1);
            for (int j = 0; j < 6; ++j) buf[(i * 6 + j) * len + slot] = T(v[j]);
          }
        }
      }
      T* dst = upk + (grp * kXi * panels + panel) * cig * mr + c0 * mr;
      for (int64_t xi = 0; xi < kXi; ++xi)
        std::copy(buf.data() + xi * len, buf.data() + (xi + 1) * len, dst + xi * xs);
    }
  }
}

// Workspace reused across calls by the calling thread (grows only), like the GEMM's packing
// buffers: a fresh multi-MiB allocation per call costs its page faults every time.
template <typename T>
T* workspace(size_t slot, size_t count) {
  thread_local std::vector<T> buffers[3];
  std::vector<T>& b = buffers[slot];
  if (b.size() < count) b.resize(count);
  return b.data();
}

// Copies the 6x6 input patch at (h0, w0) of plane xc (ih x iw) into d[i*6+j][lane], 0 outside.
template <typename T>
inline void gather_patch(const T* xc, int64_t ih, int64_t iw, int64_t h0, int64_t w0, T* d,
                         int64_t lane) {
  if (h0 >= 0 && w0 >= 0 && h0 + 6 <= ih && w0 + 6 <= iw) {
    const T* src = xc + h0 * iw + w0;
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j) d[(i * 6 + j) * kLanes + lane] = src[i * iw + j];
    return;
  }
  for (int i = 0; i < 6; ++i) {
    const int64_t h = h0 + i;
    const bool row_in = h >= 0 && h < ih;
    for (int j = 0; j < 6; ++j) {
      const int64_t c = w0 + j;
      d[(i * 6 + j) * kLanes + lane] = (row_in && c >= 0 && c < iw) ? xc[h * iw + c] : T(0);
    }
  }
}

// out[k*os + l] = (B^T in)[k] for the 6 rows in[k*is + l], lanes l < kLanes.
template <typename T>
inline void bt_rows(const T* in, int64_t is, T* out, int64_t os) {
  const T *d0 = in, *d1 = in + is, *d2 = in + 2 * is, *d3 = in + 3 * is, *d4 = in + 4 * is,
          *d5 = in + 5 * is;
  T *r0 = out, *r1 = out + os, *r2 = out + 2 * os, *r3 = out + 3 * os, *r4 = out + 4 * os,
    *r5 = out + 5 * os;
  for (int64_t l = 0; l < kLanes; ++l) {
    const T a = d4[l] - T(4) * d2[l];  // shared by rows 1, 2
    const T b = d3[l] - T(4) * d1[l];
    const T c = d4[l] - d2[l];         // shared by rows 3, 4
    const T e = T(2) * (d3[l] - d1[l]);
    r0[l] = T(4) * d0[l] - T(5) * d2[l] + d4[l];
    r1[l] = a + b;
    r2[l] = a - b;
    r3[l] = c + e;
    r4[l] = c - e;
    r5[l] = T(4) * d1[l] - T(5) * d3[l] + d5[l];
  }
}

// out[k*os + l] = (A^T in)[k], k < 4, for the 6 rows in[k*is + l].
template <typename T>
inline void at_rows(const T* in, int64_t is, T* out, int64_t os) {
  const T *m0 = in, *m1 = in + is, *m2 = in + 2 * is, *m3 = in + 3 * is, *m4 = in + 4 * is,
          *m5 = in + 5 * is;
  T *y0 = out, *y1 = out + os, *y2 = out + 2 * os, *y3 = out + 3 * os;
  for (int64_t l = 0; l < kLanes; ++l) {
    const T s12 = m1[l] + m2[l], d12 = m1[l] - m2[l];
    const T s34 = m3[l] + m4[l], d34 = m3[l] - m4[l];
    y0[l] = m0[l] + s12 + s34;
    y1[l] = d12 + T(2) * d34;
    y2[l] = s12 + T(4) * s34;
    y3[l] = d12 + T(8) * d34 + m5[l];
  }
}

template <typename T>
void run_winograd(const Problem& p, const T* x, const T* w, const T* bias, bool relu, T* y) {
  const int64_t G = p.groups, cig = p.cig(), cog = p.cog();
  const int64_t tw_count = p.tiles_w(), plane_tiles = p.tiles_h() * tw_count;
  const int64_t total = p.tiles();
  if (total == 0 || p.cout == 0) return;
  const MicroKernel<T>& uk = active_micro_kernel<T>();
  const int64_t mr = uk.mr, nr = uk.nr;
  const int64_t nb = tile_block<T>(p, nr), jpanels = nb / nr;
  const int64_t ipanels = ceil_div(cog, mr);
  const int64_t in_plane = p.ih * p.iw, out_plane = p.oh * p.ow;

  // Workspace (see the header comment): U packed, then one block's V and M, shared by threads.
  T* upk = workspace<T>(0, size_t(G * kXi * ipanels * mr * cig));
  transform_filters(p, w, mr, upk);
  const int64_t v_group = kXi * jpanels * cig * nr;  // V[grp]: [xi][jpanel][ci][nr]
  const int64_t m_group = kXi * cog * nb;            // M[grp]: [xi][co][nb]
  T* v = workspace<T>(1, size_t(G * v_group));
  T* m = workspace<T>(2, size_t(G * m_group));

  const int64_t gemm_tasks = G * kXi * ipanels;
  const int threads = int(std::max<int64_t>(1, std::min<int64_t>(num_threads(), gemm_tasks)));
#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    alignas(64) T d[kXi * kLanes];  // gathered patches, then M values of kLanes tiles
    alignas(64) T t[kXi * kLanes];  // half-transformed
    alignas(64) T row[6 * kLanes];
    for (int64_t t0 = 0; t0 < total; t0 += nb) {
      const int64_t nt = std::min(nb, total - t0);

      // Input transform, split over input channels: V[grp][xi][tile / nr][ci][tile % nr].
#pragma omp for schedule(static)
      for (int64_t c = 0; c < p.cin; ++c) {
        const int64_t grp = c / cig, ci = c % cig;
        for (int64_t l0 = 0; l0 < nt; l0 += kLanes) {
          const int64_t lanes = std::min(kLanes, nt - l0);
          if (lanes < kLanes) std::fill(d, d + kXi * kLanes, T(0));
          for (int64_t l = 0; l < lanes; ++l) {
            const int64_t tile = t0 + l0 + l, n = tile / plane_tiles, r = tile % plane_tiles;
            const int64_t th = r / tw_count, tw = r % tw_count;
            gather_patch(x + (n * p.cin + c) * in_plane, p.ih, p.iw, 4 * th - p.pad_h,
                         4 * tw - p.pad_w, d, l);
          }
          // Columns: t[i][j] = (B^T d)[i][j]; then rows: V[i][j] = (t B)[i][j].
          for (int j = 0; j < 6; ++j)
            bt_rows(d + j * kLanes, 6 * kLanes, t + j * kLanes, 6 * kLanes);
          // Padding columns of the last panel are written too (zero or finite), never stored.
          const int64_t width = std::min(kLanes, nb - l0);
          for (int i = 0; i < 6; ++i) {
            bt_rows(t + i * 6 * kLanes, kLanes, row, kLanes);
            for (int j = 0; j < 6; ++j) {
              T* vx = v + grp * v_group + (i * 6 + j) * jpanels * cig * nr;
              for (int64_t l = 0; l < width;) {  // runs of lanes inside one nr panel
                const int64_t col = l0 + l, jp = col / nr, jr = col % nr;
                const int64_t run = std::min(width - l, nr - jr);
                std::copy(row + j * kLanes + l, row + j * kLanes + l + run,
                          vx + (jp * cig + ci) * nr + jr);
                l += run;
              }
            }
          }
        }
      }

      // 36 GEMMs per group, split over (group, xi, panel of mr output channels):
      // M[grp][xi] (cog x nt) = U[grp][xi] (cog x cig) . V[grp][xi] (cig x nt).
#pragma omp for schedule(static)
      for (int64_t task = 0; task < gemm_tasks; ++task) {
        const int64_t ip = task % ipanels, xi = (task / ipanels) % kXi, grp = task / (ipanels * kXi);
        const T* a = upk + ((grp * kXi + xi) * ipanels + ip) * cig * mr;
        const T* b = v + grp * v_group + xi * jpanels * cig * nr;
        T* c = m + grp * m_group + (xi * cog + ip * mr) * nb;
        gemm_packed<T>(std::min(mr, cog - ip * mr), nt, cig, a, b, c, nb, false);
      }

      // Output transform, split over output channels: Y = A^T M A (+ bias), clipped.
#pragma omp for schedule(static)
      for (int64_t oc = 0; oc < p.cout; ++oc) {
        const int64_t grp = oc / cog, co = oc % cog;
        const T b = bias ? bias[oc] : T(0);
        for (int64_t l0 = 0; l0 < nt; l0 += kLanes) {
          const int64_t lanes = std::min(kLanes, nt - l0);
          for (int64_t xi = 0; xi < kXi; ++xi) {
            const T* src = m + grp * m_group + (xi * cog + co) * nb + l0;
            std::copy(src, src + lanes, d + xi * kLanes);
            std::fill(d + xi * kLanes + lanes, d + (xi + 1) * kLanes, T(0));
          }
          // t[k][j] = (A^T M)[k][j] (4x6); then out[k] = (t A)[i][k] for each row i.
          for (int j = 0; j < 6; ++j)
            at_rows(d + j * kLanes, 6 * kLanes, t + j * kLanes, 6 * kLanes);
          for (int i = 0; i < 4; ++i) {
            at_rows(t + i * 6 * kLanes, kLanes, row, kLanes);  // row[k][l] = Y[i][k]
            for (int64_t l = 0; l < lanes; ++l) {
              const int64_t tile = t0 + l0 + l, n = tile / plane_tiles, r = tile % plane_tiles;
              const int64_t oh = 4 * (r / tw_count) + i, ow0 = 4 * (r % tw_count);
              if (oh >= p.oh) continue;
              T* yrow = y + (n * p.cout + oc) * out_plane + oh * p.ow;
              const int64_t kmax = std::min<int64_t>(4, p.ow - ow0);
              for (int64_t k = 0; k < kmax; ++k) {
                const T v = row[k * kLanes + l] + b;
                yrow[ow0 + k] = relu && v < T(0) ? T(0) : v;  // epilogue.h's ReLU
              }
            }
          }
        }
      }
    }
  }
}

Problem forward_problem(const ConvGeometry& g) {
  return {g.batch,       g.in_channels, g.out_channels, g.groups,        g.in_size[1],
          g.in_size[2],  g.out_size[1], g.out_size[2],  g.pad_before[1], g.pad_before[2]};
}

}  // namespace

template <typename T>
int64_t winograd_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  Problem p = forward_problem(g);
  if (pass == ConvPass::BackwardData) {
    p = {g.batch, g.out_channels, g.in_channels, g.groups, g.out_size[1], g.out_size[2],
         g.in_size[1], g.in_size[2], 2 - g.pad_before[1], 2 - g.pad_before[2]};
  }
  const MicroKernel<T>& uk = active_micro_kernel<T>();
  const int64_t nb = tile_block<T>(p, uk.nr);
  const int64_t u = p.groups * kXi * ceil_div(p.cog(), uk.mr) * uk.mr * p.cig();
  const int64_t vm = p.groups * kXi * (nb * p.cig() + p.cog() * nb);
  const int64_t wt = pass == ConvPass::BackwardData ? p.cout * p.cig() * 9 : 0;
  return (u + vm + wt) * int64_t(sizeof(T));
}

template int64_t winograd_workspace_bytes<float>(const ConvGeometry&, ConvPass);
template int64_t winograd_workspace_bytes<double>(const ConvGeometry&, ConvPass);

std::string winograd_unsupported(ConvPass pass, const ConvGeometry& g) {
  if (pass == ConvPass::BackwardWeight)
    return "winograd computes forward and backward_data only (backward_weight: use "
           "im2col_gemm or auto)";
  if (g.in_size[0] != 1 || g.out_size[0] != 1 || g.kernel[0] != 1 || g.pad_before[0] != 0)
    return "winograd needs a 2-D convolution (depth 1)";
  if (g.kernel[1] != 3 || g.kernel[2] != 3) return "winograd needs a 3x3 kernel";
  if (g.stride[1] != 1 || g.stride[2] != 1 || g.stride[0] != 1) return "winograd needs stride 1";
  if (g.dilation[1] != 1 || g.dilation[2] != 1) return "winograd needs dilation 1";
  return {};
}

template <typename T>
void forward_winograd(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu,
                      T* y) {
  run_winograd(forward_problem(g), x, w, bias, relu, y);
}

template <typename T>
void backward_data_winograd(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  // gx = corr(gy, w'), w'[grp*cig + ci][co][kh][kw] = w[grp*cog + co][ci][2-kh][2-kw],
  // padding 2 - pad, output of the input's size.
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  std::vector<T> wt(size_t(g.out_channels * cig * 9));
  for (int64_t grp = 0; grp < G; ++grp)
    for (int64_t co = 0; co < cog; ++co)
      for (int64_t ci = 0; ci < cig; ++ci) {
        const T* src = w + ((grp * cog + co) * cig + ci) * 9;
        T* dst = wt.data() + ((grp * cig + ci) * cog + co) * 9;
        for (int k = 0; k < 9; ++k) dst[k] = src[8 - k];
      }
  const Problem p{g.batch,       g.out_channels, g.in_channels, G,
                  g.out_size[1], g.out_size[2],  g.in_size[1],  g.in_size[2],
                  2 - g.pad_before[1], 2 - g.pad_before[2]};
  run_winograd<T>(p, gy, wt.data(), nullptr, false, gx);
}

template void forward_winograd<float>(const ConvGeometry&, const float*, const float*,
                                      const float*, bool, float*);
template void forward_winograd<double>(const ConvGeometry&, const double*, const double*,
                                       const double*, bool, double*);
template void backward_data_winograd<float>(const ConvGeometry&, const float*, const float*,
                                            float*);
template void backward_data_winograd<double>(const ConvGeometry&, const double*, const double*,
                                             double*);

}  // namespace fastconv::cpu
