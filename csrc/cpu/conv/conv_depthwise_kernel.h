// The depthwise row kernels (see conv_depthwise.h) as templates over a vector wrapper V
// (cpu/simd/vec_*.h, or the plain C++ one of conv_depthwise_generic.cc). Each ISA's file
// instantiates them with its own V, compiled with its own flags.
//
// Only V's operations and plain arithmetic are used here (no std:: templates), so that no
// function compiled with an ISA's flags can be shared with baseline code by the linker.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/conv/conv_depthwise.h"

namespace fastconv::cpu::simd {

// NV vectors of the output row starting at out (the last one clipped to `valid` elements):
// NV accumulators stay in registers across all taps.
template <typename V, int NV, typename T>
inline void depthwise_row_block(int64_t ntaps, const T* w, const T* const* src, int64_t i,
                                int64_t valid, T bias, T* out) {
  constexpr int64_t L = V::kLanes;
  typename V::type acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = V::zero();
  for (int64_t t = 0; t < ntaps; ++t) {
    const typename V::type wt = V::broadcast(w + t);
    const T* s = src[t] + i;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] = V::fmadd(wt, V::load(s + v * L), acc[v]);
  }
  const typename V::type b = V::broadcast(&bias);
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = V::add(acc[v], b);
  if (valid == NV * L) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) V::store(out + i + v * L, acc[v]);
    return;
  }
  alignas(64) T tmp[NV * L];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) V::store(tmp + v * L, acc[v]);
  for (int64_t k = 0; k < valid; ++k) out[i + k] = tmp[k];
}

// out[i] = sum_t w[t] * src[t][i] + bias for i < len, in blocks of U vectors; the last block
// has as many vectors as it needs (so a 56-wide row is one block of 4 AVX-512 vectors).
template <typename V, int U, typename T>
inline void depthwise_row(int64_t ntaps, const T* w, const T* const* src, int64_t len, T bias,
                          T* out) {
  constexpr int64_t L = V::kLanes;
  int64_t i = 0;
  for (; i + U * L <= len; i += U * L)
    depthwise_row_block<V, U>(ntaps, w, src, i, U * L, bias, out);
  const int64_t rest = len - i;
  if (rest <= 0) return;
  switch ((rest + L - 1) / L) {
    case 1: depthwise_row_block<V, 1>(ntaps, w, src, i, rest, bias, out); break;
    case 2: depthwise_row_block<V, (U < 2 ? U : 2)>(ntaps, w, src, i, rest, bias, out); break;
    case 3: depthwise_row_block<V, (U < 3 ? U : 3)>(ntaps, w, src, i, rest, bias, out); break;
    default: depthwise_row_block<V, U>(ntaps, w, src, i, rest, bias, out); break;
  }
}

// NV whole vectors at out + i of a row of exactly NT taps, whose weights (broadcast) and source
// pointers the caller holds in registers across blocks: NV loads and FMAs per tap, nothing else.
template <typename V, int NV, int NT, typename T>
inline void depthwise_row_block_fixed(const typename V::type* wv, const T* const* src, int64_t i,
                                      typename V::type bias, T* out) {
  constexpr int64_t L = V::kLanes;
  typename V::type acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = V::zero();
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] = V::fmadd(wv[t], V::load(src[t] + i + v * L), acc[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) V::store(out + i + v * L, V::add(acc[v], bias));
}

// depthwise_row_full for exactly NT taps (3x3: 9): the same sums in the same order.
template <typename V, int U, int NT, typename T>
inline void depthwise_row_full_fixed(const T* w, const T* const* src_in, int64_t len, T bias,
                                     T* out) {
  constexpr int64_t L = V::kLanes;
  typename V::type wv[NT];
  const T* src[NT];
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) {
    wv[t] = V::broadcast(w + t);
    src[t] = src_in[t];
  }
  const typename V::type b = V::broadcast(&bias);
  const int64_t nvec = (len + L - 1) / L;
  int64_t v = 0;
  for (; v + U <= nvec; v += U) depthwise_row_block_fixed<V, U, NT>(wv, src, v * L, b, out);
  for (; v < nvec; ++v) depthwise_row_block_fixed<V, 1, NT>(wv, src, v * L, b, out);
}

