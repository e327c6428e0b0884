// The search's inner loop: the accuracy predictor on a generation's batch, and a whole
// evolutionary search at the reference's defaults (population 100, 500 generations).
#include <benchmark/benchmark.h>

#include <ofa/search/accuracy_predictor.hpp>
#include <ofa/search/evolution.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>

namespace se = ofa::search;

template <class Space>
static void BM_predict(benchmark::State& state) {
  const se::accuracy_predictor<Space> predictor(400, 3, 1);
  ofa::rng engine(2);
  std::vector<ofa::subnet_config<Space>> batch;
  for (int i = 0; i < state.range(0); ++i) batch.push_back(ofa::sample_config<Space>(engine));
  for (auto _ : state) benchmark::DoNotOptimize(predictor.predict(batch));
  const double macs = double(ofa::arch_encoding_size<Space>()) * 400 + 2.0 * 400 * 400 + 400;
  state.counters["GFLOP/s"] =
      benchmark::Counter(2 * macs * double(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["configs/s"] = benchmark::Counter(double(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK_TEMPLATE(BM_predict, ofa::spaces::cifar)->Arg(100)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_predict, ofa::spaces::mobilenet_v3)->Arg(100)->Unit(benchmark::kMicrosecond)->UseRealTime();

template <class Space>
static void BM_evolution(benchmark::State& state) {
  const se::accuracy_predictor<Space> predictor(400, 3, 1);
  const se::accuracy_model<Space> model = [&](std::span<const ofa::subnet_config<Space>> cs) {
    return predictor.predict(cs);
  };
  const se::cost_models<Space> costs;
  // A budget a little above the middle of the space's MACs, as a deployment target would be.
  const auto lo = costs.lower_bound(se::metric::macs), hi = costs(se::metric::macs, ofa::subnet_config<Space>::max());
  const se::constraint budget{se::metric::macs, lo + 0.6 * (hi - lo)};
  se::evolution_options o;  // population 100, 500 generations
  std::size_t scored = 0;
  for (auto _ : state) {
    const auto r = se::evolutionary_search(model, costs, {budget}, o);
    scored = r.scored;
    benchmark::DoNotOptimize(r.best.accuracy);
  }
  state.counters["scored"] = double(scored);
}
BENCHMARK_TEMPLATE(BM_evolution, ofa::spaces::cifar)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_evolution, ofa::spaces::mobilenet_v3)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
