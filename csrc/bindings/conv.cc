// Bindings of the convolution primitives (csrc/cpu/conv/conv.h).
#include <array>
#include <stdexcept>
#include <string>
#include <tuple>

#include "bindings/common.h"
#include "common/conv_geometry.h"
#include "cpu/conv/conv.h"
#include "cpu/conv/conv_stride_phases.h"
#include "cpu/conv/conv_dilation_phases.h"

namespace fastconv::bindings {

namespace {

using fastconv::cpu::ConvAlgorithm;
using fastconv::cpu::ConvPass;

// Raised in Python as fastconv._C.AlgorithmError, a ValueError.
struct AlgorithmError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

using Shape5 = std::array<int64_t, 5>;

// x: activations (N, C_in, ...), w: (C_out, C_in/groups, ...), y: (N, C_out, ...).
ConvGeometry make_geometry(const Shape5& x, const Shape5& w, const Shape5& y,
                           const Triple& stride, const Triple& pad, const Triple& dilation,
                           int64_t groups) {
  ConvGeometry g;
  g.batch = x[0];
  g.in_channels = x[1];
  g.out_channels = w[0];
  g.groups = groups;
  for (int d = 0; d < 3; ++d) {
    g.in_size[d] = x[2 + d];
    g.out_size[d] = y[2 + d];
    g.kernel[d] = w[2 + d];
    g.stride[d] = stride[d];
    g.pad_before[d] = pad[d];
    g.dilation[d] = dilation[d];
  }
  g.check();
  require(y[0] == g.batch, "batch sizes of the activations differ");
  require(y[1] == g.out_channels, "output channels differ from weight.shape[0]");
  require(groups > 0 && w[1] * groups == g.in_channels,
          "weight.shape[1] * groups differs from the input channels");
  return g;
}

// Arrays of 1 to 3 spatial dims (all three of the same rank), read as 5-D.
ConvGeometry make_geometry(const py::array& x, const py::array& w, const py::array& y,
                           const Triple& stride, const Triple& pad, const Triple& dilation,
                           int64_t groups) {
  require(x.ndim() == w.ndim() && x.ndim() == y.ndim(),
          "activations and weight must have the same number of dims");
  return make_geometry(shape5(x), shape5(w), shape5(y), stride, pad, dilation, groups);
}

// What will run (the algorithm and the samples per kernel call), planned with the GIL held; a
// forced algorithm that cannot compute this problem raises AlgorithmError (a ValueError) with
// the reason.
fastconv::cpu::ConvPlan plan(const ConvGeometry& g, ConvPass pass, const std::string& algorithm,
                             int64_t element_size) {
  try {
    return fastconv::cpu::plan_conv(g, pass, fastconv::cpu::parse_conv_algorithm(algorithm),
                                    element_size);
  } catch (const std::invalid_argument& e) {
    throw AlgorithmError(e.what());
  }
}

// The algorithm as requested ("auto" or a name), planned with the GIL held so that a forced
// algorithm that cannot compute this problem raises AlgorithmError here; the primitive then finds
// the plan in its per-thread cache (cpu::plan_conv) under the same key.
ConvAlgorithm checked_request(const ConvGeometry& g, ConvPass pass, const std::string& algorithm,
                              int64_t element_size) {
  try {
    const ConvAlgorithm requested = fastconv::cpu::parse_conv_algorithm(algorithm);
    fastconv::cpu::plan_conv(g, pass, requested, element_size);
    return requested;
  } catch (const std::invalid_argument& e) {
    throw AlgorithmError(e.what());
  }
}

void conv_forward(const py::array& x, const py::array& w, const py::object& bias,
                  const py::array& y, const Triple& stride, const Triple& pad,
                  const Triple& dilation, int64_t groups, const std::string& algorithm,
                  const std::string& activation) {
  const bool relu = activation == "relu";
  require(relu || activation == "none", "activation must be 'none' or 'relu'");
  require_spatial(x, "input", false);
  require_spatial(w, "weight", false);
  require_spatial(y, "output", true);
  require_same_dtype(x, w);
  require_same_dtype(x, y);
  const ConvGeometry g = make_geometry(x, w, y, stride, pad, dilation, groups);
  const ConvAlgorithm algo = checked_request(g, ConvPass::Forward, algorithm, x.itemsize());
  py::array b;
  if (!bias.is_none()) {
    b = bias.cast<py::array>();
    require(b.ndim() == 1 && b.shape(0) == g.out_channels, "bias must have shape (C_out,)");
    require((b.flags() & py::array::c_style) != 0, "bias must be C-contiguous");
    require_same_dtype(x, b);
  }
  dispatch_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    const T* bp = bias.is_none() ? nullptr : static_cast<const T*>(b.data());
    const T* xp = static_cast<const T*>(x.data());
    const T* wp = static_cast<const T*>(w.data());
    T* yp = static_cast<T*>(const_cast<void*>(y.data()));
    py::gil_scoped_release release;
    fastconv::cpu::conv_forward<T>(g, xp, wp, bp, relu, yp, algo);
  });
}

