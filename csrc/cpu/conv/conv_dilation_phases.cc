// Dilated stride-1 convolutions as one phase-batched dense convolution (conv_dilation_phases.h).
#include "cpu/conv/conv_dilation_phases.h"

#include <algorithm>
#include <vector>

#include "common/denormals.h"
#include "common/parallel.h"
#include "common/workspace.h"

namespace fastconv::cpu {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Per dimension: `count` phases (residues r < min(dilation, out_size): a residue past the last
// output has no output to compute), each with `out` outputs j, which read the positions
// p = r + dilation (j + k) of the zero-padded input. Of those phase positions i = j + k (up to
// out + kernel - 1), the phases store only the `in` from `first` on that hold some input of
// some phase; the others are the inner problem's padding (pad_before = first), so its
// backward_data computes no tiles of cells that are padding in every phase.
struct Phases {
  int64_t count[3];
  int64_t out[3];
  int64_t first[3];
  int64_t in[3];
  int64_t dilation[3];
  int64_t total() const { return count[0] * count[1] * count[2]; }
};

}  // namespace

int64_t dilation_phases_count(const ConvGeometry& g, int d) {
  return std::max<int64_t>(1, std::min(g.dilation[d], g.out_size[d]));
}

namespace {

Phases phases_of(const ConvGeometry& g) {
  Phases ph;
  for (int d = 0; d < 3; ++d) {
    const int64_t dil = g.dilation[d];
    ph.dilation[d] = dil;
    ph.count[d] = dilation_phases_count(g, d);
    ph.out[d] = ceil_div(g.out_size[d], dil);
    const int64_t read = ph.out[d] + g.kernel[d] - 1;  // phase positions the outputs read
    // Phase r holds input q at i = (q + pad - r) / dilation where that divides exactly.
    int64_t lo = read, hi = 0;
    for (int64_t r = 0; r < ph.count[d]; ++r) {
      const int64_t p0 = g.pad_before[d] - r;  // first input's padded position, less r
      const int64_t i0 = p0 <= 0 ? 0 : ceil_div(p0, dil);
      const int64_t i1 = floor_div(p0 + g.in_size[d] - 1, dil) + 1;  // one past the last
      if (std::min(i1, read) > i0) {
        lo = std::min(lo, i0);
        hi = std::max(hi, std::min(i1, read));
      }
    }
    if (hi <= lo) lo = 0, hi = 1;  // no output reads any input: one cell, all zeros
    ph.first[d] = lo;
    ph.in[d] = hi - lo;
  }
  return ph;
}

// One strided copy between a plain tensor (batch, channels, size) and the phase-batched one
// (batch * phases, channels, phase size) in either direction: plain position q sits in phase r,
// at index i, where q + shift = r + dilation i (per dimension); plain positions outside [0, size)
// and phase cells of no plain position are zeros in the destination.
//   gather: phase[n * P + phase][c][i] = plain[n][c][r + dilation i - shift] (or 0)
//   scatter: plain[n][c][q] = phase[n * P + phase(q)][c][i(q)] (or 0)
// shift: for the input (x, grad_input) the padding before less dilation * first (the phase
// positions not stored); 0 for the output (y, grad_output).
struct PhaseLayout {
  Phases ph;
  int64_t batch, channels;
  int64_t plain[3];      // plain spatial size
  int64_t phase[3];      // spatial size of one phase
  int64_t shift[3];

