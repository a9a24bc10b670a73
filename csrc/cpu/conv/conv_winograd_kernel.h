// Winograd F(4x4, 3x3) transform kernels (conv_winograd.cc), one set per ISA: the templates
// below over the vector wrapper V (elements of type T), instantiated in
// conv_winograd_{generic,avx2,avx512}.cc, each compiled with its own flags and reached only
// through WinogradKernels. Every kernel transforms kWinoLanes tiles (or filters) at once, one
// lane each, in vectors of V::kLanes; lanes never mix, so a tile's result does not depend on
// the tiles beside it. V needs zero, set1, load, store, add, sub, mul, max (the compiler may
// contract a multiply and an add into an FMA where the ISA has one: results differ between ISA
// paths, never between runs); input_tiles and output_adjoint_tiles also need kTile and
// transpose_tile (gemm_simd_kernel.h). Scalar gathers feed the vectors: the 6x6 patches of
// NCHW planes (stride 4 between tiles) and the 3x3 filters.
#pragma once

#include <cstdint>

#include "common/cpu_features.h"

namespace fastconv::cpu {

constexpr int kWinoLanes = 16;

template <typename T>
struct WinogradKernels {
  const char* name;
  // V = B^T d B for kWinoLanes tiles of one input channel: tile l < count reads the 6x6 patch
  // of plane[l] (ih x iw, row-major) whose top-left is (h0[l], w0[l]), zero outside; lanes
  // >= count are zero. Row xi (kWinoLanes values) is stored at dst + xi * xi_stride.
  void (*input)(const T* const* plane, const int32_t* h0, const int32_t* w0, int count,
                int64_t ih, int64_t iw, T* dst, int64_t xi_stride);
  // Y = A^T M A (+ bias[l], then ReLU as epilogue.h) for kWinoLanes tiles: M row xi
  // (kWinoLanes values) at m + xi * xi_stride; tile l < count writes its 4x4 block at
  // (oh0[l], ow0[l]) of plane[l] (oh x ow), clipped at the plane's edges.
  void (*output)(const T* m, int64_t xi_stride, int count, T* const* plane,
                 const int32_t* oh0, const int32_t* ow0, int64_t oh, int64_t ow,
                 const T* bias, bool relu);
  // U = G g G^T, in T, for one panel of mr output channels of one group: filter (r, ci)
  // is the 3x3 at w + r * rs + ci * cs, read backwards (spatially flipped) if `flip`, for
  // r < rows, zero for rows <= r < mr; U[xi] of (r, ci) goes to dst[xi * xs + ci * mr + r]
  // (the packed-A layout of gemm.h, one xi plane every xs).
  void (*filter)(const T* w, int64_t rs, int64_t cs, bool flip, int64_t rows, int64_t cig,
                 int64_t mr, T* dst, int64_t xs);
  // backward_weight: M' = A dY A^T (the adjoint of `output`) for kWinoLanes tiles of one
  // output channel: tile l < count reads the 4x4 block of plane[l] (oh x ow) at
  // (oh0[l], ow0[l]), zero past the plane's edges; lanes >= count are zero. Row xi
  // (kWinoLanes values) is stored at dst + xi * xi_stride.
  void (*output_adjoint)(const T* const* plane, const int32_t* oh0, const int32_t* ow0,
                         int count, int64_t oh, int64_t ow, T* dst, int64_t xi_stride);
  // backward_weight: dW = G^T dU G (the adjoint of `filter`) for count <= kWinoLanes filters:
  // dU[xi] of filter l at du + xi * xi_stride + l; its 3x3 goes to dw[l dw_stride + 0 .. 8].
  void (*filter_adjoint)(const T* du, int64_t xi_stride, int count, T* dw, int64_t dw_stride);
};

FASTCONV_DECLARE_PER_ISA(
    WinogradKernels<float> f32_winograd_kernels();
    WinogradKernels<double> f64_winograd_kernels();)

namespace simd {

constexpr int kXiCount = 36;

// (B^T d)[k] for k < 6 from the rows d[0..5] (points 0, +-1, +-2, inf).
template <typename V>
inline void bt6(const typename V::type* d, typename V::type* r) {
  using S = typename V::scalar;
  const auto four = V::set1(S(4)), five = V::set1(S(5)), two = V::set1(S(2));
  const auto a = V::sub(d[4], V::mul(four, d[2]));  // shared by rows 1, 2
  const auto b = V::sub(d[3], V::mul(four, d[1]));
  const auto c = V::sub(d[4], d[2]);                // shared by rows 3, 4
  const auto e = V::mul(two, V::sub(d[3], d[1]));
  r[0] = V::add(V::sub(V::mul(four, d[0]), V::mul(five, d[2])), d[4]);
  r[1] = V::add(a, b);
  r[2] = V::sub(a, b);
  r[3] = V::add(c, e);
  r[4] = V::sub(c, e);
  r[5] = V::add(V::sub(V::mul(four, d[1]), V::mul(five, d[3])), d[5]);
}

// (A^T m)[k] for k < 4 from the rows m[0..5].
template <typename V>
inline void at6(const typename V::type* m, typename V::type* y) {
  using S = typename V::scalar;
  const auto s12 = V::add(m[1], m[2]), d12 = V::sub(m[1], m[2]);
  const auto s34 = V::add(m[3], m[4]), d34 = V::sub(m[3], m[4]);
  y[0] = V::add(V::add(m[0], s12), s34);
  y[1] = V::add(d12, V::mul(V::set1(S(2)), d34));
  y[2] = V::add(s12, V::mul(V::set1(S(4)), s34));
  y[3] = V::add(V::add(d12, V::mul(V::set1(S(8)), d34)), m[5]);
}

// (A y)[k] for k < 6 from y[0..3]: the transpose of at6.
template <typename V>
inline void a4(const typename V::type* y, typename V::type* m) {
  using S = typename V::scalar;
  const auto s02 = V::add(y[0], y[2]), s13 = V::add(y[1], y[3]);
  const auto p = V::add(y[0], V::mul(V::set1(S(4)), y[2]));
  const auto q = V::add(V::mul(V::set1(S(2)), y[1]), V::mul(V::set1(S(8)), y[3]));
  m[0] = y[0];
  m[1] = V::add(s02, s13);
  m[2] = V::sub(s02, s13);
  m[3] = V::add(p, q);
  m[4] = V::sub(p, q);
  m[5] = y[3];
}

// (G g)[k] for k < 6 from g[0..2]: G's rows (1/4, 0, 0), -(1, 1, 1)/6, -(1, -1, 1)/6,
// (1/24, 1/12, 1/6), (1/24, -1/12, 1/6), (0, 0, 1).
template <typename D>
inline void g3(const typename D::type* g, typename D::type* out) {  // D: the vector wrapper
  using S = typename D::scalar;
  const auto k4 = D::set1(S(1.0 / 4)), k6 = D::set1(S(1.0 / 6)), k12 = D::set1(S(1.0 / 12));
  const auto k24 = D::set1(S(1.0 / 24)), m6 = D::set1(S(-1.0 / 6));
  const auto s02 = D::add(g[0], g[2]);
  const auto s = D::add(D::mul(k24, g[0]), D::mul(k6, g[2])), e = D::mul(k12, g[1]);
  out[0] = D::mul(k4, g[0]);
  out[1] = D::mul(m6, D::add(s02, g[1]));
  out[2] = D::mul(m6, D::sub(s02, g[1]));
  out[3] = D::add(s, e);
  out[4] = D::sub(s, e);
  out[5] = g[2];
}

// (G^T u)[a] for a < 3 from u[0..5]: the transpose of g3.
template <typename D>
inline void gt6(const typename D::type* u, typename D::type* out) {
  using S = typename D::scalar;
  const auto k4 = D::set1(S(1.0 / 4)), k6 = D::set1(S(1.0 / 6)), k12 = D::set1(S(1.0 / 12));
  const auto k24 = D::set1(S(1.0 / 24));
  const auto s12 = D::add(u[1], u[2]), s34 = D::add(u[3], u[4]);
  out[0] = D::add(D::sub(D::mul(k4, u[0]), D::mul(k6, s12)), D::mul(k24, s34));
  out[1] = D::add(D::mul(k6, D::sub(u[2], u[1])), D::mul(k12, D::sub(u[3], u[4])));
  out[2] = D::add(D::mul(k6, D::sub(s34, s12)), u[5]);
}

template <typename V, typename T>
void input_tiles(const T* const* plane, const int32_t* h0, const int32_t* w0, int count,
                 int64_t ih, int64_t iw, T* dst, int64_t xi_stride) {
  constexpr int L = kWinoLanes;
  // Patches gathered lane by lane, one contiguous 36-value row each (whole rows of 6 copied),
  // then turned into d[xi][lane] by V's kTile x kTile block transposes (kPad columns: whole
  // tiles).
  constexpr int kPad = (kXiCount + V::kTile - 1) / V::kTile * V::kTile;
  alignas(64) T patch[L * kPad];
  alignas(64) T d[kPad * L];
  for (int l = 0; l < L; ++l) {
    T* q = patch + l * kPad;
    if (l >= count) {
      for (int xi = 0; xi < kPad; ++xi) q[xi] = T(0);
      continue;
    }
    const T* p = plane[l];
    const int64_t r0 = h0[l], c0 = w0[l];
    if (r0 >= 0 && c0 >= 0 && r0 + 6 <= ih && c0 + 6 <= iw) {
      const T* src = p + r0 * iw + c0;
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) q[i * 6 + j] = src[i * iw + j];
      continue;
    }
    // At an edge: zeros, then the rows [i0, i1) x columns [j0, j1) inside the plane.
    for (int xi = 0; xi < kPad; ++xi) q[xi] = T(0);
    const int64_t i0 = r0 < 0 ? -r0 : 0, i1 = ih - r0 < 6 ? ih - r0 : 6;
    const int64_t j0 = c0 < 0 ? -c0 : 0, j1 = iw - c0 < 6 ? iw - c0 : 6;
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = j0; j < j1; ++j) q[i * 6 + j] = p[(r0 + i) * iw + c0 + j];
  }
  for (int l0 = 0; l0 < L; l0 += V::kTile)
    for (int x0 = 0; x0 < kPad; x0 += V::kTile)
      V::transpose_tile(patch + l0 * kPad + x0, kPad, d + x0 * L + l0, L);

