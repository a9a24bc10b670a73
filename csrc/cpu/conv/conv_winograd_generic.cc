// Portable Winograd transform kernels: conv_winograd_kernel.h's templates over a plain C++
// "vector" of 4 elements (cpu/simd/vec_generic.h) that the compiler vectorises for the
// baseline ISA.
#include <cstdint>

#include "cpu/conv/conv_winograd_kernel.h"
#include "cpu/simd/vec_generic.h"

namespace fastconv::cpu::generic {

using simd::generic::Vec4;

WinogradKernels<float> f32_winograd_kernels(int m) {
  return simd::winograd_kernels<Vec4<float>, float>(m, "f32_winograd_f4x4_16__generic",
                                                    "f32_winograd_f3x3_16__generic");
}
WinogradKernels<double> f64_winograd_kernels(int m) {
  return simd::winograd_kernels<Vec4<double>, double>(m, "f64_winograd_f4x4_16__generic",
                                                      "f64_winograd_f3x3_16__generic");
}

}  // namespace fastconv::cpu::generic