void conv_backward_data(const py::array& grad_output, const py::array& w,
                        const py::array& grad_input, const Triple& stride, const Triple& pad,
                        const Triple& dilation, int64_t groups, const std::string& algorithm) {
  require_spatial(grad_output, "grad_output", false);
  require_spatial(w, "weight", false);
  require_spatial(grad_input, "grad_input", true);
  require_same_dtype(grad_output, w);
  require_same_dtype(grad_output, grad_input);
  const ConvGeometry g = make_geometry(grad_input, w, grad_output, stride, pad, dilation, groups);
  const ConvAlgorithm algo = checked_request(g, ConvPass::BackwardData, algorithm, w.itemsize());
  dispatch_dtype(w, [&](auto tag) {
    using T = decltype(tag);
    const T* gyp = static_cast<const T*>(grad_output.data());
    const T* wp = static_cast<const T*>(w.data());
    T* gxp = static_cast<T*>(const_cast<void*>(grad_input.data()));
    py::gil_scoped_release release;
    fastconv::cpu::conv_backward_data<T>(g, gyp, wp, gxp, algo);
  });
}

void conv_backward_weight(const py::array& x, const py::array& grad_output,
                          const py::array& grad_weight, const Triple& stride, const Triple& pad,
                          const Triple& dilation, int64_t groups, const std::string& algorithm) {
  require_spatial(x, "input", false);
  require_spatial(grad_output, "grad_output", false);
  require_spatial(grad_weight, "grad_weight", true);
  require_same_dtype(x, grad_output);
  require_same_dtype(x, grad_weight);
  const ConvGeometry g = make_geometry(x, grad_weight, grad_output, stride, pad, dilation, groups);
  const ConvAlgorithm algo = checked_request(g, ConvPass::BackwardWeight, algorithm, x.itemsize());
  dispatch_dtype(x, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.data());
    const T* gyp = static_cast<const T*>(grad_output.data());
    T* gwp = static_cast<T*>(const_cast<void*>(grad_weight.data()));
    py::gil_scoped_release release;
    fastconv::cpu::conv_backward_weight<T>(g, xp, gyp, gwp, algo);
  });
}

// The algorithm that `algorithm` ("auto" or a name) runs for this pass and geometry, by name;
// a forced algorithm that cannot compute it raises AlgorithmError. Shapes are 5-D, in the
// convolution's terms: input (N, C_in, D, H, W), weight (C_out, C_in/groups, KD, KH, KW),
// output (N, C_out, OD, OH, OW), whatever the pass.
ConvPass parse_pass(const std::string& pass) {
  if (pass == "forward") return ConvPass::Forward;
  if (pass == "backward_data") return ConvPass::BackwardData;
  if (pass == "backward_weight") return ConvPass::BackwardWeight;
  throw py::value_error("fastconv._C: pass must be 'forward', 'backward_data' or "
                        "'backward_weight', got '" + pass + "'");
}

