// Depthwise convolution one (n, c) plane at a time, for 1-D and 2-D convolutions: the plane path
// (conv_depthwise.cc drives it). One pass over memory: each input plane is read once into a
// zero-padded copy that stays in L1/L2, every output plane is written once, with no channel
// transposes (the lanes path's) and no per-row calls (the row path's).
//
// The padded copy is split by the strides into sh x sw sub-planes of Hq x Wq pixels (sub-plane
// (a, b) holds the padded pixels (i*sh + a, j*sw + b)), so that output pixel (oh, ow) of tap
// (kh, kw) reads pixel (oh + kh*dh / sh, ow + kw*dw / sw) of sub-plane ((kh*dh) % sh, (kw*dw) % sw).
// Flattened with the sub-plane's row stride Wq, the whole output plane is then ONE long row
// q = oh * Wq + ow of the row kernel: out[q] = sum over taps of w[t] * sub[off[t] + q], summed in
// (kh, kw) order, + bias (the columns ow >= OW of each flat row are computed and dropped). So a
// 56x56 plane costs one kernel call of 203 vectors (58 per flat row), a 7x7 plane 4.
//
//   forward          y[n, cm+j] = the flat row over x[n, c]'s padded copy, taps (kh, kw)
//   backward_data    (unit strides) gx[n, c] = sum over j of the correlation of gy[n, cm+j],
//                    padded by (K-1)*d - pad, with the flipped kernel; the taps listed in
//                    (j, kh, kw) order, as the other paths sum them
//   backward_weight  gw[cm+j, t] = sum over n of the flat dot product of gy[n, cm+j] (in rows
//                    of Wq, zeros past OW) with x's padded copy at off[t]: lanes_dot's vector
//                    partial sums (n, then position order), reduced over lanes in order at the
//                    end. (As in the row path, a non-finite input in a dropped column can turn
//                    the result NaN.)
//
// Outputs much larger than the caches are streamed out with non-temporal stores (no
// read-for-ownership of the output lines). Threads split (n, c) planes (forward, backward_data)
// or channels (backward_weight); every result is computed by one task in an order that depends
// on the geometry only. A call small enough for one thread runs on the calling thread with its
// buffers on the stack: no parallel region, no heap.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/denormals.h"
#include "common/env.h"
#include "common/parallel.h"
#include "cpu/conv/conv_depthwise_lanes.h"
#include "cpu/conv/epilogue.h"

namespace fastconv::cpu {

namespace {

// Per-thread elements and taps kept on the calling thread's stack when one thread does the call.
constexpr int kStackElements = 4096;
constexpr int kStackTaps = 64;

// Sizes of one pass of the plane path, shared by the kernels and the workspace report.
struct PlanePlan {
  bool ok = false;        // the plane path computes this pass
  int64_t SH = 0, SW = 0;  // the source plane (x, or gy for backward_data)
  int64_t ph = 0, pw = 0, sh = 1, sw = 1;  // its padding before, the strides
  int64_t OH = 0, OW = 0;  // the plane computed (y, or gx for backward_data)
  int64_t Hq = 0, Wq = 0, sub = 0;  // sub-planes
  int64_t src_stride = 0;  // elements per padded source copy (sub-planes + slack)
  int64_t len = 0, nvec = 0;  // flat row length, and in vectors of L
  int64_t nsrc = 1;        // padded copies per task (m for backward_data)
  int64_t ntaps = 0;       // taps per kernel call
  int64_t tasks = 0;
  int threads = 1;
  int64_t per_thread = 0;  // elements: the padded copies, the flat output / gy row, accumulators
  // per tap: element offset of its first read in the copies (on the stack up to kStackTaps)
  int64_t off_small[kStackTaps];
  std::vector<int64_t> off_big;
  int64_t* off = off_small;

