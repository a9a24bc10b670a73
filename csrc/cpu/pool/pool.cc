// Pooling kernels; see pool.h for what each computes. One template per family serves 1D, 2D and
// 3D (as 3D with singleton dims) and float/double. Loops run over one contiguous (n, c) plane per
// task. Max pooling, average pooling (forward and backward) and global adaptive pooling (output
// 1x1x1) use the row-vectorised kernels of pool_kernels.h, compiled per ISA and chosen by isa();
// general adaptive windows (whose sizes vary per output) keep the scalar loops below.
#include "cpu/pool/pool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/cpu_features.h"
#include "common/env.h"
#include "common/parallel.h"
#include "cpu/pool/pool_kernels.h"

namespace fastconv::cpu {

template <typename T>
PoolKernels<T> select_pool_kernels();

template <>
PoolKernels<float> select_pool_kernels<float>() {
  switch (isa()) {
#if FASTCONV_X86_KERNELS
    case Isa::Avx512: return avx512::f32_pool_kernels();
    case Isa::Avx2: return avx2::f32_pool_kernels();
#endif
    default: break;
  }
  return pool_kernels::make_pool_kernels<float>("f32_pool_rows__generic");
}

template <>
PoolKernels<double> select_pool_kernels<double>() {
  switch (isa()) {
#if FASTCONV_X86_KERNELS
    case Isa::Avx512: return avx512::f64_pool_kernels();
    case Isa::Avx2: return avx2::f64_pool_kernels();
#endif
    default: break;
  }
  return pool_kernels::make_pool_kernels<double>("f64_pool_rows__generic");
}

template <typename T>
void max_pool_forward(const PoolGeometry& g, const T* x, T* y, int64_t* indices) {
  select_pool_kernels<T>().max_forward(g, x, y, indices);
}

template <typename T>
void avg_pool_forward(const PoolGeometry& g, bool count_include_pad, int64_t divisor_override,
                      const T* x, T* y) {
  select_pool_kernels<T>().avg_forward(g, count_include_pad, divisor_override, x, y);
}

template <typename T>
void avg_pool_backward(const PoolGeometry& g, bool count_include_pad, int64_t divisor_override,
                       const T* gy, T* gx) {
  select_pool_kernels<T>().avg_backward(g, count_include_pad, divisor_override, gy, gx);
}

namespace {
bool is_global(const PoolGeometry& g) {
  return g.out_size[0] == 1 && g.out_size[1] == 1 && g.out_size[2] == 1;
}

// Where every output size divides its input size, adaptive windows are all alike: plain pooling
// with kernel = stride = in / out and no padding (VGG's 14 -> 7, any 2x downsampling), which runs
// on the row-vectorised kernels instead of the per-window loops (measured for 8x512x14x14 -> 7x7:
// the per-window loop reads at about 5 GB/s).
bool uniform_windows(const PoolGeometry& g, PoolGeometry* plain) {
  *plain = g;
  for (int d = 0; d < 3; ++d) {
    if (g.out_size[d] < 1 || g.in_size[d] % g.out_size[d] != 0) return false;
    plain->kernel[d] = plain->stride[d] = g.in_size[d] / g.out_size[d];
    plain->pad_before[d] = plain->pad_after[d] = 0;
    plain->dilation[d] = 1;
  }
  return true;
}

// An adaptive window: output o (flat in its plane) covers input [d0, d1) x [h0, h1) x [w0, w1).
struct AdaptiveWindow {
  int64_t o, d0, d1, h0, h1, w0, w1;
};

// Calls fn(window) for every output of a plane, in output order (torch's start/end rule).
template <typename Fn>
void for_each_adaptive_window(const PoolGeometry& g, Fn&& fn) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  int64_t o = 0;
  for (int64_t od = 0; od < g.out_size[0]; ++od) {
    const int64_t d0 = adaptive_start(od, g.out_size[0], D), d1 = adaptive_end(od, g.out_size[0], D);
    for (int64_t oh = 0; oh < g.out_size[1]; ++oh) {
      const int64_t h0 = adaptive_start(oh, g.out_size[1], H), h1 = adaptive_end(oh, g.out_size[1], H);
      for (int64_t ow = 0; ow < g.out_size[2]; ++ow, ++o)
        fn(AdaptiveWindow{o, d0, d1, h0, h1, adaptive_start(ow, g.out_size[2], W),
                          adaptive_end(ow, g.out_size[2], W)});
    }
  }
}
}  // namespace

