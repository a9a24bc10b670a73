// Software prefetch of the next task's input while the current task computes.
//
// The pooling kernels read each plane once, from memory, in a burst, then compute on it in
// L1 / L2: the read stalls on DRAM while the arithmetic waits, and the arithmetic leaves the
// memory idle. A plane that prefetches the next plane into L2 a slice at a time between its own
// steps keeps both busy (the hardware prefetchers stop at 4 KiB page boundaries).
#pragma once

#include <algorithm>
#include <cstdint>

namespace fastconv {

// Ranges of bytes to prefetch in `steps` slices of about equal line counts.
class SlicedPrefetch {
 public:
  static constexpr int kMaxRanges = 64;

  // Adds [p, p + bytes) (ignored past kMaxRanges ranges).
  void add(const void* p, int64_t bytes) {
    if (count_ == kMaxRanges || bytes <= 0) return;
    const uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(63);
    const uintptr_t e = reinterpret_cast<uintptr_t>(p) + uintptr_t(bytes);
    start_[count_] = reinterpret_cast<const char*>(a);
    lines_[count_] = int64_t((e - a + 63) / 64);
    total_ += lines_[count_++];
  }

  // Starts over with the one range [p, p + bytes) (none for p null) in `steps` slices.
  void start(const void* p, int64_t bytes, int64_t steps) {
    clear();
    if (p) add(p, bytes);
    plan(steps);
  }

  // Spreads the lines over `steps` calls of step().
  void plan(int64_t steps) {
    steps_ = std::max<int64_t>(steps, 1);
    done_ = 0;
    range_ = 0;
    line_ = 0;
    step_ = 0;
  }

  // Prefetches the next slice (into L2: the data is transposed or read once soon, not now).
  void step() {
    if (step_ >= steps_) return;
    ++step_;
    int64_t target = total_ * step_ / steps_;
    while (done_ < target && range_ < count_) {
      const int64_t n = std::min(lines_[range_] - line_, target - done_);
      const char* p = start_[range_] + line_ * 64;
      for (int64_t i = 0; i < n; ++i) __builtin_prefetch(p + i * 64, 0, 2);
      line_ += n;
      done_ += n;
      if (line_ == lines_[range_]) {
        ++range_;
        line_ = 0;
      }
    }
  }

  // Prefetches whatever the steps so far have not.
  void finish() {
    step_ = steps_ - 1;
    step();
  }

  void clear() {
    count_ = 0;
    total_ = 0;
  }

 private:
  const char* start_[kMaxRanges];
  int64_t lines_[kMaxRanges];
  int count_ = 0, range_ = 0;
  int64_t total_ = 0, done_ = 0, line_ = 0, steps_ = 1, step_ = 0;
};

}  // namespace fastconv
