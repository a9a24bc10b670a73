// Thread count shared by every CPU kernel of fastconv.
//
// Kernels pass it to `#pragma omp parallel num_threads(...)` rather than relying on the OpenMP
// runtime's per-thread ICV, so that fastconv.set_num_threads() holds whichever Python thread
// calls a kernel, and so that it never changes the thread count of another library (torch, NumPy's
// BLAS) that shares the process.
#pragma once

#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastconv {

int num_threads();
void set_num_threads(int n);
// Largest thread count the OpenMP runtime offers (0 when built without OpenMP).
int max_hardware_threads();
bool openmp_enabled();

// Threads for a parallel loop of `tasks` independent tasks worth about `work` scalar operations in
// all: never more than there are tasks, and fewer when the work is too small to repay waking a
// team (about 64 K operations per thread). Safe because no result depends on the thread count.
inline int threads_for(int64_t tasks, int64_t work) {
  constexpr int64_t kMinWorkPerThread = int64_t(1) << 16;
  int64_t t = num_threads();
  if (tasks < t) t = tasks;
  const int64_t by_work = work / kMinWorkPerThread;
  if (by_work < t) t = by_work;
  return t < 1 ? 1 : int(t);
}

// This thread's index in the enclosing parallel region (0 outside one, or without OpenMP): which
// per-thread slice of a workspace it owns.
inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Ceiling division of non-negative numbers.
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace fastconv