// depthwise_row over whole vectors: out[i] for i < len rounded up to L, every store a whole
// vector (the plane path's rows, whose buffer has that slack), blocks of U vectors. Taps summed
// in order from zero, then the bias: the same bits as depthwise_row.
template <typename V, int U, typename T>
inline void depthwise_row_full(int64_t ntaps, const T* w, const T* const* src, int64_t len,
                               T bias, T* out) {
  if (ntaps == 9) return depthwise_row_full_fixed<V, U, 9>(w, src, len, bias, out);
  if (ntaps == 4) return depthwise_row_full_fixed<V, U, 4>(w, src, len, bias, out);
  constexpr int64_t L = V::kLanes;
  const int64_t nvec = (len + L - 1) / L;
  int64_t v = 0;
  for (; v + U <= nvec; v += U) depthwise_row_block<V, U>(ntaps, w, src, v * L, U * L, bias, out);
  for (; v < nvec; ++v) depthwise_row_block<V, 1>(ntaps, w, src, v * L, L, bias, out);
}

// dst[r*dst_stride + i] = src[r*src_stride + i] for r < rows, i < n: whole vectors, the last
// one ending at n (overlapping the one before: rows of 56 are 4 vectors, not 3 and 8 elements),
// elements for rows shorter than a vector. src and dst must not overlap.
template <typename V, typename T>
inline void copy_rows(const T* src, int64_t src_stride, int64_t rows, int64_t n, T* dst,
                      int64_t dst_stride) {
  constexpr int64_t L = V::kLanes;
  for (int64_t r = 0; r < rows; ++r) {
    const T* s = src + r * src_stride;
    T* d = dst + r * dst_stride;
    if (n < L) {
      for (int64_t i = 0; i < n; ++i) d[i] = s[i];
      continue;
    }
    int64_t i = 0;
    for (; i + L <= n; i += L) V::store(d + i, V::load(s + i));
    if (i < n) V::store(d + n - L, V::load(s + n - L));
  }
}

// acc[t*L .. t*L+L) += per-lane sums of g[i] * src[t][i], i < len. Four partial sums (vector
// index mod 4) combined as (p0 + p1) + (p2 + p3): a fixed order for every row.
template <typename V, typename T>
inline void depthwise_dot(int64_t ntaps, const T* const* src, const T* g, int64_t len, T* acc) {
  constexpr int64_t L = V::kLanes;
  const int64_t full = len / L;  // whole vectors of g
  const int64_t rest = len - full * L;
  alignas(64) T gtail[L];
  for (int64_t k = 0; k < L; ++k) gtail[k] = k < rest ? g[full * L + k] : T(0);
  for (int64_t t = 0; t < ntaps; ++t) {
    const T* s = src[t];
    typename V::type p[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
    int64_t v = 0;
    for (; v + 4 <= full; v += 4) {
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u)
        p[u] = V::fmadd(V::load(g + (v + u) * L), V::load(s + (v + u) * L), p[u]);
    }
    for (; v < full; ++v) p[v % 4] = V::fmadd(V::load(g + v * L), V::load(s + v * L), p[v % 4]);
    if (rest) p[v % 4] = V::fmadd(V::load(gtail), V::load(s + v * L), p[v % 4]);
    const typename V::type sum = V::add(V::add(p[0], p[1]), V::add(p[2], p[3]));
    V::store(acc + t * L, V::add(V::load(acc + t * L), sum));
  }
}

// ------------------------------------------------------- channels in lanes (see the header)