  PlanePlan(const PlanePlan&) = delete;  // off may point into the object itself
  PlanePlan(const ConvGeometry& g, ConvPass pass, int64_t L) {
    const int64_t m = g.out_channels_per_group(), kvol = g.kernel_volume();
    // 1-D / 2-D: one depth slice that output slice 0 reads unshifted (a depth padding would
    // move it out of the input: zeros)
    if (g.in_size[0] != 1 || g.kernel[0] != 1 || g.out_size[0] != 1 || g.pad_before[0] != 0 ||
        m == 0)
      return;
    const int64_t KH = g.kernel[1], KW = g.kernel[2];
    const int64_t dh = g.dilation[1], dw = g.dilation[2];
    const bool data = pass == ConvPass::BackwardData;
    if (data) {
      if (g.stride[1] != 1 || g.stride[2] != 1) return;
      SH = g.out_size[1], SW = g.out_size[2];
      ph = (KH - 1) * dh - g.pad_before[1], pw = (KW - 1) * dw - g.pad_before[2];
      if (ph < 0 || pw < 0) return;  // padding wider than the kernel: not this path
      OH = g.in_size[1], OW = g.in_size[2];
      nsrc = m;
    } else {
      SH = g.in_size[1], SW = g.in_size[2];
      ph = g.pad_before[1], pw = g.pad_before[2], sh = g.stride[1], sw = g.stride[2];
      OH = g.out_size[1], OW = g.out_size[2];
    }
    ok = true;
    if (OH * OW == 0) return;
    Hq = ceil_div((OH - 1) * sh + (KH - 1) * dh + 1, sh);
    Wq = ceil_div((OW - 1) * sw + (KW - 1) * dw + 1, sw);
    sub = Hq * Wq;
    src_stride = sh * sw * sub + kDepthwiseSlack;  // reads run up to a vector past a sub-plane
    len = (OH - 1) * Wq + OW;
    nvec = ceil_div(len, L);
    ntaps = nsrc * kvol;
    if (ntaps > kStackTaps) {
      off_big.resize(static_cast<size_t>(ntaps));
      off = off_big.data();
    }
    int64_t t = 0;
    for (int64_t s = 0; s < nsrc; ++s)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw) {
          const int64_t eh = data ? (KH - 1 - kh) * dh : kh * dh;
          const int64_t ew = data ? (KW - 1 - kw) * dw : kw * dw;
          off[t++] = s * src_stride + ((eh % sh) * sw + ew % sw) * sub + eh / sh * Wq + ew / sw;
        }
    const int64_t flat = nvec * L;  // the flat output row (or gy row) in whole vectors
    per_thread = nsrc * src_stride + flat + (pass == ConvPass::BackwardWeight ? 0 : OH * OW) +
                 (pass == ConvPass::BackwardWeight ? m * kvol * L : 0) + kAlignElements;
    tasks = pass == ConvPass::BackwardWeight ? g.in_channels : g.batch * g.in_channels;
    threads = depthwise_threads(g, tasks);
  }
  static constexpr int64_t kAlignElements = 64;  // the buffers start on a cache line

  // The padded copy of the source plane src (SH x SW) into dst's sub-planes.
  template <typename T>
  void fill(const DepthwiseKernels<T>& kern, const T* src, T* dst) const {
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t b = 0; b < sw; ++b) {
        T* plane = dst + (a * sw + b) * sub;
        // sub-plane rows i0 .. i1 - 1 hold source rows i * sh + a - ph (the others are zero)
        const int64_t i0 = std::min(Hq, ceil_div(std::max<int64_t>(ph - a, 0), sh));
        const int64_t i1 = std::max(i0, std::min(Hq, ceil_div(SH + ph - a, sh)));
        std::fill(plane, plane + i0 * Wq, T(0));
        std::fill(plane + i1 * Wq, plane + sub, T(0));
        if (i1 == i0) continue;
        const T* srow0 = src + (i0 * sh + a - ph) * SW;
        if (sw == 1) {  // columns -pw .. Wq - pw - 1 of each row
          const int64_t lead = std::min(pw, Wq);
          const int64_t copy = std::max<int64_t>(0, std::min(SW, Wq - pw));
          const int64_t done = std::min(Wq, std::max(lead, pw + copy));
          kern.copy_rows(srow0, sh * SW, i1 - i0, copy, plane + i0 * Wq + pw, Wq);
          for (int64_t i = i0; i < i1; ++i) {
            T* row = plane + i * Wq;
            for (int64_t j = 0; j < lead; ++j) row[j] = T(0);
            for (int64_t j = done; j < Wq; ++j) row[j] = T(0);
          }
        } else {
          for (int64_t i = i0; i < i1; ++i) {
            const T* srow = srow0 + (i - i0) * sh * SW;
            T* row = plane + i * Wq;
            for (int64_t j = 0; j < Wq; ++j) {
              const int64_t col = j * sw + b - pw;
              row[j] = col >= 0 && col < SW ? srow[col] : T(0);
            }
          }
        }
      }
  }
};

template <typename T>
T* align_to_line(T* p) {
  return reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63));
}

// Heap-free storage for small sizes: n elements, on the stack when n <= N.
template <typename T, int N>
struct SmallBuffer {
  T small[N];
  std::vector<T> big;
  T* data;
  explicit SmallBuffer(int64_t n) {
    if (n <= N) {
      data = small;
    } else {
      big.resize(static_cast<size_t>(n));
      data = big.data();
    }
  }
};