  int64_t phase_plane() const { return phase[0] * phase[1] * phase[2]; }
  int64_t plain_plane() const { return plain[0] * plain[1] * plain[2]; }
  // Plain index along d of phase r, index i; -1 where it falls outside the plain tensor.
  int64_t plain_index(int d, int64_t r, int64_t i) const {
    const int64_t q = r + ph.dilation[d] * i - shift[d];
    return q >= 0 && q < plain[d] ? q : -1;
  }
};

// Offsets of the phase tensor's cells within one (sample, channel) block of the plain tensor,
// and back: for dimension d, gather_table[d][r * phase[d] + i] = plain index (or -1), and
// scatter_table[d][q] = r * phase[d] + i (or -1 where the phase has no such cell).
// Along the last dimension, phase r's cells with a plain position form one run
// [begin, end), at plain positions plain_begin + dilation * (i - begin): rows are copied as
// strided runs between zero fills. `covered`: whether every plain position has a phase cell.
struct Span {
  int64_t begin, end, plain_begin;
};
struct Tables {
  std::vector<int64_t> gather[3], scatter[3];
  std::vector<Span> spans;
  bool covered = true;
  explicit Tables(const PhaseLayout& l) {
    for (int d = 0; d < 3; ++d) {
      gather[d].assign(size_t(l.ph.count[d] * l.phase[d]), -1);
      scatter[d].assign(size_t(l.plain[d]), -1);
      for (int64_t r = 0; r < l.ph.count[d]; ++r)
        for (int64_t i = 0; i < l.phase[d]; ++i) {
          const int64_t q = l.plain_index(d, r, i);
          gather[d][size_t(r * l.phase[d] + i)] = q;
          if (q >= 0) scatter[d][size_t(q)] = r * l.phase[d] + i;
        }
    }
    for (int64_t r = 0; r < l.ph.count[2]; ++r) {
      Span sp{0, 0, 0};
      const int64_t* row = gather[2].data() + r * l.phase[2];
      while (sp.begin < l.phase[2] && row[sp.begin] < 0) ++sp.begin;
      sp.end = sp.begin;
      while (sp.end < l.phase[2] && row[sp.end] >= 0) ++sp.end;
      sp.plain_begin = sp.end > sp.begin ? row[sp.begin] : 0;
      spans.push_back(sp);
    }
    for (int64_t e : scatter[2]) covered &= e >= 0;
  }
};

template <typename T>
void gather(const PhaseLayout& l, const T* plain, T* phased) {
  const Tables t(l);
  const int64_t P = l.ph.total(), C = l.channels, pp = l.phase_plane();
  const int64_t tasks = l.batch * C, dil2 = l.ph.dilation[2];
#pragma omp parallel num_threads(threads_for(tasks, tasks * P * pp))
  {
    const FlushDenormals flush_denormals;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / C, c = task % C;
      const T* src = plain + task * l.plain_plane();
      for (int64_t r0 = 0; r0 < l.ph.count[0]; ++r0)
        for (int64_t r1 = 0; r1 < l.ph.count[1]; ++r1)
          for (int64_t r2 = 0; r2 < l.ph.count[2]; ++r2) {
            const int64_t phase = (r0 * l.ph.count[1] + r1) * l.ph.count[2] + r2;
            T* dst = phased + ((n * P + phase) * C + c) * pp;
            for (int64_t i0 = 0; i0 < l.phase[0]; ++i0) {
              const int64_t q0 = t.gather[0][size_t(r0 * l.phase[0] + i0)];
              for (int64_t i1 = 0; i1 < l.phase[1]; ++i1, dst += l.phase[2]) {
                const int64_t q1 = t.gather[1][size_t(r1 * l.phase[1] + i1)];
                if (q0 < 0 || q1 < 0) {
                  std::fill(dst, dst + l.phase[2], T(0));
                  continue;
                }
                const Span& sp = t.spans[size_t(r2)];
                const T* from = src + (q0 * l.plain[1] + q1) * l.plain[2] + sp.plain_begin;
                std::fill(dst, dst + sp.begin, T(0));
                for (int64_t i2 = sp.begin; i2 < sp.end; ++i2, from += dil2) dst[i2] = *from;
                std::fill(dst + sp.end, dst + l.phase[2], T(0));
              }
            }
          }
    }
  }
}

template <typename T>
void scatter(const PhaseLayout& l, const T* phased, T* plain) {
  const Tables t(l);
  const int64_t P = l.ph.total(), C = l.channels, pp = l.phase_plane();
  const int64_t tasks = l.batch * C, dil2 = l.ph.dilation[2];
#pragma omp parallel num_threads(threads_for(tasks, tasks * l.plain_plane()))
  {
    const FlushDenormals flush_denormals;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / C, c = task % C;
      T* dst = plain + task * l.plain_plane();
      for (int64_t q0 = 0; q0 < l.plain[0]; ++q0) {
        const int64_t e0 = t.scatter[0][size_t(q0)];
        for (int64_t q1 = 0; q1 < l.plain[1]; ++q1, dst += l.plain[2]) {
          const int64_t e1 = t.scatter[1][size_t(q1)];
          if (e0 < 0 || e1 < 0) {
            std::fill(dst, dst + l.plain[2], T(0));
            continue;
          }
          const int64_t r0 = e0 / l.phase[0], i0 = e0 % l.phase[0];
          const int64_t r1 = e1 / l.phase[1], i1 = e1 % l.phase[1];
          const int64_t phase01 = (r0 * l.ph.count[1] + r1) * l.ph.count[2];
          const T* base = phased + ((n * P + phase01) * C + c) * pp + (i0 * l.phase[1] + i1) *
                                                                          l.phase[2];
          // phase (r0, r1, r2) is phase01 + r2: its rows lie r2 * C * pp further on
          if (!t.covered) std::fill(dst, dst + l.plain[2], T(0));
          for (int64_t r2 = 0; r2 < l.ph.count[2]; ++r2) {
            const Span& sp = t.spans[size_t(r2)];
            const T* from = base + r2 * C * pp;
            T* to = dst + sp.plain_begin;
            for (int64_t i2 = sp.begin; i2 < sp.end; ++i2, to += dil2) *to = from[i2];
          }
        }
      }
    }
  }
}