  for (int v = 0; v < L; v += V::kLanes) {
    typename V::type col[6][6];  // col[k][j] = (B^T d)[k][j]
    for (int j = 0; j < 6; ++j) {
      typename V::type in[6], r[6];
      for (int i = 0; i < 6; ++i) in[i] = V::load(d + (i * 6 + j) * L + v);
      bt6<V>(in, r);
      for (int k = 0; k < 6; ++k) col[k][j] = r[k];
    }
    for (int k = 0; k < 6; ++k) {
      typename V::type r[6];
      bt6<V>(col[k], r);  // V[k][jj] = (col B)[k][jj]
      for (int jj = 0; jj < 6; ++jj) V::store(dst + (k * 6 + jj) * xi_stride + v, r[jj]);
    }
  }
}

template <typename V, typename T>
void output_tiles(const T* m, int64_t xi_stride, int count, T* const* plane, const int32_t* oh0,
                  const int32_t* ow0, int64_t oh, int64_t ow, const T* bias, bool relu) {
  constexpr int L = kWinoLanes;
  alignas(64) T y[16 * L];  // y[(i * 4 + k) * L + l]
  const auto zero = V::zero();
  for (int v = 0; v < L; v += V::kLanes) {
    const auto b = V::load(bias + v);
    typename V::type t[4][6];  // t[k][j] = (A^T M)[k][j]
    for (int j = 0; j < 6; ++j) {
      typename V::type in[6], r[4];
      for (int i = 0; i < 6; ++i) in[i] = V::load(m + (i * 6 + j) * xi_stride + v);
      at6<V>(in, r);
      for (int k = 0; k < 4; ++k) t[k][j] = r[k];
    }
    for (int i = 0; i < 4; ++i) {
      typename V::type r[4];
      at6<V>(t[i], r);
      for (int k = 0; k < 4; ++k) {
        auto val = V::add(r[k], b);
        // max(0, v): v where v is NaN or -0.0, as epilogue.h's v < 0 ? 0 : v.
        if (relu) val = V::max(zero, val);
        V::store(y + (i * 4 + k) * L + v, val);
      }
    }
  }
  for (int l = 0; l < count; ++l) {
    T* p = plane[l];
    const int64_t r0 = oh0[l], c0 = ow0[l];
    const int64_t rows = oh - r0 < 4 ? oh - r0 : 4, cols = ow - c0 < 4 ? ow - c0 : 4;
    if (rows == 4 && cols == 4) {  // inside the plane: fixed trip counts
      for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 4; ++k) p[(r0 + i) * ow + c0 + k] = y[(i * 4 + k) * L + l];
      continue;
    }
    for (int64_t i = 0; i < rows; ++i) {
      T* row = p + (r0 + i) * ow + c0;
      for (int64_t k = 0; k < cols; ++k) row[k] = y[(i * 4 + k) * L + l];
    }
  }
}

