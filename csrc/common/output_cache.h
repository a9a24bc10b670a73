// Memory for the arrays fastconv returns (outputs and gradients from 1 MiB, see
// fastconv/_memory.py). A block the caller's array let go of is kept, up to a byte limit, and
// handed to the next output of about its size: a repeated call then writes to pages that are
// already mapped instead of faulting in fresh, kernel-zeroed ones (a fresh 102 MB gradient
// costs 11.4 ms to write against 3.9 ms warm, here), and glibc maps every block above 32 MiB
// afresh. The same policy as CuPy's memory pool and PyTorch's CUDA caching allocator, with a
// limit: FASTCONV_OUTPUT_CACHE_MB (default 256; 0 turns the cache off).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastconv {

struct OutputCacheStats {
  int64_t cached_bytes;   // held for reuse, not in any live array
  int64_t cached_blocks;
  int64_t live_bytes;     // in arrays the caller holds
  int64_t limit_bytes;
  int64_t hits;           // blocks served from the cache
  int64_t misses;         // blocks freshly allocated
};

// A block of at least `bytes` bytes, 64-byte aligned (2 MiB aligned from 4 MiB, advised to use
// transparent huge pages as NumPy does for its own large arrays). Contents are unspecified.
// Throws std::bad_alloc.
void* acquire_output_block(size_t bytes);
// Gives back a block from acquire_output_block (no-op for nullptr).
void release_output_block(void* block);

void set_output_cache_limit(int64_t bytes);
void empty_output_cache();  // frees every cached block; live blocks are untouched
OutputCacheStats output_cache_stats();

// Test hook: fill every block handed out with 0xFF bytes (NaN in every float type, -1 in every
// integer), so that a kernel which leaves an output element unwritten fails its test.
void set_output_cache_poison(bool on);

}  // namespace fastconv