// Runs body(scratch, src, task) for every task, src[t] = scratch + off[t] (the taps' reads in
// the padded copies at the start of scratch): on the calling thread with scratch and src on the
// stack when they fit (no parallel region, no heap), else in a parallel region, per thread. The
// copies' slack is zeroed (read into the dropped columns: it must be finite); fill() writes the
// rest of the copies, and the kernels every other element before they read it.
template <typename T, typename Body>
void run_tasks(const PlanePlan& p, Body body) {
  const auto run = [&](T* raw, const T** src, bool all) {
    T* s = align_to_line(raw);
    for (int64_t k = 0; k < p.nsrc; ++k) {
      T* slack = s + (k + 1) * p.src_stride - kDepthwiseSlack;
      std::fill(slack, slack + kDepthwiseSlack, T(0));
    }
    for (int64_t t = 0; t < p.ntaps; ++t) src[t] = s + p.off[t];
    if (all) {
      for (int64_t task = 0; task < p.tasks; ++task) body(s, src, task);
      return;
    }
#pragma omp for schedule(static)
    for (int64_t task = 0; task < p.tasks; ++task) body(s, src, task);
  };
  if (p.threads <= 1) {
    const FlushDenormals flush_denormals;
    SmallBuffer<T, kStackElements> scratch(p.per_thread);
    SmallBuffer<const T*, kStackTaps> src(p.ntaps);
    run(scratch.data, src.data, true);
    return;
  }
#pragma omp parallel num_threads(p.threads)
  {
    const FlushDenormals flush_denormals;
    std::vector<T> scratch(static_cast<size_t>(p.per_thread));
    std::vector<const T*> src(static_cast<size_t>(p.ntaps));
    run(scratch.data(), src.data(), false);
  }
}

// Streaming stores for outputs larger than 8 MiB (4x the two cores' L2): a same-size in/out
// kernel with ordinary stores pays a read-for-ownership of every output line (CPU time, 2
// threads, plane path not streamed / streamed: 8x256x56x56 3x3 forward 8.5 / 7.6 ms,
// backward_data 10.2 / 8.9; 8x144x56x56 4.74 / 4.39; but 32x112x112 b1, 1.6 MB, 0.36 / 0.41 and
// 8x384x14x14, 2.4 MB, 0.66 / 1.07 on 1 thread). The lanes path streams through its channel
// transpose (unpack_stream) from the same size: CPU time, 2 threads, best of 5 rounds,
// three runs at load 5-6, not streamed / streamed: 8x256x56x56 3x3 forward 5.79 / 5.21,
// 6.40 / 5.66, 5.31 / 4.81 ms, backward_data 5.90 / 5.27, 5.07 / 4.54, 5.84 / 5.73;
// 8x144x56x56 forward 3.51 / 2.88, 2.72 / 2.40, 2.68 / 2.36; convnext 7x7 96ch @56 b8 forward
// 4.13 / 3.72, 3.63 / 3.58, 3.89 / 3.57. The row path does not stream: mamba's k4 conv1d
// (8x1024x1027 out, each row staged and streamed) measured slower, 2.92 -> 4.80 ms forward and
// 2.80 -> 4.50 backward_data (2 threads CPU time; its outputs partly stay in the 32 MiB L3).
// FASTCONV_DEPTHWISE_STREAM = 0 / 1 forces it off / on (A/B measurements).
bool large_output(int64_t bytes) { return bytes > (int64_t(8) << 20); }

// The flat output row (rows of Wq) into the OH x OW plane dst, with the fused ReLU; packed:
// room for OH x OW elements.
template <typename T>
void write_plane(const DepthwiseKernels<T>& kern, const PlanePlan& p, const T* flat, T* packed,
                 bool relu, bool stream, T* dst) {
  const int64_t n = p.OH * p.OW;
  if (stream) {  // compacted into `packed`, ReLU, streamed out
    kern.copy_rows(flat, p.Wq, p.OH, p.OW, packed, p.OW);
    if (relu) bias_relu_row(packed, n, T(0), true);
    kern.stream(packed, n, dst);
    return;
  }
  kern.copy_rows(flat, p.Wq, p.OH, p.OW, dst, p.OW);
  if (relu) bias_relu_row(dst, n, T(0), true);  // the plane is still in L1 / L2
}

}  // namespace

bool depthwise_stream_output(int64_t bytes) {
  return env_switch("FASTCONV_DEPTHWISE_STREAM").value_or(large_output(bytes));
}

bool depthwise_plane_supported(const ConvGeometry& g, ConvPass pass) {
  return PlanePlan(g, pass, 16).ok;
}

