// Convolution as GEMM over tiles of the column matrix (see column_walk.h for its layout).
//
// For one (sample n, group g) with K = C_in/groups * kernel volume and P = output positions:
//   forward          Y[C_out/g, P]  = W[C_out/g, K] * COL[K, P]
//   backward_data    dCOL[K, P]     = W^T * dY,  then col2im scatters dCOL into dX
//   backward_weight  dW[C_out/g, K] = sum_n dY[C_out/g, P] * COL[K, P]^T
// Columns of all samples of a group are numbered q = n * P + p, and tiles of columns may hold
// several samples (small planes: P = 16 or 49 would fill half a GEMM panel alone). COL is built
// one tile of columns at a time, never whole: the forward writes it straight into the GEMM's
// packed-panel layout, one kc slice of rows at a time (no second copy); backward_weight, whose
// B = COL^T needs panels across rows, builds the tile row-major with contiguous runs and packs it
// with SIMD block transposes (as it packs dY). The weights are packed once per call. A 1x1,
// stride-1, unpadded kernel has X itself as COL: a column tile inside one sample is read in place
// (gemm_packed_a_rowmajor_b, no packing), one straddling samples is packed; its backward_data is
// the forward of the transposed 1x1 conv. A strided unpadded 1x1, and the forward and
// backward_weight of a kernel no larger than its stride (disjoint taps), are the 1x1 conv of the
// input subsampled once (per tap). Forward tiles written in place get the bias / ReLU from the
// GEMM's last stores, non-temporal where the output is large (stream_output).
// The backward_weight of a 1x1 conv with a short channel side (use_dot) skips packing: gemm_dot
// reduces dY rows against X rows in vector lanes, both read in place.
//
// Threads split the *outputs* (forward: group x column tile x output-channel block;
// backward_data: group x run of samples x channel block; backward_weight: group x group of row
// blocks x output-channel block, and chunks of the column tile steps into separate partial sums
// added in chunk order) and every output element is reduced in one fixed order that depends only
// on the geometry, so results are bitwise the same for any thread count. Forward and
// backward_data compute every column with the same instructions wherever it sits in a tile, so
// a sample's result does not depend on its batch either.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

#include "common/cpu_features.h"
#include "common/denormals.h"
#include "common/env.h"
#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/conv/column_walk.h"
#include "cpu/conv/conv_algorithms.h"
#include "cpu/conv/epilogue.h"
#include "cpu/gemm/gemm.h"

