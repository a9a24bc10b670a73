// Helpers shared by the binding files: argument checks that keep kernels in bounds, and
// dtype dispatch. Bindings convert and check; they never compute.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>

namespace fastconv::bindings {

namespace py = pybind11;

using Triple = std::array<int64_t, 3>;

inline void require(bool ok, const char* message) {
  if (!ok) throw py::value_error(std::string("fastconv._C: ") + message);
}
inline void require(bool ok, const std::string& message) { require(ok, message.c_str()); }

// `name` + `what`, built only when the check fails (small calls pay for every check).
inline void require_named(bool ok, const char* name, const char* what) {
  if (!ok) require(false, std::string(name) + what);
}

inline void require_contiguous(const py::array& a, const char* name, bool writable) {
  require_named((a.flags() & py::array::c_style) != 0, name, " must be C-contiguous");
  require_named(!writable || a.writeable(), name, " must be writable");
}

inline void require_same_shape(const py::array& a, const py::array& b) {
  bool same = a.ndim() == b.ndim();
  for (py::ssize_t d = 0; same && d < a.ndim(); ++d) same = a.shape(d) == b.shape(d);
  require(same, "all arrays must have the same shape");
}

inline void require_5d(const py::array& a, const char* name, bool writable) {
  require_named(a.ndim() == 5, name, " must be 5-D (N, C, D, H, W)");
  require_contiguous(a, name, writable);
}

// (N, C, *spatial) with 1 to 3 spatial dims, C-contiguous: the layout of (N, C, D, H, W) with
// the missing leading spatial dims of size 1, so no reshape is needed on the Python side.
inline void require_spatial(const py::array& a, const char* name, bool writable) {
  require_named(a.ndim() >= 3 && a.ndim() <= 5, name, " must be 3-D to 5-D (N, C, *spatial)");
  require_contiguous(a, name, writable);
}

inline std::array<int64_t, 5> shape5(const py::array& a) {
  std::array<int64_t, 5> s = {a.shape(0), a.shape(1), 1, 1, 1};
  for (py::ssize_t d = 2; d < a.ndim(); ++d) s[size_t(5 - a.ndim() + d)] = a.shape(d);
  return s;
}

inline void require_same_dtype(const py::array& a, const py::array& b) {
  require(a.dtype().is(b.dtype()), "all arrays must have the same dtype");
}

// Calls fn(float{}) or fn(double{}) by the array's dtype; other dtypes are a TypeError.
template <typename Fn>
void dispatch_dtype(const py::array& a, Fn&& fn) {
  if (py::isinstance<py::array_t<float>>(a)) {
    fn(float{});
  } else if (py::isinstance<py::array_t<double>>(a)) {
    fn(double{});
  } else {
    throw py::type_error("fastconv._C: arrays must be float32 or float64, got " +
                         std::string(py::str(a.dtype())));
  }
}

// Registration of each op family's functions on the module.
void bind_runtime(py::module_& m);
void bind_conv(py::module_& m);
void bind_activation(py::module_& m);
void bind_pool(py::module_& m);
void bind_ceilings(py::module_& m);
void bind_memory(py::module_& m);

}  // namespace fastconv::bindings
