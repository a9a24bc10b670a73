// Winograd F(4x4, 3x3) and F(3x3, 3x3) transform kernels (conv_winograd.cc), one set per ISA and
// tile size: the templates below over the vector wrapper V (elements of type T) and the
// transform Tr (Tr4: 6x6 input tiles, Tr3: 5x5), instantiated in
// conv_winograd_{generic,avx2,avx512}.cc, each compiled with its own flags and reached only
// through WinogradKernels. Every kernel transforms kWinoLanes tiles (or filters) at once, one
// lane each, in vectors of V::kLanes; lanes never mix, so a tile's result does not depend on
// the tiles beside it. V needs zero, set1, load, store, add, sub, mul, max (the compiler may
// contract a multiply and an add into an FMA where the ISA has one: results differ between ISA
// paths, never between runs); input_tiles and output_adjoint_tiles also need kTile and
// transpose_tile (gemm_simd_kernel.h). Scalar gathers feed the vectors: the n x n patches of
// NCHW planes (stride m between tiles) and the 3x3 filters. Below, m = 4 (n = 6) or 3 (n = 5).
#pragma once

#include <cstdint>

#include "common/cpu_features.h"

namespace fastconv::cpu {

constexpr int kWinoLanes = 16;

template <typename T>
struct WinogradKernels {
  const char* name;
  int m, n;  // output tile m x m, input tile n x n = m + 2: n^2 positions xi
  // V = B^T d B for kWinoLanes tiles of one input channel: tile l < count reads the n x n patch
  // of plane[l] (ih x iw, row-major) whose top-left is (h0[l], w0[l]), zero outside; lanes
  // >= count are zero. Row xi (kWinoLanes values) is stored at dst + xi * xi_stride.
  void (*input)(const T* const* plane, const int32_t* h0, const int32_t* w0, int count,
                int64_t ih, int64_t iw, T* dst, int64_t xi_stride);
  // Y = A^T M A (+ bias[l], then ReLU as epilogue.h) for kWinoLanes tiles: M row xi
  // (kWinoLanes values) at m + xi * xi_stride; tile l < count writes its block at
  // (oh0[l], ow0[l]) of plane[l] (oh x ow), m x m, clipped at the plane's edges.
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
  // output channel: tile l < count reads the m x m block of plane[l] (oh x ow) at
  // (oh0[l], ow0[l]), zero past the plane's edges; lanes >= count are zero. Row xi
  // (kWinoLanes values) is stored at dst + xi * xi_stride.
  void (*output_adjoint)(const T* const* plane, const int32_t* oh0, const int32_t* ow0,
                         int count, int64_t oh, int64_t ow, T* dst, int64_t xi_stride);
  // backward_weight: dW = G^T dU G (the adjoint of `filter`) for count <= kWinoLanes filters:
  // dU[xi] of filter l at du + xi * xi_stride + l; its 3x3 goes to dw[l dw_stride + 0 .. 8].
  void (*filter_adjoint)(const T* du, int64_t xi_stride, int count, T* dw, int64_t dw_stride);
};

// m: 4 (F(4x4, 3x3)) or 3 (F(3x3, 3x3)).
FASTCONV_DECLARE_PER_ISA(
    WinogradKernels<float> f32_winograd_kernels(int m);
    WinogradKernels<double> f64_winograd_kernels(int m);)

namespace simd {

// F(4x4, 3x3), points 0, +-1, +-2, inf: 6x6 input tiles.
struct Tr4 {
  static constexpr int m = 4, n = 6;

