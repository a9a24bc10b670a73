// Convolution as GEMM over tiles of the column matrix (see column_walk.h for its layout).
//
// For one (sample n, group g) with K = C_in/groups * kernel volume and P = output positions:
//   forward          Y[C_out/g, P]  = W[C_out/g, K] * COL[K, P]
//   backward_data    dCOL[K, P]     = W^T * dY,  then col2im scatters dCOL into dX
//   backward_weight  dW[C_out/g, K] = sum_n dY[C_out/g, P] * COL[K, P]^T
// COL is built one tile of columns at a time (kColumnTileBytes), never whole. A 1x1, stride-1,
// unpadded kernel reads X in place as COL.
//
// Threads split the *outputs* (forward: sample x group x column tile; backward_data: sample x
// group x channel block; backward_weight: group x row block) and every output element is reduced
// in one fixed order that depends only on the geometry, so results are bitwise the same for any
// thread count.
#include <algorithm>
#include <stdexcept>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/denormals.h"
#include "common/parallel.h"
#include "cpu/conv/column_walk.h"
#include "cpu/conv/conv_algorithms.h"
#include "cpu/gemm/gemm.h"

namespace fastconv::cpu {

namespace {

constexpr int64_t kColumnTileBytes = 256 * 1024;  // one tile of COL stays in L2

// Columns per tile: a function of the geometry only (never of the thread count), since it
// fixes the order of the backward reductions.
template <typename T>
int64_t column_tile(int64_t k, int64_t p) {
  const int64_t fit = kColumnTileBytes / int64_t(sizeof(T)) / std::max<int64_t>(k, 1);
  return std::max<int64_t>(1, std::min(p, std::max<int64_t>(fit, 32)));
}

// Splits `count` items into blocks so that `outer * blocks` tasks keep every thread busy.
int64_t block_size(int64_t count, int64_t outer, int threads) {
  const int64_t wanted_blocks = ceil_div(4 * int64_t(threads), std::max<int64_t>(outer, 1));
  return std::max<int64_t>(1, ceil_div(count, std::max<int64_t>(wanted_blocks, 1)));
}

int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

template <typename T>
void im2col(const ConvGeometry& g, const T* x, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
            T* col) {
  walk_columns(
      g, r0, r1, c0, c1,
      [&](int64_t ci, int64_t xi, int64_t len, int64_t step) {
        if (step == 1) {
          std::copy(x + xi, x + xi + len, col + ci);
        } else {
          for (int64_t t = 0; t < len; ++t) col[ci + t] = x[xi + t * step];
        }
      },
      [&](int64_t ci, int64_t len) { std::fill(col + ci, col + ci + len, T(0)); });
}

template <typename T>
void col2im_accumulate(const ConvGeometry& g, const T* col, int64_t r0, int64_t r1, int64_t c0,
                       int64_t c1, T* x) {
  walk_columns(
      g, r0, r1, c0, c1,
      [&](int64_t ci, int64_t xi, int64_t len, int64_t step) {
        for (int64_t t = 0; t < len; ++t) x[xi + t * step] += col[ci + t];
      },
      [](int64_t, int64_t) {});
}

}  // namespace

template <typename T>
void forward_im2col_gemm(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t K = g.gemm_k(), P = g.out_plane(), in_plane = g.in_plane();
  const int64_t pt = column_tile<T>(K, P);
  const int64_t tiles = ceil_div(P, pt);
  const int64_t tasks = g.batch * G * tiles;
  if (tasks == 0) return;
  const bool pointwise = g.is_pointwise();
  const int threads = threads_for(tasks, g.batch * g.out_channels * P * K);
  const int64_t per_thread = pointwise ? 0 : K * pt;
  std::vector<T> workspace(size_t(threads * per_thread));

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    T* col = workspace.data() + thread_id() * per_thread;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t tile = task % tiles, grp = (task / tiles) % G, n = task / (tiles * G);
      const int64_t p0 = tile * pt, len = std::min(pt, P - p0);
      const T* xg = x + (n * g.in_channels + grp * cig) * in_plane;
      StridedMatrix<T> cols{xg + p0, in_plane, 1};
      if (!pointwise) {
        im2col(g, xg, 0, K, p0, p0 + len, col);
        cols = {col, len, 1};
      }
      T* yg = y + (n * g.out_channels + grp * cog) * P + p0;
      gemm<T>(cog, len, K, {w + grp * cog * K, K, 1}, cols, yg, P, false);
      if (bias) {
        for (int64_t o = 0; o < cog; ++o) {
          const T b = bias[grp * cog + o];
          for (int64_t t = 0; t < len; ++t) yg[o * P + t] += b;
        }
      }
    }
  }
}