// Where the plane path runs, from A/B runs of the paths in one process (float32, AVX-512,
// FASTCONV_DEPTHWISE forced per call, benchmarks/depthwise_paths_ab.py; the 2 cores shared with
// other work, load average 7-9: CPU time of both threads, best of 5 rounds; ms lanes or rows /
// plane; more in benchmarks/results/depthwise_cpu.md):
// - Where the row path would run (channels fill less than half the lanes, or rows of 512 and
//   more), the plane path is faster but on long rows: 8x4x56x56 3x3 forward / backward_data /
//   backward_weight rows 0.166 / 0.172 / 0.157, plane 0.101 / 0.091 / 0.088; 8x8x28x28 5x5 0.244
//   / 0.252 / 0.152 and 0.109 / 0.106 / 0.115; 1-D 8x4x256 k4 0.008 / 0.009 / 0.011 and 0.007 /
//   0.008 / 0.008; the 1x1 conv on 4x4 (c = 1) runs on the calling thread with no heap. Rows of
//   1024 (mamba's k4 conv1d, 1024 channels) forward / backward_data rows 10.8 / 6.6, plane
//   13.9 / 9.1; the FIR filter k63 on 65536: 0.16 / 0.16 and 0.17 / 0.20, but backward_weight
//   0.47 / 0.21.
// - Where the lanes path runs, it stays faster on small planes (8x384x14x14 3x3 forward 0.40 /
//   0.63, 1 thread; 8x960x7x7 0.34 / 0.93), with strides (8x144x56x56 3x3/2 4.2 / 6.4: the
//   plane path deinterleaves by element), on larger kernels (7x7 96ch @56 4.4 / 6.9) and for
//   backward_weight (8x256x56x56 3x3 6.1 / 8.2, 1 thread). On 3x3 stride 1 56x56 planes the two
//   were within the noise of this machine (8x256x56x56 forward 8.4 / 7.6 in one run, 5.9 / 6.5
//   in another): lanes kept. Plane wins backward_data where the lanes path's per-thread tile
//   (the whole grad_output plane and grad_input plane, not cut into bands as the forward's is)
//   outgrows the 1 MiB L2: 32x112x112 b1 3x3 (1.6 MB) 0.41 / 0.33, 0.41 / 0.30 in another run,
//   1 thread 0.56 / 0.36.
bool depthwise_plane_preferred(const ConvGeometry& g, ConvPass pass, int64_t element_size) {
  if (const char* force = std::getenv("FASTCONV_DEPTHWISE")) {
    if (std::strcmp(force, "plane") == 0) return depthwise_plane_supported(g, pass);
    if (std::strcmp(force, "rows") == 0 || std::strcmp(force, "lanes") == 0) return false;
  }
  if (!depthwise_plane_supported(g, pass)) return false;
  const bool data = pass == ConvPass::BackwardData;
  const int64_t row = data ? g.in_size[2] : g.out_size[2];
  if (!depthwise_lanes_preferred(g, pass, element_size))  // the row path's cases
    return pass == ConvPass::BackwardWeight || row < 512;
  const bool unit_strides = g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1;
  return data && unit_strides && g.kernel_volume() <= 9 &&
         depthwise_lanes_thread_bytes(g, pass, element_size) > (int64_t(1) << 20);
}

// ---------------------------------------------------------------------------------- forward

template <typename T>
void forward_depthwise_plane(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                             bool relu, T* y) {
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const PlanePlan p(g, ConvPass::Forward, kern.lanes);
  if (p.tasks == 0 || p.len == 0) return;
  const int64_t C = g.in_channels, m = g.out_channels_per_group(), kvol = g.kernel_volume();
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const bool stream =
      depthwise_stream_output(g.batch * g.out_channels * out_plane * int64_t(sizeof(T)));
  run_tasks<T>(p, [&](T* copy, const T* const* src, int64_t task) {
    const int64_t n = task / C, c = task % C;
    T* flat = copy + p.src_stride;
    p.fill(kern, x + task * in_plane, copy);
    for (int64_t j = 0; j < m; ++j) {
      const int64_t oc = c * m + j;
      kern.row_full(kvol, w + oc * kvol, src, p.len, bias ? bias[oc] : T(0), flat);
      write_plane(kern, p, flat, flat + p.nvec * kern.lanes, relu, stream,
                  y + (n * g.out_channels + oc) * out_plane);
    }
  });
}

// ---------------------------------------------------------------------------- backward_data

