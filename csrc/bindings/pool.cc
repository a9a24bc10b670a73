// Bindings of the pooling kernels (csrc/cpu/pool/pool.h). Arrays are C-contiguous 5-D
// (N, C, D, H, W); indices int64 of the output's shape. Output arrays' shapes give the sizes.
#include "bindings/common.h"
#include "common/pool_geometry.h"
#include "cpu/pool/pool.h"

namespace fastconv::bindings {

namespace {

void require_indices(const py::array& idx, const py::array& like, const char* name,
                     bool writable) {
  require_5d(idx, name, writable);
  require(py::isinstance<py::array_t<int64_t>>(idx), std::string(name) + " must be int64");
  for (int d = 0; d < 5; ++d)
    require(idx.shape(d) == like.shape(d), std::string(name) + " must have the shape of its values");
}

// big: the input-side array (N, C, D, H, W); small: the output side.
PoolGeometry make_geometry(const py::array& big, const py::array& small, const Triple& kernel,
                           const Triple& stride, const Triple& pad_before,
                           const Triple& pad_after, const Triple& dilation) {
  require(big.shape(0) == small.shape(0) && big.shape(1) == small.shape(1),
          "batch and channel sizes of input and output differ");
  PoolGeometry g;
  g.planes = big.shape(0) * big.shape(1);
  for (int d = 0; d < 3; ++d) {
    g.in_size[d] = big.shape(2 + d);
    g.out_size[d] = small.shape(2 + d);
    g.kernel[d] = kernel[d];
    g.stride[d] = stride[d];
    g.pad_before[d] = pad_before[d];
    g.pad_after[d] = pad_after[d];
    g.dilation[d] = dilation[d];
  }
  g.check();
  return g;
}

PoolGeometry adaptive_geometry(const py::array& big, const py::array& small) {
  const Triple one{1, 1, 1}, zero{0, 0, 0};
  PoolGeometry g = make_geometry(big, small, one, one, zero, zero, one);
  for (int d = 0; d < 3; ++d) {
    // Every window must hold a cell, and out * in must not overflow the window arithmetic.
    require(g.in_size[d] >= 1 || g.planes == 0, "adaptive pooling needs a non-empty input");
    require(g.in_size[d] < (int64_t(1) << 31) && g.out_size[d] < (int64_t(1) << 31),
            "adaptive pooling sizes must be below 2**31");
  }
  return g;
}

template <typename T>
T* wptr(const py::array& a) { return static_cast<T*>(const_cast<void*>(a.data())); }
template <typename T>
const T* rptr(const py::array& a) { return static_cast<const T*>(a.data()); }

void max_pool_forward(const py::array& x, const py::array& y, const py::object& indices,
                      const Triple& kernel, const Triple& stride, const Triple& pad_before,
                      const Triple& dilation) {
  require_5d(x, "input", false);
  require_5d(y, "output", true);
  require_same_dtype(x, y);
  py::array idx;
  if (!indices.is_none()) {
    idx = indices.cast<py::array>();
    require_indices(idx, y, "indices", true);
  }
  const PoolGeometry g = make_geometry(x, y, kernel, stride, pad_before, pad_before, dilation);
  dispatch_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    int64_t* ip = indices.is_none() ? nullptr : wptr<int64_t>(idx);
    const T* xp = rptr<T>(x);
    T* yp = wptr<T>(y);
    py::gil_scoped_release release;
    fastconv::cpu::max_pool_forward<T>(g, xp, yp, ip);
  });
}

void avg_pool_forward(const py::array& x, const py::array& y, const Triple& kernel,
                      const Triple& stride, const Triple& pad_before, const Triple& pad_after,
                      bool count_include_pad, int64_t divisor_override) {
  require_5d(x, "input", false);
  require_5d(y, "output", true);
  require_same_dtype(x, y);
  const Triple one{1, 1, 1};
  const PoolGeometry g = make_geometry(x, y, kernel, stride, pad_before, pad_after, one);
  dispatch_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = rptr<T>(x);
    T* yp = wptr<T>(y);
    py::gil_scoped_release release;
    fastconv::cpu::avg_pool_forward<T>(g, count_include_pad, divisor_override, xp, yp);
  });
}

