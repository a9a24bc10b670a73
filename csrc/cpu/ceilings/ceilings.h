// Machine ceilings measured by `fastconv bench` (python/fastconv/bench/ceilings.py): the
// floating-point FMA peak of this CPU on the ISA path in use, and its copy bandwidth. The suite
// reports each kernel's GFLOP/s or GB/s as a fraction of these.
#pragma once

#include <cstdint>
#include <string>

namespace fastconv::cpu {

struct FmaPeak {
  double gflops;        // 2 flops per FMA lane, all threads together
  double seconds;       // wall time of the measurement
  int threads;
  std::string kernel;   // <dtype>_fma_chains_<chains>x<lanes>__<isa>
};

// Runs independent FMA chains (no loads, no stores) on `threads` OpenMP threads for about
// `seconds` and returns the rate. T is float or double.
template <typename T>
FmaPeak measure_fma_peak(int threads, double seconds);

struct CopyBandwidth {
  double gbps;          // (bytes read + bytes written) / time, best of the repeats
  double bytes;         // size of one buffer
  int threads;
  int repeats;
};

// Copies a `bytes`-sized buffer into another with memcpy over `threads` OpenMP threads (static
// split), repeated for about `seconds`; returns the best rate.
CopyBandwidth measure_copy_bandwidth(int64_t bytes, int threads, double seconds);

// Per-ISA FMA chain kernels: `iters` rounds of acc[i] = acc[i] * b + c over every chain; return
// the sum of the lanes so that the compiler cannot drop the work.
using FmaChainsF32 = float (*)(int64_t iters);
using FmaChainsF64 = double (*)(int64_t iters);
struct FmaChains {
  const char* f32_name;
  FmaChainsF32 f32;
  int64_t f32_flops_per_iter;
  const char* f64_name;
  FmaChainsF64 f64;
  int64_t f64_flops_per_iter;
};

namespace generic { FmaChains fma_chains(); }
namespace avx2 { FmaChains fma_chains(); }
namespace avx512 { FmaChains fma_chains(); }

}  // namespace fastconv::cpu