// dst[i*L + c] = src[c*ld + i] for c < nch (0 for nch <= c < L), i < len: kTile x kTile
// transposes, element copies at the edges.
template <typename V, typename T>
inline void pack_channels(const T* src, int64_t ld, int64_t nch, int64_t len, T* dst) {
  constexpr int64_t L = V::kLanes, K = V::kTile;
  const int64_t full_c = nch / K * K, full_i = len / K * K;
  for (int64_t c = 0; c < full_c; c += K) {
    for (int64_t i = 0; i < full_i; i += K)
      V::transpose_tile(src + c * ld + i, ld, dst + i * L + c, L);
    for (int64_t i = full_i; i < len; ++i)
      for (int64_t k = 0; k < K; ++k) dst[i * L + c + k] = src[(c + k) * ld + i];
  }
  if (full_c == L) return;
  for (int64_t i = 0; i < len; ++i) {
    for (int64_t c = full_c; c < nch; ++c) dst[i * L + c] = src[c * ld + i];
    for (int64_t c = nch; c < L; ++c) dst[i * L + c] = T(0);
  }
}

// dst[c*ld + i] = src[i*L + c] for c < nch, i < len (the inverse of pack_channels).
template <typename V, typename T>
inline void unpack_channels(const T* src, int64_t nch, int64_t len, T* dst, int64_t ld) {
  constexpr int64_t L = V::kLanes, K = V::kTile;
  const int64_t full_c = nch / K * K, full_i = len / K * K;
  for (int64_t c = 0; c < full_c; c += K) {
    for (int64_t i = 0; i < full_i; i += K)
      V::transpose_tile(src + i * L + c, L, dst + c * ld + i, ld);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = full_i; i < len; ++i) dst[(c + k) * ld + i] = src[i * L + c + k];
  }
  for (int64_t c = full_c; c < nch; ++c)
    for (int64_t i = 0; i < len; ++i) dst[c * ld + i] = src[i * L + c];
}

// unpack_channels with non-temporal stores of whole 64-byte lines of dst (no read-for-ownership
// of outputs far larger than the caches): the columns before dst's first line boundary and after
// its last whole line go through unpack_channels, the lines between are transposed into an L1
// buffer (kTile channels x up to 4 lines) and streamed from it. Rows ld apart must share their
// alignment (ld a whole number of lines), else it is unpack_channels. Same values either way.
template <typename V, typename T>
inline void unpack_channels_stream(const T* src, int64_t nch, int64_t len, T* dst, int64_t ld) {
  constexpr int64_t L = V::kLanes, K = V::kTile, kLine = 64 / int64_t(sizeof(T)), kLines = 4;
  static_assert(kLine % L == 0 && kLine % K == 0, "a line is whole vectors and tiles");
  const uintptr_t addr = reinterpret_cast<uintptr_t>(dst);
  const int64_t head = addr % sizeof(T) != 0 ? len : int64_t((64 - addr % 64) % 64 / sizeof(T));
  if ((ld * int64_t(sizeof(T))) % 64 != 0 || head + kLine > len) {
    unpack_channels<V>(src, nch, len, dst, ld);
    return;
  }
  const int64_t end = head + (len - head) / kLine * kLine;
  unpack_channels<V>(src, nch, head, dst, ld);
  alignas(64) T buf[K * kLines * kLine];
  constexpr int64_t kStride = kLines * kLine;  // buf row of one channel
  for (int64_t c = 0; c < nch; c += K) {
    const int64_t kc = std::min(K, nch - c);
    for (int64_t i = head; i < end; i += kStride) {
      const int64_t n = std::min(kStride, end - i);  // whole lines
      if (kc == K) {
        for (int64_t b = 0; b < n; b += K)
          V::transpose_tile(src + (i + b) * L + c, L, buf + b, kStride);
      } else {
        for (int64_t k = 0; k < kc; ++k)
          for (int64_t b = 0; b < n; ++b) buf[k * kStride + b] = src[(i + b) * L + c + k];
      }
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t v = 0; v < n; v += L)
          V::stream(dst + (c + k) * ld + i + v, V::load(buf + k * kStride + v));
    }
  }
  unpack_channels<V>(src + end * L, nch, len - end, dst + end, ld);
  V::store_fence();  // streaming stores are weakly ordered: done before another thread reads dst
}

