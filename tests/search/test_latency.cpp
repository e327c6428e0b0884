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
/// The quick table with the plain model (every layer its median times the scale): on a busy
/// machine the measurement may choose per-resolution fits or a per-MAC term, which the tests of
/// the table's plumbing below do not want.
const se::latency_table<cifar>& plain_table() {
  static const auto t = [] {
    auto p = quick_table();
    p.resolution_fits.clear();
    p.per_mac_ms = 0;
    p.apply_scale();
    return p;
  }();
  return t;
}
}  // namespace

TEST_CASE("every reachable layer is measured", "[search][latency]") {
  const auto& t = plain_table();
  REQUIRE(t.entries.size() == t.table.layers.size());
  for (std::size_t l = 0; l < t.entries.size(); ++l) {
    INFO(t.table.layers.key(l).to_string());
    REQUIRE(t.entries[l].count >= 3);
    REQUIRE(t.entries[l].median > 0);
    REQUIRE(t.entries[l].mean > 0);
    REQUIRE(t.table.values[l] == t.scale * t.entries[l].median);
  }
  CHECK(t.threads == 1);
  CHECK(t.batch == 1);
  CHECK_FALSE(t.cpu.empty());
  // Larger layers take longer: the widest block against the narrowest at the same place.
  const auto& layers = t.table.layers;
  CHECK(t.entries[layers.block(2, 0, false, 2, 2)].median > t.entries[layers.block(0, 0, false, 0, 0)].median);
}

TEST_CASE("a subnet's predicted latency is the sum of its layers and the overhead", "[search][latency]") {
  const auto& t = plain_table();
  ofa::rng engine(4);
  for (int i = 0; i < 50; ++i) {
    const auto c = ofa::sample_config<cifar>(engine);
    double sum = t.table.overhead;
    t.table.layers.for_each_layer(c, [&](std::size_t l) { sum += t.scale * t.entries[l].median; });
    REQUIRE(t(c) == sum);
  }
}

TEST_CASE("the whole-network fit recovers a scale and an offset and ignores a burst", "[search][latency]") {
  std::vector<double> sum, whole;
  for (int i = 0; i < 40; ++i) {
    sum.push_back(0.5 + 0.05 * i);
    whole.push_back(1.3 * sum.back() - 0.2);
  }
  whole[7] *= 2;  // one network timed while something else ran
  const auto f = se::detail::fit_whole_to_sum(sum, whole);
  CHECK(f.scale == Approx(1.3).epsilon(1e-9));
  CHECK(f.offset == Approx(-0.2).margin(1e-9));
  CHECK(f.error == Approx(std::sqrt(0.25 / 40)).epsilon(1e-6));  // the burst's 50% miss, over 40 networks
  // Every network of one size: only a shift can be fitted.
  const auto shift = se::detail::fit_whole_to_sum({1.0, 1.0, 1.0}, {1.2, 1.2, 1.2});
  CHECK(shift.scale == 1);
  CHECK(shift.offset == Approx(0.2));
  // The measured table's fit is a sane one.
  const auto& t = quick_table();
  CHECK(t.scale > 0.3);
  CHECK(t.scale < 3);
}

