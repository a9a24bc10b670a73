// Row-vectorised pooling kernels, written once in plain C++ and compiled per ISA: pool.cc
// (baseline), pool_avx2.cc and pool_avx512.cc include this header and instantiate the templates
// with their own flags (the loops are shaped so that GCC/Clang auto-vectorise them; -O3, no
// -ffast-math). Everything here lives in an anonymous namespace, so each translation unit keeps
// its own copy and no ISA-specific code can be picked by the linker for another TU.
//
// Shape of every windowed kernel: threads split the (n, c) planes; per output row (od, oh) the
// window's input rows (id, ih) are visited in window order, and for each kernel column kw one
// contiguous pass over the output columns ow updates a row buffer:
//     buf[ow] = update(buf[ow], row[ow * stride + kw * dilation - pad])
// restricted to the ow whose input column is inside the row (padding is skipped). The inner loop
// is a unit-stride (stride 1) or constant-stride (stride 2, specialised) read and a unit-stride
// read-modify-write of the buffer, which vectorises; each output element still sees its window
// cells in torch's window order (d, h, w row-major), so max pooling's tie / NaN / -0.0 rules
// and the row kernels' summation order are exactly those of the scalar definition. Average
// pooling with stride 1 or 2 along W uses the separable kernels instead (row sums, then the
// window's rows: a different fixed order; see "separable average pooling" below).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "common/env.h"
#include "common/parallel.h"
#include "common/prefetch.h"
#include "common/pool_geometry.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fastconv::cpu {

// Function table of one ISA's pooling kernels (see pool.h for what each computes; plane_sum and
// plane_max reduce one contiguous plane, for global adaptive pooling).
template <typename T>
struct PoolKernels {
  const char* name;
  void (*max_forward)(const PoolGeometry&, const T*, T*, int64_t*);
  void (*avg_forward)(const PoolGeometry&, bool, int64_t, const T*, T*);
  void (*avg_backward)(const PoolGeometry&, bool, int64_t, const T*, T*);
  // sums[q] = plane_sum of plane q (x + q * n, n cells) for q < count; reads up to `end`
  // (>= x + count * n) are allowed and ignored.
  void (*plane_sums)(const T* x, int64_t count, int64_t n, const T* end, T* sums);
  void (*plane_max)(const T* x, int64_t n, const T* end, T* value, int64_t* index);
  // One plane of max pooling's backward in gather form (see max_grad_plane below).
  bool (*max_grad_plane)(const PoolGeometry&, const int64_t* od_of, const int64_t* oh_of,
                         const int64_t* ow_of, const T* gy, const int64_t* idx, T* gx, T* buf,
                         bool stream);
};

// Each ISA's table (pool_avx2.cc / pool_avx512.cc on x86-64; only called where isa() allows).
namespace avx2 {
PoolKernels<float> f32_pool_kernels();
PoolKernels<double> f64_pool_kernels();
}  // namespace avx2
namespace avx512 {
PoolKernels<float> f32_pool_kernels();
PoolKernels<double> f64_pool_kernels();
}  // namespace avx512

namespace pool_kernels {
namespace {

// ------------------------------------------------------------------------------ global sums

// Sum of a contiguous array in a FIXED order that vectorises: kLanes independent partial sums
// (partial j takes x[j], x[j + kLanes], x[j + 2 kLanes], ... in ascending order, the tail
// x[n - n % kLanes + j] last), then a fixed pairwise tree (partial j += partial j + w for
// w = kLanes/2, kLanes/4, ..., 1). kLanes = 32 floats / 16 doubles (two AVX-512 vectors, four
// AVX2, eight SSE2): the result is the same bits on every ISA and every thread count, and
// differs from the strict sequential sum by rounding only (the error bound of pairwise-ish
// summation, no worse than sequential). pool_avx2.cc / pool_avx512.cc compute the same order
// with intrinsics (partials in 4 / 2 registers, masked tail loads, the tree as register halves);
// tests/test_pooling_fast_paths.py checks every path against a NumPy model of this order, bit
// for bit.
template <typename T>
constexpr int kSumLanes = 128 / int(sizeof(T));

// Accumulation part of the sum: acc[j] = partial j (before the tree).
template <typename T>
inline void plane_partials(const T* x, int64_t n, const T* end, T* __restrict acc) {
  constexpr int kLanes = kSumLanes<T>;
  for (int j = 0; j < kLanes; ++j) acc[j] = T(0);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += x[i + j];
  // The tail as one zero-padded block: a partial sum is never -0.0 (it starts at +0.0), so
  // adding +0.0 to the unused partials changes nothing; this equals adding the tail alone.
  // Where a whole block is readable (planes are contiguous: all but the last) it is read
  // unconditionally and masked, which vectorises; else copied.
  const int64_t tail = n - i;
  if (tail > 0) {
    if (end - (x + i) >= kLanes) {
      for (int j = 0; j < kLanes; ++j) {
        const T v = x[i + j];
        acc[j] += j < tail ? v : T(0);
      }
    } else {
      for (int j = 0; j < tail; ++j) acc[j] += x[i + j];
    }
  }
}

template <typename T>
T plane_sum(const T* x, int64_t n, const T* end) {
  T acc[kSumLanes<T>];
  plane_partials(x, n, end, acc);
  for (int w = kSumLanes<T> / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0];
}

// plane_sum of `count` consecutive planes, in blocks of 16 planes: the wide tree levels run
// within each plane's partials (whole-vector adds), the last two levels (4 -> 2 -> 1) across the
// 16 planes of the block (transposed, so they are vertical adds too). Same additions, same order
// as plane_sum: the same bits.
template <typename T>
void plane_sums(const T* x, int64_t count, int64_t n, const T* end, T* sums) {
  constexpr int kLanes = kSumLanes<T>, kBlock = 16;
  alignas(64) T acc[kLanes];
  alignas(64) T last[4][kBlock];
  for (int64_t q0 = 0; q0 < count; q0 += kBlock) {
    const int nb = int(std::min<int64_t>(kBlock, count - q0));
    for (int q = 0; q < nb; ++q) {
      plane_partials(x + (q0 + q) * n, n, end, acc);
      for (int w = kLanes / 2; w >= 4; w /= 2)
        for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
      for (int j = 0; j < 4; ++j) last[j][q] = acc[j];
    }
    for (int q = 0; q < kBlock; ++q) {
      last[0][q] += last[2][q];
      last[1][q] += last[3][q];
      last[0][q] += last[1][q];
    }
    for (int q = 0; q < nb; ++q) sums[q0 + q] = last[0][q];
  }
}

// Max of a contiguous array with the index torch's sequential scan gives (`v > best ||
// isnan(v)` in ascending order: ties -> first occurrence, NaN -> the last NaN, -0.0 / +0.0 ->
// the first of them). Lane j scans x[j], x[j + kLanes], ... with that rule; the lanes are then
// merged exactly: if any lane holds NaN, the NaN with the largest index; else the largest value
// and, among lanes comparing equal to it, the smallest index (each lane's index is the first
// occurrence of its maximum, so the smallest is the scan's). An empty array gives (-inf, 0).
template <typename T>
void plane_max(const T* x, int64_t n, const T* end, T* value, int64_t* index) {
  using I = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  constexpr int kLanes = 128 / int(sizeof(T));
  // Small planes (the lane merge would cost more than it saves) and planes whose indices would
  // overflow int32 lanes: the sequential scan itself.
  if (n < 8 * kLanes || (sizeof(I) < sizeof(int64_t) && n >= (int64_t(1) << 30))) {
    T best = -std::numeric_limits<T>::infinity();
    int64_t bi = 0;
    for (int64_t i = 0; i < n; ++i)
      if (x[i] > best || std::isnan(x[i])) best = x[i], bi = i;
    *value = best;
    *index = bi;
    return;
  }
  T best[kLanes];
  I bidx[kLanes];
  for (int j = 0; j < kLanes; ++j) best[j] = -std::numeric_limits<T>::infinity(), bidx[j] = I(-1);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const T v = x[i + j];
      const bool take = (v > best[j]) | (v != v);
      best[j] = take ? v : best[j];
      bidx[j] = take ? I(i + j) : bidx[j];
    }
  const int64_t tail = n - i;
  if (tail > 0 && end - (x + i) >= kLanes) {  // whole block readable: masked to -inf (never taken)
    for (int j = 0; j < kLanes; ++j) {
      const T v = j < tail ? x[i + j] : -std::numeric_limits<T>::infinity();
      const bool take = (v > best[j]) | (v != v);
      best[j] = take ? v : best[j];
      bidx[j] = take ? I(i + j) : bidx[j];
    }
  } else {
    for (int j = 0; j < tail; ++j) {
      const T v = x[i + j];
      if ((v > best[j]) | (v != v)) best[j] = v, bidx[j] = I(i + j);
    }
  }
  // Merge. A lane that never took a cell (all -inf, or empty) has index -1: its first cell is
  // its first occurrence of -inf, i.e. index j.
  int64_t bi = -1;
  T bv = -std::numeric_limits<T>::infinity();
  bool nan = false;
  for (int j = 0; j < kLanes && j < n; ++j) {
    const int64_t lj = bidx[j] < 0 ? j : int64_t(bidx[j]);
    const T vj = best[j];
    if (vj != vj) {
      if (!nan || lj > bi) bv = vj, bi = lj;
      nan = true;
    } else if (!nan) {
      if (bi < 0 || vj > bv || (vj == bv && lj < bi)) bv = vj, bi = lj;
    }
  }
  if (nan) {
    *value = bv;
    *index = bi;
    return;
  }
  *value = bi < 0 ? -std::numeric_limits<T>::infinity() : x[bi];  // the scan's own cell (-0.0)
  *index = bi < 0 ? 0 : bi;
}

// ------------------------------------------------------------------------------ row passes

// First output column whose input column ow * s + off is >= 0, and the end of those < W.
inline void column_range(int64_t off, int64_t s, int64_t W, int64_t OW, int64_t* ow0,
                         int64_t* ow1) {
  *ow0 = off >= 0 ? 0 : ceil_div(-off, s);
  *ow1 = (W - 1 - off) < 0 ? 0 : std::min(OW, (W - 1 - off) / s + 1);
  if (*ow0 > *ow1) *ow0 = *ow1;
}

template <typename T, int S>
inline void scatter_pass(T* __restrict dst, int64_t s_rt, const T* __restrict delta,
                         int64_t n) {
  const int64_t s = S > 0 ? S : s_rt;
  for (int64_t ow = 0; ow < n; ++ow) dst[ow * s] += delta[ow];
}

// One dimension of a dilated max window, torch's way (see pool.cc).
inline void dilated_lo_hi(int64_t o, int64_t d, const PoolGeometry& g, int64_t* lo, int64_t* hi) {
  const int64_t start = o * g.stride[d] - g.pad_before[d];
  *hi = std::min(start + (g.kernel[d] - 1) * g.dilation[d] + 1, g.in_size[d]);
  *lo = start < 0 ? start + ceil_div(-start, g.dilation[d]) * g.dilation[d] : start;
}

// Average window in one dimension: clipped to the input, and torch's padded pool size.
inline void avg_lo_hi(int64_t o, int64_t d, const PoolGeometry& g, int64_t* lo, int64_t* hi,
                      int64_t* padded) {
  const int64_t start = o * g.stride[d] - g.pad_before[d];
  const int64_t end_padded = std::min(start + g.kernel[d], g.in_size[d] + g.pad_after[d]);
  *lo = std::max<int64_t>(start, 0);
  *hi = std::min(end_padded, g.in_size[d]);
  *padded = end_padded - start;
}

// Whether every candidate index (and the initial index of an empty window) fits in int32.
inline bool indices_fit_int32(const PoolGeometry& g) {
  int64_t ext = 1;
  for (int d = 0; d < 3; ++d) {
    const int64_t e = g.in_size[d] + g.out_size[d] * g.stride[d] + g.kernel[d] * g.dilation[d] +
                      g.pad_before[d];
    if (e >= (int64_t(1) << 31)) return false;
    ext *= e;
    if (ext >= (int64_t(1) << 31)) return false;
  }
  return true;
}

// Column layout of a windowed pooling along W, shared by every output row: koff[kw] (input
// column of tap kw is ow * stride + koff[kw]) and the interior [lo, hi) of output columns whose
// taps are all inside the row.
struct Columns {
  std::vector<int64_t> koff;
  int64_t lo = 0, hi = 0;
  Columns(const PoolGeometry& g, int64_t dilation) : koff(size_t(g.kernel[2])) {
    const int64_t W = g.in_size[2], OW = g.out_size[2], s = g.stride[2];
    lo = 0;
    hi = OW;
    for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
      koff[size_t(kw)] = kw * dilation - g.pad_before[2];
      int64_t a, b;
      column_range(koff[size_t(kw)], s, W, OW, &a, &b);
      lo = std::max(lo, a);
      hi = std::min(hi, b);
    }
    if (hi < lo) hi = lo;
  }
};