// The algorithm that `algorithm` ("auto" or a name) runs for this pass, geometry and element
// size (4: float32, 8: float64), the bytes of workspace its kernel allocates (-1: not
// reported) and the rewrite it runs through (None, or "dilation_phases"); a forced algorithm that cannot compute it raises AlgorithmError. Shapes are 5-D, in
// the convolution's terms: input (N, C_in, D, H, W), weight (C_out, C_in/groups, KD, KH, KW),
// output (N, C_out, OD, OH, OW), whatever the pass.
std::tuple<std::string, int64_t, py::object> conv_plan(
    const std::string& pass, const Shape5& input, const Shape5& weight, const Shape5& output,
    const Triple& stride, const Triple& pad, const Triple& dilation, int64_t groups,
    const std::string& algorithm, int64_t element_size) {
  require(element_size == 4 || element_size == 8, "element_size must be 4 or 8");
  const ConvPass p = parse_pass(pass);
  const ConvGeometry g = make_geometry(input, weight, output, stride, pad, dilation, groups);
  const fastconv::cpu::ConvPlan planned = plan(g, p, algorithm, element_size);
  const ConvAlgorithm chosen = planned.algorithm;
  const char* rewrite = fastconv::cpu::conv_rewrite(chosen, p, g);
  ConvGeometry per_call = g;  // the samples one kernel call computes
  per_call.batch = planned.batch_chunk;
  return {fastconv::cpu::conv_algorithm_name(chosen),
          fastconv::cpu::conv_workspace_bytes(chosen, p, per_call, element_size),
          rewrite == nullptr ? py::object(py::none()) : py::object(py::str(rewrite))};
}

// Test hook: one pass computed through the dilation-phases rewrite whatever dispatch would do,
// with `inner` ("auto" or a name) on the rewritten problem; arrays as for the pass ("forward":
// x, w, y; "backward_data": grad_output, w, grad_input; "backward_weight": x, grad_output,
// grad_weight). Lets the tests check the rewrite in 1-D and 3-D and with every inner algorithm.
void conv_dilation_phases(const std::string& pass, const py::array& a, const py::array& b,
                          const py::array& out, const Triple& stride, const Triple& pad,
                          const Triple& dilation, int64_t groups, const std::string& inner) {
  require_same_dtype(a, b);
  require_same_dtype(a, out);
  require_spatial(a, "a", false);
  require_spatial(b, "b", false);
  require_spatial(out, "out", true);
  const ConvPass p = parse_pass(pass);
  // make_geometry takes (input, weight, output) arrays
  const ConvGeometry g =
      p == ConvPass::Forward        ? make_geometry(a, b, out, stride, pad, dilation, groups)
      : p == ConvPass::BackwardData ? make_geometry(out, b, a, stride, pad, dilation, groups)
                                    : make_geometry(a, out, b, stride, pad, dilation, groups);
  require(fastconv::cpu::dilation_phases_apply(g), "the rewrite needs stride 1 and a dilation > 1");
  ConvAlgorithm algo;
  try {
    algo = fastconv::cpu::parse_conv_algorithm(inner);
    if (algo != ConvAlgorithm::Auto)  // fail here, with the GIL held
      fastconv::cpu::choose_conv_algorithm(fastconv::cpu::dilation_phases_geometry(g), p, algo,
                                           a.itemsize());
  } catch (const std::invalid_argument& e) {
    throw AlgorithmError(e.what());
  }
  dispatch_dtype(a, [&](auto tag) {
    using T = decltype(tag);
    const T* ap = static_cast<const T*>(a.data());
    const T* bp = static_cast<const T*>(b.data());
    T* op = static_cast<T*>(const_cast<void*>(out.data()));
    py::gil_scoped_release release;
    switch (p) {
      case ConvPass::Forward:
        return fastconv::cpu::forward_dilation_phases<T>(g, ap, bp, nullptr, false, op, algo);
      case ConvPass::BackwardData:
        return fastconv::cpu::backward_data_dilation_phases<T>(g, ap, bp, op, algo);
      case ConvPass::BackwardWeight:
        return fastconv::cpu::backward_weight_dilation_phases<T>(g, ap, bp, op, algo);
    }
  });
}