template <typename T>
void adaptive_avg_pool_forward(const PoolGeometry& g, const T* x, T* y) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  if (is_global(g)) {
    // Global average: the plane's sum in plane_sum's fixed vectorisable order (32 float / 16
    // double partial sums, then a fixed tree; see pool_kernels.h), divided as torch does.
    auto sums = select_pool_kernels<T>().plane_sums;
    constexpr int64_t kChunk = 64;
    const int64_t chunks = ceil_div(g.planes, kChunk);
    const T* end = x + g.planes * in_plane;
#pragma omp parallel for num_threads(threads_for(chunks, g.planes * in_plane)) schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t p0 = c * kChunk, np = std::min(kChunk, g.planes - p0);
      sums(x + p0 * in_plane, np, in_plane, end, y + p0);
      for (int64_t p = p0; p < p0 + np; ++p) y[p] = y[p] / T(D) / T(H) / T(W);
    }
    return;
  }
  PoolGeometry plain;
  if (uniform_windows(g, &plain)) return avg_pool_forward(plain, false, 0, x, y);
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    T* yp = y + p * out_plane;
    for_each_adaptive_window(g, [&](const AdaptiveWindow& a) {
      T sum = T(0);
      for (int64_t id = a.d0; id < a.d1; ++id)
        for (int64_t ih = a.h0; ih < a.h1; ++ih) {
          const T* row = xp + (id * H + ih) * W;
          for (int64_t iw = a.w0; iw < a.w1; ++iw) sum += row[iw];
        }
      // torch divides by each extent in turn (sum / kd / kh / kw)
      yp[a.o] = sum / T(a.d1 - a.d0) / T(a.h1 - a.h0) / T(a.w1 - a.w0);
    });
  }
}

template <typename T>
void adaptive_avg_pool_backward(const PoolGeometry& g, const T* gy, T* gx) {
  const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  if (is_global(g)) {
    // Every cell gets 0 + gy / D / H / W (the + 0 as in the general loop: -0.0 becomes +0.0).
#pragma omp parallel for num_threads(threads_for(g.planes, g.planes * in_plane)) schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T delta = T(0) + gy[p] / T(D) / T(H) / T(W);
      std::fill(gx + p * in_plane, gx + (p + 1) * in_plane, delta);
    }
    return;
  }
  PoolGeometry plain;
  if (uniform_windows(g, &plain)) return avg_pool_backward(plain, false, 0, gy, gx);
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* gyp = gy + p * out_plane;
    T* gxp = gx + p * in_plane;
    std::fill(gxp, gxp + in_plane, T(0));
    for_each_adaptive_window(g, [&](const AdaptiveWindow& a) {
      const T delta = gyp[a.o] / T(a.d1 - a.d0) / T(a.h1 - a.h0) / T(a.w1 - a.w0);
      for (int64_t id = a.d0; id < a.d1; ++id)
        for (int64_t ih = a.h0; ih < a.h1; ++ih) {
          T* row = gxp + (id * H + ih) * W;
          for (int64_t iw = a.w0; iw < a.w1; ++iw) row[iw] += delta;
        }
    });
  }
}

template <typename T>
void adaptive_max_pool_forward(const PoolGeometry& g, const T* x, T* y, int64_t* indices) {
  const int64_t H = g.in_size[1], W = g.in_size[2];
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  if (is_global(g) && in_plane > 0) {
    // Global max: lane-wise scans merged exactly into the sequential scan's result (plane_max).
    auto pmax = select_pool_kernels<T>().plane_max;
#pragma omp parallel for num_threads(threads_for(g.planes, g.planes * in_plane)) schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      int64_t i;
      pmax(x + p * in_plane, in_plane, x + g.planes * in_plane, y + p, &i);
      if (indices) indices[p] = i;
    }
    return;
  }
  PoolGeometry plain;
  if (uniform_windows(g, &plain)) return max_pool_forward(plain, x, y, indices);
#pragma omp parallel for num_threads(fastconv::num_threads()) schedule(static)
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * in_plane;
    T* yp = y + p * out_plane;
    int64_t* ip = indices ? indices + p * out_plane : nullptr;
    for_each_adaptive_window(g, [&](const AdaptiveWindow& a) {
      int64_t best = (a.d0 * H + a.h0) * W + a.w0;
      T best_value = -std::numeric_limits<T>::infinity();
      for (int64_t id = a.d0; id < a.d1; ++id)
        for (int64_t ih = a.h0; ih < a.h1; ++ih) {
          const int64_t row = (id * H + ih) * W;
          for (int64_t iw = a.w0; iw < a.w1; ++iw) {
            const T v = xp[row + iw];
            if (v > best_value || std::isnan(v)) {  // torch's rule, as in max_pool_forward
              best_value = v;
              best = row + iw;
            }
          }
        }
      yp[a.o] = best_value;
      if (ip) ip[a.o] = best;
    });
  }
}

namespace {
// One plane of index_scatter: bp = 0, then bp[ip[i]] (+)= sp[i] for i ascending, skipping and
// counting indices outside [0, big). Indices are range-checked 8 at a time (one branch per 8,
// a loop that vectorises), then followed unchecked in order: the same writes, in the same order,
// as the element-by-element loop.
template <typename T, bool kAccumulate>
int64_t scatter_plane(int64_t n, int64_t big, const T* sp, const int64_t* ip, T* bp) {
  std::fill(bp, bp + big, T(0));
  int64_t bad = 0;
  auto one = [&](int64_t i) {
    const int64_t j = ip[i];
    if (j < 0 || j >= big) {
      ++bad;
    } else if (kAccumulate) {
      bp[j] += sp[i];
    } else {
      bp[j] = sp[i];
    }
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    bool ok = true;
    for (int k = 0; k < 8; ++k) ok &= uint64_t(ip[i + k]) < uint64_t(big);
    if (ok) {
      for (int k = 0; k < 8; ++k) {
        if (kAccumulate) {
          bp[ip[i + k]] += sp[i + k];
        } else {
          bp[ip[i + k]] = sp[i + k];
        }
      }
    } else {
      for (int k = 0; k < 8; ++k) one(i + k);
    }
  }
  for (; i < n; ++i) one(i);
  return bad;
}
}  // namespace

