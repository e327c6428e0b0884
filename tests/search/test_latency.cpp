// The latency table: every reachable layer measured, a subnet's prediction equal to the sum of
// its layers, the JSON round trip, and tables of another space or machine noticed.
#include <catch2/catch.hpp>

#include <ofa/search/latency_table.hpp>
#include <ofa/space/sampling.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>

namespace se = ofa::search;
using cifar = ofa::spaces::cifar;
using Catch::Matchers::Contains;

namespace {
const se::latency_table<cifar>& quick_table() {
  static const auto t = [] {
    se::latency_options o;
    o.repeats = 3;
    o.networks = 20;  // and one network more for each layer those 20 miss
    o.warmup = 1;
    o.threads = 1;
    return se::measure_latency_table<cifar>(o);
  }();
  return t;
}
}  // namespace

TEST_CASE("every reachable layer is measured", "[search][latency]") {
  const auto& t = quick_table();
  REQUIRE(t.entries.size() == t.table.layers.size());
  for (std::size_t l = 0; l < t.entries.size(); ++l) {
    INFO(t.table.layers.key(l).to_string());
    REQUIRE(t.entries[l].count >= 3);
    REQUIRE(t.entries[l].median > 0);
    REQUIRE(t.entries[l].mean > 0);
    REQUIRE(t.table.values[l] == t.entries[l].median);
  }
  CHECK(t.threads == 1);
  CHECK(t.batch == 1);
  CHECK_FALSE(t.cpu.empty());
  // Larger layers take longer: the widest block against the narrowest at the same place.
  const auto& layers = t.table.layers;
  CHECK(t.entries[layers.block(2, 0, false, 2, 2)].median > t.entries[layers.block(0, 0, false, 0, 0)].median);
}

TEST_CASE("a subnet's predicted latency is the sum of its layers and the overhead", "[search][latency]") {
  const auto& t = quick_table();
  ofa::rng engine(4);
  for (int i = 0; i < 50; ++i) {
    const auto c = ofa::sample_config<cifar>(engine);
    double sum = t.table.overhead;
    t.table.layers.for_each_layer(c, [&](std::size_t l) { sum += t.entries[l].median; });
    REQUIRE(t(c) == sum);
  }
}

TEST_CASE("a latency table survives JSON and refuses another space", "[search][latency]") {
  const auto& t = quick_table();
  const auto back = se::latency_table<cifar>::from_json(t.to_json(), "test");
  ofa::rng engine(5);
  for (int i = 0; i < 20; ++i) {
    const auto c = ofa::sample_config<cifar>(engine);
    REQUIRE(back(c) == t(c));
  }
  CHECK(back.cpu == t.cpu);
  CHECK(t.mismatch(1, 1).empty());
  CHECK_THAT(t.mismatch(2, 1), Contains("1 threads, this run uses 2"));
  CHECK_THROWS_WITH(se::latency_table<ofa::spaces::mobilenet_v3>::from_json(t.to_json(), "x.json"),
                    Contains("another space"));
  auto broken = t.to_json();
  broken["layers"].erase(broken["layers"].begin());
  CHECK_THROWS_WITH(se::latency_table<cifar>::from_json(broken, "x.json"), Contains("is missing"));
  broken = t.to_json();
  broken.erase("overhead_ms");
  CHECK_THROWS_WITH(se::latency_table<cifar>::from_json(broken, "x.json"), Contains("malformed"));
  CHECK_THROWS_AS(se::latency_table<cifar>::load("/nonexistent/table.json"), ofa::io_error);
}
