// Layer tables: the distinct layers of a space, MACs and parameters summed over them against
// profile_subnet, the exact lower bound, and constraint parsing.
#include <catch2/catch.hpp>

#include <set>

#include <ofa/search/constraint.hpp>
#include <ofa/space/sampling.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>

namespace se = ofa::search;
using cifar = ofa::spaces::cifar;
using mbv3 = ofa::spaces::mobilenet_v3;
using Catch::Matchers::Contains;

TEMPLATE_TEST_CASE("a layer table's sum is profile_subnet's total", "[search][costs]", cifar, mbv3) {
  const auto macs = se::macs_table<TestType>();
  const auto params = se::params_table<TestType>();
  ofa::rng engine(11);
  for (int i = 0; i < 300; ++i) {
    const auto c = ofa::sample_config<TestType>(engine);
    const auto p = ofa::profile_subnet(c);
    REQUIRE(macs(c) == double(p.macs));
    REQUIRE(params(c) == double(p.params));
  }
  for (const auto& c : {ofa::subnet_config<TestType>::max(), ofa::subnet_config<TestType>::min()}) {
    CHECK(macs(c) == double(ofa::profile_subnet(c).macs));
    CHECK(params(c) == double(ofa::profile_subnet(c).params));
  }
}

TEST_CASE("the distinct layers of the CIFAR space have unique keys", "[search][costs]") {
  const se::layer_space<cifar> layers;
  // per resolution: stem, first block, head + 5 units x 2 positions x 3 kernels x 3 expands
  CHECK(layers.size() == 3 * (3 + 5 * 2 * 9));
  std::set<std::string> keys;
  for (std::size_t l = 0; l < layers.size(); ++l) keys.insert(layers.key(l).to_string());
  CHECK(keys.size() == layers.size());
  CHECK(layers.key(layers.block(2, 1, true, 1, 2)).to_string() == "mbconv-16x16x24-40-e6-k5-s2-se-relu@32");
  // A subnet runs the stem, the first block, one layer per active block and the head.
  auto c = ofa::subnet_config<cifar>::min();
  std::vector<std::size_t> seen;
  layers.for_each_layer(c, [&](std::size_t l) { seen.push_back(l); });
  CHECK(seen.size() == 3 + 5 * 2);
  CHECK(seen.front() == layers.stem(0));
  CHECK(seen.back() == layers.head(0));
}

TEST_CASE("the lower bound is the cheapest subnet's cost", "[search][costs]") {
  const se::cost_models<cifar> costs;
  const auto min = ofa::subnet_config<cifar>::min();
  CHECK(costs.lower_bound(se::metric::macs) == costs(se::metric::macs, min));
  CHECK(costs.lower_bound(se::metric::params) == costs(se::metric::params, min));
  ofa::rng engine(2);
  for (int i = 0; i < 500; ++i) {
    const auto c = ofa::sample_config<cifar>(engine);
    REQUIRE(costs(se::metric::macs, c) >= costs.lower_bound(se::metric::macs));
  }
  CHECK_THROWS_WITH(costs.check_feasible({se::constraint::parse("macs<=1M")}),
                    Contains("no subnet of the space meets 'macs<=1M'") && Contains("the cheapest has"));
  CHECK_NOTHROW(costs.check_feasible({se::constraint::parse("macs<=40M")}));
  CHECK_THROWS_WITH(costs.table(se::metric::latency), Contains("ofa latency-table"));
}

TEST_CASE("constraints parse with units and refuse nonsense", "[search][costs]") {
  auto c = se::constraint::parse("macs<=40M");
  CHECK(c.what == se::metric::macs);
  CHECK(c.limit == 40e6);
  CHECK(c.to_string() == "macs<=40M");
  c = se::constraint::parse(" latency <= 500us ");
  CHECK(c.what == se::metric::latency);
  CHECK(c.limit == Approx(0.5));
  CHECK(se::constraint::parse("params<=2.5M").limit == 2.5e6);
  CHECK(se::constraint::parse("latency<=5ms").to_string() == "latency<=5ms");
  CHECK_THROWS_AS(se::constraint::parse("macs<40M"), ofa::config_error);
  CHECK_THROWS_WITH(se::constraint::parse("speed<=3"), Contains("not macs, params or latency"));
  CHECK_THROWS_WITH(se::constraint::parse("macs<=-3M"), Contains("no positive limit"));
  CHECK_THROWS_WITH(se::constraint::parse("macs<=3X"), Contains("unit 'X'"));
  CHECK_THROWS_WITH(se::constraint::parse("latency<=3M"), Contains("latency unit 'M'"));
}