// The algorithms of the stride-1 sub-problems that stride_phases runs for this pass (empty when
// it cannot compute it); same arguments as conv_plan.
std::vector<std::string> conv_stride_phases_plan(const std::string& pass, const Shape5& input,
                                                 const Shape5& weight, const Shape5& output,
                                                 const Triple& stride, const Triple& pad,
                                                 const Triple& dilation, int64_t groups,
                                                 int64_t element_size) {
  require(element_size == 4 || element_size == 8, "element_size must be 4 or 8");
  const ConvGeometry g = make_geometry(input, weight, output, stride, pad, dilation, groups);
  return fastconv::cpu::stride_phases_sub_algorithms(g, parse_pass(pass), element_size);
}

}  // namespace

void bind_conv(py::module_& m) {
  py::register_exception<AlgorithmError>(m, "AlgorithmError", PyExc_ValueError);
  m.def("conv_algorithms", &fastconv::cpu::conv_algorithm_names,
        "Names of the convolution algorithms (besides 'auto').");
  const char* geometry_doc =
      "Arrays are C-contiguous (N, C, *spatial) with 1 to 3 spatial dims, read as (N, C, D, H, W); "
      "stride, pad (before) and dilation are (D, H, W) triples; the output array's shape gives "
      "the output size.";
  m.def("conv_plan", &conv_plan, py::arg("pass"), py::arg("input_shape"),
        py::arg("weight_shape"), py::arg("output_shape"), py::arg("stride"), py::arg("pad"),
        py::arg("dilation"), py::arg("groups"), py::arg("algorithm"), py::arg("element_size"),
        "(algorithm name, workspace bytes or -1, rewrite or None) for pass ('forward', 'backward_data', "
        "'backward_weight') on these 5-D shapes (convolution's input, weight, output).");
  m.def("conv_stride_phases_plan", &conv_stride_phases_plan, py::arg("pass"),
        py::arg("input_shape"), py::arg("weight_shape"), py::arg("output_shape"),
        py::arg("stride"), py::arg("pad"), py::arg("dilation"), py::arg("groups"),
        py::arg("element_size"),
        "Algorithms of the stride-1 sub-problems (one per stride phase) that the "
        "'stride_phases' rewrite runs for this pass; same shapes as conv_plan.");
  m.def("_conv_dilation_phases", &conv_dilation_phases, py::arg("pass"), py::arg("a"),
        py::arg("b"), py::arg("out"), py::arg("stride"), py::arg("pad"), py::arg("dilation"),
        py::arg("groups"), py::arg("inner"),
        "Test hook: one pass through the dilation-phases rewrite with `inner` on the rewritten "
        "problem (forward: x, w, y; backward_data: grad_output, w, grad_input; backward_weight: "
        "x, grad_output, grad_weight).");
  m.def("conv_forward", &conv_forward, py::arg("input"), py::arg("weight"), py::arg("bias"),
        py::arg("output"), py::arg("stride"), py::arg("pad"), py::arg("dilation"),
        py::arg("groups"), py::arg("algorithm"), py::arg("activation") = "none", geometry_doc);
  m.def("conv_backward_data", &conv_backward_data, py::arg("grad_output"), py::arg("weight"),
        py::arg("grad_input"), py::arg("stride"), py::arg("pad"), py::arg("dilation"),
        py::arg("groups"), py::arg("algorithm"), geometry_doc);
  m.def("conv_backward_weight", &conv_backward_weight, py::arg("input"), py::arg("grad_output"),
        py::arg("grad_weight"), py::arg("stride"), py::arg("pad"), py::arg("dilation"),
        py::arg("groups"), py::arg("algorithm"), geometry_doc);
}

}  // namespace fastconv::bindings