template <typename V, typename T>
void output_adjoint_tiles(const T* const* plane, const int32_t* oh0, const int32_t* ow0,
                          int count, int64_t oh, int64_t ow, T* dst, int64_t xi_stride) {
  constexpr int L = kWinoLanes;
  // Blocks gathered lane by lane, one contiguous 16-value row each, then turned into
  // d[i * 4 + k][lane] by V's kTile x kTile block transposes (as input_tiles).
  constexpr int kPad = (16 + V::kTile - 1) / V::kTile * V::kTile;
  alignas(64) T block[L * kPad];
  alignas(64) T d[kPad * L];  // d[(i * 4 + k) * L + l]
  for (int l = 0; l < L; ++l) {
    T* q = block + l * kPad;
    const int64_t r0 = l < count ? oh0[l] : 0, c0 = l < count ? ow0[l] : 0;
    const int64_t rows = l >= count ? 0 : oh - r0 < 4 ? oh - r0 : 4;
    const int64_t cols = l >= count ? 0 : ow - c0 < 4 ? ow - c0 : 4;
    if (rows == 4 && cols == 4) {  // inside the plane: fixed trip counts
      const T* src = plane[l] + r0 * ow + c0;
      for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 4; ++k) q[i * 4 + k] = src[i * ow + k];
      for (int x = 16; x < kPad; ++x) q[x] = T(0);
      continue;
    }
    for (int x = 0; x < kPad; ++x) q[x] = T(0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t k = 0; k < cols; ++k) q[i * 4 + k] = plane[l][(r0 + i) * ow + c0 + k];
  }
  for (int l0 = 0; l0 < L; l0 += V::kTile)
    for (int x0 = 0; x0 < kPad; x0 += V::kTile)
      V::transpose_tile(block + l0 * kPad + x0, kPad, d + x0 * L + l0, L);
  for (int v = 0; v < L; v += V::kLanes) {
    typename V::type t[6][4];  // t[i][k] = (A dY)[i][k]
    for (int k = 0; k < 4; ++k) {
      typename V::type in[4], r[6];
      for (int i = 0; i < 4; ++i) in[i] = V::load(d + (i * 4 + k) * L + v);
      a4<V>(in, r);
      for (int i = 0; i < 6; ++i) t[i][k] = r[i];
    }
    for (int i = 0; i < 6; ++i) {
      typename V::type r[6];
      a4<V>(t[i], r);  // (t A^T)[i][j]
      for (int j = 0; j < 6; ++j) V::store(dst + (i * 6 + j) * xi_stride + v, r[j]);
    }
  }
}