template <typename T>
int64_t index_scatter(int64_t planes, int64_t small_plane, int64_t big_plane, const T* s,
                      const int64_t* idx, T* b, bool accumulate) {
  int64_t bad = 0;
#pragma omp parallel for num_threads(threads_for(planes, planes * (small_plane + big_plane))) \
    schedule(static) reduction(+ : bad)
  for (int64_t p = 0; p < planes; ++p) {
    const T* sp = s + p * small_plane;
    const int64_t* ip = idx + p * small_plane;
    T* bp = b + p * big_plane;
    bad += accumulate ? scatter_plane<T, true>(small_plane, big_plane, sp, ip, bp)
                      : scatter_plane<T, false>(small_plane, big_plane, sp, ip, bp);
  }
  return bad;
}

namespace {
// Which output covers input position i along dimension d where windows do not overlap: o, or -1
// where no window holds i (a gap between windows, dilation holes, or past the last window).
std::vector<int64_t> covering_output(const PoolGeometry& g, int d) {
  std::vector<int64_t> out(size_t(g.in_size[d]) + 1, -1);  // + 1: gather_plane's spare cell
  out.back() = -2;
  for (int64_t i = 0; i < g.in_size[d]; ++i) {
    const int64_t o = (i + g.pad_before[d]) / g.stride[d];
    const int64_t r = i + g.pad_before[d] - o * g.stride[d];
    if (o < g.out_size[d] && r % g.dilation[d] == 0 && r / g.dilation[d] < g.kernel[d])
      out[size_t(i)] = o;
  }
  return out;
}

bool windows_disjoint(const PoolGeometry& g) {
  for (int d = 0; d < 3; ++d)
    if ((g.kernel[d] - 1) * g.dilation[d] + 1 > g.stride[d]) return false;
  return true;
}
}  // namespace

template <typename T>
int64_t max_pool_backward(const PoolGeometry& g, const T* gy, const int64_t* idx, T* gx) {
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  // FASTCONV_POOL_NO_GATHER=1 (read per call): the scatter form, for A/B measurements.
  if (!windows_disjoint(g) || in_plane == 0 || env_switch("FASTCONV_POOL_NO_GATHER").value_or(false))
    return index_scatter(g.planes, out_plane, in_plane, gy, idx, gx, true);
  const std::vector<int64_t> od_of = covering_output(g, 0), oh_of = covering_output(g, 1),
                             ow_of = covering_output(g, 2);
  // Stream gx past the caches only where it is far larger than they are (32 MiB: the L3 of one
  // Zen 4 CCD); a smaller gx is likely still cached when the next layer's backward reads it.
  // Measured on vgg16's 2x2/2 b8 (102 MB gx, preallocated): 11.9 -> 8.9 ms (1 thread, CPU
  // time), 16.7 -> 13.0 ms (2 threads); no loss in any run (pool_speed_cpu.md).
  // FASTCONV_POOL_STREAM=0/1 forces it (A/B).
  const bool stream = env_switch("FASTCONV_POOL_STREAM")
                          .value_or(double(g.planes) * double(in_plane) * sizeof(T) >=
                                    32.0 * (1 << 20));
  const auto grad_rows = select_pool_kernels<T>().max_grad_plane;
  int64_t bad = 0;
#pragma omp parallel num_threads(threads_for(g.planes, g.planes * (in_plane + out_plane))) \
    reduction(+ : bad)
  {
    std::vector<T> buf(size_t(g.in_size[2]) + 1);
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* gyp = gy + p * out_plane;
      const int64_t* ip = idx + p * out_plane;
      T* gxp = gx + p * in_plane;
      if (!grad_rows(g, od_of.data(), oh_of.data(), ow_of.data(), gyp, ip, gxp, buf.data(),
                     stream)) {
        if (stream) pool_kernels::stream_fence();  // the streamed rows land before the scatter
        bad += scatter_plane<T, true>(out_plane, in_plane, gyp, ip, gxp);
      }
    }
    if (stream) pool_kernels::stream_fence();  // the streamed stores land before the region ends
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
  template int64_t max_pool_backward<T>(const PoolGeometry&, const T*, const int64_t*, T*);   \
  template int64_t index_gather<T>(int64_t, int64_t, int64_t, const T*, const int64_t*, T*);

FASTCONV_INSTANTIATE_POOL(float)
FASTCONV_INSTANTIATE_POOL(double)
#undef FASTCONV_INSTANTIATE_POOL

}  // namespace fastconv::cpu
