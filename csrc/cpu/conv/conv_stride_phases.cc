// Strided backward passes as stride-1 problems per stride phase; see conv_stride_phases.h.
#include "cpu/conv/conv_stride_phases.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "common/denormals.h"
#include "common/parallel.h"

namespace fastconv::cpu {

namespace {

// One progression of kernel taps along one dimension, k0 + step j (j < taps), and the input
// phase it reads: positions phase + stride (first + q), q < rows, seen by the stride-1
// sub-problem as its input positions q (with its own padding and dilation).
struct TapClass {
  int64_t k0, step, taps;
  int64_t phase, first, rows;
  int64_t pad, dilation;
};

std::vector<TapClass> tap_classes(const ConvGeometry& g, int d) {
  const int64_t s = g.stride[d], dil = g.dilation[d], k = g.kernel[d], p = g.pad_before[d];
  const int64_t common = std::gcd(s, dil), step = s / common;
  std::vector<TapClass> classes;
  for (int64_t k0 = 0; k0 < std::min(step, k); ++k0) {
    TapClass c;
    c.k0 = k0;
    c.step = step;
    c.taps = ceil_div(k - k0, step);
    c.phase = ((k0 * dil - p) % s + s) % s;
    // input s q + phase meets output o through tap k0 + step j when o = q + shift - j dil/common
    const int64_t shift = (c.phase + p - k0 * dil) / s;  // exact by the choice of phase
    const int64_t phase_rows = g.in_size[d] > c.phase ? ceil_div(g.in_size[d] - c.phase, s) : 0;
    // a negative shift (dilated taps past the padding) leaves the first -shift phase rows
    // untouched: the sub-problem starts after them, with no padding
    c.first = std::max<int64_t>(0, -shift);
    c.rows = std::max<int64_t>(0, phase_rows - c.first);
    c.pad = std::max<int64_t>(0, shift);
    c.dilation = dil / common;
    classes.push_back(c);
  }
  return classes;
}

// The sub-problems: one per combination of tap classes of the three dimensions.
struct PhasePlan {
  std::vector<TapClass> classes[3];
  std::vector<ConvGeometry> subs;
  std::vector<const TapClass*> combos;  // 3 per sub-problem
  bool covers_input = true;  // every input position is written by some sub-problem

