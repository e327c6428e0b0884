// Evolutionary search: every candidate meets every constraint, a seed gives the same search on 1
// and 2 threads, it beats random sampling on a known objective, Pareto fronts are non-dominated,
// and impossible constraints are refused.
#include <catch2/catch.hpp>

#include <ofa/parallel/arena.hpp>
#include <ofa/search/accuracy_predictor.hpp>
#include <ofa/search/evolution.hpp>
#include <ofa/spaces/cifar.hpp>

namespace se = ofa::search;
using cifar = ofa::spaces::cifar;
using config = ofa::subnet_config<cifar>;
using Catch::Matchers::Contains;

namespace {
/// A known objective: more capacity is better, kernel 5 is best, resolution helps, with diminishing returns.
double synthetic_accuracy(const config& c) {
  double score = 0;
  for (std::size_t u = 0; u < cifar::unit_count; ++u)
    for (int i = 0; i < c.depth[u]; ++i) {
      const auto slot = std::size_t(cifar::unit_table[u].first_slot + i);
      score += 0.004 * c.expand[slot] - 0.002 * std::abs(c.kernel[slot] - 5);
    }
  return 0.5 + 0.4 * (1 - std::exp(-score)) + 0.002 * (c.resolution - 24);
}
se::accuracy_model<cifar> synthetic_model() {
  return [](std::span<const config> cs) {
    std::vector<double> out;
    for (const auto& c : cs) out.push_back(synthetic_accuracy(c));
    return out;
  };
}
se::evolution_options quick(std::uint64_t seed) {
  se::evolution_options o;
  o.population = 40;
  o.generations = 30;
  o.seed = seed;
  return o;
}
}  // namespace

TEST_CASE("every candidate of a search meets every constraint", "[search][evolution]") {
  const se::cost_models<cifar> costs;
  const std::vector<se::constraint> limits{se::constraint::parse("macs<=30M"), se::constraint::parse("params<=3M")};
  std::vector<se::candidate<cifar>> archive;
  const auto r = se::evolutionary_search(synthetic_model(), costs, limits, quick(1), &archive);
  CHECK(r.scored == archive.size());
  CHECK(archive.size() == std::size_t(40 + 30 * 40));
  for (const auto& c : archive) {
    REQUIRE(c.macs <= 30e6);
    REQUIRE(c.params <= 3e6);
    REQUIRE(c.macs == costs(se::metric::macs, c.config));
    REQUIRE_NOTHROW(c.config.validate());
  }
  CHECK(r.best.macs <= 30e6);
  // The best never gets worse from one generation to the next.
  for (std::size_t g = 1; g < r.best_accuracy.size(); ++g) REQUIRE(r.best_accuracy[g] >= r.best_accuracy[g - 1]);
}

TEST_CASE("the finalists are the run's best predicted subnets, apart by the asked difference, best first",
          "[search][evolution]") {
  const se::cost_models<cifar> costs;
  const auto limit = se::constraint::parse("macs<=25M");
  for (const int difference : {1, 4, 8}) {
    INFO("finalist_min_difference " << difference);
    auto o = quick(4);
    o.finalists = 12;
    o.finalist_min_difference = difference;
    const auto r = se::evolutionary_search(synthetic_model(), costs, {limit}, o);
    CHECK(r.finalists.size() == 12);  // 30 generations of 10 parents hold enough of them
    CHECK(r.finalists.front().config == r.best.config);
    std::vector<std::vector<std::uint8_t>> codes;
    for (std::size_t i = 0; i < r.finalists.size(); ++i) {
      CHECK(r.finalists[i].macs <= 25e6);
      if (i > 0) CHECK(r.finalists[i].accuracy <= r.finalists[i - 1].accuracy);
      codes.push_back(ofa::encode_arch<cifar, std::uint8_t>(r.finalists[i].config));
      for (std::size_t j = 0; j < i; ++j) REQUIRE(se::detail::choice_difference(codes[i], codes[j]) >= difference);
    }
  }
  // The difference counts choices: one kernel changed is one.
  auto a = config::max(), b = a;
  b.kernel[0] = 3;
  CHECK(se::detail::choice_difference(ofa::encode_arch<cifar, std::uint8_t>(a),
                                      ofa::encode_arch<cifar, std::uint8_t>(b)) == 1);
  auto bad = quick(4);
  bad.finalist_min_difference = 0;
  CHECK_THROWS_AS(se::evolutionary_search(synthetic_model(), costs, {limit}, bad), ofa::config_error);
}

TEST_CASE("the search beats the best of as many random subnets under the same budget", "[search][evolution]") {
  const se::cost_models<cifar> costs;
  const auto limit = se::constraint::parse("macs<=25M");
  const auto r = se::evolutionary_search(synthetic_model(), costs, {limit}, quick(2));
  ofa::rng engine(3);
  double best_random = 0;
  for (std::size_t drawn = 0; drawn < r.scored;) {
    const auto c = ofa::sample_config<cifar>(engine);
    if (costs(se::metric::macs, c) > limit.limit) continue;
    best_random = std::max(best_random, synthetic_accuracy(c));
    ++drawn;
  }
  CHECK(r.best.accuracy > best_random);
}