// Load masks of a whole-row window kernel (RowTile, e.g. F32WindowRows16): for output tile i
// (columns 16 i .. 16 i + 15) and tap t, entry [i * KT + t] has bit j (j < 32) set where input
// column 16 i * s + koff[t] + j lies in [0, W) (stride 1 reads bits 0-15, stride 2 all 32).
inline std::vector<uint32_t> window_row_masks(int64_t OW, int64_t s, const int64_t* koff,
                                              int64_t KT, int64_t W) {
  const int64_t tiles = ceil_div(OW, int64_t(16));
  std::vector<uint32_t> masks(size_t(tiles * KT), 0u);
  for (int64_t i = 0; i < tiles; ++i)
    for (int64_t t = 0; t < KT; ++t)
      for (int64_t j = 0; j < 32; ++j) {
        const int64_t col = 16 * i * s + koff[t] + j;
        if (col >= 0 && col < W) masks[size_t(i * KT + t)] |= uint32_t(1) << j;
      }
  return masks;
}

// Calls tile(ow) for tiles of B interior columns covering [lo, hi): consecutive tiles, the last
// one shifted left to end at hi (it recomputes some columns: the same values, written again).
// Returns false (nothing done) where the interior is narrower than B.
template <int B, typename F>
inline bool for_each_tile(int64_t lo, int64_t hi, F&& tile) {
  if (hi - lo < B) return false;
  int64_t ow = lo;
  for (; ow + B <= hi; ow += B) tile(ow);
  if (ow < hi) tile(hi - B);
  return true;
}

// (All pass pointers point at the first column updated; n columns.)
template <typename T, typename I, int S, bool kIdx>
inline void max_pass(const T* __restrict src, int64_t s_rt, T* __restrict best,
                     I* __restrict bidx, I base, int64_t n) {
  const int64_t s = S > 0 ? S : s_rt;
  for (int64_t ow = 0; ow < n; ++ow) {
    // take = v > old || isnan(v), as two single-compare selects (compare + blend on every ISA)
    const T v = src[ow * s], old = best[ow];
    const T m = v > old ? v : old;
    best[ow] = v != v ? v : m;
    if (kIdx) {
      const I cand = I(base + I(ow * s));
      const I i1 = v > old ? cand : bidx[ow];
      bidx[ow] = v != v ? cand : i1;
    }
  }
}

// An ISA's register tile for max pooling (see pool_avx512.cc): Tile::run<kIdx>(xp, rows, nrows,
// koff, KW, s, ow, y, yi) computes Tile::kCols interior output columns from ow, stride 1 or 2,
// int32 candidate indices. NoTile: the passes below do every row.
struct NoTile {
  static constexpr int kCols = 0;
};

template <typename T, typename I, bool kIdx, typename Tile = NoTile>
void max_pool_forward_rows(const PoolGeometry& g, const T* x, T* y, int64_t* indices) {
  const int64_t H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t dd = g.dilation[0], dh = g.dilation[1], dw = g.dilation[2];
  const int64_t s = g.stride[2], pb = g.pad_before[2], KW = g.kernel[2];
  const Columns cols(g, dw);
  const bool tiles = Tile::kCols > 0 && (s == 1 || s == 2) && cols.hi - cols.lo >= Tile::kCols &&
                     (!kIdx || std::is_same_v<I, int32_t>);
  const int nt = threads_for(g.planes, g.planes * out_plane * g.kernel_volume());
#pragma omp parallel num_threads(nt)
  {
    std::vector<int64_t> rows(size_t(g.kernel[0] * g.kernel[1]));
    std::vector<T> best(size_t(std::max<int64_t>(OW, 1)));
    std::vector<I> bidx(size_t(std::max<int64_t>(OW, 1)));
    std::vector<I> wlo(size_t(std::max<int64_t>(OW, 1)));
    for (int64_t ow = 0; ow < OW; ++ow) {
      int64_t lo, hi;
      dilated_lo_hi(ow, 2, g, &lo, &hi);
      wlo[size_t(ow)] = I(lo);
    }
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* xp = x + p * in_plane;
      T* yp = y + p * out_plane;
      int64_t* ip = kIdx ? indices + p * out_plane : nullptr;
      for (int64_t od = 0; od < OD; ++od) {
        int64_t d_lo, d_hi;
        dilated_lo_hi(od, 0, g, &d_lo, &d_hi);
        for (int64_t oh = 0; oh < OH; ++oh, yp += OW) {
          int64_t h_lo, h_hi;
          dilated_lo_hi(oh, 1, g, &h_lo, &h_hi);
          const I first = I((d_lo * H + h_lo) * W);
          if constexpr (Tile::kCols > 0) {
            int64_t nrows = 0;
            if (tiles)
              for (int64_t id = d_lo; id < d_hi; id += dd)
                for (int64_t ih = h_lo; ih < h_hi; ih += dh)
                  rows[size_t(nrows++)] = (id * H + ih) * W;
            if (nrows > 0) {
              // interior in blocks of up to Tile::kBlock columns (at least kCols: a short
              // last block starts earlier, recomputing some columns)
              for (int64_t ow = cols.lo; ow < cols.hi; ow += Tile::kBlock) {
                const int64_t start = std::min(ow, cols.hi - Tile::kCols);
                Tile::template run<kIdx>(xp, rows.data(), nrows, cols.koff.data(), KW, s, start,
                                         std::min<int64_t>(Tile::kBlock, cols.hi - start), yp, ip);
              }
              // border columns: one element at a time, the scalar definition
              for (int64_t ow = 0; ow < OW; ++ow) {
                if (ow == cols.lo) ow = cols.hi;
                if (ow >= OW) break;
                T bv = -std::numeric_limits<T>::infinity();
                int64_t bi = int64_t(first) + int64_t(wlo[size_t(ow)]);
                for (int64_t r = 0; r < nrows; ++r)
                  for (int64_t kw = 0; kw < KW; ++kw) {
                    const int64_t iw = ow * s + cols.koff[size_t(kw)];
                    if (iw < 0 || iw >= W) continue;
                    const T v = xp[rows[size_t(r)] + iw];
                    if (v > bv || std::isnan(v)) bv = v, bi = rows[size_t(r)] + iw;
                  }
                yp[ow] = bv;
                if (kIdx) ip[ow] = bi;
              }
              if (kIdx) ip += OW;
              continue;
            }
          }
          for (int64_t ow = 0; ow < OW; ++ow) {
            best[size_t(ow)] = -std::numeric_limits<T>::infinity();
            if (kIdx) bidx[size_t(ow)] = I(first + wlo[size_t(ow)]);
          }
          for (int64_t id = d_lo; id < d_hi; id += dd)
            for (int64_t ih = h_lo; ih < h_hi; ih += dh) {
              const int64_t row = (id * H + ih) * W;
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t off = kw * dw - pb;
                int64_t ow0, ow1;
                column_range(off, s, W, OW, &ow0, &ow1);
                if (ow0 >= ow1) continue;
                const T* src = xp + (row + off + ow0 * s);
                const I base = I(row + off + ow0 * s);
                T* b = best.data() + ow0;
                I* bi = bidx.data() + ow0;
                const int64_t n = ow1 - ow0;
                if (s == 1)
                  max_pass<T, I, 1, kIdx>(src, 1, b, bi, base, n);
                else if (s == 2)
                  max_pass<T, I, 2, kIdx>(src, 2, b, bi, base, n);
                else
                  max_pass<T, I, 0, kIdx>(src, s, b, bi, base, n);
              }
            }
          std::memcpy(yp, best.data(), size_t(OW) * sizeof(T));
          if (kIdx) {
            for (int64_t ow = 0; ow < OW; ++ow) ip[ow] = int64_t(bidx[size_t(ow)]);
            ip += OW;
          }
        }
      }
    }
  }
}

