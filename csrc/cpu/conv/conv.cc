// Algorithm choice and dispatch for the CPU convolution primitives.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "common/cpu_features.h"
#include "common/parallel.h"
#include "cpu/conv/conv.h"
#include "cpu/conv/conv_algorithms.h"
#include "cpu/conv/conv_dilation_phases.h"
#include "cpu/conv/conv_stride_phases.h"

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
    {ConvAlgorithm::StridePhases, "stride_phases", stride_phases_unsupported},
    {ConvAlgorithm::SmallChannels, "small_channels", small_channels_unsupported},
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
  if (algorithm == ConvAlgorithm::Auto) return {};
  const std::string why = info(algorithm).unsupported(pass, g);
  // An algorithm that needs dilation 1 computes a dilated stride-1 conv as its dense
  // phase-batched form (conv_dilation_phases.h).
  if (!why.empty() && dilation_phases_apply(g) &&
      info(algorithm).unsupported(pass, dilation_phases_geometry(g)).empty())
    return {};
  return why;
}

const char* conv_rewrite(ConvAlgorithm algorithm, ConvPass pass, const ConvGeometry& g) {
  if (algorithm == ConvAlgorithm::Auto || info(algorithm).unsupported(pass, g).empty())
    return nullptr;
  return conv_algorithm_unsupported(algorithm, pass, g).empty() ? "dilation_phases" : nullptr;
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
// 3-D convolutions with a 3x3 stride-1 inner kernel (any depth kernel, stride, dilation) run the
// same code, the depth taps summed in the transform domain; same rules, measured (benchmarks/
// results/winograd_cpu.md, 3-D section; `fastconv bench --algorithm winograd,implicit_gemm,
// im2col_gemm`, 2 threads, float32, load ~6; x torch winograd / implicit_gemm, the algorithm auto
// took before): 3-D ResNet-18 2x64x8x28x28 fwd 1.53 / 0.75, bwd_data 1.43 / 0.80, bwd_weight
// 1.68 / 0.99; C3D conv2a 1x64x16x56x56 -> 128 fwd 2.29 / 0.92, bwd_data 1.69 / 0.81,
// bwd_weight 2.23 / 0.97.
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
int64_t winograd_wgrad_tiles(const ConvGeometry& g) {  // 3-D: tiles of every output slice
  return g.batch * g.out_size[0] * ((g.out_size[1] + 3) / 4) * ((g.out_size[2] + 3) / 4);
}

// Forward and backward_data need 4 tiles per slice of what they compute (over the batch: auto
// decides for one sample, but the dilation phases' inner problem has a phase per sample, ASPP
// d12 144 images of 1 tile): each GEMM's width is those tiles (3-D: the taps' GEMMs run per
// slice), and with 1-2 tiles the filter transform and the padded micro-kernel panels weigh (1
// thread, CPU ms, loaded machine, winograd / im2col_gemm / implicit_gemm / torch, forward):
// 1 tile: 1x512x4x4 4.0 / 2.8 / 3.2 / 1.8, 1x256x4x4x4 (3x3x3) 7.7 / 4.2 / 4.2 / 3.9; 2 tiles:
// 1x512x4x8 5.0 / 3.8 / 5.4 / 3.1, 1x256x4x4x8 8.7 / 7.1 / 7.5 / 7.0; 4 tiles win: 1x256x4x8x8
// 11.2 / 13.5 / 13.9 / 15.7, 2x256x2x7x7 4.6 / 9.7 / 9.6 / 5.7, 1x128x4x8x8 1.8 / 3.4 / 2.9 /
// 3.5 (backward_data alike).
constexpr int64_t kWinogradMinPlaneTiles = 4;

bool prefer_winograd(const ConvGeometry& g, ConvPass pass, int64_t element_size) {
  if (!winograd_unsupported(pass, g).empty()) return false;
  if (g.groups > 1 || g.in_channels_per_group() < 8) return false;
  const int64_t flops = 2 * g.batch * g.in_channels_per_group() * g.out_channels *
                        g.kernel_volume() * g.out_plane();
  if (flops < kWinogradMinFlops) return false;
  const int64_t* plane = pass == ConvPass::BackwardData ? g.in_size : g.out_size;
  if (pass != ConvPass::BackwardWeight &&
      g.batch * ((plane[1] + 3) / 4) * ((plane[2] + 3) / 4) < kWinogradMinPlaneTiles)
    return false;
  if (pass == ConvPass::BackwardWeight &&
      (winograd_wgrad_tiles(g) < kWinogradWgradMinTiles ||
       g.out_channels_per_group() < kWinogradWgradMinOutChannels))
    return false;
  return conv_workspace_bytes(ConvAlgorithm::Winograd, pass, g, element_size) <= kWorkspaceLimit;
}

// Dilated 3x3 stride-1 convs run winograd on their phase-batched form (conv_dilation_phases.h)
// where it would win on that dense problem and its 4x4 tiles are mostly useful outputs. The
// gather and scatter cost about two passes over the operands (~10% of the time on DeepLab
// shapes); what decides is the tiles: each phase rounds its outputs up to whole tiles
// (backward_data: the input cells it stores), and phases past the output's end compute junk.
// Useful fraction of the tiled cells, per sample: U = prod over H, W of useful / (phases *
// round_up(cells, 4)), useful = the output size (backward_data: the input size). Measured
// (benchmarks/results/dilation_cpu.md, float32, AVX-512, 2 threads, CPU time, min of 9 on a
// loaded machine; 3x3 convs, ms winograd through the rewrite / im2col_gemm / implicit_gemm,
// the last two computing the dilated conv directly):
//   U 0.77  8x256x28x28 d4 fwd 40.0 / 83.0 / 93.1, bwd_data 38.5 / 82.5 / 92.0, bwd_weight
//           42.1 / 84.7 / 76.7 (d2 alike)
//   U 0.68  1x512x33x33 -> 256 d10 fwd 22.1 / 29.8 / 46.7, bwd_data 15.8 / 27.9 / 41.4,
//           bwd_weight 19.6 / 29.7 / 35.2
//   U 0.60  8x256x28x28 d3 fwd 50.2 / 81.0 / 87.2, bwd_data 50.1 / 83.3 / 91.6
//   U 0.47  33x33 d12 fwd 28.2 / 32.9 / 54.6, bwd_data 27.3 / 32.2 / 50.6, bwd_weight 25.2 /
//           29.4 / 38.0; d6 fwd 24.3 / 31.2 / 42.1, bwd_data 24.4 / 29.9 / 38.0
//   U 0.34  28x28 d4 bwd_data, phases storing all J + 2 positions: 79.7 / 84.9 / 94.0
//   U 0.27  33x33 d8 fwd 35.7 / 29.7 / 45.0, bwd_data 33.7 / 27.9 / 38.7, bwd_weight 40.4 /
//           29.6 / 34.6
//   U 0.17, 0.12  33x33 d10, d12 bwd_data storing all J + 2 positions: 61.1 / 32.5 / 46.7,
//           73.9 / 31.6 / 47.0
// so it breaks even near U = 0.3. These were measured with F(4x4, 3x3) everywhere; winograd now
// runs F(3x3, 3x3) on phase images of sides <= 6 or 9 (conv_winograd.cc choose_tile_size: ASPP
// d6 / d12 0.71-0.74x the time), but U still counts F(4x4) tiles: with F(3x3), 33x33 d8 fwd /
// bwd_data 25.9 / 24.7 ms against im2col_gemm's 30.2 / 28.6 would now win, its bwd_weight (32.1
// / 28.9) and d18 (35.2 / 30.9) would not (benchmarks/results/winograd_cpu.md, "Not done").
constexpr double kMinDilationPhasesTileUse = 0.3;

double dilation_phases_winograd_tile_use(const ConvGeometry& g, ConvPass pass) {
  const ConvGeometry inner = dilation_phases_geometry(g);
  const bool data = pass == ConvPass::BackwardData;
  double use = 1;
  for (int d = 1; d < 3; ++d) {
    const int64_t cells = data ? inner.in_size[d] : inner.out_size[d];
    const int64_t useful = data ? g.in_size[d] : g.out_size[d];
    use *= double(useful) / double(dilation_phases_count(g, d) * ceil_div(cells, 4) * 4);
  }
  return use;
}

bool prefer_dilation_phases_winograd(const ConvGeometry& g, ConvPass pass,
                                     int64_t element_size) {
  if (!dilation_phases_apply(g)) return false;
  return prefer_winograd(dilation_phases_geometry(g), pass, element_size) &&
         dilation_phases_winograd_tile_use(g, pass) >= kMinDilationPhasesTileUse &&
         conv_workspace_bytes(ConvAlgorithm::Winograd, pass, g, element_size) <= kWorkspaceLimit;
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

// Strided backward_data, where im2col_gemm (implicit_gemm computes backward_data at stride 1
// only) multiplies W^T dY into a column matrix and then sums it back into dX (col2im): that pass
// costs C_in K P adds beside the GEMM's 2 C_in K C_out P flops, so it weighs with few output
// channels (the GEMM's reduction), and only where taps overlap (a kernel larger than its
// stride; otherwise col2im is a plain scatter). stride_phases instead runs one stride-1
// backward_data per stride phase (implicit_gemm's, no column matrix). Measured
// (benchmarks/results/stride_phases_cpu.md; CPU time of both threads, load ~6, forced algorithms
// interleaved in one process, ms im2col_gemm / stride_phases): DeepSpeech conv2 5x10/2 32 -> 32
// b4 60.1 / 35.0; 3x3/2 32 -> 16 @64 b4 2.31 / 1.31, 32 -> 32 2.81 / 1.83; 5x5/2 16 -> 8 @96
// 3.63 / 1.52, 64 -> 32 @64 9.61 / 5.71; conv1d k9/2 64 -> 32 b8 17.4 / 9.3. From 64 output
// channels it is even (3x3/2 64 -> 64 @64 7.28 / 6.43, 4x4/2 64 -> 64 @32 4.80 / 5.11, ResNet
// stem 7x7/2 3 -> 64 b8 40.6 / 40.4) and from 128 it loses (3x3/2 64 -> 128 @56 b8 13.4 / 15.1,
// 128 -> 256 @28 b1 2.14 / 5.25; DCGAN convT 4x4/2 256 -> 128 29.7 / 35.5); with few input
// channels the sub-problems' outputs are too thin (3x3/2 4 -> 64 0.68 / 1.30, DeepSpeech conv1
// 1 -> 32 16.6 / 20.2). Dilation with stride was not measured: left to im2col_gemm.
constexpr int64_t kStridePhasesMaxOutChannels = 32;
constexpr int64_t kStridePhasesMinInChannels = 16;

bool prefer_stride_phases(const ConvGeometry& g, ConvPass pass, int64_t element_size) {
  if (pass != ConvPass::BackwardData || !stride_phases_unsupported(pass, g).empty()) return false;
  bool taps_overlap = false;
  for (int d = 0; d < 3; ++d) {
    if (g.dilation[d] != 1) return false;
    if (g.kernel[d] > g.stride[d]) taps_overlap = true;
  }
  return taps_overlap && g.out_channels_per_group() <= kStridePhasesMaxOutChannels &&
         g.in_channels_per_group() >= kStridePhasesMinInChannels &&
         conv_workspace_bytes(ConvAlgorithm::StridePhases, pass, g, element_size) <=
             kWorkspaceLimit;
}

// Strided backward_weight whose taps never read the same input position (kernel <= stride,
// dilation 1, in every dimension: U-Net's 2x2/2 and 2x2x2/2 up-convolutions): im2col_gemm's
// column matrix is then the input itself rearranged, and its GEMM beat implicit_gemm (which the
// rule below picks for <= 192 output channels) and stride_phases (one thinner GEMM per phase).
// Measured (stride_phases_cpu.md; CPU time, both threads, load ~6, min of 3 interleaved rounds,
// ms im2col_gemm / implicit_gemm / stride_phases, torch): U-Net convT 2x2/2 128 -> 64 b8
// 6.35 / 8.30 / 8.57, torch 6.11; 3-D U-Net convT 2x2x2/2 b1 10.1 / 15.1 / 16.9, torch 9.22;
// 1024 -> 512 b1 45.7 / 61.0 / 68.7, torch 39.6.
bool strided_taps_disjoint(const ConvGeometry& g) {
  bool strided = false;
  for (int d = 0; d < 3; ++d) {
    if (g.kernel[d] > g.stride[d] || g.dilation[d] != 1) return false;
    if (g.stride[d] > 1) strided = true;
  }
  return strided;
}

// small_channels (backward_weight, <= 4 input channels, groups 1: output channels in the vector
// lanes, taps in registers, the positions streamed once) against implicit_gemm / im2col_gemm, the
// choices before it (benchmarks/results/stems_cpu.md; float32, AVX-512, x torch = torch CPU time
// / fastconv CPU time interleaved in one process, 1 thread, loaded machine): ResNet-50 stem b1
// 1.17 vs 0.95 / -, b8 1.08 vs 0.89; i3d stem 0.95 vs 0.62; VGG conv1_1 1.38 vs 1.09;
// Fashion-MNIST conv1 1.21 vs 0.97; DeepSpeech conv1 b4 3.72 vs 3.03 / 2.11, b1 3.74 vs 3.00;
// wav2vec2 conv0 (512 outputs) 4.09 vs 3.23 / 4.27 (2 threads: 4.02 vs 2.93 / 4.33, wall time
// 17.4 vs 34.6 / 22.1 ms). Not measured below 16 output channels (its narrowest AVX-512 tile;
// one channel goes to depthwise) or on 1x1 kernels (a GEMM over X in place), so not taken there.
// Its forward (positions x output channels in registers over the taps, Y^T transposed into y)
// only wins with a long reduction (same measurement, x torch small_channels vs implicit_gemm,
// 2 / 1 threads): i3d stem, K = C_in x taps = 1029: 0.85 / 0.86 vs 0.64 / 0.65; even at K = 147
// (ResNet-50 stem b1 1.89 / 1.71 vs 1.87 / 1.88, b8 1.64 / 1.89 vs 1.60 / 1.83) and K = 25
// (Fashion-MNIST conv1 1.28 / 1.35 vs 1.24 / 1.32); it loses at K = 27 (VGG conv1_1, 1 thread:
// 0.87 vs 1.15: the transposition of Y^T and the per-tile stores weigh against 27 taps).
// On the quiet machine (2 threads, forward ms small_channels / implicit_gemm, interleaved by
// bench's runner) it wins on planes up to 56x56 whatever K: Fashion-MNIST conv1 1 -> 16 5x5
// 28x28 b64 0.557 / 0.973 (torch 0.551 in the suite run), 1 -> 32 1.17 / 1.71, 3 -> 16 5x5
// 28x28 b32 0.58 / 0.71, 3 -> 16 3x3 56x56 b8 0.28 / 0.33, 3 -> 32 0.50 / 0.62, 1 -> 16 7x7
// 56x56 b8 0.36 / 0.40; and loses from 112x112 outputs with a short K: 3 -> 16 3x3 112x112 b1
// 0.183 / 0.176, 3 -> 24 b4 0.88 / 0.75, 3 -> 16 7x7/1 224 1.64 / 1.53, VGG conv1_1 2.15 / 1.55,
// ResNet-50 stem b1 1.24 / 1.24.
// Strided forwards were not in those measurements: there it wins only with the shortest K
// (stride 2, 1 thread, CPU ms small_channels / implicit_gemm, interleaved in one process, load
// ~7; implicit_gemm_cpu.md round 5): 1 -> 16 5x5 @28 b64 (K = 25) 0.199 / 0.256, 3 -> 32 3x3
// @112 b8 (27) 0.835 / 0.947; it loses from K = 48: DCGAN's 4x4/2 3 -> 64 @64 b8 (the
// generator's last convT backward_data and the discriminator's first conv) 0.883 / 0.765 and
// 0.903 / 0.804 (2 threads, wall: 1.035 / 0.836, 0.803 / 0.687), 4 -> 64 5x5 @64 (100) 2.01 /
// 1.66, 3 -> 16 7x7 @96 (147) 1.28 / 1.15. (K >= 512, the i3d stem, wins: above.)
// Since its transposition of Y^T into y writes a few rows of y at a time (before: 64 rows 4 KiB
// apart, thrashing L1), the forward wins from 64 output channels (a whole 64-wide tile) whatever
// K, plane or stride, except for disjoint taps (patchify stems: im2col_gemm's pointwise GEMM).
// Measured (benchmarks/results/stems_cpu.md round 4; CPU ms small_channels / implicit_gemm, 1
// thread, interleaved in one process, load 3-6): DCGAN 3 -> 64 4x4/2 @64 b8 (K = 48) 0.60 / 0.70,
// 4 -> 64 5x5/2 @64 b8 1.08 / 1.14, VGG conv1_1 2.76 / 3.09, ResNet-50 stem b1 2.52 / 2.68, b8
// 21.2 / 22.6, 3 -> 64 3x3 @56 b8 1.72 / 1.98, 3 -> 128 3x3 @112 1.74 / 1.86, wav2vec2 conv0
// 1 -> 512 k10/5 b8 14.6 / 16.3; but 3 -> 96 4x4/4 @224 b8 4.42 / 3.76 against im2col_gemm.
// Below 64 channels the rules above still hold (3 -> 16 3x3 @112 b1 0.156 / 0.143, 3 -> 24 b4
// 1.17 / 0.95, 3 -> 16 7x7/2 @96 b8 1.13 / 1.03). AVX-512 only: on the AVX2 path (its 16-wide
// tiles) it was mixed (same method): ResNet-50 stem b8 25.7 / 21.0, b1 2.91 / 2.71, DCGAN 0.66 /
// 0.64, VGG conv1_1 2.92 / 2.99, 4 -> 64 5x5/2 1.51 / 1.97.
constexpr int64_t kSmallChannelsMinOutChannels = 16;
constexpr int64_t kSmallChannelsForwardMinK = 512;
constexpr int64_t kSmallChannelsForwardMaxPlane = 56 * 56;  // outputs per sample
constexpr int64_t kSmallChannelsStridedForwardMaxShortK = 32;
constexpr int64_t kSmallChannelsForwardWide = 64;  // output channels

bool prefer_small_channels(const ConvGeometry& g, ConvPass pass, int64_t element_size) {
  if (!small_channels_unsupported(pass, g).empty()) return false;
  const bool wide_forward = pass == ConvPass::Forward && isa() == Isa::Avx512 &&
                            g.out_channels >= kSmallChannelsForwardWide &&
                            !strided_taps_disjoint(g);
  if (pass == ConvPass::Forward && !wide_forward && g.gemm_k() < kSmallChannelsForwardMinK &&
      g.out_plane() > kSmallChannelsForwardMaxPlane)
    return false;
  const bool strided = g.stride[0] > 1 || g.stride[1] > 1 || g.stride[2] > 1;
  if (pass == ConvPass::Forward && !wide_forward && strided &&
      g.gemm_k() > kSmallChannelsStridedForwardMaxShortK &&
      g.gemm_k() < kSmallChannelsForwardMinK)
    return false;
  if (g.out_channels < kSmallChannelsMinOutChannels || g.kernel_volume() == 1) return false;
  return conv_workspace_bytes(ConvAlgorithm::SmallChannels, pass, g, element_size) <=
         kWorkspaceLimit;
}

int64_t conv_workspace_bytes(ConvAlgorithm algorithm, ConvPass pass, const ConvGeometry& g,
                             int64_t element_size) {
  if (conv_rewrite(algorithm, pass, g) != nullptr) {
    const int64_t inner = conv_workspace_bytes(algorithm, pass, dilation_phases_geometry(g),
                                               element_size);
    return inner < 0 ? -1 : inner + dilation_phases_buffer_bytes(g, element_size);
  }
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
    case ConvAlgorithm::StridePhases:
      return f64 ? stride_phases_workspace_bytes<double>(g, pass)
                 : stride_phases_workspace_bytes<float>(g, pass);
    case ConvAlgorithm::SmallChannels:
      return f64 ? small_channels_workspace_bytes<double>(g, pass)
                 : small_channels_workspace_bytes<float>(g, pass);
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
  // Forward and backward_data compute each sample on its own, and a sample's result must not
  // depend on the batch it is in (bitwise), so their algorithm is chosen for one sample; a batch
  // whose workspace would pass the budget runs in chunks of samples (conv_batch_chunk). Only
  // backward_weight, a sum over the batch, chooses by the whole batch.
  if (pass != ConvPass::BackwardWeight && g.batch != 1) {
    ConvGeometry one_sample = g;
    one_sample.batch = 1;
    return choose_conv_algorithm(one_sample, pass, requested, element_size);
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
  if (prefer_stride_phases(g, pass, element_size)) return ConvAlgorithm::StridePhases;
  if (pass == ConvPass::BackwardWeight && strided_taps_disjoint(g))
    return ConvAlgorithm::Im2colGemm;
  if (prefer_small_channels(g, pass, element_size)) return ConvAlgorithm::SmallChannels;
  if (prefer_winograd(g, pass, element_size) ||
      prefer_dilation_phases_winograd(g, pass, element_size))
    return ConvAlgorithm::Winograd;
  // A forward whose taps never overlap (kernel <= stride, unpadded: the conv forward that is
  // conv_transpose's backward_data for U-Net's 2x2/2 up-convolutions) is a pointwise GEMM over the
  // input subsampled once per tap on im2col_gemm, where implicit_gemm gathers it per frame.
  // Measured (benchmarks/results/gemm_cpu.md, forced in one bench run, load ~7, ms im2col_gemm /
  // implicit_gemm, 1 / 2 threads): U-Net convT 2x2/2 128->64 b8 5.16 / 9.78, 4.84 / 5.75;
  // 3-D U-Net convT 2x2x2/2 b1 13.9 / 15.3, 13.7 / 15.7; 1024->512 b1 68.7 / 78.2, 60.3 / 64.7.
  if (pass == ConvPass::Forward && im2col_gemm_subsamples(g, pass) && g.kernel_volume() > 1)
    return ConvAlgorithm::Im2colGemm;
  if (prefer_implicit_gemm(g, pass, element_size)) return ConvAlgorithm::ImplicitGemm;
  return ConvAlgorithm::Im2colGemm;
}

int64_t conv_batch_chunk(ConvAlgorithm algorithm, ConvPass pass, const ConvGeometry& g,
                         int64_t element_size) {
  if (pass == ConvPass::BackwardWeight || g.batch <= 1) return g.batch;
  const auto fits = [&](int64_t samples) {
    ConvGeometry part = g;
    part.batch = samples;
    return conv_workspace_bytes(algorithm, pass, part, element_size) <= kWorkspaceLimit;
  };
  if (fits(g.batch)) return g.batch;
  int64_t lo = 1, hi = g.batch;  // workspace grows with the batch: the largest chunk that fits
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

namespace {

// The problems planned on this thread. A training loop or a benchmark calls the same shapes over
// and over, and planning one (auto's rules build tile plans and workspace estimates) took about
// 0.8 us, a fifth of torch's whole per-call overhead on a small convolution. The key holds
// everything a plan depends on; thread_local, so no lock.
struct PlanKey {
  ConvGeometry g;
  ConvPass pass;
  ConvAlgorithm requested;
  int64_t element_size;
  int threads;
  Isa isa;

  bool operator==(const PlanKey& o) const {
    return std::memcmp(&g, &o.g, sizeof(ConvGeometry)) == 0 && pass == o.pass &&
           requested == o.requested && element_size == o.element_size && threads == o.threads &&
           isa == o.isa;
  }
};

struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    const auto* v = reinterpret_cast<const int64_t*>(&k.g);
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the geometry's fields, then the rest
    const auto mix = [&h](uint64_t x) { h = (h ^ x) * 1099511628211ull; };
    for (size_t i = 0; i < sizeof(ConvGeometry) / sizeof(int64_t); ++i) mix(uint64_t(v[i]));
    mix(uint64_t(k.pass));
    mix(uint64_t(k.requested));
    mix(uint64_t(k.element_size));
    mix(uint64_t(k.threads));
    mix(uint64_t(k.isa));
    return size_t(h);
  }
};

}  // namespace

ConvPlan plan_conv(const ConvGeometry& g, ConvPass pass, ConvAlgorithm requested,
                   int64_t element_size) {
  static_assert(sizeof(ConvGeometry) == 22 * sizeof(int64_t), "ConvGeometry: int64_t fields only");
  constexpr size_t kMaxPlans = 1024;  // a few networks' layers x passes; then start again
  thread_local std::unordered_map<PlanKey, ConvPlan, PlanKeyHash> plans;
  const PlanKey key{g, pass, requested, element_size, num_threads(), isa()};
  const auto found = plans.find(key);
  if (found != plans.end()) return found->second;
  ConvPlan plan;
  plan.algorithm = choose_conv_algorithm(g, pass, requested, element_size);  // may throw
  plan.batch_chunk = conv_batch_chunk(plan.algorithm, pass, g, element_size);
  if (plans.size() >= kMaxPlans) plans.clear();
  plans.emplace(key, plan);
  return plan;
}

namespace {

// Runs `run(part, first_sample)` on consecutive chunks of the batch of plan.batch_chunk samples
// (the whole batch where its workspace fits).
template <typename Run>
void for_batch_chunks(const ConvPlan& plan, const ConvGeometry& g, const Run& run) {
  const int64_t chunk = plan.batch_chunk;
  if (chunk >= g.batch) return run(g, int64_t(0));
  ConvGeometry part = g;
  for (int64_t first = 0; first < g.batch; first += chunk) {
    part.batch = std::min(chunk, g.batch - first);
    run(part, first);
  }
}

template <typename T>
void forward_with(ConvAlgorithm algorithm, const ConvGeometry& g, const T* x, const T* w,
                  const T* bias, bool relu, T* y) {
  if (conv_rewrite(algorithm, ConvPass::Forward, g) != nullptr)
    return forward_dilation_phases(g, x, w, bias, relu, y, algorithm);
  switch (algorithm) {
    case ConvAlgorithm::Auto:  // never returned by choose_conv_algorithm
    case ConvAlgorithm::Im2colGemm: return forward_im2col_gemm(g, x, w, bias, relu, y);
    case ConvAlgorithm::Winograd: return forward_winograd(g, x, w, bias, relu, y);
    case ConvAlgorithm::Depthwise: return forward_depthwise(g, x, w, bias, relu, y);
    case ConvAlgorithm::ImplicitGemm: return forward_implicit_gemm(g, x, w, bias, relu, y);
    case ConvAlgorithm::StridePhases: break;  // unsupported for forward: never chosen
    case ConvAlgorithm::SmallChannels: return forward_small_channels(g, x, w, bias, relu, y);
  }
}

template <typename T>
void backward_data_with(ConvAlgorithm algorithm, const ConvGeometry& g, const T* gy, const T* w,
                        T* gx) {
  if (conv_rewrite(algorithm, ConvPass::BackwardData, g) != nullptr)
    return backward_data_dilation_phases(g, gy, w, gx, algorithm);
  switch (algorithm) {
    case ConvAlgorithm::Auto:  // never returned by choose_conv_algorithm
    case ConvAlgorithm::Im2colGemm: return backward_data_im2col_gemm(g, gy, w, gx);
    case ConvAlgorithm::Winograd: return backward_data_winograd(g, gy, w, gx);
    case ConvAlgorithm::Depthwise: return backward_data_depthwise(g, gy, w, gx);
    case ConvAlgorithm::ImplicitGemm: return backward_data_implicit_gemm(g, gy, w, gx);
    case ConvAlgorithm::StridePhases: return backward_data_stride_phases(g, gy, w, gx);
    case ConvAlgorithm::SmallChannels: break;  // forward and backward_weight only (predicate)
  }
}

}  // namespace

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu, T* y,
                  ConvAlgorithm algorithm) {
  const ConvPlan plan = plan_conv(g, ConvPass::Forward, algorithm, sizeof(T));
  const int64_t x_sample = g.in_channels * g.in_plane(), y_sample = g.out_channels * g.out_plane();
  for_batch_chunks(plan, g, [&](const ConvGeometry& part, int64_t first) {
    forward_with(plan.algorithm, part, x + first * x_sample, w, bias, relu, y + first * y_sample);
  });
}

template <typename T>
void conv_backward_data(const ConvGeometry& g, const T* gy, const T* w, T* gx,
                        ConvAlgorithm algorithm) {
  const ConvPlan plan = plan_conv(g, ConvPass::BackwardData, algorithm, sizeof(T));
  const int64_t x_sample = g.in_channels * g.in_plane(), y_sample = g.out_channels * g.out_plane();
  for_batch_chunks(plan, g, [&](const ConvGeometry& part, int64_t first) {
    backward_data_with(plan.algorithm, part, gy + first * y_sample, w, gx + first * x_sample);
  });
}

template <typename T>
void conv_backward_weight(const ConvGeometry& g, const T* x, const T* gy, T* gw,
                          ConvAlgorithm algorithm) {
  algorithm = plan_conv(g, ConvPass::BackwardWeight, algorithm, sizeof(T)).algorithm;
  if (conv_rewrite(algorithm, ConvPass::BackwardWeight, g) != nullptr)
    return backward_weight_dilation_phases(g, x, gy, gw, algorithm);
  switch (algorithm) {
    case ConvAlgorithm::Auto:  // never returned by choose_conv_algorithm
    case ConvAlgorithm::Im2colGemm: return backward_weight_im2col_gemm(g, x, gy, gw);
    case ConvAlgorithm::Winograd: return backward_weight_winograd(g, x, gy, gw);
    case ConvAlgorithm::ImplicitGemm: return backward_weight_implicit_gemm(g, x, gy, gw);
    case ConvAlgorithm::Depthwise: return backward_weight_depthwise(g, x, gy, gw);
    case ConvAlgorithm::StridePhases: return backward_weight_stride_phases(g, x, gy, gw);
    case ConvAlgorithm::SmallChannels: return backward_weight_small_channels(g, x, gy, gw);
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