TEST_CASE("a seed gives the same search on 1 and 2 threads, with a real predictor", "[search][evolution]") {
  const se::accuracy_predictor<cifar> predictor(64, 3, 5);
  const se::accuracy_model<cifar> model = [&](std::span<const config> cs) { return predictor.predict(cs); };
  const se::cost_models<cifar> costs;
  auto run = [&](int threads) {
    ofa::parallel::arena arena(threads);
    return se::evolutionary_search(model, costs, {se::constraint::parse("macs<=35M")}, quick(9));
  };
  const auto one = run(1), two = run(2);
  CHECK(one.best.config == two.best.config);
  CHECK(one.best.accuracy == two.best.accuracy);
  CHECK(one.best_accuracy == two.best_accuracy);
  const auto other_seed = se::evolutionary_search(model, costs, {se::constraint::parse("macs<=35M")}, quick(10));
  CHECK(other_seed.best_accuracy != one.best_accuracy);
}

TEST_CASE("Pareto mode: one best subnet a budget, and a non-dominated front", "[search][evolution]") {
  const se::cost_models<cifar> costs;
  const auto budgets = se::budget_ladder(costs, se::metric::macs, 3);
  REQUIRE(budgets.size() == 3);
  CHECK(budgets.back().limit == costs(se::metric::macs, config::max()));
  const auto r = se::pareto_search(synthetic_model(), costs, budgets, {}, quick(4));
  REQUIRE(r.per_budget.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) CHECK(r.per_budget[k].best.macs <= budgets[k].limit);
  // Larger budgets find at least as good subnets here (the objective grows with capacity).
  CHECK(r.per_budget[2].best.accuracy >= r.per_budget[0].best.accuracy);
  REQUIRE(r.front.size() >= 2);
  for (std::size_t i = 1; i < r.front.size(); ++i) {
    REQUIRE(r.front[i].macs >= r.front[i - 1].macs);
    REQUIRE(r.front[i].accuracy > r.front[i - 1].accuracy);
  }
}

TEST_CASE("impossible constraints are refused with the cheapest cost", "[search][evolution]") {
  const se::cost_models<cifar> costs;
  CHECK_THROWS_WITH(se::evolutionary_search(synthetic_model(), costs, {se::constraint::parse("macs<=2M")}, quick(1)),
                    Contains("no subnet of the space meets 'macs<=2M'"));
  // Possible, but so rare that resampling gives up, and says so.
  auto o = quick(1);
  o.max_resamples = 2000;
  CHECK_THROWS_WITH(
      se::evolutionary_search(synthetic_model(), costs,
                              {se::constraint{se::metric::macs, costs.lower_bound(se::metric::macs)}}, o),
      Contains("relax one of them"));
}

TEST_CASE("a search restricted to some resolutions draws, mutates and crosses only there", "[search][evolution]") {
  se::cost_models<cifar> costs;
  auto o = quick(3);
  o.resolutions = {24, 28};
  costs.resolutions = o.resolutions;
  std::vector<se::candidate<cifar>> archive;
  const auto r = se::evolutionary_search(synthetic_model(), costs, {se::constraint::parse("macs<=60M")}, o, &archive);
  for (const auto& c : archive) REQUIRE((c.config.resolution == 24 || c.config.resolution == 28));
  // The objective prefers 32; restricted, the best is at 28.
  CHECK(r.best.config.resolution == 28);
  // The cheapest subnet at 24 or 28 is the space's cheapest (24); at 32 alone it costs more.
  const double anywhere = costs.lower_bound(se::metric::macs);
  costs.resolutions = {32};
  CHECK(costs.lower_bound(se::metric::macs) > anywhere);
}

TEST_CASE("a larger budget never ends with a worse target than a smaller one, and says why", "[search][evolution]") {
  const se::cost_models<cifar> costs;
  const std::vector<se::constraint> budgets{se::constraint::parse("macs<=20M"), se::constraint::parse("macs<=40M"),
                                            se::constraint::parse("macs<=60M")};
  auto small = config::min(), large = config::max();
  std::vector<se::candidate<cifar>> targets{{small, 0.70, costs(se::metric::macs, small)},
                                            {small, 0.60, costs(se::metric::macs, small)},
                                            {large, 0.90, costs(se::metric::macs, large)}};
  targets[1].config.resolution = 28;  // another subnet, predicted worse than the first budget's
  const auto notes = se::never_worse_with_budget(targets, budgets, {}, costs);
  CHECK(notes[0].empty());
  CHECK(targets[1].accuracy == 0.70);
  CHECK(targets[1].config == small);
  CHECK_THAT(notes[1], Contains("found nothing better than under macs<=20M"));
  CHECK(notes[2].empty());  // better already: kept
  CHECK(targets[2].config == large);
}