// Whether a plane prefetches the next plane's input (an input of `bytes` in all) while it
// computes: where the input comes from memory, not the caches (see common/prefetch.h).
// FASTCONV_POOL_PREFETCH=0/1 forces it (A/B timings).
inline bool pool_prefetch(int64_t bytes) {
  return env_switch("FASTCONV_POOL_PREFETCH").value_or(bytes > (int64_t(8) << 20));
}
constexpr int64_t kPrefetchSteps = 8;

// ---------------------------------------------- separable max pooling (values only)
//
// Torch's scan step f(a, v) = (v > a || isnan(v)) ? v : a folds a window's cells in row-major
// order. Folding a row's cells from -inf and then applying f(acc, that row's result) gives the
// same value as folding the cells into acc one by one: a NaN among the cells ends at the row's
// last NaN either way; else the row's first maximum replaces acc only where greater, as its
// cells would (ties, -0.0 / +0.0 included, keep the earlier). So 2-D max pooling without
// indices can take each input row's horizontal window maxima once (shared by the output rows
// whose windows overlap it: 3x3/2 reads each row for 1.5 output rows) and then fold the
// window's rows: K + KH steps per output instead of K * KH, bit for bit the same values.

inline bool max_separable_enabled() {
  return !env_switch("FASTCONV_POOL_NO_SEPARABLE_MAX").value_or(false);
}

inline bool max_separable_fits(const PoolGeometry& g) {
  constexpr int64_t kMaxBuffer = int64_t(1) << 16;  // elements of the row-maxima plane
  return g.in_size[0] == 1 && g.out_size[0] == 1 && g.kernel[0] == 1 &&
         g.dilation[1] == 1 && g.dilation[2] == 1 && g.kernel[1] > g.stride[1] &&
         (g.stride[2] == 1 || g.stride[2] == 2) && (g.kernel[2] == 2 || g.kernel[2] == 3) &&
         g.in_size[1] * g.out_size[2] <= kMaxBuffer && g.out_plane() > 0;
}

template <typename T>
inline T max_step(T a, T v) {
  const T m = v > a ? v : a;
  return v != v ? v : m;
}

// Interior row maxima: hm[ow] = fold of src[ow * S + k], k < K (the first step from -inf
// always gives the first cell).
template <typename T, int S, int K>
inline void row_maxima(const T* __restrict src, T* __restrict hm, int64_t n) {
  for (int64_t ow = 0; ow < n; ++ow) {
    T a = src[ow * S];
    for (int k = 1; k < K; ++k) a = max_step(a, src[ow * S + k]);
    hm[ow] = a;
  }
}

// Tiles that vectorise stride-2 row maxima themselves (the compiler's own loop for a stride-2
// read is scalar: resnet50's 3x3/2 forward ran at 45% of the copy bandwidth).
template <typename Tile, typename = void>
struct HasRowMaximaS2 : std::false_type {};
template <typename Tile>
struct HasRowMaximaS2<Tile, std::void_t<decltype(&Tile::template row_maxima_s2<3>)>>
    : std::true_type {};

template <typename T, typename Tile = NoTile>
void max_pool_forward_separable(const PoolGeometry& g, const T* x, T* y) {
  const int64_t H = g.in_size[1], W = g.in_size[2];
  const int64_t OH = g.out_size[1], OW = g.out_size[2];
  const int64_t s = g.stride[2], K = g.kernel[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const Columns cols(g, 1);
  const int nt = threads_for(g.planes, g.planes * out_plane * g.kernel_volume());
  const bool prefetch = pool_prefetch(g.planes * in_plane * int64_t(sizeof(T)));
#pragma omp parallel num_threads(nt)
  {
    SlicedPrefetch next;
    std::vector<T> hm(size_t(H * OW));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* xp = x + p * in_plane;
      T* yp = y + p * out_plane;
      if (prefetch)
        next.start(p + 1 < g.planes ? xp + in_plane : nullptr, in_plane * int64_t(sizeof(T)), OH);
      // Row maxima as the output rows need them, interleaved with the rows' folds (a first pass
      // over the whole plane left the DRAM idle during the second: slower at batch 8).
      int64_t done = 0;  // rows [0, done) have their maxima in hm
      auto row_pass = [&](int64_t ih) {
        const T* row = xp + ih * W;
        T* h = hm.data() + ih * OW;
        const int64_t n = cols.hi - cols.lo;
        if (n > 0) {
          const T* src = row + cols.lo * s + cols.koff[0];
          if (s == 1 && K == 2) row_maxima<T, 1, 2>(src, h + cols.lo, n);
          else if (s == 1) row_maxima<T, 1, 3>(src, h + cols.lo, n);
          else if constexpr (HasRowMaximaS2<Tile>::value) {
            if (K == 2) Tile::template row_maxima_s2<2>(src, h + cols.lo, n);
            else Tile::template row_maxima_s2<3>(src, h + cols.lo, n);
          } else if (K == 2) row_maxima<T, 2, 2>(src, h + cols.lo, n);
          else row_maxima<T, 2, 3>(src, h + cols.lo, n);
        }
        for (int64_t ow = 0; ow < OW; ++ow) {  // border columns: taps inside the row only
          if (ow == cols.lo) ow = std::max(cols.hi, cols.lo);
          if (ow >= OW) break;
          T a = -std::numeric_limits<T>::infinity();
          for (int64_t k = 0; k < K; ++k) {
            const int64_t iw = ow * s + cols.koff[size_t(k)];
            if (iw >= 0 && iw < W) a = max_step(a, row[iw]);
          }
          h[ow] = a;
        }
      };
      for (int64_t oh = 0; oh < OH; ++oh) {
        int64_t lo, hi;
        dilated_lo_hi(oh, 1, g, &lo, &hi);
        T* yr = yp + oh * OW;
        for (; done < hi; ++done) row_pass(done);
        if (lo >= hi) {
          std::fill(yr, yr + OW, -std::numeric_limits<T>::infinity());
          continue;
        }
        std::memcpy(yr, hm.data() + lo * OW, size_t(OW) * sizeof(T));
        for (int64_t ih = lo + 1; ih < hi; ++ih) {
          const T* __restrict h = hm.data() + ih * OW;
          for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = max_step(yr[ow], h[ow]);
        }
        if (prefetch) next.step();
      }
      if (prefetch) next.finish();
    }
  }
}

template <typename T, typename Tile = NoTile>
void max_pool_forward(const PoolGeometry& g, const T* x, T* y, int64_t* indices) {
  using I32 = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  if (!indices && max_separable_fits(g) && max_separable_enabled())
    return max_pool_forward_separable<T, Tile>(g, x, y);
  if (!indices) return max_pool_forward_rows<T, I32, false, Tile>(g, x, y, nullptr);
  if (indices_fit_int32(g)) return max_pool_forward_rows<T, I32, true, Tile>(g, x, y, indices);
  max_pool_forward_rows<T, int64_t, true>(g, x, y, indices);
}

// Per output column: the w extent of the window (clipped) and its padded size.
struct AvgColumns {
  std::vector<int64_t> n, padded;
  explicit AvgColumns(const PoolGeometry& g) : n(size_t(g.out_size[2])), padded(n.size()) {
    for (int64_t ow = 0; ow < g.out_size[2]; ++ow) {
      int64_t lo, hi, pd;
      avg_lo_hi(ow, 2, g, &lo, &hi, &pd);
      n[size_t(ow)] = hi - lo;
      padded[size_t(ow)] = pd;
    }
  }
  // torch's divisor of output column ow, given the d and h extents; 0 marks an empty window.
  int64_t divisor(int64_t ow, int64_t nd, int64_t nh, int64_t pdh, bool count_include_pad,
                  int64_t divisor_override) const {
    if (nd <= 0 || nh <= 0 || n[size_t(ow)] <= 0) return 0;
    if (divisor_override != 0) return divisor_override;
    if (count_include_pad) return pdh * padded[size_t(ow)];
    return nd * nh * n[size_t(ow)];
  }
};

