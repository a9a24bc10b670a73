// Algorithm choice and dispatch for the CPU convolution primitives.
#include <stdexcept>

#include "cpu/conv/conv.h"
#include "cpu/conv/conv_algorithms.h"

namespace fastconv::cpu {

namespace {

// Every algorithm, with the predicate that says which problems it computes.
struct AlgorithmInfo {
  ConvAlgorithm id;
  const char* name;
  std::string (*unsupported)(ConvPass pass, const ConvGeometry& g);
};

std::string always_supported(ConvPass, const ConvGeometry&) { return {}; }

std::string depthwise_unsupported(ConvPass, const ConvGeometry& g) {
  if (g.groups == g.in_channels) return {};
  return "it needs a depthwise convolution (groups == in_channels, one input channel per group), "
         "got groups=" + std::to_string(g.groups) + " with " + std::to_string(g.in_channels) +
         " input channels";
}

const AlgorithmInfo kAlgorithms[] = {
    {ConvAlgorithm::Im2colGemm, "im2col_gemm", always_supported},
    {ConvAlgorithm::Depthwise, "depthwise", depthwise_unsupported},
};

const AlgorithmInfo& info(ConvAlgorithm algorithm) {
  for (const AlgorithmInfo& a : kAlgorithms)
    if (a.id == algorithm) return a;
  throw std::invalid_argument("no such convolution algorithm");
}

}  // namespace

ConvAlgorithm parse_conv_algorithm(const std::string& name) {
  if (name == "auto") return ConvAlgorithm::Auto;
  std::string known = "auto";
  for (const AlgorithmInfo& a : kAlgorithms) {
    if (name == a.name) return a.id;
    known += std::string(", ") + a.name;
  }
  throw std::invalid_argument("unknown convolution algorithm '" + name + "'; expected one of: " +
                              known);
}

const char* conv_algorithm_name(ConvAlgorithm algorithm) {
  return algorithm == ConvAlgorithm::Auto ? "auto" : info(algorithm).name;
}

std::vector<std::string> conv_algorithm_names() {
  std::vector<std::string> names;
  for (const AlgorithmInfo& a : kAlgorithms) names.emplace_back(a.name);
  return names;
}

std::string conv_algorithm_unsupported(ConvAlgorithm algorithm, ConvPass pass,
                                       const ConvGeometry& g) {
  return algorithm == ConvAlgorithm::Auto ? std::string() : info(algorithm).unsupported(pass, g);
}

// The heuristic behind "auto", in one place; every rule here is justified by a benchmark row.
ConvAlgorithm choose_conv_algorithm(const ConvGeometry& g, ConvPass pass,
                                    ConvAlgorithm requested) {
  if (requested != ConvAlgorithm::Auto) {
    const std::string why = conv_algorithm_unsupported(requested, pass, g);
    if (!why.empty())
      throw std::invalid_argument(std::string("algorithm '") + conv_algorithm_name(requested) +
                                  "' cannot compute this convolution: " + why);
    return requested;
  }
  // Depthwise (groups == C_in): the direct kernel beats im2col_gemm on every row of
  // benchmarks/results/depthwise_cpu.md (benchmarks/depthwise_bench.py: 3x3 s1/s2, 7x7, 31x31,
  // causal conv1d k=4; all three passes, 1.8x to 21x). With a large depth multiplier the GEMM
  // reuses each column m times and catches up: measured even at m = 16 and m = 64 for forward and
  // backward_data (3x3 and 7x7, 2 threads), while backward_weight stays several times faster
  // with the direct kernel for every m.
  if (g.groups == g.in_channels &&
      (g.out_channels_per_group() <= 8 || pass == ConvPass::BackwardWeight))
    return ConvAlgorithm::Depthwise;
  return ConvAlgorithm::Im2colGemm;
}

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y,
                  ConvAlgorithm algorithm) {
  switch (choose_conv_algorithm(g, ConvPass::Forward, algorithm)) {
    case ConvAlgorithm::Auto:  // never returned by choose_conv_algorithm
    case ConvAlgorithm::Im2colGemm: return forward_im2col_gemm(g, x, w, bias, y);
    case ConvAlgorithm::Depthwise: return forward_depthwise(g, x, w, bias, y);
  }
}

template <typename T>
void conv_backward_data(const ConvGeometry& g, const T* gy, const T* w, T* gx,
                        ConvAlgorithm algorithm) {
  switch (choose_conv_algorithm(g, ConvPass::BackwardData, algorithm)) {
    case ConvAlgorithm::Auto:  // never returned by choose_conv_algorithm
    case ConvAlgorithm::Im2colGemm: return backward_data_im2col_gemm(g, gy, w, gx);
    case ConvAlgorithm::Depthwise: return backward_data_depthwise(g, gy, w, gx);
  }
}

template <typename T>
void conv_backward_weight(const ConvGeometry& g, const T* x, const T* gy, T* gw,
                          ConvAlgorithm algorithm) {
  switch (choose_conv_algorithm(g, ConvPass::BackwardWeight, algorithm)) {
    case ConvAlgorithm::Auto:  // never returned by choose_conv_algorithm
    case ConvAlgorithm::Im2colGemm: return backward_weight_im2col_gemm(g, x, gy, gw);
    case ConvAlgorithm::Depthwise: return backward_weight_depthwise(g, x, gy, gw);
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
