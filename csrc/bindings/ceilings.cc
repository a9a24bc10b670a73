// Bindings of the ceiling measurements used by `fastconv bench` (cpu/ceilings/ceilings.h).
#include <string>

#include "bindings/common.h"
#include "cpu/ceilings/ceilings.h"

namespace fastconv::bindings {

namespace {

py::dict measure_fma_peak(const py::object& dtype, int threads, double seconds) {
  const py::dtype dt = py::dtype::from_args(dtype);
  require(threads >= 1, "threads must be >= 1");
  require(seconds > 0 && seconds <= 60, "seconds must be in (0, 60]");
  fastconv::cpu::FmaPeak peak;
  if (dt.is(py::dtype::of<float>())) {
    py::gil_scoped_release release;
    peak = fastconv::cpu::measure_fma_peak<float>(threads, seconds);
  } else if (dt.is(py::dtype::of<double>())) {
    py::gil_scoped_release release;
    peak = fastconv::cpu::measure_fma_peak<double>(threads, seconds);
  } else {
    throw py::type_error("fastconv._C: dtype must be float32 or float64, got " +
                         std::string(py::str(dt)));
  }
  py::dict out;
  out["gflops"] = peak.gflops;
  out["seconds"] = peak.seconds;
  out["threads"] = peak.threads;
  out["kernel"] = peak.kernel;
  return out;
}

py::dict measure_copy_bandwidth(int64_t bytes, int threads, double seconds) {
  require(threads >= 1, "threads must be >= 1");
  require(bytes >= 4096 && bytes <= (int64_t(8) << 30), "bytes must be in [4 KiB, 8 GiB]");
  require(seconds > 0 && seconds <= 60, "seconds must be in (0, 60]");
  fastconv::cpu::CopyBandwidth bw;
  {
    py::gil_scoped_release release;
    bw = fastconv::cpu::measure_copy_bandwidth(bytes, threads, seconds);
  }
  py::dict out;
  out["gbps"] = bw.gbps;
  out["bytes"] = bw.bytes;
  out["threads"] = bw.threads;
  out["repeats"] = bw.repeats;
  return out;
}

}  // namespace

void bind_ceilings(py::module_& m) {
  m.def("measure_fma_peak", &measure_fma_peak, py::arg("dtype"), py::arg("threads"),
        py::arg("seconds") = 0.2,
        "Floating-point FMA peak of the ISA path in use: independent FMA chains (no memory "
        "traffic) on `threads` threads for about `seconds`. Returns {gflops (2 flops per FMA "
        "lane), seconds, threads, kernel}.");
  m.def("measure_copy_bandwidth", &measure_copy_bandwidth, py::arg("bytes"), py::arg("threads"),
        py::arg("seconds") = 0.2,
        "Copy bandwidth: memcpy of a `bytes` buffer split over `threads` threads, repeated for "
        "about `seconds`. Returns {gbps (bytes read + written per second, best repeat), bytes, "
        "threads, repeats}.");
}

}  // namespace fastconv::bindings
