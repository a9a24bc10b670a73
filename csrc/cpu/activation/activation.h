// Elementwise activation functions and their backward, on contiguous memory, for float and double.
//
//   forward   y[i]  = f(x[i])                    x and y have n elements; y == x (in place) is
//                                                allowed, any other overlap is not
//   backward  gx[i] = f'(saved[i]) * gy[i]       saved is the forward's output for Sigmoid and
//                                                Tanh, its input for every other op; gx overlaps
//                                                neither gy nor saved
//
// The formulas, the order of their floating-point operations and the edge cases (NaN, +-inf,
// +-0, values at a clamp boundary) are PyTorch's CPU ones (aten/src/ATen/native/cpu/Activation.cpp,
// the vectorised path), evaluated in T (float math for float, as torch does), so results agree
// with torch to the few ulp by which libm's exp/tanh/erf differ from torch's SLEEF/oneDNN ones.
// On the AVX2 and AVX-512 paths (fastconv::isa()) sigmoid, tanh, elu, gelu and gelu_tanh use the
// vectorised exp/expm1/tanh/erf of cpu/simd/vmath.h instead of libm's (within 2-3 ulp of the
// exact value, see there and tests/test_vmath.py), so their results differ from the generic
// path's by a few ulp; an element's result never depends on its position, the array's length or
// alignment, or the thread count.
// ReLU6 is Hardtanh(0, 6), exactly as in torch.
#pragma once

#include <cstdint>
#include <string>

namespace fastconv::cpu {

enum class Activation {
  Relu,       // max(x, 0)
  LeakyRelu,  // x > 0 ? x : x * param0                         (negative_slope)
  Hardtanh,   // clamp(x, param0, param1)                       (min_val, max_val)
  Sigmoid,    // 1 / (1 + exp(-x))
  Tanh,       // tanh(x)
  Elu,        // x >= 0 ? x : expm1(x) * param0                  (alpha)
  Gelu,       // x / 2 * (1 + erf(x / sqrt(2)))
  GeluTanh,   // x / 2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
};

// The op's name as the bindings spell it: relu, leaky_relu, hardtanh, sigmoid, tanh, elu, gelu,
// gelu_tanh. Throws std::invalid_argument for any other name.
Activation parse_activation(const std::string& name);

// The parameters of LeakyRelu, Hardtanh and Elu (ignored by the others), converted to T before
// use, as torch converts its Scalar arguments.
struct ActivationParams {
  double param0 = 0.0;
  double param1 = 0.0;
};

template <typename T>
void activation_forward(Activation op, const ActivationParams& params, const T* x, T* y,
                        int64_t n);

template <typename T>
void activation_backward(Activation op, const ActivationParams& params, const T* grad_output,
                         const T* saved, T* grad_input, int64_t n);

}  // namespace fastconv::cpu