template <typename V, typename T>
void filter_panel(const T* w, int64_t rs, int64_t cs, bool flip, int64_t rows, int64_t cig,
                  int64_t mr, T* dst, int64_t xs) {
  constexpr int L = kWinoLanes;
  alignas(64) T g[9 * L];
  alignas(64) T u[kXiCount * L];  // the last, partial lane group
  const int64_t slots = cig * mr;  // slot = ci * mr + r
  for (int64_t s0 = 0; s0 < slots; s0 += L) {
    const int count = int(slots - s0 < L ? slots - s0 : L);
    int64_t ci = s0 / mr, r = s0 % mr;
    for (int l = 0; l < L; ++l) {
      if (l < count && r < rows) {
        const T* f = w + r * rs + ci * cs;
        __builtin_prefetch(f + 8 * cs);  // the filters 8 input channels on
        if (flip) {
          for (int k = 0; k < 9; ++k) g[k * L + l] = f[8 - k];
        } else {
          for (int k = 0; k < 9; ++k) g[k * L + l] = f[k];
        }
      } else {
        for (int k = 0; k < 9; ++k) g[k * L + l] = T(0);
      }
      if (++r == mr) r = 0, ++ci;
    }
    // Whole lane groups go straight to dst (contiguous slots), the last partial one via u.
    T* out = count == L ? dst + s0 : u;
    const int64_t os = count == L ? xs : L;
    for (int v = 0; v < L; v += V::kLanes) {
      typename V::type t[6][3];  // t = G g
      for (int c = 0; c < 3; ++c) {
        typename V::type in[3] = {V::load(g + c * L + v), V::load(g + (3 + c) * L + v),
                                  V::load(g + (6 + c) * L + v)};
        typename V::type res[6];
        g3<V>(in, res);
        for (int i = 0; i < 6; ++i) t[i][c] = res[i];
      }
      for (int i = 0; i < 6; ++i) {
        typename V::type res[6];
        g3<V>(t[i], res);  // (t G^T)[i][j]
        for (int j = 0; j < 6; ++j) V::store(out + (i * 6 + j) * os + v, res[j]);
      }
    }
    if (count < L)
      for (int xi = 0; xi < kXiCount; ++xi)
        for (int l = 0; l < count; ++l) dst[xi * xs + s0 + l] = u[xi * L + l];
  }
}

