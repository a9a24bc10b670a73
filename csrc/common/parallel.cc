#include "common/parallel.h"

#include <algorithm>
#include <atomic>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastconv {

namespace {
int initial_threads() {
#ifdef _OPENMP
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}
std::atomic<int> g_num_threads{initial_threads()};
}  // namespace

int num_threads() { return g_num_threads.load(std::memory_order_relaxed); }

void set_num_threads(int n) { g_num_threads.store(std::max(1, n), std::memory_order_relaxed); }

int max_hardware_threads() {
#ifdef _OPENMP
  return omp_get_num_procs();
#else
  return 0;
#endif
}

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace fastconv