template <typename T, int B, int S>
inline void avg_tile(const T* __restrict xp, const int64_t* rows, int64_t nrows,
                     const int64_t* koff, int64_t KW, int64_t s_rt, int64_t ow, T div,
                     T* __restrict y) {
  const int64_t s = S > 0 ? S : s_rt;
  T a[B];
  for (int j = 0; j < B; ++j) a[j] = T(0);
  for (int64_t r = 0; r < nrows; ++r)
    for (int64_t kw = 0; kw < KW; ++kw) {
      const T* src = xp + (rows[r] + ow * s + koff[kw]);
      for (int j = 0; j < B; ++j) a[j] += src[j * s];
    }
  for (int j = 0; j < B; ++j) y[ow + j] = a[j] / div;
}

template <typename T, int S>
void avg_row_tiles(const T* xp, const int64_t* rows, int64_t nrows, const Columns& cols,
                   int64_t KW, int64_t s, T div, T* y, int64_t* lo, int64_t* hi) {
  constexpr int kWide = 64 / int(sizeof(T)), kNarrow = kWide / 4;
  auto wide = [&](int64_t ow) {
    avg_tile<T, kWide, S>(xp, rows, nrows, cols.koff.data(), KW, s, ow, div, y);
  };
  auto narrow = [&](int64_t ow) {
    avg_tile<T, kNarrow, S>(xp, rows, nrows, cols.koff.data(), KW, s, ow, div, y);
  };
  if (for_each_tile<kWide>(cols.lo, cols.hi, wide) ||
      for_each_tile<kNarrow>(cols.lo, cols.hi, narrow)) {
    *lo = cols.lo;
    *hi = cols.hi;
  } else {
    *lo = *hi = 0;
  }
}

// floor(a / b) for b > 0.
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Output range [lo, hi) along dimension d whose windows hold input index i.
inline void covering_outputs(const PoolGeometry& g, int d, int64_t i, int64_t* lo, int64_t* hi) {
  *lo = std::max<int64_t>(floor_div(i + g.pad_before[d] - g.kernel[d], g.stride[d]) + 1, 0);
  *hi = std::min<int64_t>(floor_div(i + g.pad_before[d], g.stride[d]) + 1, g.out_size[d]);
}

// ------------------------------------------------------------------ separable average pooling

// Separable form of average pooling, forward: per plane, (1) the window sum along W of every
// input row at every output column, h[row][ow] = +0.0 + x[row][ow * s + koff[kw]] for kw
// ascending (taps outside the row skipped), into a per-thread buffer that stays in L1/L2; then
// (2) y = (+0.0 + h[first window row] + h[next] + ...) / divisor over the window's input rows
// (d, then h, ascending, clipped), the divisors precomputed once per call as a plane. A
// K x K window costs K + K adds per output instead of K * K. Both passes run as one loop over
// the whole plane where the geometry allows it (the per-row loop setup bounded the row-by-row
// kernels on 7- and 56-column rows): 'same' stride-1 layouts (OW == W; the columns the flat
// loop computes across a row's end are the border columns, recomputed per row) and
// kernel == stride layouts with no padding (VGG's 14 -> 7). The order is fixed by the geometry:
// not torch's row-major order, so the result differs from it by rounding only; every sum starts
// at +0.0, so it is never -0.0, as in torch. FASTCONV_POOL_NO_SEPARABLE (read per call; for A/B
// timings) selects the row kernels below instead.
inline bool separable_enabled() {
  return !env_switch("FASTCONV_POOL_NO_SEPARABLE").value_or(false);
}

inline bool avg_separable_fits(const PoolGeometry& g) {
  constexpr int64_t kMaxBuffer = int64_t(1) << 16;  // elements: h rows and the divisor plane
  return (g.stride[2] == 1 || g.stride[2] == 2) && g.out_plane() > 0 &&
         g.out_plane() <= kMaxBuffer && g.in_size[0] * g.in_size[1] * g.out_size[2] <= kMaxBuffer;
}

// The window sum along W of output column ow of one row (the border columns).
template <typename T>
inline T row_window_sum(const T* row, const int64_t* koff, int64_t nk, int64_t s, int64_t W,
                        int64_t ow) {
  T a = T(0);
  for (int64_t k = 0; k < nk; ++k) {
    const int64_t iw = ow * s + koff[k];
    if (iw >= 0 && iw < W) a += row[iw];
  }
  return a;
}

// Pass 1 over one plane: h[r * OW + ow] for the `rows` input rows. K > 0: the tap count at
// compile time (= KT).
template <typename T, int S, int K>
void avg_h_pass(const T* __restrict xp, int64_t rows, int64_t W, int64_t OW, const int64_t* koff,
                int64_t KT, const Columns& cols, T* __restrict h) {
  constexpr int64_t s = S;
  const int64_t nk = K > 0 ? K : KT;
  if constexpr (K > 0) {
    const bool same = S == 1 && OW == W && cols.hi > cols.lo;
    const bool tiled = S == K && koff[0] == 0 && W == OW * S;
    if (same || tiled) {
      const int64_t i0 = same ? cols.lo : 0, i1 = rows * OW - (same ? OW - cols.hi : 0);
      const T* src[K];
      for (int k = 0; k < K; ++k) src[k] = xp + koff[k];
      for (int64_t i = i0; i < i1; ++i) {
        T a = T(0);
        for (int k = 0; k < K; ++k) a += src[k][i * s];
        h[i] = a;
      }
      if (tiled) return;
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t ow = 0; ow < cols.lo; ++ow)
          h[r * OW + ow] = row_window_sum(xp + r * W, koff, nk, s, W, ow);
        for (int64_t ow = cols.hi; ow < OW; ++ow)
          h[r * OW + ow] = row_window_sum(xp + r * W, koff, nk, s, W, ow);
      }
      return;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = xp + r * W;
    T* __restrict hr = h + r * OW;
    for (int64_t ow = 0; ow < cols.lo; ++ow) hr[ow] = row_window_sum(row, koff, nk, s, W, ow);
    for (int64_t ow = cols.lo; ow < cols.hi; ++ow) hr[ow] = T(0);
    for (int64_t k = 0; k < nk; ++k) {
      const T* __restrict src = row + koff[k];
      for (int64_t ow = cols.lo; ow < cols.hi; ++ow) hr[ow] += src[ow * s];
    }
    for (int64_t ow = std::max(cols.hi, cols.lo); ow < OW; ++ow)
      hr[ow] = row_window_sum(row, koff, nk, s, W, ow);
  }
}

// Pass 2: y[j] = (+0.0 + sum over the R window rows of h[j + off[r]]) / div[j], j < n (div null:
// no division). (An empty window's sum is +0.0 and its div 1: y = +0.0, torch's value; no
// branch, so it vectorises.)
template <typename T, int R, bool kDivide>
inline void avg_v_sums(const T* h, const int64_t* off, const T* __restrict div, int64_t n,
                       T* __restrict y) {
  const T* src[R];
  for (int r = 0; r < R; ++r) src[r] = h + off[r];
  for (int64_t j = 0; j < n; ++j) {
    T a = T(0);
    for (int r = 0; r < R; ++r) a += src[r][j];
    y[j] = kDivide ? a / div[j] : a;
  }
}

template <typename T, bool kDivide>
inline void avg_v_pass_impl(const T* h, const int64_t* off, int64_t nrows, const T* div, int64_t n,
                            T* __restrict y) {
  switch (nrows) {
    case 1: return avg_v_sums<T, 1, kDivide>(h, off, div, n, y);
    case 2: return avg_v_sums<T, 2, kDivide>(h, off, div, n, y);
    case 3: return avg_v_sums<T, 3, kDivide>(h, off, div, n, y);
    case 4: return avg_v_sums<T, 4, kDivide>(h, off, div, n, y);
    default:
      for (int64_t j = 0; j < n; ++j) y[j] = T(0);
      for (int64_t r = 0; r < nrows; ++r) {
        const T* __restrict src = h + off[r];
        for (int64_t j = 0; j < n; ++j) y[j] += src[j];
      }
      if (kDivide)
        for (int64_t j = 0; j < n; ++j) y[j] /= div[j];
  }
}

template <typename T>
inline void avg_v_pass(const T* h, const int64_t* off, int64_t nrows, const T* div, int64_t n,
                       T* __restrict y) {
  if (div)
    avg_v_pass_impl<T, true>(h, off, nrows, div, n, y);
  else
    avg_v_pass_impl<T, false>(h, off, nrows, div, n, y);
}

// torch's divisor of every output of a plane, as T; 0 (an empty window, whose sum is +0.0 and
// which holds no input cell) as 1.
template <typename T>
std::vector<T> avg_divisor_plane(const PoolGeometry& g, bool count_include_pad,
                                 int64_t divisor_override) {
  const AvgColumns wcols(g);
  std::vector<T> div(static_cast<size_t>(g.out_plane()));
  for (int64_t od = 0, o = 0; od < g.out_size[0]; ++od) {
    int64_t d_lo, d_hi, d_pad;
    avg_lo_hi(od, 0, g, &d_lo, &d_hi, &d_pad);
    for (int64_t oh = 0; oh < g.out_size[1]; ++oh) {
      int64_t h_lo, h_hi, h_pad;
      avg_lo_hi(oh, 1, g, &h_lo, &h_hi, &h_pad);
      for (int64_t ow = 0; ow < g.out_size[2]; ++ow, ++o) {
        const int64_t dv = wcols.divisor(ow, d_hi - d_lo, h_hi - h_lo, d_pad * h_pad,
                                         count_include_pad, divisor_override);
        div[size_t(o)] = T(dv == 0 ? 1 : dv);
      }
    }
  }
  return div;
}