template <typename V, typename T>
void filter_adjoint_lanes(const T* du, int64_t xi_stride, int count, T* dw, int64_t dw_stride) {
  constexpr int L = kWinoLanes;
  alignas(64) T u[kXiCount * L];
  alignas(64) T g[9 * L];  // g[k * L + l]
  for (int xi = 0; xi < kXiCount; ++xi)
    for (int l = 0; l < L; ++l) u[xi * L + l] = l < count ? du[xi * xi_stride + l] : T(0);
  for (int v = 0; v < L; v += V::kLanes) {
    typename V::type t[3][6];  // t[a][j] = (G^T u)[a][j]
    for (int j = 0; j < 6; ++j) {
      typename V::type in[6], r[3];
      for (int i = 0; i < 6; ++i) in[i] = V::load(u + (i * 6 + j) * L + v);
      gt6<V>(in, r);
      for (int a = 0; a < 3; ++a) t[a][j] = r[a];
    }
    for (int a = 0; a < 3; ++a) {
      typename V::type r[3];
      gt6<V>(t[a], r);  // (t G)[a][b]
      for (int b = 0; b < 3; ++b) V::store(g + (a * 3 + b) * L + v, r[b]);
    }
  }
  for (int l = 0; l < count; ++l)
    for (int k = 0; k < 9; ++k) dw[l * dw_stride + k] = g[k * L + l];
}

template <typename V, typename T>
WinogradKernels<T> winograd_kernels(const char* name) {
  return {name, input_tiles<V, T>, output_tiles<V, T>, filter_panel<V, T>,
          output_adjoint_tiles<V, T>, filter_adjoint_lanes<V, T>};
}

}  // namespace simd
}  // namespace fastconv::cpu
