// pybind11 module fastconv._C: turns NumPy arrays into raw pointers and kernel parameters,
// releases the GIL, calls a kernel. Argument validation with user-facing messages lives in Python
// (fastconv/_validation.py); the bindings only refuse calls that would make a kernel read or write
// out of bounds, so that a direct call of _C cannot crash the process. One file per op family.
#include "bindings/common.h"
#include "common/cpu_features.h"
#include "common/parallel.h"
#include "cpu/activation/activation_kernels.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastconv::bindings {

namespace {

py::dict build_info() {
  py::dict info;
  info["openmp"] = fastconv::openmp_enabled();
  info["max_threads"] = fastconv::max_hardware_threads();
#if defined(__clang__)
  info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  info["compiler"] = std::string("gcc ") + __VERSION__;
#else
  info["compiler"] = std::string("unknown");
#endif
#ifdef FASTCONV_COMMIT
  info["commit"] = std::string(FASTCONV_COMMIT);
#endif
  info["isa"] = fastconv::isa_name(fastconv::isa());
  info["isa_detected"] = fastconv::isa_name(fastconv::detected_isa());
  info["gemm_f32"] = fastconv::cpu::active_micro_kernel<float>().name;
  info["gemm_f64"] = fastconv::cpu::active_micro_kernel<double>().name;
  // sigmoid / tanh / elu / gelu kernels; the generic path's are scalar code calling libm
  const char* act_f32 = fastconv::cpu::activation_simd_kernels<float>().name;
  const char* act_f64 = fastconv::cpu::activation_simd_kernels<double>().name;
  info["activation_f32"] = act_f32 ? act_f32 : "f32_activation_libm__generic";
  info["activation_f64"] = act_f64 ? act_f64 : "f64_activation_libm__generic";
  return info;
}

}  // namespace

void bind_runtime(py::module_& m) {
  m.def("set_num_threads", &fastconv::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &fastconv::num_threads);
  m.def("build_info", &build_info);
}

}  // namespace fastconv::bindings

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastconv's compiled kernels (private: use the fastconv package)";
  fastconv::bindings::bind_runtime(m);
  fastconv::bindings::bind_conv(m);
  fastconv::bindings::bind_activation(m);
  fastconv::bindings::bind_pool(m);
  fastconv::bindings::bind_ceilings(m);
  fastconv::bindings::bind_memory(m);
}
