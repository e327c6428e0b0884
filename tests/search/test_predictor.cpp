// The accuracy predictor: Kendall's tau and RMSE against hand values, learning a synthetic
// target to within a fraction of a percent, save/load, and bad input.
#include <catch2/catch.hpp>

#include <algorithm>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <numeric>

#include <ofa/search/accuracy_predictor.hpp>
#include <ofa/search/label_noise.hpp>
#include <ofa/space/sampling.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>

namespace se = ofa::search;
using cifar = ofa::spaces::cifar;
using config = ofa::subnet_config<cifar>;
using Catch::Matchers::Contains;

TEST_CASE("rmse and Kendall's tau against hand values", "[search][predictor]") {
  const std::vector<double> a{1, 2, 3, 4}, b{1, 3, 2, 4}, c{4, 3, 2, 1};
  CHECK(se::kendall_tau(a, a) == 1.0);
  CHECK(se::kendall_tau(a, c) == -1.0);
  CHECK(se::kendall_tau(a, b) == Approx(4.0 / 6.0));  // 5 concordant pairs, 1 discordant
  CHECK(se::rmse(a, b) == Approx(std::sqrt(2.0 / 4.0)));
  CHECK_THROWS_AS(se::rmse(a, std::vector<double>{1.0}), ofa::logic_error);
}

TEST_CASE("the predictor learns a synthetic accuracy to a fraction of a percent", "[search][predictor]") {
  // Additive in the encoding, as accuracy nearly is: each block's kernel and expand ratio, and the resolution.
  auto target = [](const config& c) {
    double acc = 0.80 + 0.004 * (c.resolution - 28);
    for (std::size_t u = 0; u < cifar::unit_count; ++u)
      for (int i = 0; i < c.depth[u]; ++i) {
        const auto slot = std::size_t(cifar::unit_table[u].first_slot + i);
        acc += 0.0015 * (c.expand[slot] - 4) + 0.001 * (c.kernel[slot] == 5) + 0.001;
      }
    return acc;
  };
  ofa::rng engine(21);
  std::vector<config> train, test;
  std::vector<double> train_y, test_y;
  for (int i = 0; i < 600; ++i) train.push_back(ofa::sample_config<cifar>(engine)), train_y.push_back(target(train.back()));
  for (int i = 0; i < 150; ++i) test.push_back(ofa::sample_config<cifar>(engine)), test_y.push_back(target(test.back()));
  se::accuracy_predictor<cifar> p(64, 3, 1);
  se::predictor_fit_options o;
  o.epochs = 150;
  o.batch_size = 64;
  const double fit_rmse = p.fit(train, train_y, o);
  const auto predicted = p.predict(test);
  INFO("train RMSE " << fit_rmse << ", test RMSE " << se::rmse(predicted, test_y));
  CHECK(se::rmse(predicted, test_y) < 0.004);
  CHECK(se::kendall_tau(predicted, test_y) > 0.85);
  CHECK(p.base_accuracy() == Approx(std::accumulate(train_y.begin(), train_y.end(), 0.0) / 600));

  // What it was fitted on: its labels' range, and the held-out error the caller measured.
  CHECK(p.domain().samples == 600);
  CHECK(p.domain().lowest == *std::min_element(train_y.begin(), train_y.end()));
  CHECK(p.domain().highest == *std::max_element(train_y.begin(), train_y.end()));
  CHECK(p.domain().extrapolates(p.domain().highest + 0.01));
  CHECK_FALSE(p.domain().extrapolates(0.5 * (p.domain().lowest + p.domain().highest)));
  // The search's fitness: a point above the best label counts as a point below it.
  CHECK(p.domain().penalised(p.domain().highest + 0.01) == Approx(p.domain().highest - 0.01));
  CHECK(p.domain().penalised(p.domain().lowest) == p.domain().lowest);
  p.set_held_out_rmse(se::rmse(predicted, test_y));

  const auto path = (std::filesystem::temp_directory_path() / "ofa_test_predictor.ofa").string();
  p.save(path);
  const auto loaded = se::accuracy_predictor<cifar>::load(path);
  CHECK(loaded.predict(test) == predicted);
  CHECK(loaded.hidden() == 64);
  CHECK(loaded.layers() == 3);
  CHECK(loaded.domain().samples == 600);
  CHECK(loaded.domain().highest == p.domain().highest);
  CHECK(loaded.domain().held_out_rmse == se::rmse(predicted, test_y));
  // A predictor without a record (imported, or fitted before) extrapolates nowhere: unknown.
  CHECK_FALSE(se::accuracy_predictor<cifar>(8, 1).domain().extrapolates(2.0));
  CHECK_THROWS_AS(se::accuracy_predictor<ofa::spaces::mobilenet_v3>::load(path), ofa::io_error);
  std::filesystem::remove(path);
}

