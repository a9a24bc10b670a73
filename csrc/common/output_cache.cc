#include "common/output_cache.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace fastconv {

namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kHugeFrom = size_t(4) << 20;  // NumPy's own threshold for MADV_HUGEPAGE
constexpr int64_t kDefaultLimitMiB = 256;

size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

int64_t limit_from_environment() {
  const char* text = std::getenv("FASTCONV_OUTPUT_CACHE_MB");
  if (text == nullptr || *text == '\0') return kDefaultLimitMiB << 20;
  char* end = nullptr;
  long long mib = std::strtoll(text, &end, 10);
  if (*end != '\0' || mib < 0) return kDefaultLimitMiB << 20;  // unreadable: the default
  return int64_t(mib) << 20;
}

// The block size for a request: what a reuse must cover, rounded so that near sizes match.
size_t block_size(size_t bytes) {
  return bytes >= kHugeFrom ? round_up(bytes, kHugePage) : round_up(bytes == 0 ? 1 : bytes, 4096);
}

void* allocate(size_t size) {
  size_t alignment = size >= kHugeFrom ? kHugePage : kAlignment;
  void* block = std::aligned_alloc(alignment, size);  // size is a multiple of alignment
  if (block == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (size >= kHugeFrom) madvise(block, size, MADV_HUGEPAGE);  // advice only: errors ignored
#endif
  return block;
}

struct Block {
  void* data;
  size_t size;
};

class OutputCache {
 public:
  void* acquire(size_t bytes) {
    size_t size = block_size(bytes);
    void* block = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // The smallest cached block that fits, if at most 1/8 larger: a cache of large blocks
      // must not end up serving small outputs.
      auto fit = by_size_.lower_bound(size);
      if (fit != by_size_.end() && fit->first - size <= size / 8) {
        block = fit->second->data;
        size = fit->first;
        cached_bytes_ -= int64_t(size);
        free_.erase(fit->second);
        by_size_.erase(fit);
      }
      ++(block != nullptr ? hits_ : misses_);
    }
    if (block == nullptr) block = allocate(size);
    if (poison_) std::memset(block, 0xFF, size);
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(block, size);
    live_bytes_ += int64_t(size);
    return block;
  }

  void release(void* block) {
    if (block == nullptr) return;
    std::vector<Block> freed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = live_.find(block);
      if (it == live_.end()) return;  // not ours: never happens through the bindings
      Block b{block, it->second};
      live_.erase(it);
      live_bytes_ -= int64_t(b.size);
      free_.push_front(b);
      by_size_.emplace(b.size, free_.begin());
      cached_bytes_ += int64_t(b.size);
      evict_to(limit_bytes_, freed);
    }
    for (const Block& b : freed) std::free(b.data);  // outside the lock
  }

  void set_limit(int64_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_bytes_ = bytes;
    }
    shrink_to(bytes);
  }

  // Frees cached blocks until at most `bytes` stay cached; live blocks are untouched.
  void shrink_to(int64_t bytes) {
    std::vector<Block> freed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      evict_to(bytes, freed);
    }
    for (const Block& b : freed) std::free(b.data);
  }

  OutputCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_bytes_, int64_t(free_.size()), live_bytes_, limit_bytes_, hits_, misses_};
  }

  void set_poison(bool on) { poison_ = on; }

 private:
  // Frees the least recently released blocks until the cache holds at most `limit` bytes.
  void evict_to(int64_t limit, std::vector<Block>& freed) {
    while (cached_bytes_ > limit && !free_.empty()) {
      auto last = std::prev(free_.end());
      auto range = by_size_.equal_range(last->size);
      for (auto it = range.first; it != range.second; ++it) {
        if (it->second == last) {
          by_size_.erase(it);
          break;
        }
      }
      freed.push_back(*last);
      cached_bytes_ -= int64_t(last->size);
      free_.erase(last);
    }
  }

  std::mutex mutex_;
  std::list<Block> free_;  // most recently released first: eviction takes from the back
  std::multimap<size_t, std::list<Block>::iterator> by_size_;  // the same blocks, by size
  std::unordered_map<void*, size_t> live_;
  int64_t cached_bytes_ = 0;
  int64_t live_bytes_ = 0;
  int64_t limit_bytes_ = limit_from_environment();
  int64_t hits_ = 0;
  int64_t misses_ = 0;
  std::atomic<bool> poison_{false};
};

// Never destroyed: arrays still alive at interpreter exit give their blocks back after static
// destructors have run.
OutputCache& cache() {
  static OutputCache* instance = new OutputCache();
  return *instance;
}

}  // namespace

void* acquire_output_block(size_t bytes) { return cache().acquire(bytes); }
void release_output_block(void* block) { cache().release(block); }
void set_output_cache_limit(int64_t bytes) { cache().set_limit(bytes); }
void empty_output_cache() { cache().shrink_to(0); }
OutputCacheStats output_cache_stats() { return cache().stats(); }
void set_output_cache_poison(bool on) { cache().set_poison(on); }

}  // namespace fastconv