  // (B^T d)[k] for k < 6 from the rows d[0..5].
  template <typename V>
  static inline void bt(const typename V::type* d, typename V::type* r) {
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
  static inline void at(const typename V::type* m, typename V::type* y) {
    using S = typename V::scalar;
    const auto s12 = V::add(m[1], m[2]), d12 = V::sub(m[1], m[2]);
    const auto s34 = V::add(m[3], m[4]), d34 = V::sub(m[3], m[4]);
    y[0] = V::add(V::add(m[0], s12), s34);
    y[1] = V::add(d12, V::mul(V::set1(S(2)), d34));
    y[2] = V::add(s12, V::mul(V::set1(S(4)), s34));
    y[3] = V::add(V::add(d12, V::mul(V::set1(S(8)), d34)), m[5]);
  }

  // (A y)[k] for k < 6 from y[0..3]: the transpose of at.
  template <typename V>
  static inline void a(const typename V::type* y, typename V::type* m) {
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
  static inline void g(const typename D::type* g, typename D::type* out) {
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

  // (G^T u)[a] for a < 3 from u[0..5]: the transpose of g.
  template <typename D>
  static inline void gt(const typename D::type* u, typename D::type* out) {
    using S = typename D::scalar;
    const auto k4 = D::set1(S(1.0 / 4)), k6 = D::set1(S(1.0 / 6)), k12 = D::set1(S(1.0 / 12));
    const auto k24 = D::set1(S(1.0 / 24));
    const auto s12 = D::add(u[1], u[2]), s34 = D::add(u[3], u[4]);
    out[0] = D::add(D::sub(D::mul(k4, u[0]), D::mul(k6, s12)), D::mul(k24, s34));
    out[1] = D::add(D::mul(k6, D::sub(u[2], u[1])), D::mul(k12, D::sub(u[3], u[4])));
    out[2] = D::add(D::mul(k6, D::sub(s34, s12)), u[5]);
  }
};

// F(3x3, 3x3), points 0, 1, -1, 2, inf (Toom-Cook as Lavin & Gray; of 0, +-1, +-2 and +-1/2
// as the fourth point, 2 keeps B^T and A^T integer): 5x5 input tiles, 25 products per 9
// outputs (F(4x4): 36 per 16). It fits the 3x3 and 6x6 images exactly where F(4x4) computes
// 4x4 and 8x8 (DeepLab ASPP's dilation phases).
//   B^T = [2 -1 -2 1 0; 0 -2 -1 1 0; 0 2 -3 1 0; 0 -1 0 1 0; 0 2 -1 -2 1]
//   A^T = [1 1 1 1 0; 0 1 -1 2 0; 0 1 1 4 1]
//   G   = [1/2 0 0; -1/2 -1/2 -1/2; -1/6 1/6 -1/6; 1/6 1/3 2/3; 0 0 1]
struct Tr3 {
  static constexpr int m = 3, n = 5;

  template <typename V>
  static inline void bt(const typename V::type* d, typename V::type* r) {
    using S = typename V::scalar;
    const auto two = V::set1(S(2));
    const auto t = V::sub(d[3], d[2]);  // shared by rows 1, 2
    r[0] = V::add(V::mul(two, V::sub(d[0], d[2])), V::sub(d[3], d[1]));
    r[1] = V::sub(t, V::mul(two, d[1]));
    r[2] = V::add(t, V::mul(two, V::sub(d[1], d[2])));
    r[3] = V::sub(d[3], d[1]);
    r[4] = V::add(V::mul(two, V::sub(d[1], d[3])), V::sub(d[4], d[2]));
  }

  template <typename V>
  static inline void at(const typename V::type* m, typename V::type* y) {
    using S = typename V::scalar;
    const auto s12 = V::add(m[1], m[2]);
    y[0] = V::add(V::add(m[0], s12), m[3]);
    y[1] = V::add(V::sub(m[1], m[2]), V::mul(V::set1(S(2)), m[3]));
    y[2] = V::add(V::add(s12, V::mul(V::set1(S(4)), m[3])), m[4]);
  }

  template <typename V>
  static inline void a(const typename V::type* y, typename V::type* m) {
    using S = typename V::scalar;
    const auto s02 = V::add(y[0], y[2]);
    m[0] = y[0];
    m[1] = V::add(s02, y[1]);
    m[2] = V::sub(s02, y[1]);
    m[3] = V::add(V::add(y[0], V::mul(V::set1(S(2)), y[1])), V::mul(V::set1(S(4)), y[2]));
    m[4] = y[2];
  }

  template <typename D>
  static inline void g(const typename D::type* g, typename D::type* out) {
    using S = typename D::scalar;
    const auto h = D::set1(S(0.5)), mh = D::set1(S(-0.5)), k6 = D::set1(S(1.0 / 6));
    const auto k3 = D::set1(S(1.0 / 3)), m6 = D::set1(S(-1.0 / 6));
    const auto s02 = D::add(g[0], g[2]);
    out[0] = D::mul(h, g[0]);
    out[1] = D::mul(mh, D::add(s02, g[1]));
    out[2] = D::mul(m6, D::sub(s02, g[1]));
    out[3] = D::add(D::mul(k6, g[0]), D::mul(k3, D::add(g[1], D::add(g[2], g[2]))));
    out[4] = g[2];
  }

  template <typename D>
  static inline void gt(const typename D::type* u, typename D::type* out) {
    using S = typename D::scalar;
    const auto h = D::set1(S(0.5)), k6 = D::set1(S(1.0 / 6)), k3 = D::set1(S(1.0 / 3));
    const auto k23 = D::set1(S(2.0 / 3));
    out[0] = D::add(D::mul(h, D::sub(u[0], u[1])), D::mul(k6, D::sub(u[3], u[2])));
    out[1] = D::add(D::sub(D::mul(k6, u[2]), D::mul(h, u[1])), D::mul(k3, u[3]));
    out[2] = D::add(D::sub(D::mul(k23, u[3]), D::add(D::mul(h, u[1]), D::mul(k6, u[2]))), u[4]);
  }
};

template <typename V, typename T, typename Tr>
void input_tiles(const T* const* plane, const int32_t* h0, const int32_t* w0, int count,
                 int64_t ih, int64_t iw, T* dst, int64_t xi_stride) {
  constexpr int L = kWinoLanes, N = Tr::n;
  // Patches gathered lane by lane, one contiguous N^2-value row each (whole rows of N copied),
  // then turned into d[xi][lane] by V's kTile x kTile block transposes (kPad columns: whole
  // tiles).
  constexpr int kPad = (N * N + V::kTile - 1) / V::kTile * V::kTile;
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
    if (r0 >= 0 && c0 >= 0 && r0 + N <= ih && c0 + N <= iw) {
      const T* src = p + r0 * iw + c0;
      for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j) q[i * N + j] = src[i * iw + j];
      for (int xi = N * N; xi < kPad; ++xi) q[xi] = T(0);
      continue;
    }
    if constexpr (Tr::m == 4) {
      // F(4x4), the dense layers' tiles: zeros, then the rows [i0, i1) x columns [j0, j1)
      // inside the plane, as before F(3x3) came (the variant below measured within noise on
      // the ResNet rows, 1 thread, and 4-9% slower at 2 threads on a loaded machine: not taken).
      for (int xi = 0; xi < kPad; ++xi) q[xi] = T(0);
      const int64_t i0 = r0 < 0 ? -r0 : 0, i1 = ih - r0 < N ? ih - r0 : N;
      const int64_t j0 = c0 < 0 ? -c0 : 0, j1 = iw - c0 < N ? iw - c0 : N;
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) q[i * N + j] = p[(r0 + i) * iw + c0 + j];
      continue;
    }
    // At an edge: the cells inside the plane (rows [i0, i1), columns [j0, j1) of the patch),
    // zeros elsewhere, in fixed trip counts with a select per cell (AVX-512: masked loads).
    // With variable trip counts GCC made each row a memcpy call: 9% of the DeepLab ASPP d6
    // forward (perf, 1 thread), where every tile of the small phase images is at an edge.
    const int i0 = r0 < 0 ? int(-r0) : 0, i1 = ih - r0 < N ? int(ih - r0) : N;
    const int j0 = c0 < 0 ? int(-c0) : 0, j1 = iw - c0 < N ? int(iw - c0) : N;
    for (int i = 0; i < N; ++i) {
      T* qi = q + i * N;
      if (i < i0 || i >= i1) {
        for (int j = 0; j < N; ++j) qi[j] = T(0);
        continue;
      }
      const T* row = p + (r0 + i) * iw + c0;  // read only at columns j0 <= j < j1
      for (int j = 0; j < N; ++j) qi[j] = j >= j0 && j < j1 ? row[j] : T(0);
    }
    for (int xi = N * N; xi < kPad; ++xi) q[xi] = T(0);
  }
  for (int l0 = 0; l0 < L; l0 += V::kTile)
    for (int x0 = 0; x0 < kPad; x0 += V::kTile)
      V::transpose_tile(patch + l0 * kPad + x0, kPad, d + x0 * L + l0, L);

