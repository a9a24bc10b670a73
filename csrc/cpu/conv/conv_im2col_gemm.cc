// Convolution as GEMM over tiles of the column matrix (see column_walk.h for its layout).
//
// For one (sample n, group g) with K = C_in/groups * kernel volume and P = output positions:
//   forward          Y[C_out/g, P]  = W[C_out/g, K] * COL[K, P]
//   backward_data    dCOL[K, P]     = W^T * dY,  then col2im scatters dCOL into dX
//   backward_weight  dW[C_out/g, K] = sum_n dY[C_out/g, P] * COL[K, P]^T
// COL is built one tile of columns at a time (kColumnTileBytes), never whole, and written straight
// into the GEMM's packed-panel layout (no second copy); the weights are packed once per call. A
// 1x1, stride-1, unpadded kernel packs X itself as COL.
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

constexpr int64_t kColumnTileBytes = 512 * 1024;  // one tile of COL stays in L2

// Columns per tile, a whole number of GEMM panels: a function of the geometry and the ISA's
// panel width only (never of the thread count), since it fixes the order of the backward
// reductions.
template <typename T>
int64_t column_tile(int64_t k, int64_t p, int64_t nr) {
  const int64_t fit = kColumnTileBytes / int64_t(sizeof(T)) / std::max<int64_t>(k, 1);
  const int64_t panels = std::max<int64_t>(1, fit / nr);
  return std::max<int64_t>(1, std::min(p, panels * nr));
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

// Which packed-B layout im2col_packed writes (see gemm.h): panels of nr along the columns
// (forward: B = COL, the reduction runs over rows) or along the rows (backward_weight:
// B = COL^T, the reduction runs over columns).
enum class Panels { OverColumns, OverRows };

// Cells (r, p), r in [r0, r1), p in [c0, c1), of the column matrix as zero-padded GEMM panels.
template <typename T>
void im2col_packed(const ConvGeometry& g, const T* x, int64_t r0, int64_t r1, int64_t c0,
                   int64_t c1, int64_t nr, Panels panels, T* out) {
  const int64_t rows = r1 - r0, cols = c1 - c0;
  if (panels == Panels::OverColumns) {
    // cell (r', p') at ((p' / nr) * rows + r') * nr + p' % nr: runs along p are contiguous
    // until a panel ends.
    auto each_chunk = [&](int64_t r, int64_t p, int64_t len, auto&& emit) {
      for (int64_t done = 0; done < len;) {
        const int64_t chunk = std::min(len - done, nr - p % nr);
        emit(out + ((p / nr) * rows + r) * nr + p % nr, done, chunk);
        p += chunk;
        done += chunk;
      }
    };
    walk_columns(
        g, r0, r1, c0, c1,
        [&](int64_t r, int64_t p, int64_t xi, int64_t len, int64_t step) {
          each_chunk(r, p, len, [&](T* dst, int64_t done, int64_t chunk) {
            // Inline loops, not memcpy: chunks are at most one panel wide (8..32 elements).
            const T* src = x + xi + done * step;
            if (step == 1) {
              for (int64_t t = 0; t < chunk; ++t) dst[t] = src[t];
            } else {
              for (int64_t t = 0; t < chunk; ++t) dst[t] = src[t * step];
            }
          });
        },
        [&](int64_t r, int64_t p, int64_t len) {
          each_chunk(r, p, len, [](T* dst, int64_t, int64_t chunk) {
            for (int64_t t = 0; t < chunk; ++t) dst[t] = T(0);
          });
        });
    if (cols % nr != 0) {  // zero columns that pad the last panel
      T* last = out + (cols / nr) * rows * nr;
      for (int64_t r = 0; r < rows; ++r) std::fill(last + r * nr + cols % nr, last + (r + 1) * nr, T(0));
    }
  } else {
    // cell (r', p') at ((r' / nr) * cols + p') * nr + r' % nr: a run along p strides by nr.
    walk_columns(
        g, r0, r1, c0, c1,
        [&](int64_t r, int64_t p, int64_t xi, int64_t len, int64_t step) {
          T* dst = out + ((r / nr) * cols + p) * nr + r % nr;
          for (int64_t t = 0; t < len; ++t) dst[t * nr] = x[xi + t * step];
        },
        [&](int64_t r, int64_t p, int64_t len) {
          T* dst = out + ((r / nr) * cols + p) * nr + r % nr;
          for (int64_t t = 0; t < len; ++t) dst[t * nr] = T(0);
        });
    if (rows % nr != 0) {  // zero rows that pad the last panel
      T* last = out + (rows / nr) * cols * nr;
      for (int64_t p = 0; p < cols; ++p) std::fill(last + p * nr + rows % nr, last + (p + 1) * nr, T(0));
    }
  }
}

template <typename T>
void col2im_accumulate(const ConvGeometry& g, const T* col, int64_t r0, int64_t r1, int64_t c0,
                       int64_t c1, T* x) {
  const int64_t cols = c1 - c0;
  walk_columns(
      g, r0, r1, c0, c1,
      [&](int64_t r, int64_t p, int64_t xi, int64_t len, int64_t step) {
        const T* src = col + r * cols + p;
        for (int64_t t = 0; t < len; ++t) x[xi + t * step] += src[t];
      },
      [](int64_t, int64_t, int64_t) {});
}

}  // namespace

