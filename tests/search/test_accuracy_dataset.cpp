// The accuracy data set: records appended as measured, subnet i drawn from (seed, i) alone, an
// interrupted build (even one cut mid-line) resumed to the same records, and bad files refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <ofa/data/synthetic.hpp>
#include <ofa/search/accuracy_dataset.hpp>

#include "../small_space.hpp"

namespace se = ofa::search;
namespace fs = std::filesystem;
using test::small_space;
using Catch::Matchers::Contains;

namespace {
struct fixture {
  ofa::nn::elastic_net<small_space> net{7};
  ofa::data::synthetic calibration{64, 1}, held_out{40, 2};
  se::accuracy_dataset_options options(std::size_t n) const {
    se::accuracy_dataset_options o;
    o.subnets = n;
    o.seed = 5;
    o.calibration_images = 32;
    o.batch_size = 16;
    return o;
  }
};
std::string fresh(const std::string& name) {
  const auto p = fs::temp_directory_path() / ("ofa_test_accds_" + name + ".jsonl");
  fs::remove(p);
  return p.string();
}
std::size_t line_count(const std::string& path) {
  std::ifstream f(path);
  std::size_t n = 0;
  for (std::string line; std::getline(f, line);) n += !line.empty();
  return n;
}
}  // namespace

TEST_CASE("an accuracy data set holds one measured record per subnet", "[search][dataset]") {
  fixture f;
  const auto path = fresh("basic");
  std::size_t reported = 0;
  const auto records = se::build_accuracy_dataset(f.net, f.calibration, f.held_out, path, f.options(6),
                                                  [&](const auto&, std::size_t done, std::size_t total) {
                                                    reported = done;
                                                    CHECK(total == 6);
                                                  });
  CHECK(reported == 6);
  REQUIRE(records.size() == 6);
  CHECK(line_count(path) == 6);
  std::set<int> resolutions;
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(records[i].index == i);
    CHECK(records[i].config == se::accuracy_dataset_config<small_space>(5, i));
    CHECK(records[i].images == 40);
    CHECK(records[i].top1 >= 0);
    CHECK(records[i].top1 <= 1);
    CHECK(std::isfinite(records[i].loss));
    // The halves: batches 0 and 2 (16 + 8 images) and batch 1 (16), which make up the whole.
    CHECK(records[i].half_top1[0] >= 0);
    CHECK(records[i].half_top1[0] * 24 + records[i].half_top1[1] * 16 == Approx(records[i].top1 * 40));
    resolutions.insert(records[i].config.resolution);
  }
  const auto loaded = se::load_accuracy_dataset<small_space>(path);
  REQUIRE(loaded.size() == 6);
  CHECK(loaded[3].half_top1 == records[3].half_top1);
  CHECK(resolutions.size() == 2);  // subnets are drawn at every resolution of the space
  // Measuring again gives the same numbers: recalibration and evaluation are deterministic.
  const auto again = se::measure_subnet(
      f.net, records[2].config,
      se::prepare_evaluation_images<small_space>(f.calibration, f.held_out, 32, 16, 5 ^ ofa::stream::calibration));
  CHECK(again.top1 == records[2].top1);
  CHECK(again.loss == records[2].loss);
  // Several at once (the search's re-ranking): each as measured alone, in the order given.
  std::vector<ofa::subnet_config<small_space>> configs{records[4].config, records[1].config, records[3].config};
  const auto several = se::measure_subnets(
      f.net, std::span<const ofa::subnet_config<small_space>>(configs),
      se::prepare_evaluation_images<small_space>(f.calibration, f.held_out, 32, 16, 5 ^ ofa::stream::calibration));
  REQUIRE(several.size() == 3);
  CHECK(several[0].top1 == records[4].top1);
  CHECK(several[1].top1 == records[1].top1);
  CHECK(several[2].loss == records[3].loss);
  fs::remove(path);
}

TEST_CASE("an interrupted accuracy data set resumes to the same records", "[search][dataset]") {
  fixture f;
  const auto whole_path = fresh("whole"), resumed_path = fresh("resumed");
  const auto whole = se::build_accuracy_dataset(f.net, f.calibration, f.held_out, whole_path, f.options(5));
  (void)se::build_accuracy_dataset(f.net, f.calibration, f.held_out, resumed_path, f.options(3));
  {  // a crash in the middle of writing a fourth line
    std::ofstream out(resumed_path, std::ios::app);
    out << R"({"index": 3, "config": {"ks": [3)";
  }
  std::size_t dropped = 0;
  CHECK(se::load_accuracy_dataset<small_space>(resumed_path, &dropped).size() == 3);
  CHECK(dropped == 1);
  std::size_t measured = 0;
  const auto resumed = se::build_accuracy_dataset(f.net, f.calibration, f.held_out, resumed_path, f.options(5),
                                                  [&](const auto&, std::size_t, std::size_t) { ++measured; });
  CHECK(measured == 2);
  REQUIRE(resumed.size() == whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    CHECK(resumed[i].config == whole[i].config);
    CHECK(resumed[i].top1 == whole[i].top1);
  }
  CHECK(line_count(resumed_path) == 5);

  auto other = f.options(6);
  other.seed = 9;
  CHECK_THROWS_WITH(se::build_accuracy_dataset(f.net, f.calibration, f.held_out, resumed_path, other),
                    Contains("was built with seed 5"));
  {  // damage in the middle of the file is not a crash's: refused, with the line
    std::ofstream out(resumed_path, std::ios::app);
    out << "not json\n" << se::to_json(whole[0]).dump() << "\n";
  }
  CHECK_THROWS_WITH(se::load_accuracy_dataset<small_space>(resumed_path), Contains("line 6"));
  fs::remove(whole_path);
  fs::remove(resumed_path);
}