  explicit PhasePlan(const ConvGeometry& g) {
    int64_t phases_hit = 1;
    for (int d = 0; d < 3; ++d) {
      classes[d] = tap_classes(g, d);
      phases_hit *= int64_t(classes[d].size());
      for (const TapClass& c : classes[d])
        if (c.first > 0) covers_input = false;
    }
    if (phases_hit < g.stride[0] * g.stride[1] * g.stride[2]) covers_input = false;
    for (const TapClass& c0 : classes[0])
      for (const TapClass& c1 : classes[1])
        for (const TapClass& c2 : classes[2]) {
          const TapClass* c[3] = {&c0, &c1, &c2};
          ConvGeometry sub = g;
          for (int d = 0; d < 3; ++d) {
            sub.in_size[d] = c[d]->rows;
            sub.kernel[d] = c[d]->taps;
            sub.stride[d] = 1;
            sub.pad_before[d] = c[d]->pad;
            sub.dilation[d] = c[d]->dilation;
          }
          subs.push_back(sub);
          combos.insert(combos.end(), c, c + 3);
        }
  }
  const TapClass* const* combo(size_t i) const { return &combos[3 * i]; }
};

// Positions start[d] + step[d] i (i < count[d]) of a (planes, full[0], full[1], full[2]) array,
// against a dense (planes, count[0], count[1], count[2]) one.
struct Lattice {
  int64_t full[3], start[3], step[3], count[3];
};

Lattice input_lattice(const ConvGeometry& g, const TapClass* const* c) {
  Lattice l;
  for (int d = 0; d < 3; ++d) {
    l.full[d] = g.in_size[d];
    l.start[d] = c[d]->phase + g.stride[d] * c[d]->first;
    l.step[d] = g.stride[d];
    l.count[d] = c[d]->rows;
  }
  return l;
}

Lattice kernel_lattice(const ConvGeometry& g, const TapClass* const* c) {
  Lattice l;
  for (int d = 0; d < 3; ++d) {
    l.full[d] = g.kernel[d];
    l.start[d] = c[d]->k0;
    l.step[d] = c[d]->step;
    l.count[d] = c[d]->taps;
  }
  return l;
}

// Copies between the lattice of `full` and `dense`, rows along the last dimension split over
// the threads (a plain copy: no result depends on the thread count).
template <typename T, bool kToDense>
void copy_lattice(const Lattice& l, int64_t planes, T* full, T* dense) {
  const int64_t rows = planes * l.count[0] * l.count[1], row_len = l.count[2];
  if (rows == 0 || row_len == 0) return;
#pragma omp parallel for num_threads(threads_for(rows, rows * row_len)) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    FlushDenormals flush;  // a copy does no arithmetic; kept for the rule of every region
    const int64_t b = row % l.count[1], a = (row / l.count[1]) % l.count[0];
    const int64_t plane = row / (l.count[0] * l.count[1]);
    T* f = full + ((plane * l.full[0] + l.start[0] + l.step[0] * a) * l.full[1] + l.start[1] +
                   l.step[1] * b) * l.full[2] + l.start[2];
    T* dn = dense + row * row_len;
    const int64_t st = l.step[2];
    if (kToDense) {
      for (int64_t e = 0; e < row_len; ++e) dn[e] = f[st * e];
    } else {
      for (int64_t e = 0; e < row_len; ++e) f[st * e] = dn[e];
    }
  }
}

template <typename T>
void gather(const Lattice& l, int64_t planes, const T* full, T* dense) {
  copy_lattice<T, true>(l, planes, const_cast<T*>(full), dense);
}

template <typename T>
void scatter(const Lattice& l, int64_t planes, const T* dense, T* full) {
  copy_lattice<T, false>(l, planes, full, const_cast<T*>(dense));
}

int64_t volume(const Lattice& l) { return l.count[0] * l.count[1] * l.count[2]; }

template <typename T>
void fill_zero(T* p, int64_t n) {
  if (n > 0) std::memset(p, 0, size_t(n) * sizeof(T));
}

template <typename T>
std::unique_ptr<T[]> uninitialized(int64_t n) {
  return std::unique_ptr<T[]>(new T[size_t(std::max<int64_t>(n, 1))]);
}

// Samples per call of the sub-problems: the batch runs in chunks so that the input-phase buffer
// stays within kPhaseBufferBytes (at least one sample), which bounds the workspace on large
// batches. A chunk's size depends on the geometry only, so results do not depend on threads.
constexpr int64_t kPhaseBufferBytes = int64_t(16) << 20;

struct Buffers {
  int64_t chunk = 1;        // samples per sub-problem call
  int64_t input_side = 0;   // elements of the input-phase buffer (chunk samples)
  int64_t kernel_side = 0;  // elements of the largest sub-kernel
};

Buffers buffer_sizes(const ConvGeometry& g, const PhasePlan& plan, int64_t element_size) {
  Buffers b;
  int64_t per_sample = 0;
  for (const ConvGeometry& sub : plan.subs) {
    per_sample = std::max(per_sample, g.in_channels * sub.in_plane());
    b.kernel_side = std::max(b.kernel_side,
                             g.out_channels * g.in_channels_per_group() * sub.kernel_volume());
  }
  const int64_t fits = kPhaseBufferBytes / std::max<int64_t>(per_sample * element_size, 1);
  b.chunk = std::max<int64_t>(1, std::min<int64_t>(g.batch, fits));
  b.input_side = b.chunk * per_sample;
  return b;
}

// The algorithm of a sub-problem: the auto choice for its geometry; for backward_data the choice
// for one sample, since auto's choice can change with the batch size (implicit_gemm's waste
// estimate does) and a sample's grad_input must not depend, bitwise, on the batch it is in.
ConvAlgorithm sub_algorithm(const ConvGeometry& sub, ConvPass pass, int64_t element_size) {
  ConvGeometry chooser = sub;
  if (pass == ConvPass::BackwardData) chooser.batch = 1;
  return choose_conv_algorithm(chooser, pass, ConvAlgorithm::Auto, element_size);
}

}  // namespace

std::string stride_phases_unsupported(ConvPass pass, const ConvGeometry& g) {
  if (pass == ConvPass::Forward)
    return "it rewrites the backward passes only (backward_data, backward_weight)";
  if (g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1)
    return "it splits a stride > 1 into stride phases; this convolution has stride 1";
  return {};
}

std::vector<std::string> stride_phases_sub_algorithms(const ConvGeometry& g, ConvPass pass,
                                                      int64_t element_size) {
  std::vector<std::string> names;
  if (!stride_phases_unsupported(pass, g).empty()) return names;
  const PhasePlan plan(g);
  const Buffers b = buffer_sizes(g, plan, element_size);
  for (ConvGeometry sub : plan.subs) {
    sub.batch = b.chunk;  // the first chunk's
    if (sub.in_plane() > 0)
      names.emplace_back(conv_algorithm_name(sub_algorithm(sub, pass, element_size)));
  }
  return names;
}

