// Pooling kernels; see pool.h for what each computes. One template per family serves 1D, 2D and
// 3D (as 3D with singleton dims) and float/double. Loops run over one contiguous (n, c) plane per
// task; the innermost loop walks the contiguous W axis of the input.
#include "cpu/pool/pool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/parallel.h"

namespace fastconv::cpu {

namespace {

// One dimension of a dilated window, torch's way: first in-bounds position `lo` (found by
// stepping by the dilation from the window start) and exclusive bound `hi`.
struct Span {
  int64_t lo, hi;
};
inline Span dilated_span(int64_t o, int64_t d, const PoolGeometry& g) {
  const int64_t start = o * g.stride[d] - g.pad_before[d];
  const int64_t end = std::min(start + (g.kernel[d] - 1) * g.dilation[d] + 1, g.in_size[d]);
  int64_t lo = start;
  if (lo < 0) lo += ceil_div(-lo, g.dilation[d]) * g.dilation[d];  // torch: while (lo < 0) lo += dil
  return {lo, end};
}

// Average pooling window in one dimension: clipped to the input, and torch's pool size (the
// window clipped to the padded extent, used when count_include_pad).
struct AvgSpan {
  int64_t lo, hi, padded;
};
inline AvgSpan avg_span(int64_t o, int64_t d, const PoolGeometry& g) {
  const int64_t start = o * g.stride[d] - g.pad_before[d];
  const int64_t end_padded = std::min(start + g.kernel[d], g.in_size[d] + g.pad_after[d]);
  return {std::max<int64_t>(start, 0), std::min(end_padded, g.in_size[d]), end_padded - start};
}

template <typename T>
inline int64_t avg_divisor(const AvgSpan& a, const AvgSpan& b, const AvgSpan& c,
                           bool count_include_pad, int64_t divisor_override) {
  if (divisor_override != 0) return divisor_override;
  if (count_include_pad) return a.padded * b.padded * c.padded;
  return (a.hi - a.lo) * (b.hi - b.lo) * (c.hi - c.lo);
}

}  // namespace

template <typename T>
void max_pool_forward(const PoolGeometry& g, const T* x, T* y, int64_t* indices) {
  const int64_t H = g.in_size[1], W = g.in_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t dd = g.dilation[0], dh = g.dilation[1], dw = g.dilation[2];
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    T* yp = y + p * out_plane;
    int64_t* ip = indices ? indices + p * out_plane : nullptr;
    int64_t o = 0;
    for (int64_t od = 0; od < g.out_size[0]; ++od) {
      const Span sd = dilated_span(od, 0, g);
      for (int64_t oh = 0; oh < g.out_size[1]; ++oh) {
        const Span sh = dilated_span(oh, 1, g);
        for (int64_t ow = 0; ow < g.out_size[2]; ++ow, ++o) {
          const Span sw = dilated_span(ow, 2, g);
          int64_t best = (sd.lo * H + sh.lo) * W + sw.lo;
          T best_value = -std::numeric_limits<T>::infinity();
          for (int64_t id = sd.lo; id < sd.hi; id += dd) {
            for (int64_t ih = sh.lo; ih < sh.hi; ih += dh) {
              const int64_t row = (id * H + ih) * W;
              for (int64_t iw = sw.lo; iw < sw.hi; iw += dw) {
                const T v = xp[row + iw];
                if (v > best_value || std::isnan(v)) {
                  best_value = v;
                  best = row + iw;
                }
              }
            }
          }
          yp[o] = best_value;
          if (ip) ip[o] = best;
        }
      }
    }
  }
}

template <typename T>
void avg_pool_forward(const PoolGeometry& g, bool count_include_pad, int64_t divisor_override,
                      const T* x, T* y) {
  const int64_t H = g.in_size[1], W = g.in_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    T* yp = y + p * out_plane;
    int64_t o = 0;
    for (int64_t od = 0; od < g.out_size[0]; ++od) {
      const AvgSpan sd = avg_span(od, 0, g);
      for (int64_t oh = 0; oh < g.out_size[1]; ++oh) {
        const AvgSpan sh = avg_span(oh, 1, g);
        for (int64_t ow = 0; ow < g.out_size[2]; ++ow, ++o) {
          const AvgSpan sw = avg_span(ow, 2, g);
          if (sd.lo >= sd.hi || sh.lo >= sh.hi || sw.lo >= sw.hi) {
            yp[o] = T(0);  // torch: a window with no input cell gives 0
            continue;
          }
          T sum = T(0);
          for (int64_t id = sd.lo; id < sd.hi; ++id)
            for (int64_t ih = sh.lo; ih < sh.hi; ++ih) {
              const T* row = xp + (id * H + ih) * W;
              for (int64_t iw = sw.lo; iw < sw.hi; ++iw) sum += row[iw];
            }
          yp[o] = sum / T(avg_divisor<T>(sd, sh, sw, count_include_pad, divisor_override));
        }
      }
    }
  }
}