TEST_CASE("the table keeps the fit only where it predicts held-out networks better", "[search][latency]") {
  // Whole networks 1.3x their layer sums: the fit wins on the held-out half and is kept.
  std::vector<double> sum, whole;
  for (int i = 0; i < 40; ++i) {
    sum.push_back(0.5 + 0.05 * i);
    whole.push_back(1.3 * sum.back() - 0.2);
  }
  const auto scaled = se::detail::whole_network_model(sum, whole);
  CHECK(scaled.held_out_fit < scaled.held_out_sum);
  CHECK(scaled.scale == Approx(1.3));
  CHECK(scaled.offset == Approx(-0.2));
  CHECK(scaled.error == Approx(0).margin(1e-9));
  // Whole networks are their layer sums plus 0.1 ms, but every third large one ran beside other
  // work (25% slower): the fit tilts towards those, the median shift ignores them.
  std::vector<double> noisy_whole;
  for (int i = 0; i < 40; ++i) noisy_whole.push_back((sum[i] + 0.1) * (i >= 20 && i % 3 == 0 ? 1.25 : 1.0));
  const auto plain = se::detail::whole_network_model(sum, noisy_whole);
  CHECK(plain.held_out_sum < plain.held_out_fit);
  CHECK(plain.scale == 1);
  CHECK(plain.offset == Approx(0.1));
  CHECK(se::detail::fit_whole_to_sum(sum, noisy_whole).scale > 1.05);  // what keeping the fit would have done
  // Too few networks to hold any out: the shift alone.
  const auto one = se::detail::whole_network_model({1.0}, {1.5});
  CHECK(one.scale == 1);
  CHECK(one.offset == Approx(0.5));
}

TEST_CASE("a fit per resolution is kept where resolutions follow different lines", "[search][latency]") {
  // At 24 whole networks are 1.3x their sums - 0.1 ms, at 32 their sums + 0.2 ms: no single line
  // holds both, one per resolution holds each exactly.
  std::vector<double> sum, whole;
  std::vector<int> resolution;
  for (int i = 0; i < 40; ++i) {
    const bool small = i % 4 < 2;  // both folds see both resolutions
    sum.push_back(0.5 + 0.05 * i);
    whole.push_back(small ? 1.3 * sum.back() - 0.1 : sum.back() + 0.2);
    resolution.push_back(small ? 24 : 32);
  }
  const auto m = se::detail::whole_network_model(sum, whole, resolution);
  CHECK(m.held_out_per_resolution < std::min(m.held_out_sum, m.held_out_fit));
  REQUIRE(m.by_resolution.size() == 2);
  CHECK(m.by_resolution[0].first == 24);
  CHECK(m.by_resolution[0].second.scale == Approx(1.3));
  CHECK(m.by_resolution[0].second.offset == Approx(-0.1));
  CHECK(m.by_resolution[1].first == 32);
  CHECK(m.by_resolution[1].second.scale == Approx(1.0));
  CHECK(m.by_resolution[1].second.offset == Approx(0.2));
  CHECK(m.error == Approx(0).margin(1e-9));
  // One line for both: the pooled fit is as good held out, and is kept (fewer parameters).
  std::vector<double> one_line;
  for (double x : sum) one_line.push_back(1.3 * x - 0.1);
  const auto pooled = se::detail::whole_network_model(sum, one_line, resolution);
  CHECK(pooled.by_resolution.empty());
  CHECK(pooled.scale == Approx(1.3));
  // One resolution: no third candidate.
  const auto single = se::detail::whole_network_model(sum, whole, std::vector<int>(sum.size(), 32));
  CHECK(single.by_resolution.empty());
  CHECK(single.held_out_per_resolution == 0);
}

TEST_CASE("a table's per-resolution fits scale its layers and put the offset on the head", "[search][latency]") {
  const auto& t = plain_table();
  auto fitted = t;
  fitted.resolution_fits = {{24, 2.0, 0.5}, {28, 1.0, 0.0}, {32, 1.0, 0.0}};
  fitted.apply_scale();
  ofa::rng engine(11);
  for (int i = 0; i < 10; ++i) {
    const auto c = ofa::sample_config<cifar>(engine);
    const double plain = t(c), expected = c.resolution == 24
                                              ? t.table.overhead + 2 * (plain - t.table.overhead) + t.scale * 0.5
                                              : plain;
    CHECK(fitted(c) == Approx(expected).epsilon(1e-12));
  }
  // It survives JSON; a fit for a resolution the table does not cover, or fits for some
  // resolutions only, are refused.
  const auto back = se::latency_table<cifar>::from_json(fitted.to_json(), "fitted.json");
  const auto c = ofa::subnet_config<cifar>::max().with_resolution(24);
  CHECK(back(c) == fitted(c));
  CHECK(back.model_name() == "scale-and-offset fit per resolution");
  auto j = fitted.to_json();
  j["resolution_fits"][0]["resolution"] = 30;
  CHECK_THROWS_WITH(se::latency_table<cifar>::from_json(j, "bad.json"), Contains("does not cover"));
  j = fitted.to_json();
  j["resolution_fits"].erase(1);
  CHECK_THROWS_WITH(se::latency_table<cifar>::from_json(j, "bad.json"), Contains("some resolutions only"));
  j = fitted.to_json();
  j["resolution_fits"][0]["offset_ms"] = -1e6;
  CHECK_THROWS_WITH(se::latency_table<cifar>::from_json(j, "bad.json"), Contains("smallest subnet at 24"));
}