TEST_CASE("an ensemble predicts its members' mean and their spread, and survives a file", "[search][predictor]") {
  auto target = [](const config& c) {
    double acc = 0.80 + 0.004 * (c.resolution - 28);
    for (std::size_t u = 0; u < cifar::unit_count; ++u) acc += 0.003 * c.depth[u] + 0.001 * c.expand[u];
    return acc;
  };
  ofa::rng engine(31);
  std::vector<config> train, fresh;
  std::vector<double> train_y;
  for (int i = 0; i < 40; ++i)
    train.push_back(ofa::sample_config<cifar>(engine)), train_y.push_back(target(train.back()));
  for (int i = 0; i < 200; ++i) fresh.push_back(ofa::sample_config<cifar>(engine));
  se::accuracy_predictor<cifar> p(32, 2, 3);
  se::predictor_fit_options o;
  o.epochs = 100;
  o.batch_size = 16;
  o.ensemble = 4;
  p.fit(train, train_y, o);
  REQUIRE(p.ensemble_size() == 4);
  const auto on_data = p.predict_with_spread(train), away = p.predict_with_spread(fresh);
  CHECK(p.predict(fresh) == away.top1);
  const auto mean = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  };
  // The members differ (by their initialisation and resample). How far apart says little about how
  // far a prediction misses where the labels are noisy (docs/search.md); this checks the mechanics.
  CHECK(mean(on_data.spread) > 0);
  CHECK(mean(away.spread) > 0);
  CHECK(mean(away.spread) < 0.05);
  // The first member alone is what a single fit from the same seed gives; the mean is the members'.
  se::accuracy_predictor<cifar> single(32, 2, 3);
  o.ensemble = 1;
  single.fit(train, train_y, o);
  CHECK(single.ensemble_size() == 1);
  CHECK(single.predict_with_spread(fresh).spread == std::vector<double>(fresh.size(), 0.0));
  CHECK(away.top1 != single.predict(fresh));

  // Saved and loaded: the same means and spreads. A file claiming more members than it holds is refused.
  const auto path = (std::filesystem::temp_directory_path() / "ofa_test_ensemble.ofa").string();
  p.save(path);
  const auto loaded = se::accuracy_predictor<cifar>::load(path);
  CHECK(loaded.ensemble_size() == 4);
  const auto again = loaded.predict_with_spread(fresh);
  CHECK(again.top1 == away.top1);
  CHECK(again.spread == away.spread);
  std::filesystem::remove(path);
  o.ensemble = 0;
  CHECK_THROWS_WITH(p.fit(train, train_y, o), Contains("ensemble must be at least 1"));
}

TEST_CASE("the predictor refuses bad training data", "[search][predictor]") {
  se::accuracy_predictor<cifar> p(16, 1);
  const std::vector<config> two{config::max(), config::min()};
  CHECK_THROWS_WITH(p.fit(two, std::vector<double>{91.0, 80.0}), Contains("not a fraction"));
  CHECK_THROWS_AS(p.fit(two, std::vector<double>{0.9}), ofa::config_error);
  CHECK_THROWS_AS(se::accuracy_predictor<cifar>(0, 3), ofa::config_error);
  CHECK_THROWS_AS(se::accuracy_predictor<cifar>::load("/nonexistent/predictor.ofa"), ofa::io_error);
}

TEST_CASE("label noise: the binomial error of the labels and what a perfect predictor scores", "[search][predictor]") {
  // Four labels 0.70, 0.72, 0.74, 0.76, each on 2,100 images.
  std::vector<se::accuracy_record<cifar>> records(4);
  for (int i = 0; i < 4; ++i) {
    records[i].top1 = 0.70 + 0.02 * i;
    records[i].images = 2100;
  }
  const auto n = se::measure_label_noise<cifar>(records);
  const double spread = std::sqrt((0.03 * 0.03 + 0.01 * 0.01) * 2 / 3);  // sd of the four, n − 1
  double noise = 0;
  for (const auto& r : records) noise += r.top1 * (1 - r.top1) / 2100;
  noise = std::sqrt(noise / 4);  // ≈ 0.0097
  CHECK(n.spread == Approx(spread));
  CHECK(n.noise == Approx(noise));
  CHECK(n.best_rmse == n.noise);
  CHECK(n.true_spread == Approx(std::sqrt(spread * spread - noise * noise)));
  CHECK(n.best_tau == Approx(2 / std::numbers::pi * std::asin(n.true_spread / spread)));
  CHECK_FALSE(n.mostly_noise());
  // The same labels measured on 100 images each: the noise (≈ 4.4%) swamps the 2.6% spread.
  for (auto& r : records) r.images = 100;
  const auto noisy = se::measure_label_noise<cifar>(records);
  CHECK(noisy.true_spread == 0);
  CHECK(noisy.best_tau == 0);
  CHECK(noisy.mostly_noise());
  CHECK(noisy.split_half_noise < 0);  // no halves recorded
}

TEST_CASE("label noise from split halves: what all subnets share does not count", "[search][predictor]") {
  // Four labels on 100 images each (binomial error ≈ 4.4%), measured on two halves. The odd half
  // is 3 points harder for every subnet (shared); beyond that the halves differ by ±0.4 points.
  std::vector<se::accuracy_record<cifar>> records(4);
  const double own[4] = {0.002, -0.002, 0.002, -0.002};  // half 0 − half 1, less the shared 0.03
  for (int i = 0; i < 4; ++i) {
    records[i].top1 = 0.70 + 0.02 * i;
    records[i].images = 100;
    records[i].half_top1 = {records[i].top1 + 0.015 + own[i] / 2, records[i].top1 - 0.015 - own[i] / 2};
  }
  const auto n = se::measure_label_noise<cifar>(records);
  const double sd_own = std::sqrt(4 * 0.002 * 0.002 / 3);  // sd of the differences, n − 1
  CHECK(n.split_half_noise == Approx(sd_own / 2));
  CHECK(n.error() == n.split_half_noise);
  CHECK(n.best_rmse == Approx(sd_own / 2));
  CHECK(n.true_spread == Approx(std::sqrt(n.spread * n.spread - sd_own * sd_own / 4)));
  CHECK(n.best_tau > 0.9);  // where the binomial error would have called these labels mostly noise
  CHECK_FALSE(n.mostly_noise());
}