template <typename T>
void avg_pool_backward(const PoolGeometry& g, bool count_include_pad, int64_t divisor_override,
                       const T* gy, T* gx) {
  const int64_t H = g.in_size[1], W = g.in_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* gyp = gy + p * out_plane;
    T* gxp = gx + p * in_plane;
    std::fill(gxp, gxp + in_plane, T(0));
    int64_t o = 0;
    for (int64_t od = 0; od < g.out_size[0]; ++od) {
      const AvgSpan sd = avg_span(od, 0, g);
      for (int64_t oh = 0; oh < g.out_size[1]; ++oh) {
        const AvgSpan sh = avg_span(oh, 1, g);
        for (int64_t ow = 0; ow < g.out_size[2]; ++ow, ++o) {
          const AvgSpan sw = avg_span(ow, 2, g);
          if (sd.lo >= sd.hi || sh.lo >= sh.hi || sw.lo >= sw.hi) continue;
          const T delta =
              gyp[o] / T(avg_divisor<T>(sd, sh, sw, count_include_pad, divisor_override));
          for (int64_t id = sd.lo; id < sd.hi; ++id)
            for (int64_t ih = sh.lo; ih < sh.hi; ++ih) {
              T* row = gxp + (id * H + ih) * W;
              for (int64_t iw = sw.lo; iw < sw.hi; ++iw) row[iw] += delta;
            }
        }
      }
    }
  }
}

template <typename T>
void adaptive_avg_pool_forward(const PoolGeometry& g, const T* x, T* y) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    T* yp = y + p * out_plane;
    int64_t o = 0;
    for (int64_t od = 0; od < g.out_size[0]; ++od) {
      const int64_t d0 = adaptive_start(od, g.out_size[0], D), d1 = adaptive_end(od, g.out_size[0], D);
      for (int64_t oh = 0; oh < g.out_size[1]; ++oh) {
        const int64_t h0 = adaptive_start(oh, g.out_size[1], H), h1 = adaptive_end(oh, g.out_size[1], H);
        for (int64_t ow = 0; ow < g.out_size[2]; ++ow, ++o) {
          const int64_t w0 = adaptive_start(ow, g.out_size[2], W), w1 = adaptive_end(ow, g.out_size[2], W);
          T sum = T(0);
          for (int64_t id = d0; id < d1; ++id)
            for (int64_t ih = h0; ih < h1; ++ih) {
              const T* row = xp + (id * H + ih) * W;
              for (int64_t iw = w0; iw < w1; ++iw) sum += row[iw];
            }
          // torch divides by each extent in turn (sum / kd / kh / kw)
          yp[o] = sum / T(d1 - d0) / T(h1 - h0) / T(w1 - w0);
        }
      }
    }
  }
}

template <typename T>
void adaptive_avg_pool_backward(const PoolGeometry& g, const T* gy, T* gx) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* gyp = gy + p * out_plane;
    T* gxp = gx + p * in_plane;
    std::fill(gxp, gxp + in_plane, T(0));
    int64_t o = 0;
    for (int64_t od = 0; od < g.out_size[0]; ++od) {
      const int64_t d0 = adaptive_start(od, g.out_size[0], D), d1 = adaptive_end(od, g.out_size[0], D);
      for (int64_t oh = 0; oh < g.out_size[1]; ++oh) {
        const int64_t h0 = adaptive_start(oh, g.out_size[1], H), h1 = adaptive_end(oh, g.out_size[1], H);
        for (int64_t ow = 0; ow < g.out_size[2]; ++ow, ++o) {
          const int64_t w0 = adaptive_start(ow, g.out_size[2], W), w1 = adaptive_end(ow, g.out_size[2], W);
          const T delta = gyp[o] / T(d1 - d0) / T(h1 - h0) / T(w1 - w0);
          for (int64_t id = d0; id < d1; ++id)
            for (int64_t ih = h0; ih < h1; ++ih) {
              T* row = gxp + (id * H + ih) * W;
              for (int64_t iw = w0; iw < w1; ++iw) row[iw] += delta;
            }
        }
      }
    }
  }
}