namespace fastconv::cpu {

namespace {

// Workspace reused across calls by the calling thread (common/workspace.h): perf of U-Net
// convT 2x2/2 1024->512 b1 backward_data (the conv forward: 8 MB packed weights + 6.4 MB
// subsampled input) showed 22% of the samples in the kernel, first touches of fresh buffers.
// One slot per role: the subsampled input of the outer call, then the shared and per-thread
// buffers of the GEMM (the subsampled paths call the GEMM passes with slot kSubsampled still
// in use).
enum WorkspaceSlot { kSubsampled, kShared, kPerThread, kSlots };
struct Im2colWorkspace {};

template <typename T>
struct Buffer {
  Buffer(WorkspaceSlot slot, int64_t n)
      : p(reused_workspace<Im2colWorkspace, kSlots, T>(slot, std::max<int64_t>(n, 1))) {}
  T* data() const { return p; }
  T* p;
};

constexpr int64_t kColumnTileBytes = 512 * 1024;  // one tile of COL stays in L2
constexpr int64_t kMaxChunks = 8;                 // backward_weight: partial sums over steps
constexpr int kChunkModelThreads = 2;             // ... chosen for this many threads (2 cores)
constexpr int64_t kChunkBytes = 8 << 20;          // ... and the most workspace they may take
constexpr int64_t kMaxBlockRows = 256;            // backward_weight task: COL rows ...
constexpr int64_t kMaxBlockChannels = 512;        // ... x output channels, at most
constexpr int64_t kForwardTileColumns = 256;      // forward: columns per tile ...
constexpr int64_t kBackwardDataTileColumns = 256;  // backward_data: columns per tile ...
constexpr int64_t kBackwardDataMaxRows = 512;      // ... x dCOL rows per task, at most
constexpr int64_t kForwardMaxRows = 512;          // ... x output channels per task, at most
constexpr int64_t kPackPanels = 4;
constexpr int64_t kDotSpan = 1024;  // backward_weight 1x1 on the dot kernel: positions per tile                // forward: weight panels packed per work item

// Columns per tile, a whole number of GEMM panels: a function of the geometry and the ISA's
// panel width only (never of the thread count), since it fixes the order of the backward
// reductions.
template <typename T>
int64_t column_tile(int64_t k, int64_t p, int64_t nr) {
  const int64_t fit = kColumnTileBytes / int64_t(sizeof(T)) / std::max<int64_t>(k, 1);
  const int64_t panels = std::max<int64_t>(1, fit / nr);
  return std::max<int64_t>(1, std::min(p, panels * nr));
}

// Splits `count` items into blocks so that `outer * blocks` tasks keep every thread busy.
int64_t block_size(int64_t count, int64_t outer, int threads) {
  const int64_t wanted_blocks = ceil_div(4 * int64_t(threads), std::max<int64_t>(outer, 1));
  return std::max<int64_t>(1, ceil_div(count, std::max<int64_t>(wanted_blocks, 1)));
}

// How one pass of the algorithm splits its work and what workspace it takes, in elements;
// computed the same way by the kernels and by im2col_gemm_workspace_bytes (fastconv.explain).
//   forward:         tasks = group x column tile x block of `rows` output channels, the
//                    columns q = n * P + p of all samples in a row; shared = the packed
//                    weights; per thread b = one kc-row slice of a packed COL tile,
//                    col = the C tile of a tile that straddles samples
//   backward_data:   tasks = group x run of `samples` samples x block of `block` input
//                    channels; shared = packed W^T rows of every (group, block), or where
//                    one run holds the whole batch, per thread a = the task's own W^T rows;
//                    per thread b = one packed dY tile (whole samples where P is small),
//                    col = its dCOL
//   backward_weight: tasks = chunk of column tile steps x group x `row_group` blocks of
//                    `block` COL rows x block of `out_block` output channels; shared = the
//                    partial dW of every chunk but the first; per thread a = one packed dY
//                    tile, col = a COL tile of one row block (row-major), b = that tile packed
//                    as COL^T, dy = the dY tile gathered row-major where it spans samples
struct Im2colPlan {
  int64_t tile = 1;   // columns per tile (whole GEMM panels); forward: of all samples' columns
  int64_t block = 1;  // channels (backward_data) or rows (backward_weight) per task
  int64_t out_block = 1;  // output channels per task (backward_weight)
  int64_t row_group = 1;  // row blocks per task, sharing one packed dY tile (backward_weight)
  int64_t chunks = 1;     // chunks of column tile steps reduced separately, then summed
                          // (backward_weight)
  int64_t rows = 1;       // output channels per task (forward)
  int64_t samples = 1;    // samples per column tile (backward_data; 1 where P > one tile)
  int64_t tasks = 0;
  int threads = 1;
  int64_t shared = 0, a = 0, b = 0, col = 0;
  int64_t dy = 0;  // backward_weight: a dY tile gathered across samples (row-major)
  int64_t per_thread() const { return a + b + col + dy; }
  int64_t elements() const { return shared + threads * per_thread(); }
};

// backward_weight's task blocks: `block` of the K rows (whole nr panels) x `out_block` of the cog
// output channels (whole mr panels), `row_group` row blocks per task, chosen to minimise the
// busiest thread's estimated time per column tile: its tasks' micro-kernel work (rows x
// channels / 16 cycles) plus their packing (a task packs the dY tile once per step for all its
// row blocks; a channel block re-builds the COL tile), so that short-K problems (conv1d with
// C_in = 1) split over output channels and long ones over rows. The blocks change only which
// task computes an element, never its reduction order.
// Blocks are at most max_row_panels(nr) x max_out_panels(mr) panels (geometry-only caps, which
// also size the column tile) so that the packed tiles of both operands stay in L2 while the
// reduction runs over a long tile of positions (the dW rows of a row group stream from L3; the
// micro-kernel prefetches them).
// True where `size` is the smallest block size that splits `total` into its number of blocks:
// the blocks are then as even as whole units allow (32 panels in 2 blocks: 16 + 16, where the
// largest size for 2 blocks, 31, would give 31 + 1). The block searches skip the other sizes.
bool even_split(int64_t total, int64_t size) {
  return ceil_div(total, ceil_div(total, size)) == size;
}

int64_t max_row_panels(int64_t nr) { return std::max<int64_t>(1, kMaxBlockRows / nr); }
int64_t max_out_panels(int64_t mr) { return std::max<int64_t>(1, kMaxBlockChannels / mr); }

// Returns the busiest thread's estimated cycles. `chunk_columns[c]`: the positions chunk c
// reduces over. Tasks run chunk-major under OpenMP's static schedule (thread t takes a
// contiguous range), so a chunk with fewer steps than the others (5 steps in 2 chunks: 3 + 2)
// or one without any leaves a thread idle: the busiest thread is summed over its range exactly.
double backward_weight_blocks(int64_t G, int64_t K, int64_t cog, int64_t mr, int64_t nr,
                              bool pointwise, bool dot, int threads,
                              const std::vector<int64_t>& chunk_columns, Im2colPlan& plan) {
  // Cycles per element and column: the micro-kernel's 16 multiply-adds per cycle, building a
  // COL row (perf: im2col_rows of conv_transpose 4x4/2 @4 took more time than the GEMM) and
  // packing a dY row (once per task and step, for all the task's row blocks).
  // The dot-product kernel (1x1) packs nothing.
  const double im2col = dot ? 0.0 : pointwise ? 1.0 : 4.0, dy_pack = dot ? 0.0 : 1.0;
  const int64_t chunks = int64_t(chunk_columns.size());
  const int64_t row_panels = ceil_div(K, nr), out_panels = ceil_div(cog, mr);
  double best = -1;
  plan.block = K;
  plan.out_block = cog;
  plan.row_group = 1;
  for (int64_t rp = std::min(row_panels, max_row_panels(nr)); rp >= 1; --rp) {
    const int64_t rb = std::min(K, rp * nr), row_blocks = ceil_div(K, rb);
    if (!even_split(row_panels, rp)) continue;
    for (int64_t op = std::min(out_panels, max_out_panels(mr)); op >= 1; --op) {
      const int64_t cb = std::min(cog, op * mr), out_blocks = ceil_div(cog, cb);
      if (!even_split(out_panels, op)) continue;
      for (int64_t rg = row_blocks; rg >= 1; --rg) {
        if (!even_split(row_blocks, rg)) continue;
        const double per_column =
            double(rg) * (double(rb) * double(cb) / 16.0 + im2col * double(rb)) +
            dy_pack * double(cb);
        const int64_t per_chunk = G * ceil_div(row_blocks, rg) * out_blocks;
        const int64_t tasks = chunks * per_chunk, q = tasks / threads, r = tasks % threads;
        double busiest = 0;
        for (int64_t th = 0, t0 = 0; th < threads; ++th) {
          const int64_t t1 = t0 + q + (th < r ? 1 : 0);
          double sum = 0;
          for (int64_t c = t0 / per_chunk; c < chunks && c * per_chunk < t1; ++c) {
            const int64_t lo = std::max(t0, c * per_chunk), hi = std::min(t1, (c + 1) * per_chunk);
            sum += double(hi - lo) * double(chunk_columns[c]);
          }
          busiest = std::max(busiest, sum * per_column);
          t0 = t1;
        }
        if (best < 0 || busiest < best * (1 - 1e-9)) {
          best = busiest;
          plan.block = rb;
          plan.out_block = cb;
          plan.row_group = rg;
        }
      }
    }
  }
  return best;
}

// The forward's column tile (whole panels, at most kForwardTileColumns) and row block (whole
// panels, at most kForwardMaxRows rows): those that minimise the busiest thread's estimated
// time under OpenMP's static schedule (thread t runs a contiguous range of tasks), counting
// the padded columns each tile computes (micro-kernel: 16 multiply-adds per cycle) and its
// B packing per row block (1 cycle per element copied, 3 per im2col element) and its stream of
// the packed weights (a quarter cycle per element, which favours wide tiles). With 2 threads
// a batch of 8 x 196 columns in tiles of 256 gives 4 tiles to one thread and 2 1/8 to the
// other; tiles of 224 still give 4 : 3, tiles of 160 give 5 : 5. Returns the row panels.
int64_t forward_blocks(int64_t G, int64_t Q, int64_t K, int64_t cog, int64_t mr, int64_t nr,
                       bool pointwise, int threads, Im2colPlan& plan) {
  const int64_t panels = ceil_div(cog, mr), max_cols = ceil_div(std::max<int64_t>(Q, 1), nr) * nr;
  const double pack = pointwise ? 1.0 : 3.0;
  double best = -1;
  int64_t best_rp = 1;
  plan.tile = std::min(max_cols, kForwardTileColumns);
  // Tiles of at least 4 panels, or 2 where all columns fit one tile (DCGAN convT 512->256 @4's
  // conv forward: 8 x 16 = 128 columns, K = 4096; one tile split by rows made both threads
  // build the whole column matrix).
  const int64_t min_panels = Q <= kForwardTileColumns ? 2 : 4;
  for (int64_t nc = std::min(max_cols, kForwardTileColumns);
       nc >= std::min(max_cols, min_panels * nr); nc -= nr) {
    const int64_t tiles = ceil_div(Q, nc);
    for (int64_t rp = std::min(panels, std::max<int64_t>(1, kForwardMaxRows / mr)); rp >= 1;
         --rp) {
      if (!even_split(panels, rp)) continue;
      const int64_t rb = std::min(cog, rp * mr), blocks = ceil_div(cog, rb);
      const int64_t tasks = G * tiles * blocks;
      auto task_cost = [&](int64_t t) {
        const int64_t blk = t % blocks, tile = (t / blocks) % tiles;
        const int64_t rows = std::min(rb, cog - blk * rb);
        const int64_t cols = ceil_div(std::min(nc, Q - tile * nc), nr) * nr;
        return double(K) * (double(cols) * (double(rows) / 16.0 + pack) + 0.25 * double(rows));
      };
      double busiest = 0;
      if (tasks > 64 * int64_t(threads)) {  // many tasks: the average is close enough
        busiest = double(ceil_div(tasks, int64_t(threads))) * task_cost(0);
      } else {
        const int64_t q = tasks / threads, r = tasks % threads;
        for (int64_t th = 0, t = 0; th < threads; ++th) {
          double sum = 0;
          for (int64_t e = t + q + (th < r ? 1 : 0); t < e; ++t) sum += task_cost(t);
          busiest = std::max(busiest, sum);
        }
      }
      if (best < 0 || busiest < best * (1 - 1e-9)) {
        best = busiest;
        plan.tile = nc;
        best_rp = rp;
      }
    }
  }
  return best_rp;
}

// backward_weight of a 1x1 conv on the dot-product kernel: positions per column tile, the span
// one dW block reduces over before its lanes are summed. Whole samples where P is short (P = 196:
// 5 samples, one lane sum per 980 positions); a long plane in equal pieces of whole vectors
// (P = 3136: 4 x 784), so that the kernel's 4 dY rows of a tile stay in L1.
int64_t dot_tile(int64_t P, int64_t Q) {
  int64_t span = kDotSpan;
  if (const char* e = std::getenv("FASTCONV_DOT_SPAN")) span = std::max<int64_t>(16, std::atoll(e));
  if (P <= 0 || Q <= 0) return 1;
  if (P <= span) return std::min(Q, span / P * P);
  const int64_t pieces = ceil_div(P, span);
  return std::min(P, ceil_div(ceil_div(P, pieces), 16) * 16);
}

// backward_weight of a 1x1 conv on the dot-product kernel (gemm_dot, no packing) where the ISA
// has one and a dW dimension is short: min(C_out/g, C_in/g) <= 64, where the packed GEMM
// amortises its packing (1 element per C_out/g or C_in/g multiply-adds) over few rows. Measured
// (1 thread, interleaved, dot / GEMM time ratio inverted, AVX-512, load 4-5; gemm_cpu.md):
// mobilenetv2 144->24 @56 1.31, 96->24 1.33, 16->96 @112 1.23, 32->192 @28 1.28, 64->64 @56 1.08,
// 64->256 @56 1.07, 256->64 @56 1.05; but 256->512 /2 0.97, 512->1024 /2 0.90, 1024->256 @14
// 0.90, 160->960 @7 0.77 (register blocks reload both operands from L1/L2 each block: the GEMM's
// packed panels reuse more once packing is amortised, and P = 49 / 196 end in masked tails).
// AVX2's dot kernel (4 x 3 blocks of 8 lanes) gains less: dot / GEMM time ratio inverted
// (1 thread, FASTCONV_ISA=avx2, benchmarks/wgrad_dot_ab.py, load 5-7, two runs): 256->64 @56
// 0.84 / 0.98 (0.91 in the earlier quiet run), 64->256 @56 0.93 / 0.99, 64->384 @14 0.89,
// 384->64 @14 0.92, but 64->64 @56 1.11 (1.34), 144->24 @56 1.28 (1.35), 32->192 @28 1.40,
// 32->512 @28 1.23: there a side of 64 channels takes the dot kernel only when the other is 64 too.
// FASTCONV_WGRAD_DOT=0|1 forces it off|on (A/B timing in one process).
template <typename T>
bool use_dot(const ConvGeometry& g) {
  if (!g.is_pointwise() || !gemm_has_dot<T>()) return false;
  if (const auto forced = env_switch("FASTCONV_WGRAD_DOT")) return *forced;
  const int64_t cog = g.out_channels_per_group(), cig = g.in_channels_per_group();
  if (isa() == Isa::Avx2) return std::min(cog, cig) <= 32 || std::max(cog, cig) <= 64;
  return std::min(cog, cig) <= 64;
}

template <typename T>
Im2colPlan plan_im2col(const ConvGeometry& g, ConvPass pass) {
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t K = g.gemm_k(), P = g.out_plane(), kvol = g.kernel_volume();
  const bool pointwise = g.is_pointwise();
  Im2colPlan plan;
  plan.tile = column_tile<T>(K, P, gemm_nr<T>());
  switch (pass) {
    case ConvPass::Forward: {
      // Column tiles run across samples (q = n * P + p), so small planes fill whole panels
      // (P = 49: 64 columns computed per sample alone, 50 across a batch). The reduction runs
      // one kc slice at a time: the B slice (kc x tile) and the A slice (rows x kc) stay in L2.
      // Every column is computed by the same instructions wherever it sits, so tiles and row
      // blocks may follow the thread count: they never change a result.
      const int64_t mr = gemm_mr<T>(), nr = gemm_nr<T>(), Q = g.batch * P;
      const int64_t rp = forward_blocks(G, Q, K, cog, mr, nr, pointwise, num_threads(), plan);
      plan.rows = std::min(cog, rp * mr);
      plan.tasks = G * ceil_div(Q, plan.tile) * ceil_div(cog, plan.rows);
      plan.shared = G * packed_a_size<T>(cog, K);
      plan.b = packed_b_size<T>(plan.tile, std::min(K, gemm_kc()));
      plan.col = g.batch > 1 && P % plan.tile != 0 ? plan.rows * plan.tile : 0;  // a C tile
      break;
    }
    case ConvPass::BackwardData: {
      // Small planes put whole samples side by side in one tile (a sample's columns never
      // straddle two tasks: col2im accumulates its dX in one fixed order), so P = 16 fills whole
      // panels. Channel blocks keep the dCOL tile (block * kvol rows) in L2; they change which
      // task computes a row, never how.
      plan.samples = P >= kBackwardDataTileColumns
                         ? 1 : std::max<int64_t>(1, kBackwardDataTileColumns / std::max<int64_t>(P, 1));
      plan.tile = std::max<int64_t>(1, std::min(P * plan.samples, kBackwardDataTileColumns));
      const int64_t units = ceil_div(g.batch, plan.samples);
      plan.block = block_size(cig, units * G, num_threads());
      const int64_t cap = std::max<int64_t>(1, kBackwardDataMaxRows / kvol);
      if (plan.block > cap) plan.block = ceil_div(cig, ceil_div(cig, cap));  // even blocks
      plan.tasks = units * G * ceil_div(cig, plan.block);
      // W^T packed once per (group, channel block) and shared: packed by every task, its
      // packing took 10% of DCGAN convT 256->128 @16's forward (perf; 8 samples, 8 times).
      // Where every (group, block) has one task (one run of samples), the task packs its W^T
      // rows itself into a per-thread buffer that stays in L2 for its GEMM, instead of all of
      // W^T up front into a shared buffer read back from L3 / DRAM (DCGAN convT 4x4/2 512->256:
      // 8 MB of W^T for 128 columns).
      if (units == 1) {
        plan.a = packed_a_size<T>(plan.block * kvol, cog);
      } else {
        plan.shared = G * ceil_div(cig, plan.block) * packed_a_size<T>(plan.block * kvol, cog);
      }
      plan.b = packed_b_size<T>(plan.tile, cog);
      plan.col = plan.block * kvol * plan.tile;  // (pointwise convs run as a forward)
      break;
    }
    case ConvPass::BackwardWeight: {
      // The tile bounds a task's packed dY tile and COL tile (at most the block caps' rows).
      // Its columns q = n * P + p run across samples, so that small planes (P = 16 or 49) still
      // reduce over a long k per GEMM call instead of re-loading the dW block every P steps.
      const int64_t mr = gemm_mr<T>(), nr = gemm_nr<T>(), Q = g.batch * P;
      const bool dot = use_dot<T>(g);
      if (dot) {
        plan.tile = dot_tile(P, Q);
      } else {
        plan.tile = column_tile<T>(std::min(K, max_row_panels(nr) * nr) +
                                       std::min(cog, max_out_panels(mr) * mr),
                                   Q, nr);
        // Whole samples per tile where they fit (P = 196: tiles of 196, not 256 straddling
        // two samples): no gathering copies of dY.
        if (P > 0 && P <= plan.tile) plan.tile = plan.tile / P * P;
      }
      // The column tile steps of the reduction run in up to kMaxChunks chunks, each
      // into its own partial dW, summed in chunk order at the end: parallel work without
      // splitting dW (even for one group, a short K or batch 1), at a workspace cost bounded by
      // kChunkBytes. The count depends on the geometry only.
      const int64_t dw = G * cog * K, steps = ceil_div(Q, plan.tile);
      const int64_t affordable = 1 + kChunkBytes / int64_t(sizeof(T)) / std::max<int64_t>(dw, 1);
      // Every chunk count up to that bound is tried with its best blocks (a count that leaves
      // a chunk without steps is skipped): the estimate of the busiest thread plus the final
      // sum of the partial dWs (2 cycles per element: memory bound) picks one. Unequal chunks
      // idle a thread: U-Net convT 1024->512 b1 (5 steps) in 2 chunks ran 3 : 2 steps, DCGAN
      // convT 256->128 @16 (8 steps) in 5 chunks of 2 left the 5th empty. The chunks fix the
      // reduction order, so they are chosen for kChunkModelThreads threads whatever the team
      // (bitwise the same result for any thread count); the blocks then follow the team.
      const int64_t max_chunks = std::max<int64_t>(1, std::min({steps, kMaxChunks, affordable}));
      std::vector<int64_t> best_columns;
      double best = -1;
      for (int64_t c = 1; c <= max_chunks; ++c) {
        const int64_t per_chunk = std::max<int64_t>(1, ceil_div(steps, c));
        if (steps > 0 && ceil_div(steps, per_chunk) != c) continue;  // a chunk without steps
        std::vector<int64_t> columns(size_t(c), 0);
        for (int64_t i = 0; i < c; ++i)
          columns[size_t(i)] = std::min(Q, (i + 1) * per_chunk * plan.tile) -
                               std::min(Q, i * per_chunk * plan.tile);
        Im2colPlan trial = plan;
        const double cost = backward_weight_blocks(G, K, cog, mr, nr, pointwise, dot,
                                                   kChunkModelThreads, columns, trial) +
                            2.0 * double(c - 1) * double(dw) / double(kChunkModelThreads);
        if (best < 0 || cost < best * (1 - 1e-9)) {
          best = cost;
          plan.chunks = c;
          best_columns = columns;
        }
      }
      backward_weight_blocks(G, K, cog, mr, nr, pointwise, dot, num_threads(), best_columns,
                             plan);
      plan.tasks = plan.chunks * G * ceil_div(ceil_div(K, plan.block), plan.row_group) *
                   ceil_div(cog, plan.out_block);
      plan.shared = (plan.chunks - 1) * dw;
      if (dot) break;  // both operands read in place: no per-thread workspace
      plan.a = packed_a_size<T>(plan.out_block, plan.tile);
      plan.b = packed_b_size<T>(plan.block, plan.tile);
      const bool straddles = g.batch > 1 && P % plan.tile != 0;  // some tile spans samples
      plan.col = pointwise && !straddles ? 0 : plan.block * plan.tile;
      plan.dy = straddles ? plan.out_block * plan.tile : 0;
      break;
    }
  }
  plan.threads = threads_for(plan.tasks, g.batch * g.out_channels * P * K);
  return plan;
}

// Writes `len` elements src[t * step] as row r, columns [col, col + len) of packed-B panels of
// nr columns and `rows` rows: cell (r, q) lives at ((q / nr) * rows + r) * nr + q % nr, so a run
// is contiguous until a panel ends.
template <typename T>
inline void put_run(T* out, int64_t rows, int64_t nr, int64_t r, int64_t col, const T* src,
                    int64_t len, int64_t step) {
  for (int64_t done = 0; done < len;) {
    const int64_t chunk = std::min(len - done, nr - col % nr);
    T* dst = out + ((col / nr) * rows + r) * nr + col % nr;
    // Inline loops, not memcpy: chunks are at most one panel wide (8..32 elements).
    if (src == nullptr) {
      for (int64_t t = 0; t < chunk; ++t) dst[t] = T(0);
    } else if (step == 1) {
      const T* from = src + done;
      for (int64_t t = 0; t < chunk; ++t) dst[t] = from[t];
    } else {
      const T* from = src + done * step;
      for (int64_t t = 0; t < chunk; ++t) dst[t] = from[t * step];
    }
    col += chunk;
    done += chunk;
  }
}

// Cells (r, p), r in [r0, r1), p in [c0, c1), of the column matrix into packed-B panels of nr
// columns and r1 - r0 rows, cell (r, p) at panel column col0 + p - c0 (B = COL, the forward's
// reduction runs over rows). The caller zeroes the columns that pad the last panel.
template <typename T>
void im2col_packed(const ConvGeometry& g, const T* x, int64_t r0, int64_t r1, int64_t c0,
                   int64_t c1, int64_t nr, T* out, int64_t col0) {
  const int64_t rows = r1 - r0;
  walk_columns(
      g, r0, r1, c0, c1,
      [&](int64_t r, int64_t p, int64_t xi, int64_t len, int64_t step) {
        put_run(out, rows, nr, r, col0 + p, x + xi, len, step);
      },
      [&](int64_t r, int64_t p, int64_t len) {
        put_run<T>(out, rows, nr, r, col0 + p, nullptr, len, 1);
      });
}

// Zeroes panel columns [cols, whole panels) of packed-B panels with `rows` rows.
template <typename T>
void zero_panel_tail(T* out, int64_t rows, int64_t cols, int64_t nr) {
  if (cols % nr == 0) return;
  T* last = out + (cols / nr) * rows * nr;
  for (int64_t r = 0; r < rows; ++r) std::fill(last + r * nr + cols % nr, last + (r + 1) * nr, T(0));
}

// Cells (r, p), r in [r0, r1), p in [c0, c1), of the column matrix, row-major with row stride
// ld (cell (r, p) at col[(r - r0) * ld + p - c0]): contiguous runs (backward_weight then packs them with SIMD block transposes).
template <typename T>
void im2col_rows(const ConvGeometry& g, const T* x, int64_t r0, int64_t r1, int64_t c0,
                 int64_t c1, T* col, int64_t ld) {
  const int64_t cols = ld;
  walk_columns(
      g, r0, r1, c0, c1,
      [&](int64_t r, int64_t p, int64_t xi, int64_t len, int64_t step) {
        T* dst = col + r * cols + p;
        const T* src = x + xi;
        if (step == 1) {
          for (int64_t t = 0; t < len; ++t) dst[t] = src[t];
        } else {
          for (int64_t t = 0; t < len; ++t) dst[t] = src[t * step];
        }
      },
      [&](int64_t r, int64_t p, int64_t len) {
        T* dst = col + r * cols + p;
        for (int64_t t = 0; t < len; ++t) dst[t] = T(0);
      });
}

// x += the cells (r, p), r in [r0, r1), p in [c0, c1), of a column matrix held row-major with
// row stride ld (cell (r, p) at col[(r - r0) * ld + p - c0]).
template <typename T>
void col2im_accumulate(const ConvGeometry& g, const T* col, int64_t ld, int64_t r0, int64_t r1,
                       int64_t c0, int64_t c1, T* x) {
  const int64_t cols = ld;
  walk_columns(
      g, r0, r1, c0, c1,
      [&](int64_t r, int64_t p, int64_t xi, int64_t len, int64_t step) {
        const T* src = col + r * cols + p;
        for (int64_t t = 0; t < len; ++t) x[xi + t * step] += src[t];
      },
      [](int64_t, int64_t, int64_t) {});
}

// The same, assigning: for convolutions whose taps cover every input cell exactly once
// (covers_input_once), where dX needs neither zeroing nor a read before the write.
template <typename T>
void col2im_assign(const ConvGeometry& g, const T* col, int64_t ld, int64_t r0, int64_t r1,
                   int64_t c0, int64_t c1, T* x) {
  walk_columns(
      g, r0, r1, c0, c1,
      [&](int64_t r, int64_t p, int64_t xi, int64_t len, int64_t step) {
        const T* src = col + r * ld + p;
        T* dst = x + xi;
        if (step == 2) {  // U-Net's 2x2/2 up-convolutions
          for (int64_t t = 0; t < len; ++t) dst[2 * t] = src[t];
        } else {
          for (int64_t t = 0; t < len; ++t) dst[t * step] = src[t];
        }
      },
      [](int64_t, int64_t, int64_t) {});
}

// col2im_assign for taps that tile the input once with kernel and stride 2 along the width and 1
// along the depth (convT 2x2/2): the two taps of a row pair fill adjacent cells, written together.
template <typename T>
void col2im_assign_pairs(const ConvGeometry& g, const T* col, int64_t ld, int64_t r0, int64_t r1,
                         int64_t c0, int64_t c1, T* x) {
  const int64_t OH = g.out_size[1], OW = g.out_size[2], IH = g.in_size[1], IW = g.in_size[2];
  const int64_t KH = g.kernel[1], kvol = g.kernel_volume(), in_plane = g.in_plane();
  for (int64_t r = r0; r < r1; r += 2) {  // rows (c, kh, 0) and (c, kh, 1)
    const int64_t c = r / kvol, kh = (r % kvol) / 2;
    const T* even = col + (r - r0) * ld;
    const T* odd = even + ld;
    for (int64_t p = c0; p < c1;) {
      const int64_t od = p / (OH * OW), oh = (p / OW) % OH, ow = p % OW;
      const int64_t len = std::min(OW - ow, c1 - p);
      T* dst = x + c * in_plane + (od * IH + oh * KH + kh) * IW + 2 * ow;
      const T* e = even + (p - c0);
      const T* o = odd + (p - c0);
      for (int64_t t = 0; t < len; ++t) {
        dst[2 * t] = e[t];
        dst[2 * t + 1] = o[t];
      }
      p += len;
    }
  }
}

// Kernel = stride, no padding or dilation, and the input exactly tiled by the output's windows
// (a transposed conv 2x2/2 without output_padding): every input cell is read by exactly one tap
// of one output position, so backward_data writes each dX cell once.
bool covers_input_once(const ConvGeometry& g) {
  for (int d = 0; d < 3; ++d)
    if (g.kernel[d] != g.stride[d] || g.pad_before[d] != 0 || g.dilation[d] != 1 ||
        g.out_size[d] * g.stride[d] != g.in_size[d])
      return false;
  return true;
}

// A 1x1 kernel without padding at stride s reads only x[c, od*s0, oh*s1, ow*s2]: it is the
// pointwise (stride-1) convolution of the input subsampled once, whose GEMM packs contiguous
// rows (X itself as B) instead of gathering with stride s at every use of a COL cell (ResNet
// projections 1x1/2: the strided gathers bound all three passes). Likewise a kernel no larger
// than its stride (disjoint taps, no padding or dilation: U-Net's 2x2/2 up-convolutions, whose
// forward and backward_weight are conv's): each tap (a, b, e) of channel c reads its own
// subsampled plane, so the conv is the pointwise one with C_in * kernel volume channels (the
// weights [C_out][C_in][taps] are already its [C_out][C_in * taps]) over those planes, built in one
// pass instead of a stride-s gather per row block. Its backward_data keeps the column path,
// which scatters each GEMM tile from cache (col2im_assign).
bool strided_pointwise(const ConvGeometry& g) {
  if (g.is_pointwise() || g.batch == 0 || g.out_plane() == 0) return false;
  for (int d = 0; d < 3; ++d)
    if (g.kernel[d] != 1 || g.pad_before[d] != 0 ||
        (g.out_size[d] - 1) * g.stride[d] >= g.in_size[d])
      return false;
  return true;
}

bool disjoint_taps(const ConvGeometry& g) {
  if (g.is_pointwise() || g.batch == 0 || g.out_plane() == 0) return false;
  for (int d = 0; d < 3; ++d)
    if (g.kernel[d] > g.stride[d] || g.pad_before[d] != 0 ||
        (g.kernel[d] > 1 && g.dilation[d] != 1) ||
        (g.out_size[d] - 1) * g.stride[d] + g.kernel[d] > g.in_size[d])
      return false;
  return true;
}

bool subsampled_pointwise(const ConvGeometry& g, ConvPass pass) {
  return strided_pointwise(g) || (pass != ConvPass::BackwardData && disjoint_taps(g));
}

ConvGeometry subsampled_geometry(const ConvGeometry& g) {
  ConvGeometry s = g;
  s.in_channels = g.in_channels * g.kernel_volume();
  for (int d = 0; d < 3; ++d) {
    s.in_size[d] = g.out_size[d];
    s.kernel[d] = 1;
    s.stride[d] = 1;
    s.dilation[d] = 1;
  }
  return s;
}

// For every (sample, channel) plane and tap: f(full plane row offset, subsampled plane row
// offset, length, stride) for each output row; threads split the planes.
template <typename F>
void each_subsampled_row(const ConvGeometry& g, F f) {
  const int64_t planes = g.batch * g.in_channels, in_plane = g.in_plane(), P = g.out_plane();
  const int64_t OD = g.out_size[0], OH = g.out_size[1], OW = g.out_size[2];
  const int64_t KD = g.kernel[0], KH = g.kernel[1], KW = g.kernel[2], kvol = g.kernel_volume();
#pragma omp parallel for schedule(static) num_threads(threads_for(planes, planes * kvol * P))
  for (int64_t pl = 0; pl < planes; ++pl) {
    const FlushDenormals flush_denormals;
    for (int64_t a = 0; a < KD; ++a)
      for (int64_t b = 0; b < KH; ++b)
        for (int64_t e = 0; e < KW; ++e) {
          const int64_t tap = (a * KH + b) * KW + e;
          for (int64_t od = 0; od < OD; ++od)
            for (int64_t oh = 0; oh < OH; ++oh)
              f(pl * in_plane +
                    ((od * g.stride[0] + a) * g.in_size[1] + oh * g.stride[1] + b) * g.in_size[2] +
                    e,
                (pl * kvol + tap) * P + (od * OH + oh) * OW, OW, g.stride[2]);
        }
  }
}

// xs[n, c * kvol + tap, o] = x[n, c, at output position o's input cell for that tap]
template <typename T>
void subsample(const ConvGeometry& g, const T* x, T* xs) {
  each_subsampled_row(g, [&](int64_t xi, int64_t si, int64_t len, int64_t step) {
    if (step == 2) {
      for (int64_t t = 0; t < len; ++t) xs[si + t] = x[xi + 2 * t];
    } else {
      for (int64_t t = 0; t < len; ++t) xs[si + t] = x[xi + t * step];
    }
  });
}

// The adjoint (1x1 kernels): x = 0 except x[n, c, at output position o's input cell] = xs[n, c, o].
template <typename T>
void unsubsample(const ConvGeometry& g, const T* xs, T* x) {
  std::fill(x, x + g.batch * g.in_channels * g.in_plane(), T(0));
  each_subsampled_row(g, [&](int64_t xi, int64_t si, int64_t len, int64_t step) {
    for (int64_t t = 0; t < len; ++t) x[xi + t * step] = xs[si + t];
  });
}

int64_t subsampled_elements(const ConvGeometry& g) {
  return g.batch * g.in_channels * g.kernel_volume() * g.out_plane();
}

// Non-temporal output stores: where the reduction is one kc slice (each C tile stored once, never
// read back) and the output is beyond the L2 caches (2 x 1 MiB), so that its lines would be
// fetched only to be overwritten (read-for-ownership) and evicted again. Measured (1 thread, CPU
// ms, forced off / on in one process, load ~7): ResNet-50 res2 1x1 expand b8 forward (25.7 MB
// out) 10.9 / 8.8, res2 reduce (6.4 MB) 10.1 / 9.6, MobileNetV2 1x1 144->24 b8 (2.4 MB) 3.8 /
// 3.4; backward_data (the same GEMM, dX out) of 144->24 (14.5 MB) 3.3 / 2.4.
constexpr int64_t kStreamMinOutputBytes = 2 << 20;

// FASTCONV_GEMM_STREAM=0 / 1: a test and measurement hook forcing it off / on (read per call).
template <typename T>
bool stream_output(const ConvGeometry& g) {
  if (const auto forced = env_switch("FASTCONV_GEMM_STREAM")) return *forced;
  return g.gemm_k() <= gemm_kc() &&
         g.batch * g.out_channels * g.out_plane() * int64_t(sizeof(T)) >= kStreamMinOutputBytes;
}

// The forward; w_transposed: the weights of group g are w[g][k][o] (backward_data of a pointwise
// conv, whose weights are read as those of the transposed conv, rows C_in, columns C_out).
template <typename T>
void forward_gemm(const ConvGeometry& g, const T* x, const T* w, bool w_transposed,
                  const T* bias, bool relu, T* y) {
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t K = g.gemm_k(), P = g.out_plane(), in_plane = g.in_plane();
  const int64_t mr = gemm_mr<T>(), nr = gemm_nr<T>(), kcs = std::min(K, gemm_kc());
  const Im2colPlan plan = plan_im2col<T>(g, ConvPass::Forward);
  if (plan.tasks == 0) return;
  const int64_t nc = plan.tile, Q = g.batch * P, tiles = ceil_div(Q, nc), tasks = plan.tasks;
  const int64_t rb = plan.rows, row_blocks = ceil_div(cog, rb);
  const bool pointwise = g.is_pointwise();
  const int threads = plan.threads;
  const bool stream = stream_output<T>(g);
  // The weights of every group, packed once and shared read-only by all threads.
  const int64_t a_size = packed_a_size<T>(cog, K);
  Buffer<T> w_packed(kShared, plan.shared);
  const int64_t per_thread = plan.per_thread();
  Buffer<T> workspace(kPerThread, threads * per_thread);

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    // Split over blocks of row panels too, not only groups: one group's weights packed by one
    // thread idled the other (DCGAN convT 4x4/2 512->256 @4's conv forward: 8 MiB of weights,
    // busiest thread 5.3 ms against 4.7 ms of CPU per thread).
    const int64_t panels = ceil_div(cog, mr), pack_blocks = ceil_div(panels, kPackPanels);
#pragma omp for schedule(static)
    for (int64_t item = 0; item < G * pack_blocks; ++item) {
      const int64_t grp = item / pack_blocks, r0 = (item % pack_blocks) * kPackPanels * mr;
      const int64_t rows = std::min(cog - r0, kPackPanels * mr);
      const StridedMatrix<T> wg{w + grp * cog * K + r0 * (w_transposed ? 1 : K),
                                w_transposed ? 1 : K, w_transposed ? cog : 1};
      pack_a_panels<T>(rows, K, wg, w_packed.data() + grp * a_size + r0 * K);
    }
    T* b_packed = workspace.data() + thread_index() * per_thread;
    T* c_tile = b_packed + plan.b;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t blk = task % row_blocks, tile = (task / row_blocks) % tiles;
      const int64_t grp = task / (row_blocks * tiles);
      const int64_t o0 = blk * rb, rows = std::min(rb, cog - o0);
      const int64_t q0 = tile * nc, cols = std::min(nc, Q - q0);
      // Calls f(n, p, col, len) for the samples' runs of columns [q0, q0 + cols).
      auto each_sample = [&](auto&& f) {
        for (int64_t q = q0; q < q0 + cols;) {
          const int64_t n = q / P, p = q % P, len = std::min(P - p, q0 + cols - q);
          f(n, p, q - q0, len);
          q += len;
        }
      };
      T* const y_out = y + (grp * cog + o0) * P;  // + n * C_out * P + p
      const bool one_sample = (q0 % P) + cols <= P;
      T* c = one_sample ? y_out + (q0 / P) * g.out_channels * P + q0 % P : c_tile;
      const int64_t ldc = one_sample ? P : cols;
      const T* a = w_packed.data() + grp * a_size + (o0 / mr) * K * mr;
      // A tile written in place gets its epilogue from the GEMM's last stores (the output is
      // written once), streamed past the caches when the output is large and written in one go.
      const bool fused = one_sample && K > 0;
      TileEpilogue<T> epilogue;
      epilogue.bias = bias ? bias + grp * cog + o0 : nullptr;
      epilogue.relu = relu;
      epilogue.stream = stream;
      if (pointwise && one_sample) {  // B is X's rows [pc, pc + kc) of this sample: in place
        const T* xb = x + ((q0 / P) * g.in_channels + grp * cig) * in_plane + q0 % P;
        gemm_packed_a_rowmajor_b<T>(rows, cols, K, a, K * mr, xb, in_plane, c, ldc, false,
                                    fused ? &epilogue : nullptr);
      }
      for (int64_t pc = 0; pc < K && !(pointwise && one_sample); pc += kcs) {
        const int64_t kc = std::min(kcs, K - pc);
        each_sample([&](int64_t n, int64_t p, int64_t col, int64_t len) {
          const T* xg = x + (n * g.in_channels + grp * cig) * in_plane;
          if (pointwise) {
            // Rows are in_plane apart: too many streams for the hardware prefetcher, so
            // fetch a few rows ahead.
            constexpr int64_t kAhead = 4, kLine = 64 / int64_t(sizeof(T));
            for (int64_t r = 0; r < kc; ++r) {
              if (r + kAhead < kc) {
                const T* ahead = xg + (pc + r + kAhead) * in_plane + p;
                for (int64_t t = 0; t < len; t += kLine) __builtin_prefetch(ahead + t);
              }
              put_run(b_packed, kc, nr, r, col, xg + (pc + r) * in_plane + p, len, 1);
            }
          } else {
            im2col_packed(g, xg, pc, pc + kc, p, p + len, nr, b_packed, col);
          }
        });
        zero_panel_tail(b_packed, kc, cols, nr);
        gemm_packed_panels<T>(rows, cols, kc, a + pc * mr, K * mr, b_packed, kc * nr, c, ldc,
                              pc > 0, fused && pc + kc >= K ? &epilogue : nullptr);
      }
      if (fused) continue;
      // The epilogue (and the scatter of a C tile to its samples), while the tile is in cache.
      each_sample([&](int64_t n, int64_t p, int64_t col, int64_t len) {
        for (int64_t o = 0; o < rows; ++o) {
          T* yo = y_out + n * g.out_channels * P + o * P + p;
          if (!one_sample) std::copy(c_tile + o * cols + col, c_tile + o * cols + col + len, yo);
          if (bias || relu) bias_relu_row(yo, len, bias ? bias[grp * cog + o0 + o] : T(0), relu);
        }
      });
    }
  }
}

