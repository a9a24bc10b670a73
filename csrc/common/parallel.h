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

// Ceiling division of non-negative numbers.
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace fastconv