template <typename T>
void forward_im2col_gemm(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t K = g.gemm_k(), P = g.out_plane(), in_plane = g.in_plane();
  const int64_t nr = gemm_nr<T>();
  const int64_t pt = column_tile<T>(K, P, nr);
  const int64_t tiles = ceil_div(P, pt);
  const int64_t tasks = g.batch * G * tiles;
  if (tasks == 0) return;
  const bool pointwise = g.is_pointwise();
  const int threads = threads_for(tasks, g.batch * g.out_channels * P * K);
  // The weights of every group, packed once and shared read-only by all threads.
  const int64_t a_size = packed_a_size<T>(cog, K);
  std::vector<T> w_packed(size_t(G * a_size));
  const int64_t per_thread = packed_b_size<T>(pt, K);
  std::vector<T> workspace(size_t(threads * per_thread));

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
#pragma omp for schedule(static)
    for (int64_t grp = 0; grp < G; ++grp)
      pack_a_panels<T>(cog, K, {w + grp * cog * K, K, 1}, w_packed.data() + grp * a_size);
    T* b_packed = workspace.data() + thread_id() * per_thread;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t tile = task % tiles, grp = (task / tiles) % G, n = task / (tiles * G);
      const int64_t p0 = tile * pt, len = std::min(pt, P - p0);
      const T* xg = x + (n * g.in_channels + grp * cig) * in_plane;
      if (pointwise) {
        pack_b_panels<T>(K, len, {xg + p0, in_plane, 1}, b_packed);
      } else {
        im2col_packed(g, xg, 0, K, p0, p0 + len, nr, Panels::OverColumns, b_packed);
      }
      T* yg = y + (n * g.out_channels + grp * cog) * P + p0;
      gemm_packed<T>(cog, len, K, w_packed.data() + grp * a_size, b_packed, yg, P, false);
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
  const int64_t pt = column_tile<T>(K, P, gemm_nr<T>());
  const int64_t cb = block_size(cig, g.batch * G, num_threads());
  const int64_t blocks = ceil_div(cig, cb);
  const int64_t tasks = g.batch * G * blocks;
  if (tasks == 0) return;
  const bool pointwise = g.is_pointwise();
  const int threads = threads_for(tasks, g.batch * g.out_channels * P * K);
  // Per thread: W^T rows of one channel block (packed once per task), one packed dY tile, and
  // the dCOL tile it produces.
  const int64_t a_size = packed_a_size<T>(cb * kvol, cog);
  const int64_t b_size = packed_b_size<T>(pt, cog);
  const int64_t per_thread = a_size + b_size + (pointwise ? 0 : cb * kvol * pt);
  std::vector<T> workspace(size_t(threads * per_thread));

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    T* a_packed = workspace.data() + thread_id() * per_thread;
    T* b_packed = a_packed + a_size;
    T* col = b_packed + b_size;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t blk = task % blocks, grp = (task / blocks) % G, n = task / (blocks * G);
      const int64_t c0 = blk * cb, c1 = std::min(cig, c0 + cb);
      const int64_t r0 = c0 * kvol, r1 = c1 * kvol;
      const T* gyg = gy + (n * g.out_channels + grp * cog) * P;
      T* gxg = gx + (n * g.in_channels + grp * cig) * in_plane;
      pack_a_panels<T>(r1 - r0, cog, {w + grp * cog * K + r0, 1, K}, a_packed);
      if (!pointwise) std::fill(gxg + c0 * in_plane, gxg + c1 * in_plane, T(0));
      for (int64_t p0 = 0; p0 < P; p0 += pt) {
        const int64_t len = std::min(pt, P - p0);
        pack_b_panels<T>(cog, len, {gyg + p0, P, 1}, b_packed);
        if (pointwise) {  // dX rows are dCOL rows: write them in place
          gemm_packed<T>(r1 - r0, len, cog, a_packed, b_packed, gxg + c0 * in_plane + p0, in_plane,
                         false);
        } else {
          gemm_packed<T>(r1 - r0, len, cog, a_packed, b_packed, col, len, false);
          col2im_accumulate(g, col, r0, r1, p0, p0 + len, gxg);
        }
      }
    }
  }
}

template <typename T>
void backward_weight_im2col_gemm(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t K = g.gemm_k(), P = g.out_plane(), in_plane = g.in_plane();
  const int64_t nr = gemm_nr<T>();
  const int64_t pt = column_tile<T>(K, P, nr);
  const int64_t rb = block_size(K, G, num_threads());
  const int64_t blocks = ceil_div(K, rb);
  const int64_t tasks = G * blocks;
  if (tasks == 0) return;
  const bool pointwise = g.is_pointwise();
  const int threads = threads_for(tasks, g.batch * g.out_channels * P * K);
  // Per thread: one packed dY tile (A) and one packed COL^T tile (B).
  const int64_t a_size = packed_a_size<T>(cog, pt);
  const int64_t per_thread = a_size + packed_b_size<T>(rb, pt);
  std::vector<T> workspace(size_t(threads * per_thread));

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    T* a_packed = workspace.data() + thread_id() * per_thread;
    T* b_packed = a_packed + a_size;
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
          pack_a_panels<T>(cog, len, {gyg + p0, P, 1}, a_packed);
          if (pointwise) {  // B(k = position, j = row) is X transposed
            pack_b_panels<T>(len, r1 - r0, {xg + r0 * in_plane + p0, 1, in_plane}, b_packed);
          } else {
            im2col_packed(g, xg, r0, r1, p0, p0 + len, nr, Panels::OverRows, b_packed);
          }
          gemm_packed<T>(cog, r1 - r0, len, a_packed, b_packed, gwb, K, accumulate);
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
