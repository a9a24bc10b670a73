// backward_weight (and forward, its section at the end) of convolutions with few input channels
// (stems and first layers: 7x7/2 3 -> 64, 7x7x7/2 3 -> 64, 3x3 3 -> 64, 5x5 1 -> 16): dW is small
// (C_out x C_in taps) and each of its elements sums over every output position of the batch.
//
//   dW^T[k = (c, tap), o] = sum_n sum_{positions q} x_pad[n, c, tap reads at q] * dY^T[n, q, o]
//
// The tap kernel (conv_small_channels.h) holds MR taps x NR output channels (along the vector
// lanes) in registers while positions stream past: per position NR / L vector loads of dY^T and
// MR broadcasts of input values, MR NR / L FMAs -- no lane reduction, no partial sums in memory,
// and the input is read in place through a per-thread copy of its rows zero-padded along W (so
// strides and padding cost nothing in the kernel; out-of-range rows point at a zero row).
//
// Work units are output row segments (n, od, oh, a piece of at most kSegment positions along
// OW), in order; a fixed number of splits (a function of the geometry only) cut the units into
// contiguous ranges, each summed into its own partial dW^T; the partial sums are added in split
// order. Inside a split, chunks of units (of one sample) have their grad_output transposed (dY^T
// rows) once, then every tap block runs over them. So every dW element sums its products in one
// fixed order whatever the thread count.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/cpu_features.h"
#include "common/denormals.h"
#include "common/parallel.h"
#include "cpu/conv/conv_algorithms.h"
#include "cpu/conv/conv_small_channels.h"
#include "cpu/conv/epilogue.h"

namespace fastconv::cpu {

namespace {

// Most input channels per group it takes: the per-thread row copy is C_in whole input planes.
constexpr int64_t kMaxChannels = 4;
// A chunk's dY^T stays in L2 while every tap block streams it (32, 64, 128 and 256 KiB were
// within the noise of each other on the ResNet-50 / i3d stems, VGG conv1_1 and Fashion-MNIST
// conv1, 1 thread, loaded machine); long rows (1-D signals) are cut so that chunks stay balanced.
constexpr int64_t kDytBytes = 128 * 1024;
constexpr int64_t kSegment = 256;
// Splits of the units: a fixed count (not the thread count) so that the summation order depends
// on the geometry only; each split at least kMinSplitPositions positions.
constexpr int64_t kMaxSplits = 8;
constexpr int64_t kMinSplitPositions = 2048;

template <typename T>
SmallChannelKernels<T> select_kernels();
template <>
SmallChannelKernels<float> select_kernels<float>() {
  return FASTCONV_ISA_DISPATCH(f32_small_channel_kernels);
}
template <>
SmallChannelKernels<double> select_kernels<double>() {
  return FASTCONV_ISA_DISPATCH(f64_small_channel_kernels);
}

// A thread's copies of input rows (c, id, ih) of one sample, zero-padded along W to pw cells
// (cell j holds x[j - pad]), built on first use; rows outside the input read the zero row.
template <typename T>
struct RowCache {
  const ConvGeometry& g;
  const T* x;
  int64_t pw;
  T* rows;         // C_in D H rows of pw, then the zero row
  int64_t* stamp;  // the sample each row holds (-1: none)