  for (int v = 0; v < L; v += V::kLanes) {
    typename V::type col[N][N];  // col[k][j] = (B^T d)[k][j]
    for (int j = 0; j < N; ++j) {
      typename V::type in[N], r[N];
      for (int i = 0; i < N; ++i) in[i] = V::load(d + (i * N + j) * L + v);
      Tr::template bt<V>(in, r);
      for (int k = 0; k < N; ++k) col[k][j] = r[k];
    }
    for (int k = 0; k < N; ++k) {
      typename V::type r[N];
      Tr::template bt<V>(col[k], r);  // V[k][jj] = (col B)[k][jj]
      for (int jj = 0; jj < N; ++jj) V::store(dst + (k * N + jj) * xi_stride + v, r[jj]);
    }
  }
}

template <typename V, typename T, typename Tr>
void output_tiles(const T* m, int64_t xi_stride, int count, T* const* plane, const int32_t* oh0,
                  const int32_t* ow0, int64_t oh, int64_t ow, const T* bias, bool relu) {
  constexpr int L = kWinoLanes, N = Tr::n, M = Tr::m;
  alignas(64) T y[M * M * L];  // y[(i * M + k) * L + l]
  const auto zero = V::zero();
  for (int v = 0; v < L; v += V::kLanes) {
    const auto b = V::load(bias + v);
    typename V::type t[M][N];  // t[k][j] = (A^T M)[k][j]
    for (int j = 0; j < N; ++j) {
      typename V::type in[N], r[M];
      for (int i = 0; i < N; ++i) in[i] = V::load(m + (i * N + j) * xi_stride + v);
      Tr::template at<V>(in, r);
      for (int k = 0; k < M; ++k) t[k][j] = r[k];
    }
    for (int i = 0; i < M; ++i) {
      typename V::type r[M];
      Tr::template at<V>(t[i], r);
      for (int k = 0; k < M; ++k) {
        auto val = V::add(r[k], b);
        // max(0, v): v where v is NaN or -0.0, as epilogue.h's v < 0 ? 0 : v.
        if (relu) val = V::max(zero, val);
        V::store(y + (i * M + k) * L + v, val);
      }
    }
  }
  for (int l = 0; l < count; ++l) {
    T* p = plane[l];
    const int64_t r0 = oh0[l], c0 = ow0[l];
    const int64_t rows = oh - r0 < M ? oh - r0 : M, cols = ow - c0 < M ? ow - c0 : M;
    if (rows == M && cols == M) {  // inside the plane: fixed trip counts
      for (int i = 0; i < M; ++i)
        for (int k = 0; k < M; ++k) p[(r0 + i) * ow + c0 + k] = y[(i * M + k) * L + l];
      continue;
    }
    for (int64_t i = 0; i < rows; ++i) {
      T* row = p + (r0 + i) * ow + c0;
      for (int64_t k = 0; k < cols; ++k) row[k] = y[(i * M + k) * L + l];
    }
  }
}

template <typename V, typename T, typename Tr>
void output_adjoint_tiles(const T* const* plane, const int32_t* oh0, const int32_t* ow0,
                          int count, int64_t oh, int64_t ow, T* dst, int64_t xi_stride) {
  constexpr int L = kWinoLanes, N = Tr::n, M = Tr::m;
  // Blocks gathered lane by lane, one contiguous M^2-value row each, then turned into
  // d[i * M + k][lane] by V's kTile x kTile block transposes (as input_tiles).
  constexpr int kPad = (M * M + V::kTile - 1) / V::kTile * V::kTile;
  alignas(64) T block[L * kPad];
  alignas(64) T d[kPad * L];  // d[(i * M + k) * L + l]
  for (int l = 0; l < L; ++l) {
    T* q = block + l * kPad;
    const int64_t r0 = l < count ? oh0[l] : 0, c0 = l < count ? ow0[l] : 0;
    const int64_t rows = l >= count ? 0 : oh - r0 < M ? oh - r0 : M;
    const int64_t cols = l >= count ? 0 : ow - c0 < M ? ow - c0 : M;
    if (rows == M && cols == M) {  // inside the plane: fixed trip counts
      const T* src = plane[l] + r0 * ow + c0;
      for (int i = 0; i < M; ++i)
        for (int k = 0; k < M; ++k) q[i * M + k] = src[i * ow + k];
      for (int x = M * M; x < kPad; ++x) q[x] = T(0);
      continue;
    }
    for (int x = 0; x < kPad; ++x) q[x] = T(0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t k = 0; k < cols; ++k) q[i * M + k] = plane[l][(r0 + i) * ow + c0 + k];
  }
  for (int l0 = 0; l0 < L; l0 += V::kTile)
    for (int x0 = 0; x0 < kPad; x0 += V::kTile)
      V::transpose_tile(block + l0 * kPad + x0, kPad, d + x0 * L + l0, L);
  for (int v = 0; v < L; v += V::kLanes) {
    typename V::type t[N][M];  // t[i][k] = (A dY)[i][k]
    for (int k = 0; k < M; ++k) {
      typename V::type in[M], r[N];
      for (int i = 0; i < M; ++i) in[i] = V::load(d + (i * M + k) * L + v);
      Tr::template a<V>(in, r);
      for (int i = 0; i < N; ++i) t[i][k] = r[i];
    }
    for (int i = 0; i < N; ++i) {
      typename V::type r[N];
      Tr::template a<V>(t[i], r);  // (t A^T)[i][j]
      for (int j = 0; j < N; ++j) V::store(dst + (i * N + j) * xi_stride + v, r[j]);
    }
  }
}

template <typename V, typename T, typename Tr>
void filter_panel(const T* w, int64_t rs, int64_t cs, bool flip, int64_t rows, int64_t cig,
                  int64_t mr, T* dst, int64_t xs) {
  constexpr int L = kWinoLanes, N = Tr::n;
  alignas(64) T g[9 * L];
  alignas(64) T u[N * N * L];  // the last, partial lane group
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
      typename V::type t[N][3];  // t = G g
      for (int c = 0; c < 3; ++c) {
        typename V::type in[3] = {V::load(g + c * L + v), V::load(g + (3 + c) * L + v),
                                  V::load(g + (6 + c) * L + v)};
        typename V::type res[N];
        Tr::template g<V>(in, res);
        for (int i = 0; i < N; ++i) t[i][c] = res[i];
      }
      for (int i = 0; i < N; ++i) {
        typename V::type res[N];
        Tr::template g<V>(t[i], res);  // (t G^T)[i][j]
        for (int j = 0; j < N; ++j) V::store(out + (i * N + j) * os + v, res[j]);
      }
    }
    if (count < L)
      for (int xi = 0; xi < N * N; ++xi)
        for (int l = 0; l < count; ++l) dst[xi * xs + s0 + l] = u[xi * L + l];
  }
}