// NB output pixels i .. i+NB-1 of lanes_row, accumulators in registers across all taps.
template <typename V, int NB, typename T>
inline void lanes_row_block(int64_t ntaps, const T* const* w, const T* const* src,
                            int64_t src_step, int64_t i, const T* bias, T* out, int64_t out_step) {
  typename V::type acc[NB];
#pragma GCC unroll 8
  for (int b = 0; b < NB; ++b) acc[b] = V::zero();
  for (int64_t t = 0; t < ntaps; ++t) {
    const typename V::type wt = V::load(w[t]);
    const T* s = src[t] + i * src_step;
#pragma GCC unroll 8
    for (int b = 0; b < NB; ++b) acc[b] = V::fmadd(wt, V::load(s + b * src_step), acc[b]);
  }
  if (bias) {
    const typename V::type bv = V::load(bias);
#pragma GCC unroll 8
    for (int b = 0; b < NB; ++b) acc[b] = V::add(acc[b], bv);
  }
#pragma GCC unroll 8
  for (int b = 0; b < NB; ++b) V::store(out + (i + b) * out_step, acc[b]);
}

// out[i*out_step + l] = (sum_t w[t][l] * src[t][i*src_step + l]) + bias[l], taps in order.
template <typename V, typename T>
inline void lanes_row(int64_t ntaps, const T* const* w, const T* const* src, int64_t src_step,
                      int64_t len, const T* bias, T* out, int64_t out_step) {
  int64_t i = 0;
  for (; i + 8 <= len; i += 8)
    lanes_row_block<V, 8>(ntaps, w, src, src_step, i, bias, out, out_step);
  switch (len - i) {
    case 1: lanes_row_block<V, 1>(ntaps, w, src, src_step, i, bias, out, out_step); break;
    case 2: lanes_row_block<V, 2>(ntaps, w, src, src_step, i, bias, out, out_step); break;
    case 3: lanes_row_block<V, 3>(ntaps, w, src, src_step, i, bias, out, out_step); break;
    case 4: lanes_row_block<V, 4>(ntaps, w, src, src_step, i, bias, out, out_step); break;
    case 5: lanes_row_block<V, 5>(ntaps, w, src, src_step, i, bias, out, out_step); break;
    case 6: lanes_row_block<V, 6>(ntaps, w, src, src_step, i, bias, out, out_step); break;
    case 7: lanes_row_block<V, 7>(ntaps, w, src, src_step, i, bias, out, out_step); break;
    default: break;
  }
}

// NB output pixels i .. i+NB-1 of lanes_window: the inputs of the NB pixels for one tap stay in
// registers, and the next tap of the row (one pixel further along W, or back for tstep < 0)
// needs one new load: NB + KW - 1 loads instead of NB * KW per tap row.
template <typename V, int NB, bool kAhead, typename T>
inline void lanes_window_block(int64_t nrows, int64_t kw, const T* const* w,
                               const T* const* src, int64_t i, const T* bias, T* out) {
  constexpr int64_t L = V::kLanes;
  const int64_t tstep = kAhead ? L : -L;
  typename V::type acc[NB], win[NB];
#pragma GCC unroll 8
  for (int b = 0; b < NB; ++b) acc[b] = V::zero();
  for (int64_t r = 0; r < nrows; ++r) {
    const T* s = src[r] + i * L;
#pragma GCC unroll 8
    for (int b = 0; b < NB; ++b) win[b] = V::load(s + b * L);
    const T* const* wr = w + r * kw;
    for (int64_t k = 0; k < kw; ++k) {
      const typename V::type wt = V::load(wr[k]);
#pragma GCC unroll 8
      for (int b = 0; b < NB; ++b) acc[b] = V::fmadd(wt, win[b], acc[b]);
      if (k + 1 == kw) break;
      s += tstep;
      if (kAhead) {
#pragma GCC unroll 8
        for (int b = 0; b + 1 < NB; ++b) win[b] = win[b + 1];
        win[NB - 1] = V::load(s + (NB - 1) * L);
      } else {
#pragma GCC unroll 8
        for (int b = NB - 1; b > 0; --b) win[b] = win[b - 1];
        win[0] = V::load(s);
      }
    }
  }
  if (bias) {
    const typename V::type bv = V::load(bias);
#pragma GCC unroll 8
    for (int b = 0; b < NB; ++b) acc[b] = V::add(acc[b], bv);
  }
#pragma GCC unroll 8
  for (int b = 0; b < NB; ++b) V::store(out + (i + b) * L, acc[b]);
}