// dst[0, n) = src[0, n), with non-temporal stores where the ISA has them: a grad_input far
// larger than the caches is not read back soon, and streaming it skips the read-for-ownership
// of every line (see the measurements in benchmarks/results/pool_speed_cpu.md).
template <typename T>
void stream_row(T* dst, const T* src, int64_t n) {
#if defined(__SSE2__)
  constexpr int64_t kLanes = 16 / sizeof(T);
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 15) != 0; ++i) dst[i] = src[i];
  if constexpr (sizeof(T) == 4) {
    for (; i + kLanes <= n; i += kLanes)
      _mm_stream_ps(reinterpret_cast<float*>(dst + i), _mm_loadu_ps(reinterpret_cast<const float*>(src + i)));
  } else {
    for (; i + kLanes <= n; i += kLanes)
      _mm_stream_pd(reinterpret_cast<double*>(dst + i), _mm_loadu_pd(reinterpret_cast<const double*>(src + i)));
  }
  for (; i < n; ++i) dst[i] = src[i];
#else
  std::memcpy(dst, src, size_t(n) * sizeof(T));
#endif
}

// Orders the streaming stores of stream_row (and of the ISA kernels' streamed rows) before
// what follows (another thread's reads, or plain stores to the same lines).
inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// Separable average pooling forward outputs over 8 MiB leave through stream_row (each plane
// computed into an L1 / L2 buffer first): an output as large as the input otherwise pays a
// read-for-ownership of every line. Inception's 3x3/1 on 8x256x56x56 (25.7 MB out), median of
// 11 interleaved calls, load 5: 1 thread CPU 6.49 / 6.79 ms -> 5.83 / 5.99, 2 threads (CPU time
// of both) 6.78 / 6.48 -> 6.00 / 5.84. Not streamed (measured slower or no faster): the avg
// backward (gx as large: 5.97 / 6.11 -> 6.41 / 5.89 ms, 1 thread) and the separable max forward
// (3x3/2 b8, 6.4 MB out, stays in the L3 with plain stores: 2.83 -> 3.42 ms, 1 and 2 threads).
// FASTCONV_POOL_STREAM=0/1 forces it (A/B).
inline bool avg_stream_output(int64_t bytes) {
  return env_switch("FASTCONV_POOL_STREAM").value_or(bytes > (int64_t(8) << 20));
}

template <typename T, int S, int K>
void avg_pool_forward_separable(const PoolGeometry& g, bool count_include_pad,
                                int64_t divisor_override, const T* x, T* y) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t KH = g.kernel[1], ph = g.pad_before[1];
  const Columns cols(g, 1);
  const std::vector<T> div = avg_divisor_plane<T>(g, count_include_pad, divisor_override);
  // 'same' along H (2-D, stride 1, OH == H): the output rows whose KH taps all lie inside,
  // [oh_a, oh_b), in one loop; the others row by row.
  const bool vflat = D == 1 && OD == 1 && g.stride[1] == 1 && OH == H;
  const int64_t oh_a = vflat ? std::min(ph, OH) : 0;
  const int64_t oh_b = vflat ? std::max(oh_a, std::min(OH, H - KH + 1 + ph)) : 0;
  // Windows that tile a 2-D plane exactly (kernel == stride == K along H and W, no padding:
  // VGG's adaptive 14 -> 7) with one divisor: output row oh sums h rows K oh .. K oh + K - 1,
  // in a fixed-size loop (the general loop's per-row window setup was most of a 7-wide row).
  const bool tiles = K > 0 && S == K && D == 1 && OD == 1 && g.kernel[1] == K &&
                     g.stride[1] == K && ph == 0 && g.pad_before[2] == 0 && H == OH * K &&
                     W == OW * K &&
                     std::all_of(div.begin(), div.end(), [&](T v) { return v == div[0]; });
  const int nt = threads_for(g.planes, g.planes * (out_plane * g.kernel_volume() + in_plane));
  const bool stream = avg_stream_output(g.planes * out_plane * int64_t(sizeof(T)));
  const bool prefetch = pool_prefetch(g.planes * in_plane * int64_t(sizeof(T)));
#pragma omp parallel num_threads(nt)
  {
    SlicedPrefetch next;
    std::vector<T> hbuf(static_cast<size_t>(D * H * OW));
    std::vector<T> staged(static_cast<size_t>(stream ? out_plane : 0));
    std::vector<int64_t> off(static_cast<size_t>(g.kernel[0] * g.kernel[1]));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* xp = x + p * in_plane;
      T* yp = stream ? staged.data() : y + p * out_plane;
      if (prefetch)
        next.start(p + 1 < g.planes ? xp + in_plane : nullptr, in_plane * int64_t(sizeof(T)),
                   oh_b > oh_a ? kPrefetchSteps : OD * OH);
      avg_h_pass<T, S, K>(xp, D * H, W, OW, cols.koff.data(), g.kernel[2], cols, hbuf.data());
      if (tiles) {  // the same sums as avg_v_sums: from +0.0, the window's rows in order
        const T d = div[0];
        for (int64_t oh = 0; oh < OH; ++oh) {
          const T* __restrict h = hbuf.data() + oh * K * OW;
          T* __restrict yr = yp + oh * OW;
          for (int64_t ow = 0; ow < OW; ++ow) {
            T a = T(0);
            for (int kh = 0; kh < K; ++kh) a += h[kh * OW + ow];
            yr[ow] = a / d;
          }
          if (prefetch) next.step();
        }
      } else {
        if (oh_b > oh_a) {
          // in slices, each followed by a slice of the prefetch
          for (int64_t kh = 0; kh < KH; ++kh) off[size_t(kh)] = (oh_a + kh - ph) * OW;
          const int64_t n = (oh_b - oh_a) * OW, slice = (n + kPrefetchSteps - 1) / kPrefetchSteps;
          for (int64_t j = 0; j < n; j += slice) {
            avg_v_pass(hbuf.data() + j, off.data(), KH, div.data() + oh_a * OW + j,
                       std::min(slice, n - j), yp + oh_a * OW + j);
            if (prefetch) next.step();
          }
        }
        for (int64_t od = 0; od < OD; ++od) {
          int64_t d_lo, d_hi, d_pad;
          avg_lo_hi(od, 0, g, &d_lo, &d_hi, &d_pad);
          for (int64_t oh = 0; oh < OH; ++oh) {
            if (oh == oh_a && oh_b > oh_a) {
              oh = oh_b - 1;
              continue;
            }
            int64_t h_lo, h_hi, h_pad;
            avg_lo_hi(oh, 1, g, &h_lo, &h_hi, &h_pad);
            int64_t nrows = 0;
            for (int64_t id = d_lo; id < d_hi; ++id)
              for (int64_t ih = h_lo; ih < h_hi; ++ih) off[size_t(nrows++)] = (id * H + ih) * OW;
            const int64_t o = (od * OH + oh) * OW;
            avg_v_pass(hbuf.data(), off.data(), nrows, div.data() + o, OW, yp + o);
            if (prefetch) next.step();
          }
        }
      }
      if (prefetch) next.finish();
      if (stream) stream_row(y + p * out_plane, yp, out_plane);
    }
    if (stream) stream_fence();
  }
}

template <typename T>
void avg_pool_forward_separable(const PoolGeometry& g, bool count_include_pad,
                                int64_t divisor_override, const T* x, T* y) {
  const bool s1 = g.stride[2] == 1;
  switch (g.kernel[2]) {
    case 2:
      return s1 ? avg_pool_forward_separable<T, 1, 2>(g, count_include_pad, divisor_override, x, y)
                : avg_pool_forward_separable<T, 2, 2>(g, count_include_pad, divisor_override, x, y);
    case 3:
      return s1 ? avg_pool_forward_separable<T, 1, 3>(g, count_include_pad, divisor_override, x, y)
                : avg_pool_forward_separable<T, 2, 3>(g, count_include_pad, divisor_override, x, y);
    default:
      return s1 ? avg_pool_forward_separable<T, 1, 0>(g, count_include_pad, divisor_override, x, y)
                : avg_pool_forward_separable<T, 2, 0>(g, count_include_pad, divisor_override, x, y);
  }
}

// Gradient of average pooling whose windows do not overlap (stride >= kernel in every
// dimension: VGG's adaptive 14 -> 7, DenseNet's 2x2/2): each input cell lies in at most one
// window, so gx[i] = +0.0 + delta[src[i]], delta = gy / divisor, src[i] the cell's window (a
// zero slot where none), one loop over the whole plane (a gather; the row-by-row forms spent
// their time in per-row loop setup on 14-column rows). Only for output rows narrower than 16
// columns: measured 1 thread, float, 8x512x14x14 -> 7x7 0.25 ms (the separable form 0.63 ms),
// but 8x256x56x56 -> 28x28 2.5 ms (separable 1.9 ms: its row loops vectorise there).
inline bool avg_grad_disjoint_fits(const PoolGeometry& g) {
  if (g.out_size[2] >= 16) return false;
  for (int d = 0; d < 3; ++d)
    if (g.stride[d] < g.kernel[d]) return false;
  return g.out_plane() > 0 && g.out_plane() < (int64_t(1) << 30) &&
         g.in_plane() <= (int64_t(1) << 18);
}

