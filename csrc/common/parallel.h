// Thread count shared by every CPU kernel of fastconv.
//
// Kernels pass it to `#pragma omp parallel num_threads(...)` rather than relying on the OpenMP
// runtime's per-thread ICV, so that fastconv.set_num_threads() holds whichever Python thread
// calls a kernel, and so that it never changes the thread count of another library (torch, NumPy's
// BLAS) that shares the process.
#pragma once

#include <cstdint>

namespace fastconv {

int num_threads();
void set_num_threads(int n);
// Largest thread count the OpenMP runtime offers (0 when built without OpenMP).
int max_hardware_threads();
bool openmp_enabled();

// Ceiling division of non-negative numbers.
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace fastconv
