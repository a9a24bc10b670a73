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
    {ConvAlgorithm::Winograd, "winograd", winograd_unsupported},
    {ConvAlgorithm::Depthwise, "depthwise", depthwise_unsupported},
    {ConvAlgorithm::ImplicitGemm, "implicit_gemm", implicit_gemm_unsupported},
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

// Winograd F(4x4,3x3) for 3x3 stride-1 forward / backward_data where it beats im2col_gemm
// (backward_weight: the extra conditions below)
// (benchmarks/results/winograd_cpu.md: im2col_gemm time / winograd time, forward / backward_data,
// float32, AVX-512, CPU time of one thread; the machine was too loaded for 2-thread timings):
//   ResNet-50 3x3: 8x64x56x56 1.94 / 1.75, 8x512x7x7 3.8 / 4.9, 1x256x14x14 2.1 / 1.9;
//   16 and 8 channels win too: 8x16x16x56x56 1.33 / 1.38, 1x8x8x56x56 1.60 / 1.64.
// It loses or breaks even
// - with groups and few channels per group, where 36 GEMMs per group are too thin:
//   8x128x56x56 g32 (4 per group) 0.80 / 0.63, 8x256x28x28 g32 (8) 1.17 / 0.90,
//   8x64x56x56 g4 (16) 1.04 / 1.01, while 8x512x14x14 g32 (16) wins 1.37 / 1.20;
// - with fewer than 8 input channels: vgg16 conv1_1 1x3x224x224 -> 64 0.58 / 0.97;
// - on problems under ~8 MFLOP (direct 2 N C_in/g C_out 9 OH OW), where the transforms' fixed
//   costs and waking the threads weigh: 1x64x7x7 1.02 / 0.89, 1x16x14x14 1.02 / 0.90,
//   1x16x7x7 0.93 / 0.85; 1x128x7x7 (14.5 MFLOP) already wins 1.05 / 1.05.
// With groups it loses to implicit_gemm even at 16 and 32 channels per group (benchmarks/results/
// algorithms_3x3/, quiet machine, 2 threads, forward ms winograd / implicit_gemm: ResNeXt res4
// g32 (16 per group) 4.64 / 2.54, res5 g32 b1 (32) 0.80 / 0.51, res2 (4) 11.6 / 3.5), so grouped
// convolutions never take it. Its workspace (transformed filters when there is more than one tile
// block, V and M of a block) must also stay within the 64 MiB budget.
constexpr int64_t kWorkspaceLimit = int64_t(64) << 20;  // bytes per call
constexpr int64_t kWinogradMinFlops = 8'000'000;
// backward_weight (36 GEMMs dU[xi] += M'[xi] V[xi]^T reducing over the tiles of the whole batch,
// then G^T dU G) costs 36 C_out C_in/g per call besides its GEMMs (dU written and transformed),
// so it needs enough 4x4 output tiles over the batch to pay for them, and it loses to
// implicit_gemm with fewer than 32 output channels. Measured (benchmarks/results/winograd_cpu.md,
// `fastconv bench --op resnet50,vgg16 --phase backward_weight --algorithm im2col_gemm,winograd`,
// float32, 2 threads, AVX-512, load ~4; ms winograd / im2col_gemm [/ implicit_gemm]):
// ResNet-50 res4 b1 1x256x14x14 (16 tiles) 4.76 / 2.79; res5 b8 8x512x7x7 (32 tiles) 19.8 /
// 22.9; res2 b8 8x64x56x56 13.5 / 26.4; res4 b8 12.7 / 21.8; VGG conv1_2 21.1 / 44.6, conv5_x
// b8 40.9 / 85.9; few outputs: 8x16x56x56 2.59 / 2.84 / 1.92, 1x8x56x56 0.16 / 0.19 / 0.08,
// 8x32x56x56 4.95 / 7.54 / 6.19, 8x32x28x28 1.30 / 2.07 / 2.09.
constexpr int64_t kWinogradWgradMinTiles = 32;
constexpr int64_t kWinogradWgradMinOutChannels = 32;
int64_t winograd_wgrad_tiles(const ConvGeometry& g) {
  return g.batch * ((g.out_size[1] + 3) / 4) * ((g.out_size[2] + 3) / 4);
}