template <typename T>
void avg_pool_backward_disjoint(const PoolGeometry& g, bool count_include_pad,
                                int64_t divisor_override, const T* gy, T* gx) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t OH = g.out_size[1], OW = g.out_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const std::vector<T> div = avg_divisor_plane<T>(g, count_include_pad, divisor_override);
  std::vector<int32_t> wsrc(static_cast<size_t>(W)), src(static_cast<size_t>(in_plane));
  for (int64_t iw = 0; iw < W; ++iw) {
    int64_t a, b;
    covering_outputs(g, 2, iw, &a, &b);
    wsrc[size_t(iw)] = b > a ? int32_t(a) : -1;
  }
  for (int64_t id = 0, i = 0; id < D; ++id) {
    int64_t od0, od1;
    covering_outputs(g, 0, id, &od0, &od1);
    for (int64_t ih = 0; ih < H; ++ih) {
      int64_t oh0, oh1;
      covering_outputs(g, 1, ih, &oh0, &oh1);
      const bool row = od1 > od0 && oh1 > oh0;
      for (int64_t iw = 0; iw < W; ++iw, ++i)
        src[size_t(i)] = row && wsrc[size_t(iw)] >= 0
                             ? int32_t((od0 * OH + oh0) * OW + wsrc[size_t(iw)])
                             : int32_t(out_plane);  // the zero slot
    }
  }
  const int nt = threads_for(g.planes, g.planes * (out_plane + in_plane));
#pragma omp parallel num_threads(nt)
  {
    std::vector<T> delta(static_cast<size_t>(out_plane + 1), T(0));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* __restrict gyp = gy + p * out_plane;
      T* __restrict d = delta.data();
      const T* __restrict dv = div.data();
      for (int64_t o = 0; o < out_plane; ++o) d[o] = gyp[o] / dv[o];
      T* __restrict gxp = gx + p * in_plane;
      const int32_t* __restrict s = src.data();
      for (int64_t i = 0; i < in_plane; ++i) gxp[i] = T(0) + d[s[i]];
    }
  }
}

// Separable form of the average pooling gradient, where along W the stride is 1 or the windows
// tile the row (kernel == stride, no padding): per plane, delta = gy / divisor; (1) along W,
// c[output row][iw] = +0.0 + the deltas of the output columns whose windows hold iw, ow ascending
// (stride 1: pass 1 of the forward over the delta rows with the taps mirrored; tiling: the one
// window's delta, 0 where none); (2) gx[input row] = +0.0 + the c rows of the output rows whose
// windows hold it, (od, oh) ascending. Every gx cell is written once (no zero fill, no
// read-modify-write passes); fixed order, as the forward's.
inline bool avg_grad_separable_fits(const PoolGeometry& g) {
  constexpr int64_t kMaxBuffer = int64_t(1) << 16;
  const bool tiles = g.stride[2] == g.kernel[2] && g.pad_before[2] == 0;
  return (g.stride[2] == 1 || tiles) && g.out_plane() > 0 && g.out_plane() <= kMaxBuffer &&
         g.out_size[0] * g.out_size[1] * g.in_size[2] <= kMaxBuffer;
}

template <typename T, int K>
void avg_pool_backward_separable(const PoolGeometry& g, bool count_include_pad,
                                 int64_t divisor_override, const T* gy, T* gx) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t KH = g.kernel[1], KW = g.kernel[2], ph = g.pad_before[1];
  const bool unit = g.stride[2] == 1;
  // stride 1: output column ow = iw + koff[t] holds input column iw (t ascending: ow ascending),
  // i.e. pass 1 of a pooling from OW columns to W with padding KW - 1 - pad
  PoolGeometry mirrored = g;
  mirrored.in_size[2] = OW;
  mirrored.out_size[2] = W;
  mirrored.pad_before[2] = KW - 1 - g.pad_before[2];
  const Columns cols(mirrored, 1);
  const std::vector<T> div = avg_divisor_plane<T>(g, count_include_pad, divisor_override);
  // 'same' along H (2-D, stride 1, OH == H): the input rows held by KH output rows, [ih_a, ih_b),
  // in one loop
  const bool vflat = D == 1 && OD == 1 && g.stride[1] == 1 && OH == H;
  const int64_t ih_a = vflat ? std::min(std::max<int64_t>(KH - 1 - ph, 0), H) : 0;
  const int64_t ih_b = vflat ? std::max(ih_a, std::min(H, OH - ph)) : 0;
  const int nt = threads_for(g.planes, g.planes * (out_plane * g.kernel_volume() + in_plane));
  const bool prefetch = pool_prefetch(g.planes * out_plane * int64_t(sizeof(T)));
  // gx over 8 MiB leaves through a per-plane buffer and non-temporal stores where the windows
  // overlap along W (stride 1): inception's 3x3/1 b8 backward 1.19-1.25x over three A/B runs
  // (benchmarks/results/pool_prefetch_cpu.md); DenseNet's 2x2/2 lost 2-8% (its planes are
  // quick to compute, and the extra copy shows). FASTCONV_POOL_STREAM_GRAD=0/1 forces it.
  const bool stream = env_switch("FASTCONV_POOL_STREAM_GRAD")
                          .value_or(unit && g.planes * in_plane * int64_t(sizeof(T)) >
                                                (int64_t(8) << 20));
#pragma omp parallel num_threads(nt)
  {
    SlicedPrefetch next;
    std::vector<T> delta(static_cast<size_t>(out_plane)), cbuf(static_cast<size_t>(OD * OH * W));
    std::vector<T> staged(static_cast<size_t>(stream ? in_plane : 0));
    std::vector<int64_t> off(static_cast<size_t>(g.kernel[0] * g.kernel[1]));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* __restrict gyp = gy + p * out_plane;
      T* gxp = stream ? staged.data() : gx + p * in_plane;
      if (prefetch)
        next.start(p + 1 < g.planes ? gyp + out_plane : nullptr, out_plane * int64_t(sizeof(T)),
                   ih_b > ih_a ? kPrefetchSteps : D * H);
      {
        T* __restrict d = delta.data();
        const T* __restrict dv = div.data();
        for (int64_t o = 0; o < out_plane; ++o) d[o] = gyp[o] / dv[o];
      }
      if (unit) {
        avg_h_pass<T, 1, K>(delta.data(), OD * OH, OW, W, cols.koff.data(), KW, cols,
                            cbuf.data());
      } else {  // the windows tile the row: cell iw < OW * KW is in window iw / KW
        const int64_t nk = K > 0 ? K : KW, covered = std::min(W, OW * nk);
        for (int64_t r = 0; r < OD * OH; ++r) {
          const T* __restrict d = delta.data() + r * OW;
          T* __restrict c = cbuf.data() + r * W;
          for (int64_t ow = 0; ow < covered / nk; ++ow)
            for (int64_t k = 0; k < nk; ++k) c[ow * nk + k] = d[ow];
          for (int64_t iw = (covered / nk) * nk; iw < covered; ++iw) c[iw] = d[iw / nk];
          for (int64_t iw = covered; iw < W; ++iw) c[iw] = T(0);
        }
      }
      if (ih_b > ih_a) {
        // in slices, each followed by a slice of the prefetch
        for (int64_t t = 0; t < KH; ++t) off[size_t(t)] = (ih_a + t + ph - KH + 1) * W;
        const int64_t n = (ih_b - ih_a) * W, slice = (n + kPrefetchSteps - 1) / kPrefetchSteps;
        for (int64_t j = 0; j < n; j += slice) {
          avg_v_pass<T>(cbuf.data() + j, off.data(), KH, nullptr, std::min(slice, n - j),
                        gxp + ih_a * W + j);
          if (prefetch) next.step();
        }
      }
      for (int64_t id = 0; id < D; ++id) {
        int64_t od0, od1;
        covering_outputs(g, 0, id, &od0, &od1);
        for (int64_t ih = 0; ih < H; ++ih) {
          if (ih == ih_a && ih_b > ih_a) {
            ih = ih_b - 1;
            continue;
          }
          int64_t oh0, oh1;
          covering_outputs(g, 1, ih, &oh0, &oh1);
          int64_t nrows = 0;
          for (int64_t od = od0; od < od1; ++od)
            for (int64_t oh = oh0; oh < oh1; ++oh) off[size_t(nrows++)] = (od * OH + oh) * W;
          avg_v_pass<T>(cbuf.data(), off.data(), nrows, nullptr, W, gxp + (id * H + ih) * W);
          if (prefetch) next.step();
        }
      }
      if (prefetch) next.finish();
      if (stream) stream_row(gx + p * in_plane, gxp, in_plane);
    }
    if (stream) stream_fence();
  }
}

template <typename T>
void avg_pool_backward_separable(const PoolGeometry& g, bool count_include_pad,
                                 int64_t divisor_override, const T* gy, T* gx) {
  switch (g.kernel[2]) {
    case 2: return avg_pool_backward_separable<T, 2>(g, count_include_pad, divisor_override, gy, gx);
    case 3: return avg_pool_backward_separable<T, 3>(g, count_include_pad, divisor_override, gy, gx);
    default: return avg_pool_backward_separable<T, 0>(g, count_include_pad, divisor_override, gy, gx);
  }
}