// lanes_row for unit stride and unit dilation along W, taps given as nrows rows of kw taps:
// tap k of row r reads src[r] + k * tstep (tstep = +-L) and pixel i one vector further per
// pixel, out[i*L] = (sum over r, then k, of w[r*kw + k] * input) + bias: the same taps in the
// same order as lanes_row, so the same result, bitwise.
template <typename V, bool kAhead, typename T>
inline void lanes_window_dir(int64_t nrows, int64_t kw, const T* const* w, const T* const* src,
                             int64_t len, const T* bias, T* out) {
  constexpr int NB = 7;  // 7 accumulators + 7 inputs + 1 weight: 15 of AVX2's 16 registers
  int64_t i = 0;
  for (; i + NB <= len; i += NB) lanes_window_block<V, NB, kAhead>(nrows, kw, w, src, i, bias, out);
  switch (len - i) {
    case 1: lanes_window_block<V, 1, kAhead>(nrows, kw, w, src, i, bias, out); break;
    case 2: lanes_window_block<V, 2, kAhead>(nrows, kw, w, src, i, bias, out); break;
    case 3: lanes_window_block<V, 3, kAhead>(nrows, kw, w, src, i, bias, out); break;
    case 4: lanes_window_block<V, 4, kAhead>(nrows, kw, w, src, i, bias, out); break;
    case 5: lanes_window_block<V, 5, kAhead>(nrows, kw, w, src, i, bias, out); break;
    case 6: lanes_window_block<V, 6, kAhead>(nrows, kw, w, src, i, bias, out); break;
    default: break;
  }
}

template <typename V, typename T>
inline void lanes_window(int64_t nrows, int64_t kw, const T* const* w, const T* const* src,
                         int64_t tstep, int64_t len, const T* bias, T* out) {
  if (tstep < 0) {
    lanes_window_dir<V, false>(nrows, kw, w, src, len, bias, out);
  } else {
    lanes_window_dir<V, true>(nrows, kw, w, src, len, bias, out);
  }
}

// G taps of lanes_dot, one accumulator each in registers: G independent FMA chains.
template <typename V, int G, typename T>
inline void lanes_dot_group(const T* const* src, int64_t src_step, int64_t src_row_step,
                            const T* g, int64_t g_row_step, int64_t rows, int64_t len, T* acc) {
  constexpr int64_t L = V::kLanes;
  typename V::type a[G];
#pragma GCC unroll 12
  for (int k = 0; k < G; ++k) a[k] = V::load(acc + k * L);
  for (int64_t r = 0; r < rows; ++r) {
    const T* gr = g + r * g_row_step;
    const int64_t base = r * src_row_step;
    for (int64_t i = 0; i < len; ++i) {
      const typename V::type gv = V::load(gr + i * L);
#pragma GCC unroll 12
      for (int k = 0; k < G; ++k)
        a[k] = V::fmadd(gv, V::load(src[k] + base + i * src_step), a[k]);
    }
  }
#pragma GCC unroll 12
  for (int k = 0; k < G; ++k) V::store(acc + k * L, a[k]);
}

// acc[t*L + l] += g[r*g_row_step + i*L + l] * src[t][r*src_row_step + i*src_step + l] over rows
// r, then pixels i < len, in order (one sequential sum per tap and lane, whatever the grouping
// of the taps).
template <typename V, typename T>
inline void lanes_dot(int64_t ntaps, const T* const* src, int64_t src_step, int64_t src_row_step,
                      const T* g, int64_t g_row_step, int64_t rows, int64_t len, T* acc) {
  constexpr int64_t L = V::kLanes;
  const int64_t groups = (ntaps + 11) / 12;  // of at most 12 taps, sizes as even as can be
  int64_t t = 0;
  for (int64_t q = 0; q < groups; ++q) {
    const int64_t gsize = ntaps / groups + (q < ntaps % groups ? 1 : 0);
    const T* const* s = src + t;
    T* a = acc + t * L;
#define FASTCONV_DOT_GROUP(G)                                                        \
  case G:                                                                            \
    lanes_dot_group<V, G>(s, src_step, src_row_step, g, g_row_step, rows, len, a); \
    break;
    switch (gsize) {
      FASTCONV_DOT_GROUP(1) FASTCONV_DOT_GROUP(2) FASTCONV_DOT_GROUP(3) FASTCONV_DOT_GROUP(4)
      FASTCONV_DOT_GROUP(5) FASTCONV_DOT_GROUP(6) FASTCONV_DOT_GROUP(7) FASTCONV_DOT_GROUP(8)
      FASTCONV_DOT_GROUP(9) FASTCONV_DOT_GROUP(10) FASTCONV_DOT_GROUP(11)
      default: lanes_dot_group<V, 12>(s, src_step, src_row_step, g, g_row_step, rows, len, a);
    }
#undef FASTCONV_DOT_GROUP
    t += gsize;
  }
}

