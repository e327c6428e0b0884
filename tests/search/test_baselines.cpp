// What a search is compared with and refined by, as library calls: the best of N random subnets
// under each budget (each budget its own sample of one shared stream, shared subnets measured
// once, an unreachable budget refused), and re-ranking finalists by measurement.
#include <catch2/catch.hpp>

#include <map>

#include <ofa/data/synthetic.hpp>
#include <ofa/search/random_baseline.hpp>
#include <ofa/search/rerank.hpp>
#include <ofa/spaces/cifar.hpp>

#include "../small_space.hpp"

namespace se = ofa::search;
using Catch::Matchers::Contains;
using ofa::spaces::cifar;

TEST_CASE("random baselines: each budget's own sample, shared subnets measured once", "[search][baseline]") {
  const se::cost_models<cifar> costs;
  const std::vector<se::constraint> budgets{se::constraint::parse("macs<=25M"), se::constraint::parse("macs<=40M")};
  std::map<std::string, int> measured;  // config → times measured
  const auto top1 = [&](const ofa::subnet_config<cifar>& c) {
    ++measured[ofa::to_json(c).dump()];
    return costs(se::metric::macs, c) / 1e8;  // a stand-in for top-1 that grows with the size
  };
  int calls = 0;
  const auto result = se::random_baselines<cifar>(costs, budgets, {}, 12, 3, {28, 32}, top1,
                                                  [&](int done, std::size_t) { CHECK(done == ++calls); });
  REQUIRE(result.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    CHECK(result[k].top1.size() == 12);
    CHECK(result[k].best_top1 == *std::max_element(result[k].top1.begin(), result[k].top1.end()));
    CHECK(costs(se::metric::macs, result[k].best) <= budgets[k].limit);
    CHECK(result[k].best_top1 == Approx(costs(se::metric::macs, result[k].best) / 1e8));
    CHECK((result[k].best.resolution == 28 || result[k].best.resolution == 32));
  }
  for (const auto& [config, times] : measured) CHECK(times == 1);
  CHECK(calls == int(measured.size()));
  CHECK(calls <= 24);  // a subnet under 25M drawn early is in both samples, and measured once
  // the same seed, the same samples
  const auto again = se::random_baselines<cifar>(costs, budgets, {}, 12, 3, {28, 32}, top1, [](int, std::size_t) {});
  CHECK(again[0].best == result[0].best);
  CHECK(again[1].top1 == result[1].top1);
}

TEST_CASE("random baselines refuse a budget random subnets do not reach", "[search][baseline]") {
  const se::cost_models<cifar> costs;
  const auto measure = [](const ofa::subnet_config<cifar>&) { return 0.5; };
  CHECK_THROWS_WITH(se::random_baselines<cifar>(
                        costs, {se::constraint::parse("macs<=1M")}, {}, 3, 1, {}, measure, [](int, std::size_t) {}, 50),
                    Contains("meet the budget macs<=1M") && Contains("loosen it"));
}

TEST_CASE("re-ranking measures the first k finalists and picks the best measured", "[search][rerank]") {
  using test::small_space;
  ofa::nn::elastic_net<small_space> net(7);
  ofa::data::synthetic calibration{64, 1}, held_out{40, 2};
  const auto images = se::prepare_evaluation_images<small_space>(calibration, held_out, 32, 16, 5);
  ofa::rng engine(4);
  std::vector<se::candidate<small_space>> finalists;
  for (int i = 0; i < 6; ++i) finalists.push_back({ofa::sample_config<small_space>(engine), 0.9 - 0.01 * i});
  const auto r = se::rerank(net, std::span<const se::candidate<small_space>>(finalists), 4, images);
  REQUIRE(r.finalists.size() == 4);
  REQUIRE(r.measured.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(r.finalists[i].config == finalists[i].config);
    CHECK(r.measured[i].top1 <= r.measured[r.best].top1);
  }
  // each measurement is the accuracy data set's measurement of that subnet
  const auto alone = se::measure_subnet(net, finalists[r.best].config, images);
  CHECK(alone.top1 == r.measured[r.best].top1);
  CHECK_THROWS_AS(se::rerank(net, std::span<const se::candidate<small_space>>(), 3, images), ofa::logic_error);
}