template <typename T>
void backward_data_depthwise_plane(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const PlanePlan p(g, ConvPass::BackwardData, kern.lanes);
  if (p.tasks == 0 || p.len == 0) return;
  const int64_t C = g.in_channels, m = g.out_channels_per_group(), kvol = g.kernel_volume();
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const bool stream = depthwise_stream_output(g.batch * C * in_plane * int64_t(sizeof(T)));
  run_tasks<T>(p, [&](T* copy, const T* const* src, int64_t task) {
    const int64_t n = task / C, c = task % C;
    T* flat = copy + m * p.src_stride;
    for (int64_t j = 0; j < m; ++j)
      p.fill(kern, gy + (n * g.out_channels + c * m + j) * out_plane, copy + j * p.src_stride);
    // the taps in (j, kh, kw) order: the weights of c's m output channels, consecutive in w
    kern.row_full(m * kvol, w + c * m * kvol, src, p.len, T(0), flat);
    write_plane(kern, p, flat, flat + p.nvec * kern.lanes, false, stream, gx + task * in_plane);
  });
}

// -------------------------------------------------------------------------- backward_weight

template <typename T>
void backward_weight_depthwise_plane(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const PlanePlan p(g, ConvPass::BackwardWeight, kern.lanes);
  const int64_t C = g.in_channels, m = g.out_channels_per_group(), kvol = g.kernel_volume();
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane(), L = kern.lanes;
  if (p.tasks == 0 || kvol == 0) return;
  if (p.len == 0 || g.batch == 0) {  // no products: the weight gradient is zero
    std::fill(gw, gw + C * m * kvol, T(0));
    return;
  }
  run_tasks<T>(p, [&](T* copy, const T* const* src, int64_t c) {
    T* grow = copy + p.src_stride;
    T* acc = grow + p.nvec * L;
    std::fill(acc, acc + m * kvol * L, T(0));
    for (int64_t n = 0; n < g.batch; ++n) {
      p.fill(kern, x + (n * C + c) * in_plane, copy);
      for (int64_t j = 0; j < m; ++j) {
        const T* gp = gy + (n * g.out_channels + c * m + j) * out_plane;
        kern.copy_rows(gp, p.OW, p.OH, p.OW, grow, p.Wq);
        for (int64_t oh = 0; oh + 1 < p.OH; ++oh)
          std::fill(grow + oh * p.Wq + p.OW, grow + (oh + 1) * p.Wq, T(0));
        std::fill(grow + p.len, grow + p.nvec * L, T(0));
        // each vector of the flat row is one "pixel" of lanes_dot
        kern.lanes_dot(kvol, src, L, 0, grow, 0, 1, p.nvec, acc + j * kvol * L);
      }
    }
    sum_lanes(acc, m * kvol, L, gw + c * m * kvol);
  });
}

// The bytes the plane path allocates on the heap: per-thread scratch (none when one thread's
// fits on the stack), the tap offsets, and the tap pointers beyond the stack's kStackTaps.
template <typename T>
int64_t depthwise_plane_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  const DepthwiseKernels<T> kern = select_depthwise_kernels<T>();
  const PlanePlan p(g, pass, kern.lanes);
  if (p.tasks == 0 || p.len == 0) return 0;
  if (pass == ConvPass::BackwardWeight && g.batch == 0) return 0;
  const int64_t tsize = int64_t(sizeof(T));
  const bool on_stack = p.threads <= 1 && p.per_thread <= kStackElements;
  const int64_t scratch = on_stack ? 0 : int64_t(p.threads) * p.per_thread * tsize;
  const bool taps_on_stack = p.threads <= 1 && p.ntaps <= kStackTaps;
  const int64_t ptrs = taps_on_stack ? 0 : p.threads * p.ntaps * int64_t(sizeof(T*));
  return scratch + int64_t(p.off_big.size() * sizeof(int64_t)) + ptrs;
}

template void forward_depthwise_plane<float>(const ConvGeometry&, const float*, const float*,
                                             const float*, bool, float*);
template void forward_depthwise_plane<double>(const ConvGeometry&, const double*, const double*,
                                              const double*, bool, double*);
template void backward_data_depthwise_plane<float>(const ConvGeometry&, const float*,
                                                   const float*, float*);
template void backward_data_depthwise_plane<double>(const ConvGeometry&, const double*,
                                                    const double*, double*);
template void backward_weight_depthwise_plane<float>(const ConvGeometry&, const float*,
                                                     const float*, float*);
template void backward_weight_depthwise_plane<double>(const ConvGeometry&, const double*,
                                                      const double*, double*);
template int64_t depthwise_plane_workspace_bytes<float>(const ConvGeometry&, ConvPass);
template int64_t depthwise_plane_workspace_bytes<double>(const ConvGeometry&, ConvPass);

}  // namespace fastconv::cpu
