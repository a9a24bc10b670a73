// Ceiling measurements: FMA peak (per-ISA chain kernels, chosen by fastconv::isa()) and copy
// bandwidth (memcpy split over OpenMP threads).
#include "cpu/ceilings/ceilings.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "common/cpu_features.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastconv::cpu {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

FmaChains active_chains() { return FASTCONV_ISA_DISPATCH(fma_chains); }

// Each thread runs rounds of `chunk` iterations until its own clock passes `seconds`; the rate is
// all threads' flops over the wall time of the whole parallel region.
template <typename Fn>
FmaPeak run_chains(Fn fn, int64_t flops_per_iter, const char* name, int threads, double seconds) {
  threads = std::max(1, threads);
  constexpr int64_t kChunk = 1 << 14;
  std::vector<int64_t> rounds(threads, 0);
  std::vector<double> sink(threads, 0.0);
  fn(kChunk);  // warm-up: wakes the vector units up to full width and clock
  const auto start = Clock::now();
#pragma omp parallel num_threads(threads)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    const auto mine = Clock::now();
    int64_t r = 0;
    double s = 0;
    do {
      s += static_cast<double>(fn(kChunk));
      ++r;
    } while (since(mine) < seconds);
    rounds[t] = r;
    sink[t] = s;
  }
  const double elapsed = since(start);
  int64_t total = 0;
  double check = 0;
  for (int t = 0; t < threads; ++t) {
    total += rounds[t];
    check += sink[t];
  }
  volatile double keep = check;
  (void)keep;
  const double flops = static_cast<double>(total) * kChunk * flops_per_iter;
  return {flops / elapsed / 1e9, elapsed, threads, name};
}

}  // namespace

template <>
FmaPeak measure_fma_peak<float>(int threads, double seconds) {
  const FmaChains c = active_chains();
  return run_chains(c.f32, c.f32_flops_per_iter, c.f32_name, threads, seconds);
}

template <>
FmaPeak measure_fma_peak<double>(int threads, double seconds) {
  const FmaChains c = active_chains();
  return run_chains(c.f64, c.f64_flops_per_iter, c.f64_name, threads, seconds);
}

CopyBandwidth measure_copy_bandwidth(int64_t bytes, int threads, double seconds) {
  threads = std::max(1, threads);
  bytes = std::max<int64_t>(bytes, 4096);
  std::unique_ptr<char[]> src(new char[bytes]);
  std::unique_ptr<char[]> dst(new char[bytes]);
  const int64_t chunk = (bytes + threads - 1) / threads;
  auto first_touch = [&]() {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; ++t) {
      const int64_t begin = std::min<int64_t>(bytes, t * chunk);
      const int64_t end = std::min<int64_t>(bytes, begin + chunk);
      std::memset(src.get() + begin, t + 1, end - begin);  // first touch by the copying thread
      std::memset(dst.get() + begin, 0, end - begin);
    }
  };
  first_touch();
  double best = 0;
  int repeats = 0;
  const auto start = Clock::now();
  do {
    const auto t0 = Clock::now();
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; ++t) {
      const int64_t begin = std::min<int64_t>(bytes, t * chunk);
      const int64_t end = std::min<int64_t>(bytes, begin + chunk);
      std::memcpy(dst.get() + begin, src.get() + begin, end - begin);
    }
    const double dt = since(t0);
    best = std::max(best, 2.0 * static_cast<double>(bytes) / dt / 1e9);
    ++repeats;
  } while (repeats < 3 || since(start) < seconds);
  volatile char keep = dst[bytes - 1];
  (void)keep;
  return {best, static_cast<double>(bytes), threads, repeats};
}

}  // namespace fastconv::cpu