bool prefer_winograd(const ConvGeometry& g, ConvPass pass, int64_t element_size) {
  if (!winograd_unsupported(pass, g).empty()) return false;
  if (g.groups > 1 || g.in_channels_per_group() < 8) return false;
  const int64_t flops = 2 * g.batch * g.in_channels_per_group() * g.out_channels * 9 *
                        g.out_plane();
  if (flops < kWinogradMinFlops) return false;
  if (pass == ConvPass::BackwardWeight &&
      (winograd_wgrad_tiles(g) < kWinogradWgradMinTiles ||
       g.out_channels_per_group() < kWinogradWgradMinOutChannels))
    return false;
  return conv_workspace_bytes(ConvAlgorithm::Winograd, pass, g, element_size) <= kWorkspaceLimit;
}

// implicit_gemm (no im2col copy: the B operand is read from a zero-padded input frame) against
// im2col_gemm and winograd, forward and stride-1 backward_data (benchmarks/results/
// implicit_gemm_cpu.md; 2 threads, AVX-512, float32, x torch = torch time / fastconv time in the
// same run on a loaded machine, so read the columns of one row against each other):
//   it wins wherever building the column matrix costs as much as the GEMM -- few channels per
//   group or per output: ResNeXt g32 res2 2.35x torch vs im2col 0.70x, res3 1.15 vs 0.44, res5 b1
//   6.2 vs 1.06; Fashion-MNIST conv2 b64 0.61 vs 0.35; i3d stem 0.65 vs 0.44; DeepSpeech conv2
//   0.85 vs 0.48; 3-D ResNet-18 0.75 vs 0.53 -- and on dense 3x3 / 7x1 / k9 convs too (ResNet-50
//   res2 b8 0.89 vs 0.70, 7x1 0.77 vs 0.63, conv1d k9 1.06 vs 0.92).
//   It loses (a) on 1x1 kernels: stride 1, where im2col_gemm multiplies X in place and
//   implicit_gemm copies it into frames (res4 1x1 reduce b1: 0.69 vs 3.19), and stride 2 (res3
//   projection 1x1/2 b8, interleaved in one process: 34.4 vs 31.4 ms); (b) where the junk
//   columns (the (K-1) dil / s cells of every frame row past the output's width, plus the last
//   register tile's padding) are a large part of the work: ASPP 3x3 d6 on 33x33 (27% junk) 0.51
//   vs 0.46 forward but 0.44 vs 0.64 backward_data, d12 (42%) 0.51 vs 0.64; d4 on 28x28 (22%) is
//   even (0.60 vs 0.63). Since the position path (no junk columns; conv_implicit_gemm.cc) the
//   waste is the larger of its junk and the halo share of a frame plane (H x W), cut at 43%
//   (implicit_gemm_cpu.md, round 3; 1 thread, CPU ms implicit_gemm vs im2col_gemm, forward:
//   ASPP d6 on 33x33, 46% halo, 38 vs 30 and d12 (66%) 45 vs 34 lose; d4 on 28x28 (40%) 84 vs
//   81 is even; below the cut they win: inception-v3 1x7 on 17x17 (26%) 9.4 vs 10.3, 3-D
//   ResNet-18 (13%) 28 vs 39, ResNeXt res5 7x7 b1 (40%) 0.6 vs 1.2, Fashion-MNIST conv2 (40%)
//   3.9 vs 8.2, and C3D conv2a, whose frames are rebuilt 1.8x for thin bands (no longer counted
//   as waste), 228 vs 263); (c) with fewer than 3 output channels per group, where
//   its 4-row register tile is mostly padding (Fashion-MNIST conv1 backward_data, 16 -> 1
//   channel: 2.39 vs 8.04), while 3 still win (VGG conv1_1 backward_data, 64 -> 3 channels,
//   quiet machine: 2.84 vs 6.48 ms, benchmarks/results/algorithms_3x3/).
// backward_weight (dot products of grad_output and frame rows along the positions, vector partial
// sums per task) wins with few output channels per group or few input channels, on planes of
// 14x14 and up: ResNeXt res2 g32 5.29 vs 1.02, res3 0.75 vs 0.34, res4 (14x14) 0.60 vs 0.43;
// DeepSpeech conv1 (1 channel) 3.24 vs 1.72, conv2 (32) 0.72 vs 0.52; wav2vec2 conv0 (1 channel)
// 7.76 vs 4.33; the 7x7/2 stem (3 channels) b8 1.06 vs 0.81, b1 3.91 vs 1.45; i3d stem 0.59 vs
// 0.45. It loses with more channels (ResNet-50 res2 b8, 64 -> 64: 0.76 vs 1.02; res4 b8 0.50 vs
// 0.92; conv1d k9 256ch 0.81 vs 1.14: every channel block rebuilds the grad_output rows), on
// small planes (ResNeXt res5 7x7 b1 0.11 vs 0.32; inception 17x17 0.27 vs 0.59), and is even on
// Fashion-MNIST conv2 (14x14, 32 outputs) b64 0.64 vs 0.73 / b1 0.90 vs 0.56.
// Against winograd (after its SIMD rewrite) it loses on every dense 3x3 layer of the suite
// (benchmarks/results/algorithms_3x3/, quiet machine, 2 threads, forward ms winograd /
// implicit_gemm: ResNet-50 res2 b8 5.56 / 9.60, res2 b1 0.69 / 1.29, res4 b1 0.80 / 2.13; VGG
// conv1_2 10.6 / 19.0, conv5_x b8 15.5 / 44.9), so winograd goes first where it applies.
constexpr double kMaxImplicitWaste = 0.43;
constexpr int64_t kMaxImplicitWeightBytes = int64_t(4) << 20;