TEST_CASE("a latency table survives JSON and refuses another space", "[search][latency]") {
  const auto& t = plain_table();
  const auto back = se::latency_table<cifar>::from_json(t.to_json(), "test");
  ofa::rng engine(5);
  for (int i = 0; i < 20; ++i) {
    const auto c = ofa::sample_config<cifar>(engine);
    REQUIRE(back(c) == t(c));
  }
  CHECK(back.cpu == t.cpu);
  CHECK(back.scale == t.scale);
  CHECK(back.held_out_sum == t.held_out_sum);
  CHECK(back.held_out_fit == t.held_out_fit);
  // A table written before the whole-network fit has no scale: its medians sum as they are.
  auto old = t.to_json();
  old.erase("scale");
  const auto unscaled = se::latency_table<cifar>::from_json(old, "old.json");
  CHECK(unscaled.scale == 1);
  CHECK(unscaled.table.values[unscaled.table.layers.stem(0)] == t.entries[t.table.layers.stem(0)].median);
  old["scale"] = -1;
  CHECK_THROWS_WITH(se::latency_table<cifar>::from_json(old, "old.json"), Contains("scale is not a positive number"));
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

TEST_CASE("checking a table times every subnet in every pass and compares with the table", "[search][latency]") {
  const auto& t = quick_table();
  se::latency_check_options o;
  o.subnets = 3;
  o.rounds = 4;
  o.repeats = 1;
  o.warmup = 0;
  int passes = 0;
  const auto check = se::check_latency_table(t, o, [&](int done, int total) {
    CHECK(total == 4);
    passes = done;
  });
  CHECK(passes == 4);
  REQUIRE(check.configs.size() == 3);
  int within = 0, repeatable = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(check.predicted[i] == t(check.configs[i]));
    REQUIRE(check.measured[i] > 0);
    // The median of all four runs lies between the medians of the two halves (two runs each).
    CHECK(check.measured[i] >= std::min(check.first_half[i], check.second_half[i]) - 1e-12);
    CHECK(check.measured[i] <= std::max(check.first_half[i], check.second_half[i]) + 1e-12);
    within += std::abs(check.predicted[i] - check.measured[i]) / check.measured[i] <= 0.10;
    repeatable += std::abs(check.first_half[i] - check.second_half[i]) /
                      (0.5 * (check.first_half[i] + check.second_half[i])) <= 0.10;
  }
  CHECK(check.within == within);
  CHECK(check.repeatable == repeatable);
  CHECK(check.tau == se::kendall_tau(check.predicted, check.measured));
  CHECK(check.halves_tau == se::kendall_tau(check.first_half, check.second_half));
  CHECK(check.worst_error >= check.median_error);
  o.rounds = 1;
  CHECK_THROWS_WITH(se::check_latency_table(t, o), Contains("rounds at least 2"));
}

