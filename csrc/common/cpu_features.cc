#include "common/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define FASTCONV_X86 1
#endif

namespace fastconv {

namespace {

#ifdef FASTCONV_X86
unsigned long long xgetbv0() {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

Isa detect() {
#ifdef FASTCONV_X86
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return Isa::Generic;
  const bool fma = ecx & (1u << 12), osxsave = ecx & (1u << 27), avx = ecx & (1u << 28);
  if (!(fma && osxsave && avx)) return Isa::Generic;
  const unsigned long long xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return Isa::Generic;  // OS saves XMM and YMM state
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return Isa::Generic;
  const bool avx2 = ebx & (1u << 5);
  if (!avx2) return Isa::Generic;
  const bool avx512f = ebx & (1u << 16), avx512dq = ebx & (1u << 17);
  const bool avx512bw = ebx & (1u << 30), avx512vl = ebx & (1u << 31);
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;  // opmask, ZMM_Hi256, Hi16_ZMM
  if (avx512f && avx512dq && avx512bw && avx512vl && zmm_state) return Isa::Avx512;
  return Isa::Avx2;
#else
  return Isa::Generic;
#endif
}

Isa capped(Isa best) {
  const char* cap = std::getenv("FASTCONV_ISA");
  if (cap == nullptr || *cap == '\0') return best;
  Isa want = best;
  if (std::strcmp(cap, "generic") == 0) want = Isa::Generic;
  else if (std::strcmp(cap, "avx2") == 0) want = Isa::Avx2;
  else if (std::strcmp(cap, "avx512") == 0) want = Isa::Avx512;
  // An ISA the machine lacks is never used, whatever the variable asks for.
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

}  // namespace

Isa detected_isa() {
  static const Isa best = detect();
  return best;
}

Isa isa() {
  static const Isa chosen = capped(detected_isa());
  return chosen;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic: return "generic";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

}  // namespace fastconv