bool prefer_implicit_gemm(const ConvGeometry& g, ConvPass pass, int64_t element_size) {
  if (!implicit_gemm_unsupported(pass, g).empty() || g.kernel_volume() == 1) return false;
  if (pass == ConvPass::BackwardWeight) {
    // The tap kernel beat im2col_gemm up to 192 output channels per group on every plane
    // measured, lost from 256 (2 threads, benchmarks/results/implicit_gemm_cpu.md, round 2:
    // 3x3 64 ch 56x56 b8 1.45x vs 0.90x torch, 128 ch 28x28 b8 0.90x vs 0.78x, 128 ch 7x7 b8
    // 0.75x vs 0.65x, ResNeXt res5 g32 b1 1.06x vs 0.66x; 256 ch 14x14 b1 1.32x vs 1.66x,
    // 512 ch 7x7 b8 1.00x vs 1.18x; quiet machine, forced, ms: inception-v3 1x7 160 -> 160 ch
    // 17x17 b8 6.3 vs 11.9, 7x1 160 -> 192 ch 9.5 vs 16.7, torch 5.8 and 6.7).
    const bool by_tap = element_size == 8 ? implicit_gemm_wgrad_by_tap<double>(g)
                                          : implicit_gemm_wgrad_by_tap<float>(g);
    const bool wins = by_tap ? g.out_channels_per_group() <= 192
                             : (g.out_channels_per_group() <= 32 ||
                                g.in_channels_per_group() <= 3) &&
                                   g.out_plane() >= 196;
    return wins && conv_workspace_bytes(ConvAlgorithm::ImplicitGemm, pass, g, element_size) <=
                       kWorkspaceLimit;
  }
  const int64_t outputs_per_group = pass == ConvPass::Forward ? g.out_channels_per_group()
                                                              : g.in_channels_per_group();
  if (outputs_per_group < 3) return false;
  // Forward with a group's weights beyond L2 (x 4): implicit_gemm streams all of them again for
  // every C tile of every (sample, band), im2col_gemm's GEMM blocks them (tacotron2 k5 512 ch
  // w200 b8, 5 MiB: 1.06 / 1.24 / 1.07x torch on im2col_gemm vs 0.96 / 0.94 / 0.88x on
  // implicit_gemm, three 1-thread runs, implicit_gemm_cpu.md round 3; deeplab d2 / d4 b8, 2.2
  // MiB, are even). Its backward_data is even (im2col_gemm 0.86 / 0.96 / 0.95x, implicit_gemm
  // 0.88 / 0.98 / 1.08x): no cut there.
  const int64_t weight_bytes = g.out_channels_per_group() * g.in_channels_per_group() *
                               g.kernel_volume() * element_size;
  if (pass == ConvPass::Forward && weight_bytes > kMaxImplicitWeightBytes) return false;
  const double waste = element_size == 8 ? implicit_gemm_waste<double>(g, pass)
                                         : implicit_gemm_waste<float>(g, pass);
  if (waste > kMaxImplicitWaste) return false;
  return conv_workspace_bytes(ConvAlgorithm::ImplicitGemm, pass, g, element_size) <=
         kWorkspaceLimit;
}