template <typename T>
void adaptive_max_pool_forward(const PoolGeometry& g, const T* x, T* y, int64_t* indices) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    T* yp = y + p * out_plane;
    int64_t* ip = indices ? indices + p * out_plane : nullptr;
    int64_t o = 0;
    for (int64_t od = 0; od < g.out_size[0]; ++od) {
      const int64_t d0 = adaptive_start(od, g.out_size[0], D), d1 = adaptive_end(od, g.out_size[0], D);
      for (int64_t oh = 0; oh < g.out_size[1]; ++oh) {
        const int64_t h0 = adaptive_start(oh, g.out_size[1], H), h1 = adaptive_end(oh, g.out_size[1], H);
        for (int64_t ow = 0; ow < g.out_size[2]; ++ow, ++o) {
          const int64_t w0 = adaptive_start(ow, g.out_size[2], W), w1 = adaptive_end(ow, g.out_size[2], W);
          int64_t best = (d0 * H + h0) * W + w0;
          T best_value = -std::numeric_limits<T>::infinity();
          for (int64_t id = d0; id < d1; ++id)
            for (int64_t ih = h0; ih < h1; ++ih) {
              const int64_t row = (id * H + ih) * W;
              for (int64_t iw = w0; iw < w1; ++iw) {
                const T v = xp[row + iw];
                if (v > best_value || std::isnan(v)) {  // torch's rule, as in max_pool_forward
                  best_value = v;
                  best = row + iw;
                }
              }
            }
          yp[o] = best_value;
          if (ip) ip[o] = best;
        }
      }
    }
  }
}

template <typename T>
int64_t index_scatter(int64_t planes, int64_t small_plane, int64_t big_plane, const T* s,
                      const int64_t* idx, T* b, bool accumulate) {
  int64_t bad = 0;
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static) reduction(+ : bad)
  for (int64_t p = 0; p < planes; ++p) {
    const T* sp = s + p * small_plane;
    const int64_t* ip = idx + p * small_plane;
    T* bp = b + p * big_plane;
    std::fill(bp, bp + big_plane, T(0));
    for (int64_t i = 0; i < small_plane; ++i) {
      const int64_t j = ip[i];
      if (j < 0 || j >= big_plane) {
        ++bad;
        continue;
      }
      if (accumulate) {
        bp[j] += sp[i];
      } else {
        bp[j] = sp[i];
      }
    }
  }
  return bad;
}

template <typename T>
int64_t index_gather(int64_t planes, int64_t small_plane, int64_t big_plane, const T* b,
                     const int64_t* idx, T* s) {
  int64_t bad = 0;
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static) reduction(+ : bad)
  for (int64_t p = 0; p < planes; ++p) {
    const T* bp = b + p * big_plane;
    const int64_t* ip = idx + p * small_plane;
    T* sp = s + p * small_plane;
    for (int64_t i = 0; i < small_plane; ++i) {
      const int64_t j = ip[i];
      const bool ok = j >= 0 && j < big_plane;
      bad += ok ? 0 : 1;
      sp[i] = ok ? bp[j] : T(0);
    }
  }
  return bad;
}

#define FASTCONV_INSTANTIATE_POOL(T)                                                             \
  template void max_pool_forward<T>(const PoolGeometry&, const T*, T*, int64_t*);               \
  template void avg_pool_forward<T>(const PoolGeometry&, bool, int64_t, const T*, T*);          \
  template void avg_pool_backward<T>(const PoolGeometry&, bool, int64_t, const T*, T*);         \
  template void adaptive_avg_pool_forward<T>(const PoolGeometry&, const T*, T*);                \
  template void adaptive_avg_pool_backward<T>(const PoolGeometry&, const T*, T*);               \
  template void adaptive_max_pool_forward<T>(const PoolGeometry&, const T*, T*, int64_t*);      \
  template int64_t index_scatter<T>(int64_t, int64_t, int64_t, const T*, const int64_t*, T*,    \
                                     bool);                                                    \
  template int64_t index_gather<T>(int64_t, int64_t, int64_t, const T*, const int64_t*, T*);

FASTCONV_INSTANTIATE_POOL(float)
FASTCONV_INSTANTIATE_POOL(double)
#undef FASTCONV_INSTANTIATE_POOL

}  // namespace fastconv::cpu