TEST_CASE("a table of some resolutions covers only those, and searches stay there", "[search][latency]") {
  se::latency_options o;
  o.repeats = 2;
  o.networks = 5;
  o.warmup = 0;
  o.resolutions = {32};
  const auto t = se::measure_latency_table<cifar>(o);
  REQUIRE(t.resolutions == std::vector<int>{32});
  CHECK_FALSE(t.covers_space());
  const auto& layers = t.table.layers;
  // Every reachable layer at 32 measured, none at 24 or 28 (resolution index 2 is 32).
  for (std::size_t l = 0; l < layers.size(); ++l) {
    INFO(layers.key(l).to_string());
    if (layers.key(l).resolution == 32)
      CHECK((t.entries[l].count > 0 || !layers.reachable(l)));
    else
      CHECK(t.entries[l].count == 0);
  }
  auto c = ofa::subnet_config<cifar>::max();
  CHECK(t(c) > 0);
  c.resolution = 24;
  CHECK_THROWS_WITH(t(c), Contains("measured at resolution 32 only, not at 24"));
  // The JSON keeps the list; the missing-layer check applies at 32 only.
  const auto back = se::latency_table<cifar>::from_json(t.to_json(), "t32.json");
  CHECK(back.resolutions == t.resolutions);
  auto bad = t.to_json();
  bad["resolutions"] = {33};
  CHECK_THROWS_WITH(se::latency_table<cifar>::from_json(bad, "t.json"), Contains("resolution 33 is not one"));
  // A table written before subsets covers the space.
  auto old = quick_table().to_json();
  old.erase("resolutions");
  CHECK(se::latency_table<cifar>::from_json(old, "old.json").covers_space());
  o.resolutions = {30};
  CHECK_THROWS_WITH(se::measure_latency_table<cifar>(o), Contains("resolution 30 is not one of the space's"));
  // Its check samples subnets at 32 only.
  se::latency_check_options co;
  co.subnets = 4;
  co.rounds = 2;
  co.repeats = 1;
  co.warmup = 0;
  for (const auto& checked : se::check_latency_table(t, co).configs) CHECK(checked.resolution == 32);
}

TEST_CASE("a table carried to another batch size from ten whole networks predicts there", "[search][latency]") {
  const auto& t = quick_table();  // batch 1, 1 thread
  se::latency_adapt_options o;
  o.batch = 4;
  o.networks = 10;
  o.repeats = 3;
  o.warmup = 1;
  const auto adapted = se::adapt_latency_table(t, o);
  CHECK(adapted.batch == 4);
  CHECK(adapted.adapted_from.batch == 1);
  CHECK(adapted.adapted_from.cpu == t.cpu);
  CHECK(adapted.adapted_from.networks == 10);
  // Four images a pass cost well over one: the batch-1 table underestimates, the adapted one follows.
  ofa::rng engine(9);
  const ofa::parallel::arena one_thread(1);  // as the tables were measured
  double miss_before = 0, miss_after = 0;
  for (int i = 0; i < 4; ++i) {
    const auto c = ofa::sample_config<cifar>(engine);
    const double measured = se::measure_latency(se::random_static_net(c, 70 + i), 4, 5, 1);
    miss_before += std::abs(t(c) - measured) / measured;
    miss_after += std::abs(adapted(c) - measured) / measured;
  }
  INFO("mean relative miss: batch-1 table " << miss_before / 4 << ", adapted " << miss_after / 4);
  CHECK(miss_after < miss_before);
  // Its MAC term may carry the growth instead of its scale (a sanitizer build times layers apart
  // from whole networks), so compare predictions, not one coefficient.
  const auto largest = ofa::subnet_config<cifar>::max().with_resolution(t.resolutions.back());
  CHECK(adapted(largest) > 1.5 * t(largest));
  // The origin survives the file.
  const auto back = se::latency_table<cifar>::from_json(adapted.to_json(), "adapted.json");
  CHECK(back.adapted_from.batch == 1);
  CHECK(back.adapted_from.fit_error == adapted.adapted_from.fit_error);
  o.networks = 1;
  CHECK_THROWS_WITH(se::adapt_latency_table(t, o), Contains("networks must be at least 2"));
}