  const T* zero_row() const { return rows + g.in_channels * g.in_size[0] * g.in_size[1] * pw; }
  const T* get(int64_t n, int64_t c, int64_t id, int64_t ih) {
    const int64_t D = g.in_size[0], H = g.in_size[1], W = g.in_size[2];
    if (id < 0 || id >= D || ih < 0 || ih >= H) return zero_row();
    const int64_t r = (c * D + id) * H + ih;
    T* dst = rows + r * pw;
    if (stamp[r] != n) {
      stamp[r] = n;
      const T* src = x + ((n * g.in_channels + c) * D + id) * H * W + ih * W;
      const int64_t pad = g.pad_before[2];
      const int64_t lo = std::min(pw, pad), hi = std::max(lo, std::min(pw, pad + W));
      std::fill(dst, dst + lo, T(0));
      std::memcpy(dst + lo, src + (lo - pad), size_t(hi - lo) * sizeof(T));
      std::fill(dst + hi, dst + pw, T(0));
    }
    return dst;
  }
  // The copies of the input rows that output row (n, od, oh) reads.
  void fill_rows(int64_t n, int64_t od, int64_t oh) {
    for (int64_t c = 0; c < g.in_channels; ++c)
      for (int64_t a = 0; a < g.kernel[0]; ++a)
        for (int64_t b = 0; b < g.kernel[1]; ++b)
          get(n, c, od * g.stride[0] - g.pad_before[0] + a * g.dilation[0],
              oh * g.stride[1] - g.pad_before[1] + b * g.dilation[1]);
  }
  // pt[k] for every tap k = (c, a, b, e): where it reads output position w0 of row (n, od, oh);
  // exactly the zero row where its input row is padding.
  void tap_pointers(int64_t n, int64_t od, int64_t oh, int64_t w0, const T** pt) {
    for (int64_t c = 0, k = 0; c < g.in_channels; ++c)
      for (int64_t a = 0; a < g.kernel[0]; ++a)
        for (int64_t b = 0; b < g.kernel[1]; ++b) {
          const T* base = get(n, c, od * g.stride[0] - g.pad_before[0] + a * g.dilation[0],
                              oh * g.stride[1] - g.pad_before[1] + b * g.dilation[1]);
          const bool zero = base == zero_row();
          for (int64_t e = 0; e < g.kernel[2]; ++e, ++k)
            pt[k] = zero ? base : base + w0 * g.stride[2] + e * g.dilation[2];
        }
  }
};

// Products of output row segment u of a sample (segments of seg positions, spr per row) over
// the taps that read an input row (not D / H padding, which both passes skip): the weight by
// which the work is shared out. A 7x7x7/2 stem on 8 frames reads 4, 6, 7 and 5 depth taps for
// its 4 output slices: equal unit counts per thread leave one with 20% more work than the other.
inline int64_t unit_cost(const ConvGeometry& g, int64_t seg, int64_t spr, int64_t u) {
  const auto live = [&](int d, int64_t o) {
    int64_t n = 0;
    for (int64_t a = 0; a < g.kernel[d]; ++a) {
      const int64_t i = o * g.stride[d] - g.pad_before[d] + a * g.dilation[d];
      n += i >= 0 && i < g.in_size[d];
    }
    return n;
  };
  const int64_t r = u / spr, w0 = (u % spr) * seg;
  // (+1: the unit's other work, its transposition, for units that only read padding rows)
  return (live(0, r / g.out_size[1]) * live(1, r % g.out_size[1]) + 1) *
         std::min(seg, g.out_size[2] - w0);
}

template <typename T>
struct Plan {
  SmallChannelKernels<T> kernels{};
  SmallWgradKernel<T> kernel{};
  int64_t cog_pad = 0, kc_pad = 0;   // dW^T partial sums: kc_pad rows x cog_pad columns
  int64_t pw = 0;                    // padded input row length
  int64_t in_rows = 0;               // input rows of one sample (C_in D H)
  int64_t seg = 0, segs_per_row = 0, units = 0;
  int64_t chunk_units = 1;
  int64_t splits = 0;
  std::array<int64_t, kMaxSplits + 1> bounds{};  // split s sums units [bounds[s], bounds[s + 1])
  int threads = 1;
  int64_t align = 0;  // slack elements to align each thread's dY^T to 64 bytes
  int64_t shared() const { return splits * kc_pad * cog_pad; }
  int64_t per_thread() const {  // elements: padded rows + zero row, dY^T
    return (in_rows + 1) * pw + chunk_units * seg * cog_pad + align;
  }
  // row stamps; per unit of a chunk: length, first dY^T row, and the units a tap block reads
  int64_t per_thread_words() const { return in_rows + 3 * chunk_units; }
  int64_t per_thread_pointers() const { return chunk_units * kc_pad; }  // taps of a chunk's units
  int64_t bytes() const {
    return (shared() + threads * per_thread()) * int64_t(sizeof(T)) +
           threads * (per_thread_words() * int64_t(sizeof(int64_t)) +
                      per_thread_pointers() * int64_t(sizeof(const T*)));
  }
};

// backward_weight's tile of the chosen width whose height pads the K taps least (ties: the
// taller). FASTCONV_SMALL_WGRAD_MR=<taps> takes that height where the width has one (tests,
// studies).
// Fashion-MNIST conv1 (5x5 1 -> 16, K = 25, b64), 1 thread CPU ms 8 x 16 (32 taps) / 5 x 16,
// two rounds: 0.720 / 0.572, 0.662 / 0.560 (implicit_gemm_cpu.md, round 6).
template <typename T>
SmallWgradKernel<T> pick_height(const SmallChannelKernels<T>& ks, SmallWgradKernel<T> best,
                                int64_t K) {
  const char* force = std::getenv("FASTCONV_SMALL_WGRAD_MR");
  const int64_t forced = force && *force ? std::atoll(force) : 0;
  if (forced == best.mr) return best;
  for (int i = 0; i < ks.height_count; ++i) {
    const SmallWgradKernel<T>& k = ks.heights[i];
    if (k.nr != best.nr) continue;
    if (forced) {
      if (k.mr == forced) return k;
      continue;
    }
    const int64_t pad = ceil_div(K, k.mr) * k.mr, best_pad = ceil_div(K, best.mr) * best.mr;
    if (pad < best_pad || (pad == best_pad && k.mr > best.mr)) best = k;
  }
  return best;
}

template <typename T>
Plan<T> make_plan(const ConvGeometry& g) {
  Plan<T> plan;
  plan.kernels = select_kernels<T>();
  const int64_t cog = g.out_channels, K = g.gemm_k(), OW = g.out_size[2];
  if (g.batch == 0 || g.out_plane() == 0 || cog == 0 || K == 0) return plan;
  plan.kernel = plan.kernels.kernel[plan.kernels.count - 1];
  for (int i = plan.kernels.count - 1; i >= 0; --i)
    if (plan.kernels.kernel[i].nr >= cog) plan.kernel = plan.kernels.kernel[i];
  plan.kernel = pick_height(plan.kernels, plan.kernel, K);
  plan.cog_pad = ceil_div(cog, plan.kernel.nr) * plan.kernel.nr;
  plan.kc_pad = ceil_div(K, plan.kernel.mr) * plan.kernel.mr;
  plan.pw = (OW - 1) * g.stride[2] + (g.kernel[2] - 1) * g.dilation[2] + 1;
  plan.in_rows = g.in_channels * g.in_size[0] * g.in_size[1];
  plan.seg = std::min(OW, kSegment);
  plan.segs_per_row = ceil_div(OW, plan.seg);
  plan.units = g.batch * g.out_size[0] * g.out_size[1] * plan.segs_per_row;
  const int64_t sample_units = g.out_size[0] * g.out_size[1] * plan.segs_per_row;
  plan.chunk_units = std::max<int64_t>(
      1, std::min(sample_units, kDytBytes / (plan.seg * plan.cog_pad * int64_t(sizeof(T)))));
  const int64_t positions = g.batch * g.out_plane();
  plan.splits = std::max<int64_t>(
      1, std::min({kMaxSplits, plan.units, positions / kMinSplitPositions}));
  // split boundaries at equal shares of the products (unit_cost; a function of the geometry)
  int64_t sample_cost = 0;
  for (int64_t u = 0; u < sample_units; ++u)
    sample_cost += unit_cost(g, plan.seg, plan.segs_per_row, u);
  const int64_t total = g.batch * sample_cost;
  plan.bounds.fill(plan.units);
  plan.bounds[0] = 0;
  for (int64_t u = 0, before = 0, s = 1; u < plan.units && s < plan.splits; ++u) {
    while (s < plan.splits && before * plan.splits >= s * total) plan.bounds[size_t(s++)] = u;
    before += unit_cost(g, plan.seg, plan.segs_per_row, u % sample_units);
  }
  plan.align = 64 / int64_t(sizeof(T));
  plan.threads = threads_for(plan.splits, positions * cog * K);
  return plan;
}

template <typename T>
void wgrad_small_channels(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  const Plan<T> plan = make_plan<T>(g);
  const int64_t cout = g.out_channels, K = g.gemm_k();
  if (plan.splits == 0) {  // an empty sum
    std::fill(gw, gw + cout * K, T(0));
    return;
  }
  const SmallWgradKernel<T> kern = plan.kernel;
  const SmallTransposeFn<T> transpose = plan.kernels.transpose;
  const int64_t OH = g.out_size[1], OW = g.out_size[2], out_plane = g.out_plane();
  const int64_t pw = plan.pw, cog_pad = plan.cog_pad, kc_pad = plan.kc_pad;
  const int64_t mr = kern.mr, nr = kern.nr, seg = plan.seg, spr = plan.segs_per_row;
  const int64_t splits = plan.splits, cu = plan.chunk_units;
  const int64_t sample_units = g.out_size[0] * OH * spr;
  std::vector<T> partial(size_t(plan.shared()));
  // zero-filled: the zero row, and dY^T's padding channels (never written by the transposition)
  std::vector<T> workspace(size_t(plan.threads * plan.per_thread()));
  std::vector<int64_t> words(size_t(plan.threads * plan.per_thread_words()));
  std::vector<const T*> pointers(size_t(plan.threads * plan.per_thread_pointers()));

#pragma omp parallel num_threads(plan.threads)
  {
    const FlushDenormals flush_denormals;
    const int tid = thread_index();
    T* rows = workspace.data() + tid * plan.per_thread();
    const T* zero_row = rows + plan.in_rows * pw;
    T* dyt = rows + (plan.in_rows + 1) * pw;
    dyt += (plan.align - (reinterpret_cast<uintptr_t>(dyt) / sizeof(T)) % plan.align) %
           plan.align;
    int64_t* stamp = words.data() + tid * plan.per_thread_words();  // sample held by each row
    int64_t* len = stamp + plan.in_rows;
    int64_t* at = len + cu;
    int64_t* live = at + cu;
    const T** ptrs = pointers.data() + tid * plan.per_thread_pointers();
    std::fill(stamp, stamp + plan.in_rows, int64_t(-1));
    RowCache<T> cache{g, x, pw, rows, stamp};
    int64_t prev_unit = -1, prev_nu = -1;  // the chunk (unit in its sample, units) ptrs hold
#pragma omp for schedule(static)
    for (int64_t s = 0; s < splits; ++s) {
      T* acc = partial.data() + s * kc_pad * cog_pad;
      std::fill(acc, acc + kc_pad * cog_pad, T(0));
      const int64_t u0 = plan.bounds[size_t(s)], u1 = plan.bounds[size_t(s + 1)];
      for (int64_t c0 = u0, nu = 0; c0 < u1; c0 += nu) {
        // a chunk stays inside one sample: the row copies hold one sample at a time
        nu = std::min({cu, u1 - c0, (c0 / sample_units + 1) * sample_units - c0});
        // the same units of another sample: the tap pointers stand (as the forward's)
        const bool same_units = c0 % sample_units == prev_unit && nu == prev_nu;
        prev_unit = c0 % sample_units;
        prev_nu = nu;
        int64_t pos = 0;
        for (int64_t i = 0; i < nu; ++i) {
          const int64_t u = c0 + i, w0 = (u % spr) * seg, r = u / spr;
          const int64_t oh = r % OH, od = (r / OH) % g.out_size[0], n = r / (OH * g.out_size[0]);
          len[i] = std::min(seg, OW - w0);
          at[i] = pos;
          pos += len[i];
          if (same_units) {
            cache.fill_rows(n, od, oh);
            continue;
          }
          const T** pt = ptrs + i * kc_pad;
          cache.tap_pointers(n, od, oh, w0, pt);
          for (int64_t k = K; k < kc_pad; ++k) pt[k] = zero_row;  // padding taps: never stored
        }
        {  // the chunk's positions are consecutive in its sample's grad_output: one transposition
          const int64_t n = c0 / sample_units, u = c0 % sample_units;
          const int64_t first = (u / spr) * OW + (u % spr) * seg;
          transpose(cout, pos, gy + n * cout * out_plane + first, out_plane, dyt, cog_pad);
        }
        for (int64_t o0 = 0; o0 < cog_pad; o0 += nr)
          for (int64_t k0 = 0; k0 < kc_pad; k0 += mr) {
            // the units where some tap of the block reads an input row (not only padding rows:
            // a 7x7x7/2 stem on 8 frames has 21% of its products there)
            int64_t nlive = 0;
            for (int64_t i = 0; i < nu; ++i) {
              const T* const* pt = ptrs + i * kc_pad + k0;
              bool any = false;
              for (int64_t j = 0; j < mr; ++j) any |= pt[j] != zero_row;
              if (any) live[nlive++] = i;
            }
            if (nlive > 0)
              kern.run(nlive, live, len, at, ptrs + k0, kc_pad, g.stride[2], dyt + o0, cog_pad,
                       acc + k0 * cog_pad + o0, cog_pad);
          }
      }
    }
    // dW[o, k] = the splits' partial sums, added in split order
#pragma omp for schedule(static)
    for (int64_t o = 0; o < cout; ++o)
      for (int64_t k = 0; k < K; ++k) {
        T sum = partial[size_t(k * cog_pad + o)];
        for (int64_t s = 1; s < splits; ++s) sum += partial[size_t((s * kc_pad + k) * cog_pad + o)];
        gw[o * K + k] = sum;
      }
  }
}

// ------------------------------------------------------------------------------------ forward
//
//   Y^T[q, o] = sum_{taps k} x_pad[k at q] * W^T[k, o]
// The forward tile (conv_small_channels.h) holds MP positions of a row segment x NR output
// channels in registers over the taps whose input row is not padding (a list per unit, in tap
// order); a chunk of units fills a Y^T buffer, transposed into y with the bias / ReLU epilogue.
// Every output element sums its products in tap order: results do not depend on the threads or
// on the batch. Threads split the chunks (each inside one sample).
template <typename T>
struct ForwardPlan {
  SmallForwardKernel<T> kernel{};
  int64_t K = 0, cog_pad = 0, pw = 0, in_rows = 0, seg = 0, segs_per_row = 0;
  int64_t sample_units = 0, chunk_units = 1, chunks_per_sample = 0, chunks = 0;
  int64_t sample_cost = 0;  // a sample's products (unit_cost)
  int64_t slack = 0;  // after the zero row: a tile's last positions read up to MP cells past a row
  int64_t align = 0;
  int threads = 1;
  int64_t shared() const { return K * cog_pad; }  // W^T
  int64_t per_thread() const {  // padded rows + zero row + slack, Y^T of a chunk (+ MP rows)
    return (in_rows + 1) * pw + slack + (chunk_units * seg + kernel.mp) * cog_pad + align;
  }
  // row stamps; per unit: length, first Y^T row, live taps and their W^T rows
  int64_t per_thread_words() const { return in_rows + chunk_units * (3 + K); }
  int64_t per_thread_pointers() const { return chunk_units * K; }
  int64_t bytes() const {
    return (shared() + threads * per_thread()) * int64_t(sizeof(T)) +
           threads * (per_thread_words() * int64_t(sizeof(int64_t)) +
                      per_thread_pointers() * int64_t(sizeof(const T*)));
  }
};

// forward's tile of the chosen width whose height pads a row's positions least (ties: the
// taller). FASTCONV_SMALL_FORWARD_MP=<positions> takes that height where the width has one
// (tests, studies). i3d stem 7x7x7/2 3 -> 64 (56 positions a row), 1 thread CPU ms 6 x 64
// (60) / 7 x 64 / 4 x 64: 13.6 / 12.5 / 12.7, 13.8 / 12.3 / 12.2 (implicit_gemm_cpu.md, round 6).
template <typename T>
SmallForwardKernel<T> pick_forward_height(const SmallChannelKernels<T>& ks,
                                          SmallForwardKernel<T> best, int64_t OW, int64_t seg) {
  const char* force = std::getenv("FASTCONV_SMALL_FORWARD_MP");
  const int64_t forced = force && *force ? std::atoll(force) : 0;
  if (forced == best.mp) return best;
  const auto padded = [&](int64_t mp) {  // positions computed per output row
    return OW / seg * ceil_div(seg, mp) * mp + ceil_div(OW % seg, mp) * mp;
  };
  for (int i = 0; i < ks.forward_height_count; ++i) {
    const SmallForwardKernel<T>& k = ks.forward_heights[i];
    if (k.nr != best.nr) continue;
    if (forced) {
      if (k.mp == forced) return k;
      continue;
    }
    const int64_t pad = padded(k.mp), best_pad = padded(best.mp);
    if (pad < best_pad || (pad == best_pad && k.mp > best.mp)) best = k;
  }
  return best;
}

template <typename T>
ForwardPlan<T> make_forward_plan(const ConvGeometry& g) {
  ForwardPlan<T> plan;
  const SmallChannelKernels<T> kernels = select_kernels<T>();
  const int64_t cout = g.out_channels, OW = g.out_size[2];
  plan.K = g.gemm_k();
  if (g.batch == 0 || g.out_plane() == 0 || cout == 0) return plan;
  plan.kernel = kernels.forward[kernels.forward_count - 1];
  for (int i = kernels.forward_count - 1; i >= 0; --i)
    if (kernels.forward[i].nr >= cout) plan.kernel = kernels.forward[i];
  plan.seg = std::min(OW, kSegment);
  plan.kernel = pick_forward_height(kernels, plan.kernel, OW, plan.seg);
  plan.cog_pad = ceil_div(cout, plan.kernel.nr) * plan.kernel.nr;
  plan.pw = (OW - 1) * g.stride[2] + (g.kernel[2] - 1) * g.dilation[2] + 1;
  plan.in_rows = g.in_channels * g.in_size[0] * g.in_size[1];
  plan.segs_per_row = ceil_div(OW, plan.seg);
  plan.sample_units = g.out_size[0] * g.out_size[1] * plan.segs_per_row;
  plan.chunk_units = std::max<int64_t>(
      1, std::min(plan.sample_units, kDytBytes / (plan.seg * plan.cog_pad * int64_t(sizeof(T)))));
  // Smaller chunks where they share out more evenly over the threads (the i3d stem b1: 25 chunks
  // of 9 rows, 13 / 12 per thread, or 28 of 8: 14 / 14). Results do not depend on the chunks.
  const int64_t t = num_threads();
  int64_t best_time = -1;
  for (int64_t cu = plan.chunk_units; cu >= std::max<int64_t>(1, plan.chunk_units / 2); --cu) {
    const int64_t time = ceil_div(g.batch * ceil_div(plan.sample_units, cu), t) * cu;
    if (best_time < 0 || time < best_time) {
      best_time = time;
      plan.chunk_units = cu;
    }
  }
  plan.chunks_per_sample = ceil_div(plan.sample_units, plan.chunk_units);
  plan.chunks = g.batch * plan.chunks_per_sample;
  for (int64_t u = 0; u < plan.sample_units; ++u)
    plan.sample_cost += unit_cost(g, plan.seg, plan.segs_per_row, u);
  plan.slack = plan.kernel.mp * g.stride[2];
  plan.align = 64 / int64_t(sizeof(T));
  plan.threads = threads_for(plan.chunks, g.batch * g.out_plane() * cout * plan.K);
  return plan;
}

template <typename T>
void forward_small_channels_impl(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                                 bool relu, T* y) {
  const ForwardPlan<T> plan = make_forward_plan<T>(g);
  if (plan.chunks == 0) return;
  const SmallForwardKernel<T> kern = plan.kernel;
  const SmallTransposeFn<T> transpose = select_kernels<T>().transpose;
  const int64_t cout = g.out_channels, K = plan.K, cog_pad = plan.cog_pad, pw = plan.pw;
  const int64_t OH = g.out_size[1], OW = g.out_size[2], out_plane = g.out_plane();
  const int64_t mp = kern.mp, nr = kern.nr, seg = plan.seg, spr = plan.segs_per_row;
  const int64_t cu = plan.chunk_units, sw = g.stride[2];
  std::vector<T> wt(size_t(plan.shared()));
  std::vector<T> workspace(size_t(plan.threads * plan.per_thread()));  // zero: zero row, slack
  std::vector<int64_t> words(size_t(plan.threads * plan.per_thread_words()));
  std::vector<const T*> pointers(size_t(plan.threads * plan.per_thread_pointers()));

#pragma omp parallel num_threads(plan.threads)
  {
    const FlushDenormals flush_denormals;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t o = 0; o < cog_pad; ++o)
        wt[size_t(k * cog_pad + o)] = o < cout ? w[o * K + k] : T(0);
    const int tid = thread_index();
    T* rows = workspace.data() + tid * plan.per_thread();
    T* yt = rows + (plan.in_rows + 1) * pw + plan.slack;
    yt += (plan.align - (reinterpret_cast<uintptr_t>(yt) / sizeof(T)) % plan.align) % plan.align;
    int64_t* stamp = words.data() + tid * plan.per_thread_words();
    int64_t* len = stamp + plan.in_rows;
    int64_t* at = len + cu;
    int64_t* live = at + cu;   // live taps per unit
    int64_t* wrow = live + cu;  // unit i: W^T row offsets of its live taps, K per unit
    const T** ptrs = pointers.data() + tid * plan.per_thread_pointers();
    std::fill(stamp, stamp + plan.in_rows, int64_t(-1));
    RowCache<T> cache{g, x, pw, rows, stamp};
    const T* zero_row = cache.zero_row();
    // Each thread takes the chunks whose middle product falls in its equal share of all of them
    // (consecutive chunks; the i3d stem b1's 4 output slices read 4, 6, 7 and 5 depth taps).
#ifdef _OPENMP
    const int64_t team = omp_get_num_threads();
#else
    const int64_t team = 1;
#endif
    const int64_t cps = plan.chunks_per_sample, total = g.batch * plan.sample_cost;
    int64_t prev_ub = -1, prev_nu = -1;  // the units whose tap lists ptrs / wrow / live hold
    // products of each chunk of a sample (the same in every sample)
    std::vector<int64_t> chunk_cost(size_t(cps), 0);
    for (int64_t u = 0; u < plan.sample_units; ++u)
      chunk_cost[size_t(u / cu)] += unit_cost(g, seg, spr, u);
    for (int64_t c = 0, before = 0; c < plan.chunks; ++c) {  // before: products of chunks < c
      const int64_t cost = chunk_cost[size_t(c % cps)];
      const int64_t mid = 2 * before + cost;
      before += cost;
      if (std::min(team - 1, mid * team / (2 * total)) != tid) continue;
      const int64_t n = c / plan.chunks_per_sample, ub = (c % plan.chunks_per_sample) * cu;
      const int64_t nu = std::min(cu, plan.sample_units - ub);
      // The tap lists of the units (pointers into this thread's row copies) do not depend on
      // the sample: a chunk of the same units as this thread's previous one (one chunk per
      // sample: Fashion-MNIST conv1) only refreshes the row copies (building the lists was
      // ~10% of its forward, 28-position units of 25 taps).
      const bool same_units = ub == prev_ub && nu == prev_nu;
      prev_ub = ub;
      prev_nu = nu;
      int64_t pos = 0;
      for (int64_t i = 0; i < nu; ++i) {
        const int64_t u = ub + i, w0 = (u % spr) * seg, r = u / spr;
        len[i] = std::min(seg, OW - w0);
        at[i] = pos;
        pos += len[i];
        if (same_units) {
          cache.fill_rows(n, r / OH, r % OH);
          continue;
        }
        const T** pt = ptrs + i * K;
        cache.tap_pointers(n, r / OH, r % OH, w0, pt);
        int64_t m = 0;  // the taps that read an input row, in order
        for (int64_t k = 0; k < K; ++k)
          if (pt[k] != zero_row) {
            pt[m] = pt[k];
            wrow[i * K + m++] = k * cog_pad;
          }
        live[i] = m;
      }
      // (a unit's last tile writes up to MP - 1 rows past it: the next unit's, rewritten after)
      for (int64_t o0 = 0; o0 < cog_pad; o0 += nr)
        for (int64_t i = 0; i < nu; ++i)
          for (int64_t p0 = 0; p0 < len[i]; p0 += mp)
            kern.run(live[i], ptrs + i * K, wrow + i * K, wt.data() + o0, p0 * sw, sw,
                     yt + (at[i] + p0) * cog_pad + o0, cog_pad);
      const int64_t first = (ub / spr) * OW + (ub % spr) * seg;  // positions are consecutive
      T* yn = y + n * cout * out_plane + first;
      transpose(pos, cout, yt, cog_pad, yn, out_plane);
      if (bias || relu)
        for (int64_t o = 0; o < cout; ++o)
          bias_relu_row(yn + o * out_plane, pos, bias ? bias[o] : T(0), relu);
    }
  }
}

}  // namespace