template <typename T>
void backward_data_im2col_gemm(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t K = g.gemm_k(), P = g.out_plane(), in_plane = g.in_plane();
  const int64_t kvol = g.kernel_volume();
  const int64_t pt = column_tile<T>(K, P);
  const int64_t cb = block_size(cig, g.batch * G, num_threads());
  const int64_t blocks = ceil_div(cig, cb);
  const int64_t tasks = g.batch * G * blocks;
  if (tasks == 0) return;
  const bool pointwise = g.is_pointwise();
  const int threads = threads_for(tasks, g.batch * g.out_channels * P * K);
  const int64_t per_thread = pointwise ? 0 : cb * kvol * pt;
  std::vector<T> workspace(size_t(threads * per_thread));

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    T* col = workspace.data() + thread_id() * per_thread;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t blk = task % blocks, grp = (task / blocks) % G, n = task / (blocks * G);
      const int64_t c0 = blk * cb, c1 = std::min(cig, c0 + cb);
      const T* gyg = gy + (n * g.out_channels + grp * cog) * P;
      const T* wg = w + grp * cog * K;
      T* gxg = gx + (n * g.in_channels + grp * cig) * in_plane;
      if (pointwise) {  // dX rows are dCOL rows: write them in place
        gemm<T>(c1 - c0, P, cog, {wg + c0, 1, K}, {gyg, P, 1}, gxg + c0 * in_plane, in_plane,
                false);
        continue;
      }
      std::fill(gxg + c0 * in_plane, gxg + c1 * in_plane, T(0));
      const int64_t r0 = c0 * kvol, r1 = c1 * kvol;
      for (int64_t p0 = 0; p0 < P; p0 += pt) {
        const int64_t len = std::min(pt, P - p0);
        gemm<T>(r1 - r0, len, cog, {wg + r0, 1, K}, {gyg + p0, P, 1}, col, len, false);
        col2im_accumulate(g, col, r0, r1, p0, p0 + len, gxg);
      }
    }
  }
}

template <typename T>
void backward_weight_im2col_gemm(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t K = g.gemm_k(), P = g.out_plane(), in_plane = g.in_plane();
  const int64_t pt = column_tile<T>(K, P);
  const int64_t rb = block_size(K, G, num_threads());
  const int64_t blocks = ceil_div(K, rb);
  const int64_t tasks = G * blocks;
  if (tasks == 0) return;
  const bool pointwise = g.is_pointwise();
  const int threads = threads_for(tasks, g.batch * g.out_channels * P * K);
  const int64_t per_thread = pointwise ? 0 : rb * pt;
  std::vector<T> workspace(size_t(threads * per_thread));

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    T* col = workspace.data() + thread_id() * per_thread;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t blk = task % blocks, grp = task / blocks;
      const int64_t r0 = blk * rb, r1 = std::min(K, r0 + rb);
      T* gwb = gw + grp * cog * K + r0;
      bool accumulate = false;
      for (int64_t n = 0; n < g.batch; ++n) {
        const T* xg = x + (n * g.in_channels + grp * cig) * in_plane;
        const T* gyg = gy + (n * g.out_channels + grp * cog) * P;
        for (int64_t p0 = 0; p0 < P; p0 += pt) {
          const int64_t len = std::min(pt, P - p0);
          // B(k = position, j = row) is COL transposed.
          StridedMatrix<T> cols_t{xg + r0 * in_plane + p0, 1, in_plane};
          if (!pointwise) {
            im2col(g, xg, r0, r1, p0, p0 + len, col);
            cols_t = {col, 1, len};
          }
          gemm<T>(cog, r1 - r0, len, {gyg + p0, P, 1}, cols_t, gwb, K, accumulate);
          accumulate = true;
        }
      }
      if (!accumulate) {  // empty batch or no output positions: the gradient is zero
        for (int64_t o = 0; o < cog; ++o) std::fill(gwb + o * K, gwb + o * K + (r1 - r0), T(0));
      }
    }
  }
}

template void forward_im2col_gemm<float>(const ConvGeometry&, const float*, const float*,
                                         const float*, float*);
template void forward_im2col_gemm<double>(const ConvGeometry&, const double*, const double*,
                                          const double*, double*);
template void backward_data_im2col_gemm<float>(const ConvGeometry&, const float*, const float*,
                                               float*);
template void backward_data_im2col_gemm<double>(const ConvGeometry&, const double*,
                                                const double*, double*);
template void backward_weight_im2col_gemm<float>(const ConvGeometry&, const float*, const float*,
                                                 float*);
template void backward_weight_im2col_gemm<double>(const ConvGeometry&, const double*,
                                                  const double*, double*);

}  // namespace fastconv::cpu