// Average pooling: interior columns in tiles (all taps inside the row: the divisor is the same
// for all of them), border columns one at a time; both sum each window in the scalar order
// (rows, then kw), from +0.0, and divide once: the scalar definition's bits. RowTile: an ISA's
// whole-row kernel (see F32WindowRows16 in pool_avx512.cc: borders by masked loads, a divisor
// per column, the same bits) for stride 1 and 2, or NoTile. Per-row overhead is what bounds the
// tiles-plus-scalar-borders form on narrow rows (56 columns: 9 taps per border column, one
// column at a time, and a division each).
template <typename T, typename RowTile = NoTile>
void avg_pool_forward(const PoolGeometry& g, bool count_include_pad, int64_t divisor_override,
                      const T* x, T* y) {
  if (avg_separable_fits(g) && separable_enabled())
    return avg_pool_forward_separable<T>(g, count_include_pad, divisor_override, x, y);
  const int64_t H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t s = g.stride[2], KW = g.kernel[2];
  const AvgColumns wcols(g);
  const Columns cols(g, 1);
  const int nt = threads_for(g.planes, g.planes * out_plane * g.kernel_volume());
  const bool row_tiles = RowTile::kCols > 0 && (s == 1 || s == 2);
  const std::vector<uint32_t> masks =
      row_tiles ? window_row_masks(OW, s, cols.koff.data(), KW, W) : std::vector<uint32_t>();
#pragma omp parallel num_threads(nt)
  {
    std::vector<int64_t> rows(size_t(g.kernel[0] * g.kernel[1]));
    // RowTile: the row's divisors (recomputed where the d / h extents change), 0 = empty window
    std::vector<T> divs(row_tiles ? size_t(OW) : 0);
    int64_t divs_key[3] = {-1, -1, -1};
    bool divs_empty = false;
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* xp = x + p * in_plane;
      T* yp = y + p * out_plane;
      for (int64_t od = 0; od < OD; ++od) {
        int64_t d_lo, d_hi, d_pad;
        avg_lo_hi(od, 0, g, &d_lo, &d_hi, &d_pad);
        for (int64_t oh = 0; oh < OH; ++oh, yp += OW) {
          int64_t h_lo, h_hi, h_pad;
          avg_lo_hi(oh, 1, g, &h_lo, &h_hi, &h_pad);
          int64_t nrows = 0;
          for (int64_t id = d_lo; id < d_hi; ++id)
            for (int64_t ih = h_lo; ih < h_hi; ++ih) rows[size_t(nrows++)] = (id * H + ih) * W;
          if constexpr (RowTile::kCols > 0) {
            if (row_tiles && nrows > 0) {
              const int64_t key[3] = {d_hi - d_lo, h_hi - h_lo, d_pad * h_pad};
              if (!std::equal(key, key + 3, divs_key)) {
                std::copy(key, key + 3, divs_key);
                divs_empty = false;
                for (int64_t ow = 0; ow < OW; ++ow) {
                  const int64_t div = wcols.divisor(ow, key[0], key[1], key[2], count_include_pad,
                                                    divisor_override);
                  divs[size_t(ow)] = T(div);
                  divs_empty |= div == 0;
                }
              }
              if (!divs_empty) {
                for (int64_t ow = 0; ow < OW; ow += RowTile::kBlock)
                  RowTile::run(xp, rows.data(), nrows, cols.koff.data(), KW, s, ow,
                               std::min<int64_t>(RowTile::kBlock, OW - ow),
                               masks.data() + (ow / 16) * KW, divs.data(), yp);
                continue;
              }
            }
          }
          int64_t lo = 0, hi = 0;
          if (nrows > 0 && cols.hi > cols.lo) {
            const int64_t div = wcols.divisor(cols.lo, d_hi - d_lo, h_hi - h_lo, d_pad * h_pad,
                                              count_include_pad, divisor_override);
            if (s == 1)
              avg_row_tiles<T, 1>(xp, rows.data(), nrows, cols, KW, s, T(div), yp, &lo, &hi);
            else if (s == 2)
              avg_row_tiles<T, 2>(xp, rows.data(), nrows, cols, KW, s, T(div), yp, &lo, &hi);
            else
              avg_row_tiles<T, 0>(xp, rows.data(), nrows, cols, KW, s, T(div), yp, &lo, &hi);
          }
          for (int64_t ow = 0; ow < OW; ++ow) {
            if (ow == lo && hi > lo) {
              ow = hi - 1;
              continue;
            }
            const int64_t div = wcols.divisor(ow, d_hi - d_lo, h_hi - h_lo, d_pad * h_pad,
                                              count_include_pad, divisor_override);
            T sum = T(0);
            for (int64_t r = 0; r < nrows; ++r)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t iw = ow * s + cols.koff[size_t(kw)];
                if (iw >= 0 && iw < W) sum += xp[rows[size_t(r)] + iw];
              }
            yp[ow] = div == 0 ? T(0) : sum / T(div);  // torch: empty window -> 0
          }
        }
      }
    }
  }
}

template <typename T, int B, int S>
inline void avg_grad_tile(T* __restrict gxp, const int64_t* rows, int64_t nrows,
                          const int64_t* koff, int64_t KW, int64_t s_rt, int64_t ow,
                          const T* __restrict delta) {
  const int64_t s = S > 0 ? S : s_rt;
  T d[B];
  for (int j = 0; j < B; ++j) d[j] = delta[ow + j];
  // kw outer, rows inner (consecutive read-modify-writes in different rows); per cell the terms
  // still come in kw order, since a cell lies in one row.
  for (int64_t kw = 0; kw < KW; ++kw)
    for (int64_t r = 0; r < nrows; ++r) {
      T* dst = gxp + (rows[r] + ow * s + koff[kw]);
      for (int j = 0; j < B; ++j) dst[j * s] += d[j];
    }
}

// Interior columns from cols.lo in whole tiles; returns the first column not done. GradTile:
// an ISA's register tile of kWide columns for stride 1 and 2 (the same additions in the same
// order as avg_grad_tile), or NoTile.
template <typename T, int S, typename GradTile = NoTile>
int64_t avg_grad_tiles(T* gxp, const int64_t* rows, int64_t nrows, const Columns& cols,
                       int64_t KW, int64_t s, const T* delta) {
  constexpr int kWide = 64 / int(sizeof(T)), kNarrow = kWide / 4;
  int64_t ow = cols.lo;
  if constexpr (GradTile::kCols == kWide && (S == 1 || S == 2)) {
    for (; ow + kWide <= cols.hi; ow += kWide)
      GradTile::run(gxp, rows, nrows, cols.koff.data(), KW, S, ow, delta);
  }
  for (; ow + kWide <= cols.hi; ow += kWide)
    avg_grad_tile<T, kWide, S>(gxp, rows, nrows, cols.koff.data(), KW, s, ow, delta);
  for (; ow + kNarrow <= cols.hi; ow += kNarrow)
    avg_grad_tile<T, kNarrow, S>(gxp, rows, nrows, cols.koff.data(), KW, s, ow, delta);
  return ow;
}

// Whether avg_pool_backward_gather serves this geometry with RowTile: along W stride 1, or
// kernel 2 with stride 2 (non-overlapping pairs); a delta plane that fits a per-thread buffer.
template <typename RowTile>
bool avg_gather_fits(const PoolGeometry& g) {
  return RowTile::kCols > 0 && (g.stride[2] == 1 || (g.stride[2] == 2 && g.kernel[2] == 2)) &&
         g.out_plane() <= (int64_t(1) << 20);
}

// Gradient of average pooling in gather form: per plane, the deltas gy / divisor (torch's
// divisor of each output) into a buffer, then every gx cell written once:
// gx[id][ih][iw] = +0.0 + the deltas of the outputs whose windows hold it, in the order (od, oh,
// ow) ascending; whole rows of gx by RowTile (masked loads along W). One pass over gx instead of
// zero-filling it and adding each output's delta into its window (3 passes over gx).
template <typename T, typename RowTile>
void avg_pool_backward_gather(const PoolGeometry& g, bool count_include_pad,
                              int64_t divisor_override, const T* gy, T* gx) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t s = g.stride[2], KW = g.kernel[2], pw = g.pad_before[2];
  const AvgColumns wcols(g);
  // s == 1: output ow = iw + koff[t] (t ascending: ow ascending) holds input column iw
  std::vector<int64_t> koff(static_cast<size_t>(KW));
  for (int64_t t = 0; t < KW; ++t) koff[size_t(t)] = pw - KW + 1 + t;
  const std::vector<uint32_t> masks = window_row_masks(W, 1, koff.data(), KW, OW);
  const int nt = threads_for(g.planes, g.planes * (out_plane * g.kernel_volume() + in_plane));
#pragma omp parallel num_threads(nt)
  {
    std::vector<T> delta(static_cast<size_t>(out_plane)), divs(static_cast<size_t>(OW));
    std::vector<int64_t> rows(size_t(g.kernel[0] * g.kernel[1]));
    int64_t divs_key[3] = {-1, -1, -1};
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* gyp = gy + p * out_plane;
      T* gxp = gx + p * in_plane;
      for (int64_t od = 0; od < OD; ++od) {
        int64_t d_lo, d_hi, d_pad;
        avg_lo_hi(od, 0, g, &d_lo, &d_hi, &d_pad);
        for (int64_t oh = 0; oh < OH; ++oh) {
          int64_t h_lo, h_hi, h_pad;
          avg_lo_hi(oh, 1, g, &h_lo, &h_hi, &h_pad);
          const int64_t key[3] = {d_hi - d_lo, h_hi - h_lo, d_pad * h_pad};
          if (!std::equal(key, key + 3, divs_key)) {
            std::copy(key, key + 3, divs_key);
            for (int64_t ow = 0; ow < OW; ++ow)
              divs[size_t(ow)] = T(wcols.divisor(ow, key[0], key[1], key[2], count_include_pad,
                                                 divisor_override));
          }
          const int64_t o = (od * OH + oh) * OW;
          const T* __restrict src = gyp + o;
          const T* __restrict dv = divs.data();
          T* __restrict dst = delta.data() + o;
          for (int64_t ow = 0; ow < OW; ++ow)  // empty window (divisor 0): 0, as the scatter
            dst[ow] = dv[ow] == T(0) ? T(0) : src[ow] / dv[ow];
        }
      }
      for (int64_t id = 0; id < D; ++id) {
        int64_t od0, od1;
        covering_outputs(g, 0, id, &od0, &od1);
        for (int64_t ih = 0; ih < H; ++ih) {
          int64_t oh0, oh1;
          covering_outputs(g, 1, ih, &oh0, &oh1);
          int64_t nrows = 0;
          for (int64_t od = od0; od < od1; ++od)
            for (int64_t oh = oh0; oh < oh1; ++oh) rows[size_t(nrows++)] = (od * OH + oh) * OW;
          T* gxr = gxp + (id * H + ih) * W;
          if (s == 1) {
            for (int64_t iw = 0; iw < W; iw += RowTile::kBlock)
              RowTile::run(delta.data(), rows.data(), nrows, koff.data(), KW, 1, iw,
                           std::min<int64_t>(RowTile::kBlock, W - iw),
                           masks.data() + (iw / 16) * KW, nullptr, gxr);
          } else {
            for (int64_t iw = 0; iw < W; iw += RowTile::kCols)
              RowTile::run_pairs(delta.data(), rows.data(), nrows, pw, OW, iw,
                                 std::min<int64_t>(RowTile::kCols, W - iw), gxr);
          }
        }
      }
    }
  }
}

