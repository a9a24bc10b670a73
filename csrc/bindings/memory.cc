// Arrays over fastconv's output cache (common/output_cache.h): fastconv/_memory.py allocates the
// outputs and gradients it returns from 1 MiB through empty_output.
#include <new>
#include <vector>

#include "bindings/common.h"
#include "common/output_cache.h"

namespace fastconv::bindings {

// tracemalloc_shim.cc
void trace_allocation(unsigned int domain, const void* block, size_t bytes);
void trace_release(unsigned int domain, const void* block);

namespace {

// tracemalloc sees these arrays as it sees NumPy's own (NumPy reports in domain 389047; any
// domain counts in tracemalloc's totals). Called with the GIL held: array creation and the
// capsule's destructor both hold it.
constexpr unsigned int kTraceDomain = 0x66636f6e;  // "fcon"

void release_traced(void* block) {
  trace_release(kTraceDomain, block);
  release_output_block(block);
}

// A C-contiguous array whose memory goes back to the cache when the array (and every view of
// it) is gone: the capsule owning the block is the array's base.
py::array empty_output(const std::vector<py::ssize_t>& shape, const py::dtype& dtype) {
  size_t bytes = size_t(dtype.itemsize());
  for (py::ssize_t extent : shape) {
    require(extent >= 0, "empty_output: negative dimension");
    bytes *= size_t(extent);
  }
  void* block = acquire_output_block(bytes);
  trace_allocation(kTraceDomain, block, bytes);
  py::capsule owner;
  try {
    owner = py::capsule(block, &release_traced);
  } catch (...) {
    release_traced(block);
    throw;
  }
  return py::array(dtype, shape, block, owner);
}

py::dict output_cache_info() {
  OutputCacheStats s = output_cache_stats();
  py::dict info;
  info["cached_bytes"] = s.cached_bytes;
  info["cached_blocks"] = s.cached_blocks;
  info["live_bytes"] = s.live_bytes;
  info["limit_bytes"] = s.limit_bytes;
  info["hits"] = s.hits;
  info["misses"] = s.misses;
  return info;
}

}  // namespace

void bind_memory(py::module_& m) {
  m.def("empty_output", &empty_output, py::arg("shape"), py::arg("dtype"));
  m.def("output_cache_info", &output_cache_info);
  m.def(
      "set_output_cache_limit",
      [](int64_t bytes) {
        require(bytes >= 0, "set_output_cache_limit: bytes must be >= 0");
        set_output_cache_limit(bytes);
      },
      py::arg("bytes"));
  m.def("empty_output_cache", &empty_output_cache);
  m.def("_set_output_cache_poison", &set_output_cache_poison, py::arg("on"));
}

}  // namespace fastconv::bindings