template <typename T>
int64_t stride_phases_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  if (!stride_phases_unsupported(pass, g).empty()) return -1;
  const PhasePlan plan(g);
  const Buffers b = buffer_sizes(g, plan, sizeof(T));
  const int64_t chunks = ceil_div(g.batch, b.chunk);
  int64_t inner = 0;
  for (ConvGeometry sub : plan.subs) {
    if (sub.in_plane() == 0) continue;
    // a full chunk and the last (smaller) one
    for (const int64_t samples : {b.chunk, chunks > 0 ? g.batch - (chunks - 1) * b.chunk : 1}) {
      sub.batch = samples;
      const ConvAlgorithm a = sub_algorithm(sub, pass, sizeof(T));
      const int64_t bytes = conv_workspace_bytes(a, pass, sub, sizeof(T));
      if (bytes < 0) return -1;
      inner = std::max(inner, bytes);
    }
  }
  // backward_weight sums the chunks' sub-kernel gradients: one more sub-kernel buffer
  const int64_t kernel_buffers = pass == ConvPass::BackwardWeight && chunks > 1 ? 2 : 1;
  return int64_t(sizeof(T)) * (std::max<int64_t>(b.input_side, 1) +
                               kernel_buffers * std::max<int64_t>(b.kernel_side, 1)) + inner;
}

template <typename T>
void backward_data_stride_phases(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  const PhasePlan plan(g);
  const Buffers b = buffer_sizes(g, plan, sizeof(T));
  auto gx_phase = uninitialized<T>(b.input_side);
  auto w_sub = uninitialized<T>(b.kernel_side);
  if (!plan.covers_input) fill_zero(gx, g.batch * g.in_channels * g.in_plane());
  const int64_t weight_planes = g.out_channels * g.in_channels_per_group();
  for (size_t i = 0; i < plan.subs.size(); ++i) {
    ConvGeometry sub = plan.subs[i];
    if (sub.in_plane() == 0) continue;
    gather(kernel_lattice(g, plan.combo(i)), weight_planes, w, w_sub.get());
    const ConvAlgorithm algorithm = sub_algorithm(sub, ConvPass::BackwardData, sizeof(T));
    for (int64_t n0 = 0; n0 < g.batch; n0 += b.chunk) {
      sub.batch = std::min(b.chunk, g.batch - n0);
      conv_backward_data(sub, gy + n0 * g.out_channels * g.out_plane(), w_sub.get(),
                         gx_phase.get(), algorithm);
      scatter(input_lattice(g, plan.combo(i)), sub.batch * g.in_channels, gx_phase.get(),
              gx + n0 * g.in_channels * g.in_plane());
    }
  }
}

template <typename T>
void backward_weight_stride_phases(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  const PhasePlan plan(g);
  const Buffers b = buffer_sizes(g, plan, sizeof(T));
  const bool chunked = g.batch > b.chunk;
  auto x_phase = uninitialized<T>(b.input_side);
  auto gw_sub = uninitialized<T>(b.kernel_side);
  auto gw_chunk = uninitialized<T>(chunked ? b.kernel_side : 1);
  const int64_t weight_planes = g.out_channels * g.in_channels_per_group();
  for (size_t i = 0; i < plan.subs.size(); ++i) {
    ConvGeometry sub = plan.subs[i];
    const Lattice taps = kernel_lattice(g, plan.combo(i));
    const int64_t n_taps = weight_planes * volume(taps);
    if (sub.in_plane() == 0 || g.batch == 0) {  // these taps read only padding
      fill_zero(gw_sub.get(), n_taps);
    }
    for (int64_t n0 = 0; n0 < g.batch && sub.in_plane() > 0; n0 += b.chunk) {
      sub.batch = std::min(b.chunk, g.batch - n0);
      gather(input_lattice(g, plan.combo(i)), sub.batch * g.in_channels,
             x + n0 * g.in_channels * g.in_plane(), x_phase.get());
      T* out = n0 == 0 ? gw_sub.get() : gw_chunk.get();
      conv_backward_weight(sub, x_phase.get(), gy + n0 * g.out_channels * g.out_plane(), out,
                           sub_algorithm(sub, ConvPass::BackwardWeight, sizeof(T)));
      if (n0 > 0)  // chunks summed in order: the result depends on the geometry only
        for (int64_t e = 0; e < n_taps; ++e) gw_sub[e] += gw_chunk[e];
    }
    scatter(taps, weight_planes, gw_sub.get(), gw);
  }
}

template int64_t stride_phases_workspace_bytes<float>(const ConvGeometry&, ConvPass);
template int64_t stride_phases_workspace_bytes<double>(const ConvGeometry&, ConvPass);
template void backward_data_stride_phases<float>(const ConvGeometry&, const float*, const float*,
                                                 float*);
template void backward_data_stride_phases<double>(const ConvGeometry&, const double*,
                                                  const double*, double*);
template void backward_weight_stride_phases<float>(const ConvGeometry&, const float*,
                                                   const float*, float*);
template void backward_weight_stride_phases<double>(const ConvGeometry&, const double*,
                                                    const double*, double*);

}  // namespace fastconv::cpu