// Gradient of average pooling: gx = 0, then per output row (od, oh) in order: interior columns
// in tiles (ascending; per tile, kw, then window rows, then the tile's columns:
// gx[row][ow * s + kw - pad] += gy[o] / divisor), then the border and leftover columns one at a
// time. Every gx element receives its terms in one fixed order, so the result is deterministic
// and independent of the thread count (it differs from the output-by-output scalar order by
// rounding only). Where RowTile serves the geometry (avg_gather_fits), the gather form above.
template <typename T, typename GradTile = NoTile, typename RowTile = NoTile>
void avg_pool_backward(const PoolGeometry& g, bool count_include_pad, int64_t divisor_override,
                       const T* gy, T* gx) {
  if (avg_grad_disjoint_fits(g) && separable_enabled())
    return avg_pool_backward_disjoint<T>(g, count_include_pad, divisor_override, gy, gx);
  if (avg_grad_separable_fits(g) && separable_enabled())
    return avg_pool_backward_separable<T>(g, count_include_pad, divisor_override, gy, gx);
  if constexpr (RowTile::kCols > 0) {
    if (avg_gather_fits<RowTile>(g))
      return avg_pool_backward_gather<T, RowTile>(g, count_include_pad, divisor_override, gy, gx);
  }
  const int64_t H = g.in_size[1], W = g.in_size[2];
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t s = g.stride[2], KW = g.kernel[2];
  const AvgColumns wcols(g);
  const Columns cols(g, 1);
  const int nt = threads_for(g.planes, g.planes * (out_plane * g.kernel_volume() + in_plane));
#pragma omp parallel num_threads(nt)
  {
    std::vector<T> delta(size_t(std::max<int64_t>(OW, 1)));
    std::vector<int64_t> rows(size_t(g.kernel[0] * g.kernel[1]));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* gyp = gy + p * out_plane;
      T* gxp = gx + p * in_plane;
      std::fill(gxp, gxp + in_plane, T(0));
      for (int64_t od = 0; od < OD; ++od) {
        int64_t d_lo, d_hi, d_pad;
        avg_lo_hi(od, 0, g, &d_lo, &d_hi, &d_pad);
        for (int64_t oh = 0; oh < OH; ++oh, gyp += OW) {
          int64_t h_lo, h_hi, h_pad;
          avg_lo_hi(oh, 1, g, &h_lo, &h_hi, &h_pad);
          auto delta_of = [&](int64_t ow) {
            const int64_t div = wcols.divisor(ow, d_hi - d_lo, h_hi - h_lo, d_pad * h_pad,
                                              count_include_pad, divisor_override);
            delta[size_t(ow)] = div == 0 ? T(0) : gyp[ow] / T(div);
          };
          for (int64_t ow = 0; ow < cols.lo; ++ow) delta_of(ow);
          for (int64_t ow = cols.hi; ow < OW; ++ow) delta_of(ow);
          if (cols.hi > cols.lo) {  // interior: one divisor for all (a vectorised division)
            const int64_t div = wcols.divisor(cols.lo, d_hi - d_lo, h_hi - h_lo, d_pad * h_pad,
                                              count_include_pad, divisor_override);
            if (div == 0) {
              std::fill(delta.begin() + cols.lo, delta.begin() + cols.hi, T(0));
            } else {
              const T dv = T(div);
              const T* __restrict src = gyp;
              T* __restrict dst = delta.data();
              for (int64_t ow = cols.lo; ow < cols.hi; ++ow) dst[ow] = src[ow] / dv;
            }
          }
          int64_t nrows = 0;
          for (int64_t id = d_lo; id < d_hi; ++id)
            for (int64_t ih = h_lo; ih < h_hi; ++ih) rows[size_t(nrows++)] = (id * H + ih) * W;
          if (nrows == 0) continue;
          // interior columns in non-overlapping tiles of 16 / 4 floats (8 / 2 doubles)
          int64_t ow = cols.lo;
          if (s == 1)
            ow = avg_grad_tiles<T, 1, GradTile>(gxp, rows.data(), nrows, cols, KW, s, delta.data());
          else if (s == 2)
            ow = avg_grad_tiles<T, 2, GradTile>(gxp, rows.data(), nrows, cols, KW, s, delta.data());
          else
            ow = avg_grad_tiles<T, 0>(gxp, rows.data(), nrows, cols, KW, s, delta.data());
          // the rest (borders, leftovers) one column at a time, taps in window order
          auto column = [&](int64_t c) {
            const T dv = delta[size_t(c)];
            for (int64_t r = 0; r < nrows; ++r)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t iw = c * s + cols.koff[size_t(kw)];
                if (iw >= 0 && iw < W) gxp[rows[size_t(r)] + iw] += dv;
              }
          };
          for (int64_t c = 0; c < cols.lo; ++c) column(c);
          for (int64_t c = ow; c < OW; ++c) column(c);
        }
      }
    }
  }
}

// ------------------------------------------------- max pooling backward, gather form

// One plane of the gather form: each input row, zeroed in an L1 buffer, receives 0 + gy[o] at
// idx[o] for the outputs o of the covering output row whose index lies in that row and in o's
// columns; the row then goes to gx. Returns false where some index of the plane lay outside its
// window (each output's index matches at most once, so a count below out_plane says so): the
// caller then redoes the plane in scatter form.
template <typename T>
bool max_grad_plane(const PoolGeometry& g, const int64_t* od_of, const int64_t* oh_of,
                    const int64_t* ow_of, const T* gyp, const int64_t* ip, T* gxp, T* buf,
                    bool stream) {
  const int64_t H = g.in_size[1], W = g.in_size[2];
  const int64_t OH = g.out_size[1], OW = g.out_size[2];
  const bool pairs = g.kernel[2] == 2 && g.stride[2] == 2 && g.dilation[2] == 1 &&
                     g.pad_before[2] == 0 && 2 * OW <= W;
  int64_t matched = 0;
  for (int64_t id = 0; id < g.in_size[0]; ++id)
    for (int64_t ih = 0; ih < H; ++ih) {
      const int64_t row = (id * H + ih) * W;
      const int64_t od = od_of[id], oh = oh_of[ih];
      if (od < 0 || oh < 0) {
        std::fill(buf, buf + W, T(0));
      } else if (pairs) {
        // 2 wide, stride 2, no padding along W (VGG's 2x2/2): cells 2 ow and 2 ow + 1 come from
        // output ow alone; no table, no fill, a loop that vectorises
        const int64_t orow = (od * OH + oh) * OW;
        const int64_t* irow = ip + orow;
        const T* grow = gyp + orow;
        int64_t hits = 0;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t j = irow[ow] - row - 2 * ow;
          const T v = T(0) + grow[ow];  // the scatter's 0 + gy: -0.0 gives +0.0
          buf[2 * ow] = j == 0 ? v : T(0);
          buf[2 * ow + 1] = j == 1 ? v : T(0);
          hits += int64_t(j == 0) + int64_t(j == 1);
        }
        for (int64_t c = 2 * OW; c < W; ++c) buf[c] = T(0);
        matched += hits;
      } else {
        std::fill(buf, buf + W, T(0));
        const int64_t orow = (od * OH + oh) * OW;
        // Branch-free: half the checks hit, at random (a branch mispredicted half the time made
        // this 4x slower than the scatter). A miss writes the spare cell buf[W], and
        // ow_of[W] = -2 matches no output. (Masks, not ?:, which GCC turned into a branch.)
        int64_t hits = 0;
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t j = ip[orow + ow] - row;
          int64_t m = -int64_t(uint64_t(j) < uint64_t(W));
          j = (j & m) | (W & ~m);
          m = -int64_t(ow_of[j] == ow);
          buf[(j & m) | (W & ~m)] = T(0) + gyp[orow + ow];
          hits -= m;
        }
        matched += hits;
      }
      if (stream)
        stream_row(gxp + row, buf, W);
      else
        std::memcpy(gxp + row, buf, size_t(W) * sizeof(T));
    }
  return matched == g.out_plane();
}

template <typename T>
PoolKernels<T> make_pool_kernels(const char* name) {
  return {name,           &max_pool_forward<T>, &avg_pool_forward<T>, &avg_pool_backward<T>,
          &plane_sums<T>, &plane_max<T>,        &max_grad_plane<T>};
}

}  // namespace
}  // namespace pool_kernels
}  // namespace fastconv::cpu
