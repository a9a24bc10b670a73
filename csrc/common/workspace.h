// Workspace reused across calls by the calling thread: a fresh multi-MiB allocation per call
// pays its page faults (kernel zeroing + fault path) on every call (22% of U-Net convT
// 1024->512's backward_data, ~3 ms of a 40 ms DeepLab call).
#pragma once

#include <cstdint>
#include <memory>

namespace fastconv {

// The calling thread's buffer `slot` of an owner (Owner: a tag type per algorithm, so that an
// algorithm that calls another while its own buffers are in use never shares them), holding at
// least `count` elements of T. It only grows (the old buffer is released before the new one is
// allocated: they never coexist) and is never zeroed: every element must be written before it
// is read. Stays allocated after the call, for the next one on this thread.
template <typename Owner, int kSlots, typename T>
T* reused_workspace(int slot, int64_t count) {
  thread_local std::unique_ptr<T[]> buffers[kSlots];
  thread_local int64_t sizes[kSlots] = {};
  if (sizes[slot] < count) {
    buffers[slot].reset();
    buffers[slot].reset(new T[size_t(count)]);
    sizes[slot] = count;
  }
  return buffers[slot].get();
}

}  // namespace fastconv
