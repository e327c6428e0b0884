// The search calls these in its inner loop: profiling (the MACs constraint),
// sampling, mutation and the predictor's encoding must cost microseconds.
#include <benchmark/benchmark.h>

#include <ofa/space/arch_encoding.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/space/sampling.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>

using mbv3 = ofa::spaces::mobilenet_v3;

static void bm_profile_subnet(benchmark::State& state) {
  ofa::rng engine(1);
  const auto config = ofa::sample_config<mbv3>(engine);
  for (auto _ : state) benchmark::DoNotOptimize(ofa::profile_subnet(config).macs);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_profile_subnet);

static void bm_sample_config(benchmark::State& state) {
  ofa::rng engine(1);
  for (auto _ : state) benchmark::DoNotOptimize(ofa::sample_config<mbv3>(engine));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_sample_config);

static void bm_mutate_config(benchmark::State& state) {
  ofa::rng engine(1);
  const auto parent = ofa::sample_config<mbv3>(engine);
  for (auto _ : state) benchmark::DoNotOptimize(ofa::mutate_config(parent, engine));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_mutate_config);

static void bm_encode_arch(benchmark::State& state) {
  ofa::rng engine(1);
  const auto config = ofa::sample_config<mbv3>(engine);
  float out[ofa::arch_encoding_size<mbv3>()];
  for (auto _ : state) {
    ofa::encode_arch(config, out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_encode_arch);

BENCHMARK_MAIN();