int64_t conv_workspace_bytes(ConvAlgorithm algorithm, ConvPass pass, const ConvGeometry& g,
                             int64_t element_size) {
  const bool f64 = element_size == 8;
  switch (algorithm) {
    case ConvAlgorithm::Im2colGemm:
      return f64 ? im2col_gemm_workspace_bytes<double>(g, pass)
                 : im2col_gemm_workspace_bytes<float>(g, pass);
    case ConvAlgorithm::Winograd:
      return f64 ? winograd_workspace_bytes<double>(g, pass)
                 : winograd_workspace_bytes<float>(g, pass);
    case ConvAlgorithm::Depthwise:
      return f64 ? depthwise_workspace_bytes<double>(g, pass)
                 : depthwise_workspace_bytes<float>(g, pass);
    case ConvAlgorithm::ImplicitGemm:
      return f64 ? implicit_gemm_workspace_bytes<double>(g, pass)
                 : implicit_gemm_workspace_bytes<float>(g, pass);
    case ConvAlgorithm::Auto:
      break;
  }
  return -1;
}

// The heuristic behind "auto", in one place; every rule here is justified by a benchmark row.
ConvAlgorithm choose_conv_algorithm(const ConvGeometry& g, ConvPass pass,
                                    ConvAlgorithm requested, int64_t element_size) {
  if (requested != ConvAlgorithm::Auto) {
    const std::string why = conv_algorithm_unsupported(requested, pass, g);
    if (!why.empty())
      throw std::invalid_argument(std::string("algorithm '") + conv_algorithm_name(requested) +
                                  "' cannot compute this convolution: " + why);
    return requested;
  }
  // Depthwise (groups == C_in): the direct kernel (its row path) beat im2col_gemm on every row
  // of the study summarised at the end of benchmarks/results/depthwise_cpu.md (3x3 s1/s2, 7x7,
  // 31x31, causal conv1d k=4; all three passes, 1.8x to 21x); its lanes path is taken only where
  // it measures faster still. With a large depth multiplier the GEMM
  // reuses each column m times and catches up: measured even at m = 16 and m = 64 for forward and
  // backward_data (3x3 and 7x7, 2 threads), while backward_weight stays faster with the direct
  // kernel for every m (m = 4 and 16 in benchmarks/results/wgrad_cpu.md) -- except for a single
  // input channel (groups == C_in == 1: wav2vec2 conv0, DeepSpeech conv1, Fashion-MNIST conv1),
  // one GEMM over all m outputs, where im2col_gemm's backward_weight wins from m = 16 (1.1x) to
  // m = 512 (4.3x) (wgrad_cpu.md).
  const bool single_channel_wide = g.groups == 1 && g.out_channels_per_group() >= 16;
  if (g.groups == g.in_channels &&
      (g.out_channels_per_group() <= 8 ||
       (pass == ConvPass::BackwardWeight && !single_channel_wide)))
    return ConvAlgorithm::Depthwise;
  if (prefer_winograd(g, pass, element_size)) return ConvAlgorithm::Winograd;
  if (prefer_implicit_gemm(g, pass, element_size)) return ConvAlgorithm::ImplicitGemm;
  return ConvAlgorithm::Im2colGemm;
}

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu, T* y,
                  ConvAlgorithm algorithm) {
  switch (choose_conv_algorithm(g, ConvPass::Forward, algorithm, sizeof(T))) {
    case ConvAlgorithm::Auto:  // never returned by choose_conv_algorithm
    case ConvAlgorithm::Im2colGemm: return forward_im2col_gemm(g, x, w, bias, relu, y);
    case ConvAlgorithm::Winograd: return forward_winograd(g, x, w, bias, relu, y);
    case ConvAlgorithm::Depthwise: return forward_depthwise(g, x, w, bias, relu, y);
    case ConvAlgorithm::ImplicitGemm: return forward_implicit_gemm(g, x, w, bias, relu, y);
  }
}

