// Bindings of the elementwise activation kernels (csrc/cpu/activation/activation.h).
#include <cstdint>

#include "bindings/common.h"
#include "cpu/activation/activation.h"
#include "cpu/activation/activation_kernels.h"

namespace fastconv::bindings {

namespace {

using fastconv::cpu::Activation;
using fastconv::cpu::ActivationParams;

// Whether the bytes of a and b overlap (both C-contiguous).
bool overlap(const py::array& a, const py::array& b) {
  const auto* a0 = static_cast<const char*>(a.data());
  const auto* b0 = static_cast<const char*>(b.data());
  const auto* a1 = a0 + a.nbytes();
  const auto* b1 = b0 + b.nbytes();
  return a.nbytes() > 0 && b.nbytes() > 0 && a0 < b1 && b0 < a1;
}

Activation parse(const std::string& op) {
  try {
    return fastconv::cpu::parse_activation(op);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(std::string("fastconv._C: ") + e.what());
  }
}

void activation_forward(const py::array& input, const py::array& output, const std::string& op,
                        double param0, double param1) {
  const Activation act = parse(op);
  require_contiguous(input, "input", false);
  require_contiguous(output, "output", true);
  require_same_dtype(input, output);
  require_same_shape(input, output);
  require(input.data() == output.data() || !overlap(input, output),
          "output must be input itself (in place) or not overlap it");
  const ActivationParams params{param0, param1};
  const int64_t n = input.size();
  dispatch_dtype(input, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(input.data());
    T* yp = static_cast<T*>(const_cast<void*>(output.data()));
    py::gil_scoped_release release;
    fastconv::cpu::activation_forward<T>(act, params, xp, yp, n);
  });
}

void activation_backward(const py::array& grad_output, const py::array& saved,
                         const py::array& grad_input, const std::string& op, double param0,
                         double param1) {
  const Activation act = parse(op);
  require_contiguous(grad_output, "grad_output", false);
  require_contiguous(saved, "saved", false);
  require_contiguous(grad_input, "grad_input", true);
  require_same_dtype(grad_output, saved);
  require_same_dtype(grad_output, grad_input);
  require_same_shape(grad_output, saved);
  require_same_shape(grad_output, grad_input);
  require(!overlap(grad_input, grad_output) && !overlap(grad_input, saved),
          "grad_input must not overlap grad_output or saved");
  const ActivationParams params{param0, param1};
  const int64_t n = grad_output.size();
  dispatch_dtype(grad_output, [&](auto tag) {
    using T = decltype(tag);
    const T* gyp = static_cast<const T*>(grad_output.data());
    const T* sp = static_cast<const T*>(saved.data());
    T* gxp = static_cast<T*>(const_cast<void*>(grad_input.data()));
    py::gil_scoped_release release;
    fastconv::cpu::activation_backward<T>(act, params, gyp, sp, gxp, n);
  });
}

// Test hook: output[i] = fn(input[i]) with the vectorised exp / expm1 / tanh / erf of the ISA
// path in use (libm's on the generic path).
void vmath(const std::string& fn, const py::array& input, const py::array& output) {
  require_contiguous(input, "input", false);
  require_contiguous(output, "output", true);
  require_same_dtype(input, output);
  require_same_shape(input, output);
  require(!overlap(input, output), "output must not overlap input");
  const int64_t n = input.size();
  dispatch_dtype(input, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(input.data());
    T* yp = static_cast<T*>(const_cast<void*>(output.data()));
    try {
      py::gil_scoped_release release;
      fastconv::cpu::vmath_eval<T>(fn, xp, yp, n);
    } catch (const std::invalid_argument& e) {
      throw py::value_error(std::string("fastconv._C: ") + e.what());
    }
  });
}

}  // namespace

void bind_activation(py::module_& m) {
  const char* doc =
      "Elementwise activation over C-contiguous arrays of one shape and dtype. op: relu, "
      "leaky_relu (param0 = negative_slope), hardtanh (param0 = min_val, param1 = max_val), "
      "sigmoid, tanh, elu (param0 = alpha), gelu, gelu_tanh.";
  m.def("activation_forward", &activation_forward, py::arg("input"), py::arg("output"),
        py::arg("op"), py::arg("param0") = 0.0, py::arg("param1") = 0.0,
        (std::string(doc) + " output may be input itself (in place).").c_str());
  m.def("activation_backward", &activation_backward, py::arg("grad_output"), py::arg("saved"),
        py::arg("grad_input"), py::arg("op"), py::arg("param0") = 0.0, py::arg("param1") = 0.0,
        (std::string(doc) + " saved is the forward's output for sigmoid and tanh, its input "
                            "otherwise; grad_input overlaps neither.")
            .c_str());
  m.def("_vmath", &vmath, py::arg("fn"), py::arg("input"), py::arg("output"),
        "Test hook: output = fn(input) for fn in exp, expm1, tanh, erf, with the vectorised "
        "functions of the ISA path in use (libm's on the generic path).");
}

}  // namespace fastconv::bindings