// The non-temporal copy of the AVX2 and AVX-512 tables: elements up to dst's first
// vector-aligned one, whole vectors with streaming stores (V::stream), then the rest.
template <typename V, typename T>
void stream_copy(const T* src, int64_t len, T* dst) {
  constexpr int64_t L = V::kLanes;
  constexpr uintptr_t kAlign = sizeof(typename V::type);
  int64_t i = 0;
  for (; i < len && (reinterpret_cast<uintptr_t>(dst + i) % kAlign) != 0; ++i) dst[i] = src[i];
  for (; i + L <= len; i += L) V::stream(dst + i, V::load(src + i));
  for (; i < len; ++i) dst[i] = src[i];
  V::store_fence();  // streaming stores are weakly ordered: done before another thread reads dst
}

// One ISA's kernel table from its vector wrapper V, U vectors per block of an output row (UF
// for row_full), and the ISA's non-temporal copy.
template <typename V, int U, int UF, typename T>
DepthwiseKernels<T> depthwise_kernels(const char* name,
                                      void (*stream)(const T* src, int64_t len, T* dst),
                                      void (*unpack_stream)(const T* src, int64_t nch,
                                                            int64_t len, T* dst, int64_t ld)) {
  return {name, V::kLanes, V::kTile,
          [](int64_t ntaps, const T* w, const T* const* src, int64_t len, T bias, T* out) {
            depthwise_row<V, U>(ntaps, w, src, len, bias, out);
          },
          [](int64_t ntaps, const T* const* src, const T* g, int64_t len, T* acc) {
            depthwise_dot<V>(ntaps, src, g, len, acc);
          },
          [](const T* src, int64_t ld, int64_t nch, int64_t len, T* dst) {
            pack_channels<V>(src, ld, nch, len, dst);
          },
          [](const T* src, int64_t nch, int64_t len, T* dst, int64_t ld) {
            unpack_channels<V>(src, nch, len, dst, ld);
          },
          [](int64_t ntaps, const T* const* w, const T* const* src, int64_t src_step,
             int64_t len, const T* bias, T* out, int64_t out_step) {
            lanes_row<V>(ntaps, w, src, src_step, len, bias, out, out_step);
          },
          [](int64_t ntaps, const T* const* src, int64_t src_step, int64_t src_row_step,
             const T* g, int64_t g_row_step, int64_t rows, int64_t len, T* acc) {
            lanes_dot<V>(ntaps, src, src_step, src_row_step, g, g_row_step, rows, len, acc);
          },
          [](int64_t nrows, int64_t kw, const T* const* w, const T* const* src, int64_t tstep,
             int64_t len, const T* bias, T* out) {
            lanes_window<V>(nrows, kw, w, src, tstep, len, bias, out);
          },
          [](int64_t ntaps, const T* w, const T* const* src, int64_t len, T bias, T* out) {
            depthwise_row_full<V, UF>(ntaps, w, src, len, bias, out);
          },
          [](const T* src, int64_t src_stride, int64_t rows, int64_t n, T* dst,
             int64_t dst_stride) { copy_rows<V>(src, src_stride, rows, n, dst, dst_stride); },
          stream, unpack_stream};
}

}  // namespace fastconv::cpu::simd