// A pointwise conv's dX = W^T dY per sample is the forward of the transposed pointwise conv
// (C_out -> C_in channels, weights read transposed): it reuses the forward's tiles across
// samples (P = 196 in tiles of 224 straddling samples rather than 224 computed per 196) and
// its blocking, and stays batch invariant as the forward is.
ConvGeometry transposed_pointwise(const ConvGeometry& g) {
  ConvGeometry t = g;
  std::swap(t.in_channels, t.out_channels);
  return t;
}

bool backward_data_as_forward(const ConvGeometry& g) {
  return g.is_pointwise() && g.out_channels > 0;
}

}  // namespace

template <typename T>
void forward_im2col_gemm(const ConvGeometry& g, const T* x, const T* w, const T* bias, bool relu,
                         T* y) {
  if (subsampled_pointwise(g, ConvPass::Forward)) {
    Buffer<T> xs(kSubsampled, subsampled_elements(g));
    subsample(g, x, xs.data());
    return forward_gemm(subsampled_geometry(g), xs.data(), w, false, bias, relu, y);
  }
  forward_gemm(g, x, w, false, bias, relu, y);
}

template <typename T>
void backward_data_im2col_gemm(const ConvGeometry& g, const T* gy, const T* w, T* gx) {
  if (strided_pointwise(g)) {
    Buffer<T> gxs(kSubsampled, subsampled_elements(g));
    backward_data_im2col_gemm(subsampled_geometry(g), gy, w, gxs.data());
    return unsubsample(g, gxs.data(), gx);
  }
  if (backward_data_as_forward(g))
    return forward_gemm<T>(transposed_pointwise(g), gy, w, true, nullptr, false, gx);
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t K = g.gemm_k(), P = g.out_plane(), in_plane = g.in_plane();
  const int64_t kvol = g.kernel_volume(), nr = gemm_nr<T>(), mr = gemm_mr<T>();
  const bool assign = covers_input_once(g);
  const bool pairs = assign && g.kernel[2] == 2 && g.kernel[0] == 1;
  const Im2colPlan plan = plan_im2col<T>(g, ConvPass::BackwardData);
  if (plan.tasks == 0) return;
  const int64_t pt = plan.tile, cb = plan.block, blocks = ceil_div(cig, cb), tasks = plan.tasks;
  const int64_t spu = plan.samples;
  const int threads = plan.threads;
  const int64_t a_size = packed_a_size<T>(cb * kvol, cog), b_size = plan.b;
  const int64_t per_thread = plan.per_thread();
  Buffer<T> w_packed(kShared, plan.shared);
  Buffer<T> workspace(kPerThread, threads * per_thread);

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    // W^T of (group, channel block) item, packed at `to`
    auto pack_w = [&](int64_t item, T* to) {
      const int64_t grp = item / blocks, r0 = (item % blocks) * cb * kvol;
      const int64_t rows = std::min(cig * kvol, r0 + cb * kvol) - r0;
      pack_a_panels<T>(rows, cog, {w + grp * cog * K + r0, 1, K}, to);
    };
    const bool shared_w = plan.a == 0;  // else each task packs its own (one task per item)
    if (shared_w) {
#pragma omp for schedule(static)
      for (int64_t item = 0; item < G * blocks; ++item) pack_w(item, w_packed.data() + item * a_size);
    }
    T* b_packed = workspace.data() + thread_index() * per_thread;
    T* col = b_packed + b_size;
    T* a_own = col + plan.col;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t blk = task % blocks, grp = (task / blocks) % G, unit = task / (blocks * G);
      const int64_t c0 = blk * cb, c1 = std::min(cig, c0 + cb);
      const int64_t r0 = c0 * kvol, r1 = c1 * kvol, rows = r1 - r0;
      const int64_t n0 = unit * spu, n1 = std::min(g.batch, n0 + spu);
      auto gx_block = [&](int64_t n) { return gx + (n * g.in_channels + grp * cig) * in_plane; };
      const T* a_packed = w_packed.data() + (grp * blocks + blk) * a_size;
      if (!shared_w) {
        pack_w(grp * blocks + blk, a_own);
        a_packed = a_own;
      }
      if (!assign)
        for (int64_t n = n0; n < n1; ++n)
          std::fill(gx_block(n) + c0 * in_plane, gx_block(n) + c1 * in_plane, T(0));
      // Tiles: the samples [n0, n1) side by side (spu > 1), or one sample's columns in turn.
      const int64_t span = spu > 1 ? (n1 - n0) * P : P;
      for (int64_t q0 = 0; q0 < span; q0 += pt) {
        const int64_t len = std::min(pt, span - q0);
        // Calls f(n, p, col, run) for the samples' runs of columns [q0, q0 + len).
        auto each_sample = [&](auto&& f) {
          if (spu == 1) return f(n0, q0, int64_t(0), len);
          for (int64_t n = n0; n < n1; ++n) f(n, int64_t(0), (n - n0) * P, P);
        };
        if (spu == 1) {  // B = dY's rows of one sample, read in place
          const T* gyg = gy + (n0 * g.out_channels + grp * cog) * P + q0;
          gemm_packed_a_rowmajor_b<T>(rows, len, cog, a_packed, cog * mr, gyg, P, col, len, false);
        } else {
          each_sample([&](int64_t n, int64_t p, int64_t c, int64_t run) {
            const T* gyg = gy + (n * g.out_channels + grp * cog) * P + p;
            for (int64_t o = 0; o < cog; ++o)
              put_run(b_packed, cog, nr, o, c, gyg + o * P, run, 1);
          });
          zero_panel_tail(b_packed, cog, len, nr);
          gemm_packed<T>(rows, len, cog, a_packed, b_packed, col, len, false);
        }
        each_sample([&](int64_t n, int64_t p, int64_t c, int64_t run) {
          if (assign && pairs) {
            col2im_assign_pairs(g, col + c, len, r0, r1, p, p + run, gx_block(n));
          } else if (assign) {
            col2im_assign(g, col + c, len, r0, r1, p, p + run, gx_block(n));
          } else {
            col2im_accumulate(g, col + c, len, r0, r1, p, p + run, gx_block(n));
          }
        });
      }
    }
  }
}

