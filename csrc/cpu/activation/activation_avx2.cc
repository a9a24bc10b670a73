// AVX2 activation kernels (compiled with FASTCONV_AVX2_FLAGS; called only where cpuid and the OS
// report them): the templates of activation_simd.h and cpu/simd/vmath.h.
// f32_activation_8__avx2 and f64_activation_4__avx2.
#include "cpu/activation/activation_kernels.h"
#include "cpu/activation/activation_simd.h"
#include "cpu/simd/vec_avx2.h"
#include "cpu/simd/vmath.h"

namespace fastconv::cpu::avx2 {

namespace {

template <class V>
void vmath(VMathFn fn, const typename V::scalar* x, typename V::scalar* y, int64_t n) {
  auto run = [&](auto f) {
    struct Op {
      decltype(f) g;
      typename V::type fwd(typename V::type v) const { return g(v); }
    };
    simd::map_forward_simd<V>(Op{f}, x, y, n);
  };
  switch (fn) {
    case VMathFn::Exp: return run([](typename V::type v) { return simd::vexp<V>(v); });
    case VMathFn::Expm1: return run([](typename V::type v) { return simd::vexpm1<V>(v); });
    case VMathFn::Tanh: return run([](typename V::type v) { return simd::vtanh<V>(v); });
    case VMathFn::Erf: return run([](typename V::type v) { return simd::verf<V>(v); });
  }
}

template <class V>
ActivationSimdKernels<typename V::scalar> kernels(const char* name) {
  ActivationSimdKernels<typename V::scalar> k;
  k.name = name;
  k.forward = simd::activation_forward_chunk<V>;
  k.backward = simd::activation_backward_chunk<V>;
  k.vmath = vmath<V>;
  return k;
}

}  // namespace

ActivationSimdKernels<float> f32_activation_kernels() {
  return kernels<simd::avx2::F32>("f32_activation_8__avx2");
}
ActivationSimdKernels<double> f64_activation_kernels() {
  return kernels<simd::avx2::F64>("f64_activation_4__avx2");
}

}  // namespace fastconv::cpu::avx2