void avg_pool_backward(const py::array& gy, const py::array& gx, const Triple& kernel,
                       const Triple& stride, const Triple& pad_before, const Triple& pad_after,
                       bool count_include_pad, int64_t divisor_override) {
  require_5d(gy, "grad_output", false);
  require_5d(gx, "grad_input", true);
  require_same_dtype(gy, gx);
  const Triple one{1, 1, 1};
  const PoolGeometry g = make_geometry(gx, gy, kernel, stride, pad_before, pad_after, one);
  dispatch_dtype(gy, [&](auto tag) {
    using T = decltype(tag);
    const T* gyp = rptr<T>(gy);
    T* gxp = wptr<T>(gx);
    py::gil_scoped_release release;
    fastconv::cpu::avg_pool_backward<T>(g, count_include_pad, divisor_override, gyp, gxp);
  });
}

void adaptive_avg_pool_forward(const py::array& x, const py::array& y) {
  require_5d(x, "input", false);
  require_5d(y, "output", true);
  require_same_dtype(x, y);
  const PoolGeometry g = adaptive_geometry(x, y);
  dispatch_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = rptr<T>(x);
    T* yp = wptr<T>(y);
    py::gil_scoped_release release;
    fastconv::cpu::adaptive_avg_pool_forward<T>(g, xp, yp);
  });
}

void adaptive_avg_pool_backward(const py::array& gy, const py::array& gx) {
  require_5d(gy, "grad_output", false);
  require_5d(gx, "grad_input", true);
  require_same_dtype(gy, gx);
  const PoolGeometry g = adaptive_geometry(gx, gy);
  dispatch_dtype(gy, [&](auto tag) {
    using T = decltype(tag);
    const T* gyp = rptr<T>(gy);
    T* gxp = wptr<T>(gx);
    py::gil_scoped_release release;
    fastconv::cpu::adaptive_avg_pool_backward<T>(g, gyp, gxp);
  });
}

void adaptive_max_pool_forward(const py::array& x, const py::array& y, const py::object& indices) {
  require_5d(x, "input", false);
  require_5d(y, "output", true);
  require_same_dtype(x, y);
  py::array idx;
  if (!indices.is_none()) {
    idx = indices.cast<py::array>();
    require_indices(idx, y, "indices", true);
  }
  const PoolGeometry g = adaptive_geometry(x, y);
  dispatch_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    int64_t* ip = indices.is_none() ? nullptr : wptr<int64_t>(idx);
    const T* xp = rptr<T>(x);
    T* yp = wptr<T>(y);
    py::gil_scoped_release release;
    fastconv::cpu::adaptive_max_pool_forward<T>(g, xp, yp, ip);
  });
}

// grad_input = 0; grad_input[plane, indices] += grad_output, in the geometry of the forward.
void max_pool_backward(const py::array& gy, const py::array& indices, const py::array& gx,
                       const Triple& kernel, const Triple& stride, const Triple& pad_before,
                       const Triple& dilation) {
  require_5d(gy, "grad_output", false);
  require_5d(gx, "grad_input", true);
  require_indices(indices, gy, "indices", false);
  require_same_dtype(gy, gx);
  const PoolGeometry g = make_geometry(gx, gy, kernel, stride, pad_before, pad_before, dilation);
  int64_t bad = 0;
  dispatch_dtype(gy, [&](auto tag) {
    using T = decltype(tag);
    const int64_t* ip = rptr<int64_t>(indices);
    const T* gyp = rptr<T>(gy);
    T* gxp = wptr<T>(gx);
    py::gil_scoped_release release;
    bad = fastconv::cpu::max_pool_backward<T>(g, gyp, ip, gxp);
  });
  require(bad == 0, std::to_string(bad) + " indices outside [0, " +
                        std::to_string(g.in_plane()) + ") were skipped");
}

enum class IndexOp { ScatterAdd, ScatterAssign, Gather };