// The input side (x, grad_input: shifted by the padding, phases of `in` cells) and the output side
// (y, grad_output: no shift, phases of `out` cells) of g.
PhaseLayout input_layout(const ConvGeometry& g, const Phases& ph) {
  PhaseLayout l{ph, g.batch, g.in_channels, {}, {}, {}};
  for (int d = 0; d < 3; ++d) {
    l.plain[d] = g.in_size[d];
    l.phase[d] = ph.in[d];
    l.shift[d] = g.pad_before[d] - ph.dilation[d] * ph.first[d];
  }
  return l;
}

PhaseLayout output_layout(const ConvGeometry& g, const Phases& ph) {
  PhaseLayout l{ph, g.batch, g.out_channels, {}, {}, {}};
  for (int d = 0; d < 3; ++d) {
    l.plain[d] = g.out_size[d];
    l.phase[d] = ph.out[d];
    l.shift[d] = 0;
  }
  return l;
}

int64_t elements(const PhaseLayout& l) { return l.batch * l.ph.total() * l.channels * l.phase_plane(); }

// The two buffers of a call (slot 0: input side, 1: output side), reused across calls by the
// calling thread (common/workspace.h): a fresh multi-MiB allocation per call costs its page
// faults every time (~3 ms of a 40 ms DeepLab call). Every cell is written before it is read.
struct PhaseWorkspace {};
template <typename T>
T* buffer(const PhaseLayout& l, int slot) {
  return reused_workspace<PhaseWorkspace, 2, T>(slot, elements(l));
}

}  // namespace

bool dilation_phases_apply(const ConvGeometry& g) {
  bool dilated = false;
  for (int d = 0; d < 3; ++d) {
    if (g.stride[d] != 1) return false;
    dilated |= g.dilation[d] > 1;
  }
  return dilated;
}

ConvGeometry dilation_phases_geometry(const ConvGeometry& g) {
  const Phases ph = phases_of(g);
  ConvGeometry inner = g;
  inner.batch = g.batch * ph.total();
  for (int d = 0; d < 3; ++d) {
    inner.in_size[d] = ph.in[d];
    inner.out_size[d] = ph.out[d];
    inner.pad_before[d] = ph.first[d];
    inner.dilation[d] = 1;
  }
  return inner;
}

int64_t dilation_phases_buffer_bytes(const ConvGeometry& g, int64_t element_size) {
  const Phases ph = phases_of(g);
  return (elements(input_layout(g, ph)) + elements(output_layout(g, ph))) * element_size;
}

template <typename T>
void forward_dilation_phases(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                             bool relu, T* y, ConvAlgorithm inner) {
  const Phases ph = phases_of(g);
  const PhaseLayout in = input_layout(g, ph), out = output_layout(g, ph);
  T* const xp = buffer<T>(in, 0);
  T* const yp = buffer<T>(out, 1);
  gather(in, x, xp);
  conv_forward<T>(dilation_phases_geometry(g), xp, w, bias, relu, yp, inner);
  scatter(out, yp, y);
}

template <typename T>
void backward_data_dilation_phases(const ConvGeometry& g, const T* gy, const T* w, T* gx,
                                   ConvAlgorithm inner) {
  const Phases ph = phases_of(g);
  const PhaseLayout in = input_layout(g, ph), out = output_layout(g, ph);
  T* const gyp = buffer<T>(out, 1);
  T* const gxp = buffer<T>(in, 0);
  gather(out, gy, gyp);
  conv_backward_data<T>(dilation_phases_geometry(g), gyp, w, gxp, inner);
  scatter(in, gxp, gx);
}

template <typename T>
void backward_weight_dilation_phases(const ConvGeometry& g, const T* x, const T* gy, T* gw,
                                     ConvAlgorithm inner) {
  const Phases ph = phases_of(g);
  const PhaseLayout in = input_layout(g, ph), out = output_layout(g, ph);
  T* const xp = buffer<T>(in, 0);
  T* const gyp = buffer<T>(out, 1);
  gather(in, x, xp);
  gather(out, gy, gyp);
  conv_backward_weight<T>(dilation_phases_geometry(g), xp, gyp, gw, inner);
}

#define FASTCONV_INSTANTIATE(T)                                                               \
  template void forward_dilation_phases<T>(const ConvGeometry&, const T*, const T*, const T*, \
                                           bool, T*, ConvAlgorithm);                          \
  template void backward_data_dilation_phases<T>(const ConvGeometry&, const T*, const T*, T*, \
                                                 ConvAlgorithm);                              \
  template void backward_weight_dilation_phases<T>(const ConvGeometry&, const T*, const T*,   \
                                                   T*, ConvAlgorithm);
FASTCONV_INSTANTIATE(float)
FASTCONV_INSTANTIATE(double)
#undef FASTCONV_INSTANTIATE

}  // namespace fastconv::cpu
