// tracemalloc's C API without Python.h: CPython 3.11's tracemalloc.h declares these functions
// without extern "C", so a C++ file that includes Python.h links against mangled names that do
// not exist. The functions have C linkage in every version; declaring them here says so.
#include <cstddef>
#include <cstdint>

extern "C" int PyTraceMalloc_Track(unsigned int domain, uintptr_t ptr, size_t size);
extern "C" int PyTraceMalloc_Untrack(unsigned int domain, uintptr_t ptr);

namespace fastconv::bindings {

void trace_allocation(unsigned int domain, const void* block, size_t bytes) {
  PyTraceMalloc_Track(domain, reinterpret_cast<uintptr_t>(block), bytes);
}

void trace_release(unsigned int domain, const void* block) {
  PyTraceMalloc_Untrack(domain, reinterpret_cast<uintptr_t>(block));
}

}  // namespace fastconv::bindings