template <typename T>
void backward_weight_im2col_gemm(const ConvGeometry& g, const T* x, const T* gy, T* gw) {
  if (subsampled_pointwise(g, ConvPass::BackwardWeight)) {
    Buffer<T> xs(kSubsampled, subsampled_elements(g));
    subsample(g, x, xs.data());
    return backward_weight_im2col_gemm(subsampled_geometry(g), xs.data(), gy, gw);
  }
  const int64_t G = g.groups, cig = g.in_channels_per_group(), cog = g.out_channels_per_group();
  const int64_t K = g.gemm_k(), P = g.out_plane(), in_plane = g.in_plane();
  const Im2colPlan plan = plan_im2col<T>(g, ConvPass::BackwardWeight);
  if (plan.tasks == 0) return;
  const int64_t pt = plan.tile, rb = plan.block, cb = plan.out_block, tasks = plan.tasks;
  const int64_t row_blocks = ceil_div(K, rb), out_blocks = ceil_div(cog, cb);
  const int64_t rg = plan.row_group, row_groups = ceil_div(row_blocks, rg);
  const int64_t Q = g.batch * P, steps = ceil_div(Q, pt), dw = G * cog * K;
  const int64_t chunks = plan.chunks, per_chunk = ceil_div(steps, chunks);
  const bool pointwise = g.is_pointwise();
  const bool dot = use_dot<T>(g);  // as plan_im2col
  const int threads = plan.threads;
  const int64_t a_size = plan.a, b_size = plan.b, per_thread = plan.per_thread();
  // chunk 0 reduces into gw itself, chunk c > 0 into partial[(c - 1) * dw ...]
  Buffer<T> partial(kShared, plan.shared);
  Buffer<T> workspace(kPerThread, threads * per_thread);

#pragma omp parallel num_threads(threads)
  {
    const FlushDenormals flush_denormals;
    T* a_packed = workspace.data() + thread_index() * per_thread;
    T* b_packed = a_packed + a_size;
    T* col = b_packed + b_size;
    T* dy = col + plan.col;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t ob = task % out_blocks, rgi = (task / out_blocks) % row_groups;
      const int64_t grp = (task / (out_blocks * row_groups)) % G;
      const int64_t chunk = task / (out_blocks * row_groups * G);
      const int64_t b0 = rgi * rg, b1 = std::min(row_blocks, b0 + rg);  // row blocks
      const int64_t o0 = ob * cb, o1 = std::min(cog, o0 + cb);
      T* dst = chunk == 0 ? gw : partial.data() + (chunk - 1) * dw;
      T* gwb = dst + (grp * cog + o0) * K;
      const int64_t s0 = chunk * per_chunk, s1 = std::min(steps, s0 + per_chunk);
      bool accumulate = false;
      for (int64_t step = s0; step < s1; ++step) {  // columns [q0, q0 + len) of all samples
        const int64_t q0 = step * pt, len = std::min(pt, Q - q0);
        const int64_t n = q0 / P, p0 = q0 % P;
        const bool one_sample = p0 + len <= P;
        // Both operands are rows contiguous along the positions (the reduction): packing
        // transposes them in SIMD blocks. A tile that spans samples is gathered row-major first.
        // Calls f(x of sample, dY rows of sample at p, p, col, run) for the samples' runs.
        auto each_sample = [&](auto&& f) {
          for (int64_t q = q0; q < q0 + len;) {
            const int64_t sn = q / P, p = q % P, run = std::min(P - p, q0 + len - q);
            f(x + (sn * g.in_channels + grp * cig) * in_plane,
              gy + (sn * g.out_channels + grp * cog + o0) * P + p, p, q - q0, run);
            q += run;
          }
        };
        if (dot) {  // dW block += dY rows . X rows over the tile's positions, read in place
          const int64_t sa = g.out_channels * P, sb = g.in_channels * in_plane;
          auto run_dot = [&](int64_t sn, int64_t p, int64_t run, int64_t segments) {
            const T* gys = gy + (sn * g.out_channels + grp * cog + o0) * P + p;
            const T* xs = x + (sn * g.in_channels + grp * cig) * in_plane + p;
            for (int64_t blk = b0; blk < b1; ++blk) {
              const int64_t r0 = blk * rb, r1 = std::min(K, r0 + rb);
              gemm_dot<T>(o1 - o0, r1 - r0, run, segments, sa, sb, gys, P, xs + r0 * in_plane,
                          in_plane, gwb + r0, K, accumulate);
            }
            accumulate = true;
          };
          if (p0 == 0 && len % P == 0) {  // whole samples: one lane sum per tile
            run_dot(n, 0, P, len / P);
          } else {
            for (int64_t q = q0; q < q0 + len;) {
              const int64_t run = std::min(P - q % P, q0 + len - q);
              run_dot(q / P, q % P, run, 1);
              q += run;
            }
          }
          continue;
        }
        if (one_sample) {
          pack_a_panels<T>(o1 - o0, len, {gy + (n * g.out_channels + grp * cog + o0) * P + p0, P, 1},
                           a_packed);
        } else {
          each_sample([&](const T*, const T* gys, int64_t, int64_t c, int64_t run) {
            for (int64_t o = 0; o < o1 - o0; ++o)
              std::copy(gys + o * P, gys + o * P + run, dy + o * len + c);
          });
          pack_a_panels<T>(o1 - o0, len, {dy, len, 1}, a_packed);
        }
        for (int64_t blk = b0; blk < b1; ++blk) {
          const int64_t r0 = blk * rb, r1 = std::min(K, r0 + rb);
          if (one_sample && pointwise) {  // B(k = position, j = row) is X transposed
            const T* xg = x + (n * g.in_channels + grp * cig) * in_plane;
            pack_b_panels<T>(len, r1 - r0, {xg + r0 * in_plane + p0, 1, in_plane}, b_packed);
          } else {
            each_sample([&](const T* xs, const T*, int64_t p, int64_t c, int64_t run) {
              if (pointwise) {
                for (int64_t r = r0; r < r1; ++r)
                  std::copy(xs + r * in_plane + p, xs + r * in_plane + p + run,
                            col + (r - r0) * len + c);
              } else {
                im2col_rows(g, xs, r0, r1, p, p + run, col + c, len);
              }
            });
            pack_b_panels<T>(len, r1 - r0, {col, 1, len}, b_packed);
          }
          gemm_packed<T>(o1 - o0, r1 - r0, len, a_packed, b_packed, gwb + r0, K, accumulate);
        }
        accumulate = true;
      }
      if (!accumulate) {  // no steps in the chunk (no samples or no output positions): zero
        const int64_t r0 = b0 * rb, r1 = std::min(K, b1 * rb);
        for (int64_t o = 0; o < o1 - o0; ++o) std::fill(gwb + o * K + r0, gwb + o * K + r1, T(0));
      }
    }
    if (chunks > 1) {  // gw += the other chunks' partial sums, in chunk order
      constexpr int64_t kSpan = 4096;
#pragma omp for schedule(static)
      for (int64_t e0 = 0; e0 < dw; e0 += kSpan) {
        const int64_t e1 = std::min(dw, e0 + kSpan);
        for (int64_t c = 1; c < chunks; ++c) {
          const T* src = partial.data() + (c - 1) * dw;
          for (int64_t e = e0; e < e1; ++e) gw[e] += src[e];
        }
      }
    }
  }
}