template <typename V, typename T, typename Tr>
void filter_adjoint_lanes(const T* du, int64_t xi_stride, int count, T* dw, int64_t dw_stride) {
  constexpr int L = kWinoLanes, N = Tr::n;
  alignas(64) T u[N * N * L];
  alignas(64) T g[9 * L];  // g[k * L + l]
  // Whole lane groups are read in place (the copy cost 13% of the ASPP d12 backward_weight,
  // perf, 1 thread); a partial one through u, zero-filled.
  const T* src = du;
  int64_t ss = xi_stride;
  if (count < L) {
    for (int xi = 0; xi < N * N; ++xi)
      for (int l = 0; l < L; ++l) u[xi * L + l] = l < count ? du[xi * xi_stride + l] : T(0);
    src = u;
    ss = L;
  }
  for (int v = 0; v < L; v += V::kLanes) {
    typename V::type t[3][N];  // t[a][j] = (G^T u)[a][j]
    for (int j = 0; j < N; ++j) {
      typename V::type in[N], r[3];
      for (int i = 0; i < N; ++i) in[i] = V::load(src + (i * N + j) * ss + v);
      Tr::template gt<V>(in, r);
      for (int a = 0; a < 3; ++a) t[a][j] = r[a];
    }
    for (int a = 0; a < 3; ++a) {
      typename V::type r[3];
      Tr::template gt<V>(t[a], r);  // (t G)[a][b]
      for (int b = 0; b < 3; ++b) V::store(g + (a * 3 + b) * L + v, r[b]);
    }
  }
  for (int l = 0; l < count; ++l)
    for (int k = 0; k < 9; ++k) dw[l * dw_stride + k] = g[k * L + l];
}

template <typename V, typename T, typename Tr>
WinogradKernels<T> winograd_kernels_for(const char* name) {
  return {name,
          Tr::m,
          Tr::n,
          input_tiles<V, T, Tr>,
          output_tiles<V, T, Tr>,
          filter_panel<V, T, Tr>,
          output_adjoint_tiles<V, T, Tr>,
          filter_adjoint_lanes<V, T, Tr>};
}

// The table for tile size m: 3 gives F(3x3, 3x3), any other F(4x4, 3x3).
template <typename V, typename T>
WinogradKernels<T> winograd_kernels(int m, const char* f4_name, const char* f3_name) {
  return m == 3 ? winograd_kernels_for<V, T, Tr3>(f3_name)
                : winograd_kernels_for<V, T, Tr4>(f4_name);
}

}  // namespace simd
}  // namespace fastconv::cpu
