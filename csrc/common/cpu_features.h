// Which SIMD instruction sets the CPU and OS support, detected once with cpuid/xgetbv, capped
// by the FASTCONV_ISA environment variable (generic | avx2 | avx512), so tests can run every path
// a machine has. Kernels compiled for an ISA live in their own files with their own flags and are
// only called when isa() says so: the rest of the library is baseline code.
#pragma once

namespace fastconv {

enum class Isa { Generic = 0, Avx2 = 1, Avx512 = 2 };

// The ISA path in use: the best the machine supports, lowered by FASTCONV_ISA if set.
Isa isa();
// The best the machine supports, ignoring FASTCONV_ISA.
Isa detected_isa();
const char* isa_name(Isa isa);

}  // namespace fastconv

// The per-ISA kernel table in use: avx512::fn(), avx2::fn() or generic::fn() of the enclosing
// namespace, by isa(). A macro because off x86 (no FASTCONV_X86_KERNELS) the avx2 and avx512
// functions are not compiled at all, so they must not even be named.
#if defined(FASTCONV_X86_KERNELS) && FASTCONV_X86_KERNELS
#define FASTCONV_ISA_DISPATCH(fn)                              \
  (::fastconv::isa() == ::fastconv::Isa::Avx512 ? avx512::fn() \
   : ::fastconv::isa() == ::fastconv::Isa::Avx2 ? avx2::fn()   \
                                                : generic::fn())
#else
#define FASTCONV_ISA_DISPATCH(fn) generic::fn()
#endif

// Declares the same kernel-table functions in the generic, avx2 and avx512 namespaces of the
// enclosing namespace: one list per header for the three per-ISA files that define them.
#define FASTCONV_DECLARE_PER_ISA(...) \
  namespace generic {                 \
  __VA_ARGS__                         \
  }                                   \
  namespace avx2 {                    \
  __VA_ARGS__                         \
  }                                   \
  namespace avx512 {                  \
  __VA_ARGS__                         \
  }
