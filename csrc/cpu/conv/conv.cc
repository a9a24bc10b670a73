// Algorithm choice and dispatch for the CPU convolution primitives.
#include <stdexcept>

#include "cpu/conv/conv.h"
#include "cpu/conv/conv_algorithms.h"

namespace fastconv::cpu {

ConvAlgorithm parse_conv_algorithm(const std::string& name) {
  if (name == "auto") return ConvAlgorithm::Auto;
  if (name == "im2col_gemm") return ConvAlgorithm::Im2colGemm;
  throw std::invalid_argument("unknown convolution algorithm '" + name +
                              "'; expected one of: auto, im2col_gemm");
}

const char* conv_algorithm_name(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::Auto: return "auto";
    case ConvAlgorithm::Im2colGemm: return "im2col_gemm";
  }
  return "unknown";
}

ConvAlgorithm choose_conv_algorithm(const ConvGeometry&, ConvAlgorithm requested) {
  if (requested != ConvAlgorithm::Auto) return requested;
  return ConvAlgorithm::Im2colGemm;  // the only algorithm so far, correct for every geometry
}

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y,
                  ConvAlgorithm algorithm) {
  switch (choose_conv_algorithm(g, algorithm)) {
    default: forward_im2col_gemm(g, x, w, bias, y);
  }
}

template <typename T>
void conv_backward_data(const ConvGeometry& g, const T* gy, const T* w, T* gx,
                        ConvAlgorithm algorithm) {
  switch (choose_conv_algorithm(g, algorithm)) {
    default: backward_data_im2col_gemm(g, gy, w, gx);
  }
}

template <typename T>
void conv_backward_weight(const ConvGeometry& g, const T* x, const T* gy, T* gw,
                          ConvAlgorithm algorithm) {
  switch (choose_conv_algorithm(g, algorithm)) {
    default: backward_weight_im2col_gemm(g, x, gy, gw);
  }
}

template void conv_forward<float>(const ConvGeometry&, const float*, const float*, const float*,
                                  float*, ConvAlgorithm);
template void conv_forward<double>(const ConvGeometry&, const double*, const double*,
                                   const double*, double*, ConvAlgorithm);
template void conv_backward_data<float>(const ConvGeometry&, const float*, const float*, float*,
                                        ConvAlgorithm);
template void conv_backward_data<double>(const ConvGeometry&, const double*, const double*,
                                         double*, ConvAlgorithm);
template void conv_backward_weight<float>(const ConvGeometry&, const float*, const float*, float*,
                                          ConvAlgorithm);
template void conv_backward_weight<double>(const ConvGeometry&, const double*, const double*,
                                           double*, ConvAlgorithm);

}  // namespace fastconv::cpu
