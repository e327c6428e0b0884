// GEMM at the shapes the MobileNetV3 space produces (pointwise convs and the
// head): M = batch·H·W, K and N from 16 to 1280. Counter GFLOPS = 2·M·N·K / s.
// Threads: the "threads" argument (1 or 2) caps oneTBB for that run.
#include <benchmark/benchmark.h>

#include <vector>

#include <ofa/kernels/gemm.hpp>
#include <ofa/parallel/arena.hpp>

using ofa::kernels::trans;

static void gemm_bench(benchmark::State& state, trans ta, trans tb) {
  const int m = static_cast<int>(state.range(0)), n = static_cast<int>(state.range(1)),
            k = static_cast<int>(state.range(2)), threads = static_cast<int>(state.range(3));
  ofa::parallel::arena arena(threads);
  std::vector<float> a(static_cast<std::size_t>(m) * k, 0.5f), b(static_cast<std::size_t>(k) * n, 0.25f),
      c(static_cast<std::size_t>(m) * n);
  const int lda = ta == trans::no ? k : m, ldb = tb == trans::no ? n : k;
  for (auto _ : state) {
    ofa::kernels::gemm(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), n);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["threads"] = threads;
}

static void shapes(benchmark::internal::Benchmark* b) {
  // {M, N, K}: forward pointwise convs of mbv3 at batch 16, resolution 128, and the head.
  const int list[][3] = {{16 * 32 * 32, 144, 24}, {16 * 32 * 32, 24, 144}, {16 * 16 * 16, 240, 40},
                         {16 * 8 * 8, 480, 80},   {16 * 8 * 8, 80, 480},   {16 * 8 * 8, 672, 112},
                         {16 * 4 * 4, 960, 160},  {16 * 4 * 4, 160, 960},  {4096, 128, 128},
                         {4096, 256, 256},        {4096, 512, 512},        {16, 1280, 960}};
  for (auto& s : list)
    for (int threads : {1, 2}) b->Args({s[0], s[1], s[2], threads});
  b->ArgNames({"M", "N", "K", "threads"})->UseRealTime();
}

static void bm_gemm_nt(benchmark::State& s) {
  gemm_bench(s, trans::no, trans::yes);
}  // forward: X·Wᵀ
static void bm_gemm_nn(benchmark::State& s) {
  gemm_bench(s, trans::no, trans::no);
}  // backward dX = dY·W
static void bm_gemm_tn(benchmark::State& s) {
  gemm_bench(s, trans::yes, trans::no);
}  // backward dW = dYᵀ·X
// The weight gradient dW [out][in] = dYᵀ·X reduces over all M = batch·H·W rows: a small
// output with a long K, the shape the forward-shaped "tn" rows above do not show.
static void weight_gradient_shapes(benchmark::internal::Benchmark* b) {
  // {out, in, rows}: mbv3 min/max at batch 16, resolution 128, and cifar at batch 64.
  const int list[][3] = {{48, 16, 16 * 64 * 64},  {24, 48, 16 * 32 * 32},  {144, 24, 16 * 32 * 32},
                         {240, 40, 16 * 16 * 16}, {40, 240, 16 * 16 * 16}, {480, 80, 16 * 8 * 8},
                         {96, 16, 64 * 32 * 32}};
  for (auto& s : list)
    for (int threads : {1, 2}) b->Args({s[0], s[1], s[2], threads});
  b->ArgNames({"M", "N", "K", "threads"})->UseRealTime();
}
static void bm_gemm_tn_weight_gradient(benchmark::State& s) {
  gemm_bench(s, trans::yes, trans::no);
}

// Inference's 1x1 layers as static_net runs them: weights packed once, bias and activation in
// the stores. {M, N, K}: MobileNetV3 at 224, batch 1 (the layers its profile lists first), then
// the largest ResNet50's 3x3 convolutions as im2col products and two of its 1x1s: K past one
// 256-deep block, so that the later blocks accumulate into C.
static void bm_gemm_packed_bias_act(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0)), n = static_cast<int>(state.range(1)),
            k = static_cast<int>(state.range(2)), threads = static_cast<int>(state.range(3));
  ofa::parallel::arena arena(threads);
  std::vector<float> a(static_cast<std::size_t>(m) * k, 0.5f), w(static_cast<std::size_t>(n) * k, 0.25f),
      bias(static_cast<std::size_t>(n), -1.0f), c(static_cast<std::size_t>(m) * n);
  const auto packed = ofa::kernels::pack_weights(w.data(), k, n, k);
  for (auto _ : state) {
    ofa::kernels::gemm_packed(m, a.data(), k, packed, 0.0f, c.data(), n, bias.data(), ofa::activation::hswish);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["threads"] = threads;
}
static void inference_shapes(benchmark::internal::Benchmark* b) {
  const int list[][3] = {{3136, 96, 24},   {3136, 24, 96},  {12544, 48, 16},  {196, 80, 480},  {196, 672, 112},
                         {784, 160, 40},   {49, 960, 160},  {3136, 144, 24},  {3136, 88, 792}, {784, 176, 1584},
                         {196, 360, 3240}, {49, 720, 6480}, {196, 1024, 360}, {196, 360, 1024}};
  for (auto& s : list)
    for (int threads : {1, 2}) b->Args({s[0], s[1], s[2], threads});
  b->ArgNames({"M", "N", "K", "threads"})->UseRealTime();
}
BENCHMARK(bm_gemm_packed_bias_act)->Apply(inference_shapes);

BENCHMARK(bm_gemm_nt)->Apply(shapes);
BENCHMARK(bm_gemm_nn)->Apply(shapes);
BENCHMARK(bm_gemm_tn)->Apply(shapes);
BENCHMARK(bm_gemm_tn_weight_gradient)->Apply(weight_gradient_shapes);

BENCHMARK_MAIN();