template <typename T>
void conv_backward_data(const ConvGeometry& g, const T* gy, const T* w, T* gx,
                        ConvAlgorithm algorithm) {
  switch (choose_conv_algorithm(g, ConvPass::BackwardData, algorithm, sizeof(T))) {
    case ConvAlgorithm::Auto:  // never returned by choose_conv_algorithm
    case ConvAlgorithm::Im2colGemm: return backward_data_im2col_gemm(g, gy, w, gx);
    case ConvAlgorithm::Winograd: return backward_data_winograd(g, gy, w, gx);
    case ConvAlgorithm::Depthwise: return backward_data_depthwise(g, gy, w, gx);
    case ConvAlgorithm::ImplicitGemm: return backward_data_implicit_gemm(g, gy, w, gx);
  }
}

template <typename T>
void conv_backward_weight(const ConvGeometry& g, const T* x, const T* gy, T* gw,
                          ConvAlgorithm algorithm) {
  switch (choose_conv_algorithm(g, ConvPass::BackwardWeight, algorithm, sizeof(T))) {
    case ConvAlgorithm::Auto:  // never returned by choose_conv_algorithm
    case ConvAlgorithm::Im2colGemm: return backward_weight_im2col_gemm(g, x, gy, gw);
    case ConvAlgorithm::Winograd: return backward_weight_winograd(g, x, gy, gw);
    case ConvAlgorithm::ImplicitGemm: return backward_weight_implicit_gemm(g, x, gy, gw);
    case ConvAlgorithm::Depthwise: return backward_weight_depthwise(g, x, gy, gw);
  }
}

template void conv_forward<float>(const ConvGeometry&, const float*, const float*, const float*,
                                  bool, float*, ConvAlgorithm);
template void conv_forward<double>(const ConvGeometry&, const double*, const double*,
                                   const double*, bool, double*, ConvAlgorithm);
template void conv_backward_data<float>(const ConvGeometry&, const float*, const float*, float*,
                                        ConvAlgorithm);
template void conv_backward_data<double>(const ConvGeometry&, const double*, const double*,
                                         double*, ConvAlgorithm);
template void conv_backward_weight<float>(const ConvGeometry&, const float*, const float*, float*,
                                          ConvAlgorithm);
template void conv_backward_weight<double>(const ConvGeometry&, const double*, const double*,
                                           double*, ConvAlgorithm);

}  // namespace fastconv::cpu