// small / indices: (N, C, *out); big: (N, C, *in). Scatter writes big; gather writes small.
void index_op(IndexOp op, const py::array& small, const py::array& indices,
              const py::array& big) {
  const bool gather = op == IndexOp::Gather;
  require_5d(small, gather ? "grad_input" : "values", gather);
  require_5d(big, gather ? "grad_output" : "output", !gather);
  require_indices(indices, small, "indices", false);
  require_same_dtype(small, big);
  require(small.shape(0) == big.shape(0) && small.shape(1) == big.shape(1),
          "batch and channel sizes differ");
  const int64_t planes = small.shape(0) * small.shape(1);
  const int64_t small_plane = small.shape(2) * small.shape(3) * small.shape(4);
  const int64_t big_plane = big.shape(2) * big.shape(3) * big.shape(4);
  int64_t bad = 0;
  dispatch_dtype(small, [&](auto tag) {
    using T = decltype(tag);
    const int64_t* ip = rptr<int64_t>(indices);
    if (gather) {
      const T* bp = rptr<T>(big);
      T* sp = wptr<T>(small);
      py::gil_scoped_release release;
      bad = fastconv::cpu::index_gather<T>(planes, small_plane, big_plane, bp, ip, sp);
    } else {
      const T* sp = rptr<T>(small);
      T* bp = wptr<T>(big);
      py::gil_scoped_release release;
      bad = fastconv::cpu::index_scatter<T>(planes, small_plane, big_plane, sp, ip, bp,
                                            op == IndexOp::ScatterAdd);
    }
  });
  require(bad == 0, std::to_string(bad) + " indices outside [0, " + std::to_string(big_plane) +
                        ") were skipped");
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("max_pool_forward", &max_pool_forward, py::arg("input"), py::arg("output"),
        py::arg("indices"), py::arg("kernel"), py::arg("stride"), py::arg("pad_before"),
        py::arg("dilation"), "indices may be None");
  m.def("avg_pool_forward", &avg_pool_forward, py::arg("input"), py::arg("output"),
        py::arg("kernel"), py::arg("stride"), py::arg("pad_before"), py::arg("pad_after"),
        py::arg("count_include_pad"), py::arg("divisor_override"), "divisor_override 0: none (torch accepts negative divisors)");
  m.def("avg_pool_backward", &avg_pool_backward, py::arg("grad_output"), py::arg("grad_input"),
        py::arg("kernel"), py::arg("stride"), py::arg("pad_before"), py::arg("pad_after"),
        py::arg("count_include_pad"), py::arg("divisor_override"));
  m.def("adaptive_avg_pool_forward", &adaptive_avg_pool_forward, py::arg("input"),
        py::arg("output"));
  m.def("adaptive_avg_pool_backward", &adaptive_avg_pool_backward, py::arg("grad_output"),
        py::arg("grad_input"));
  m.def("adaptive_max_pool_forward", &adaptive_max_pool_forward, py::arg("input"),
        py::arg("output"), py::arg("indices"));
  m.def("max_pool_backward", &max_pool_backward, py::arg("grad_output"), py::arg("indices"),
        py::arg("grad_input"), py::arg("kernel"), py::arg("stride"), py::arg("pad_before"),
        py::arg("dilation"), "grad_input = 0; grad_input[plane, indices] += grad_output");
  m.def("index_scatter_add",
        [](const py::array& s, const py::array& i, const py::array& b) {
          index_op(IndexOp::ScatterAdd, s, i, b);
        },
        py::arg("values"), py::arg("indices"), py::arg("output"),
        "output = 0; output[plane, indices] += values (max pooling backward)");
  m.def("index_scatter_assign",
        [](const py::array& s, const py::array& i, const py::array& b) {
          index_op(IndexOp::ScatterAssign, s, i, b);
        },
        py::arg("values"), py::arg("indices"), py::arg("output"),
        "output = 0; output[plane, indices] = values (max_unpool)");
  m.def("index_gather",
        [](const py::array& s, const py::array& i, const py::array& b) {
          index_op(IndexOp::Gather, s, i, b);
        },
        py::arg("grad_input"), py::arg("indices"), py::arg("grad_output"),
        "grad_input = grad_output[plane, indices] (max_unpool backward)");
}

}  // namespace fastconv::bindings