bool im2col_gemm_subsamples(const ConvGeometry& g, ConvPass pass) {
  return subsampled_pointwise(g, pass);
}

template <typename T>
int64_t im2col_gemm_workspace_bytes(const ConvGeometry& g, ConvPass pass) {
  if (subsampled_pointwise(g, pass))
    return subsampled_elements(g) * int64_t(sizeof(T)) +
           im2col_gemm_workspace_bytes<T>(subsampled_geometry(g), pass);
  if (pass == ConvPass::BackwardData && backward_data_as_forward(g))
    return im2col_gemm_workspace_bytes<T>(transposed_pointwise(g), ConvPass::Forward);
  return plan_im2col<T>(g, pass).elements() * int64_t(sizeof(T));
}

template int64_t im2col_gemm_workspace_bytes<float>(const ConvGeometry&, ConvPass);
template int64_t im2col_gemm_workspace_bytes<double>(const ConvGeometry&, ConvPass);
template void forward_im2col_gemm<float>(const ConvGeometry&, const float*, const float*,
                                         const float*, bool, float*);
template void forward_im2col_gemm<double>(const ConvGeometry&, const double*, const double*,
                                          const double*, bool, double*);
template void backward_data_im2col_gemm<float>(const ConvGeometry&, const float*, const float*,
                                               float*);
template void backward_data_im2col_gemm<double>(const ConvGeometry&, const double*,
                                                const double*, double*);
template void backward_weight_im2col_gemm<float>(const ConvGeometry&, const float*, const float*,
                                                 float*);
template void backward_weight_im2col_gemm<double>(const ConvGeometry&, const double*,
                                                  const double*, double*);

}  // namespace fastconv::cpu