std::string small_channels_unsupported(ConvPass pass, const ConvGeometry& g) {
  if (pass == ConvPass::BackwardData) return "it computes forward and backward_weight only";
  if (g.groups != 1) return "it needs groups == 1, got groups=" + std::to_string(g.groups);
  if (g.in_channels > kMaxChannels)
    return "it needs at most " + std::to_string(kMaxChannels) + " input channels, got " +
           std::to_string(g.in_channels);
  return {};
}

template <typename T>
int64_t small_channels_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  if (!small_channels_unsupported(pass, g).empty()) return -1;
  if (pass == ConvPass::Forward) {
    const ForwardPlan<T> plan = make_forward_plan<T>(g);
    return plan.chunks == 0 ? 0 : plan.bytes();
  }
  const Plan<T> plan = make_plan<T>(g);
  return plan.splits == 0 ? 0 : plan.bytes();
}

template <typename T>
void backward_weight_small_channels(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  wgrad_small_channels(g, x, gy, gw);
}

template <typename T>
void forward_small_channels(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                            bool relu, T* y) {
  forward_small_channels_impl(g, x, w, bias, relu, y);
}

template void forward_small_channels<float>(const ConvGeometry&, const float*, const float*,
                                            const float*, bool, float*);
template void forward_small_channels<double>(const ConvGeometry&, const double*, const double*,
                                             const double*, bool, double*);
template int64_t small_channels_workspace_bytes<float>(const ConvGeometry&, ConvPass);
template int64_t small_channels_workspace_bytes<double>(const ConvGeometry&, ConvPass);
template void backward_weight_small_channels<float>(const ConvGeometry&, const float*,
                                                    const float*, float*);
template void backward_weight_small_channels<double>(const ConvGeometry&, const double*,
                                                     const double*, double*);

}  // namespace fastconv::cpu
