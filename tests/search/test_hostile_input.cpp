// Files of the search that lie or hold garbage (the reliability probe's findings): each is
// refused with the file named, before any allocation the size of a lying header.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include <ofa/io/checkpoint.hpp>
#include <ofa/search/accuracy_dataset.hpp>
#include <ofa/search/accuracy_predictor.hpp>
#include <ofa/search/latency_table.hpp>
#include <ofa/space/config_json.hpp>
#include <ofa/space/sampling.hpp>

#include "../small_space.hpp"

namespace se = ofa::search;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using test::small_space;

namespace {
std::string temp(const std::string& name) { return (fs::temp_directory_path() / ("ofa_test_hostile_" + name)).string(); }

/// Rewrites the predictor file at `path` with `edit` applied to its metadata and tensors.
template <class Edit>
void rewrite_predictor(const std::string& path, Edit edit) {
  auto c = ofa::io::load_checkpoint(path, ofa::io::checkpoint_kind::predictor, small_space::signature());
  auto meta = nlohmann::json::parse(c.metadata);
  edit(meta, c.tensors);
  std::vector<std::pair<std::string, const ofa::tensor<float>*>> tensors;
  for (const auto& [name, t] : c.tensors) tensors.emplace_back(name, &t);
  ofa::io::save_checkpoint(path, ofa::io::checkpoint_kind::predictor, small_space::signature(), meta.dump(), tensors);
}
}  // namespace

TEST_CASE("a predictor whose metadata lies is refused before allocating", "[search][hostile]") {
  const auto path = temp("predictor.ofa");
  const se::accuracy_predictor<small_space> p(8, 2, 1);
  using tensors = std::map<std::string, ofa::tensor<float>>;
  const auto refused = [&](auto edit, const char* why) {
    p.save(path);
    rewrite_predictor(path, edit);
    CHECK_THROWS_WITH(se::accuracy_predictor<small_space>::load(path), Contains(path) && Contains(why));
  };
  refused([](nlohmann::json& m, tensors&) { m["hidden"] = 1 << 30; }, "does not match");
  refused([](nlohmann::json& m, tensors&) { m["layers"] = 1 << 30; }, "does not match");
  refused([](nlohmann::json& m, tensors&) { m["hidden"] = "400"; }, "no whole 'hidden'");
  refused([](nlohmann::json& m, tensors&) { m["base_accuracy"] = nullptr; }, "base_accuracy");
  refused([](nlohmann::json& m, tensors&) { m["base_accuracy"] = 1e300; }, "base_accuracy");
  refused([](nlohmann::json&, tensors& t) { t.at("layers.0.weight")(0, 0) = std::numeric_limits<float>::quiet_NaN(); },
          "NaN or infinite");
  // An ensemble's count and bases.
  refused([](nlohmann::json& m, tensors&) { m["ensemble"] = 3; }, "does not match");
  refused([](nlohmann::json& m, tensors&) { m["ensemble"] = 1 << 30; }, "is not 1 to 64");
  refused(
      [](nlohmann::json& m, tensors& t) {
        m["ensemble"] = 2;
        m["ensemble_bases"] = {2.5};
        for (const auto& name :
             {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight"})
          t.emplace(std::string("ensemble.1.") + name, t.at(name));
      },
      "ensemble_bases are not top-1 fractions");
  p.save(path);
  CHECK(se::accuracy_predictor<small_space>::load(path).hidden() == 8);  // the unedited file loads
  fs::remove(path);
}

TEST_CASE("a predictor fit that diverges is an error, not a NaN predictor", "[search][hostile]") {
  ofa::rng engine(3);
  std::vector<ofa::subnet_config<small_space>> configs;
  std::vector<double> top1;
  for (int i = 0; i < 32; ++i) configs.push_back(ofa::sample_config<small_space>(engine)), top1.push_back(0.5 + 0.01 * (i % 7));
  se::accuracy_predictor<small_space> p(8, 2, 1);
  se::predictor_fit_options o;
  o.epochs = 5;
  o.lr = 1e30;
  CHECK_THROWS_WITH(p.fit(configs, top1, o), Contains("diverged") && Contains("--lr"));
}

TEST_CASE("latency tables with negative or non-finite times are refused", "[search][hostile]") {
  // A hand-made table (every reachable layer 0.1 ms): what matters is what loading refuses.
  se::latency_table<small_space> t;
  t.entries.assign(t.table.layers.size(), {});
  for (auto& e : t.entries) e = {5, 0.1, 0.01, 0.1};
  t.table.overhead = 0.05;
  t.apply_scale();
  t.cpu = "test";
  const auto good = t.to_json();
  CHECK(se::latency_table<small_space>::from_json(good, "t.json").table.overhead == 0.05);
  auto bad = good;
  bad["layers"][0]["median_ms"] = -3.0;
  CHECK_THROWS_WITH(se::latency_table<small_space>::from_json(bad, "t.json"), Contains("negative"));
  bad = good;
  bad["overhead_ms"] = -1000.0;
  CHECK_THROWS_WITH(se::latency_table<small_space>::from_json(bad, "t.json"), Contains("smallest subnet"));
  bad = good;
  bad["overhead_ms"] = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(se::latency_table<small_space>::from_json(bad, "t.json"), Contains("overhead_ms"));
  bad = good;
  bad["batch"] = 0;
  CHECK_THROWS_WITH(se::latency_table<small_space>::from_json(bad, "t.json"), Contains("batch"));
}

TEST_CASE("an accuracy data set over another file is refused, never rewritten", "[search][hostile]") {
  const auto path = temp("config.json");
  {
    std::ofstream out(path);
    out << ofa::to_json(ofa::subnet_config<small_space>::max()).dump() << "\n";
  }
  CHECK_THROWS_WITH(se::load_accuracy_dataset<small_space>(path),
                    Contains("is not an accuracy data set") && Contains("another --out"));
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  CHECK(line.find("\"ks\"") != std::string::npos);  // untouched
  {
    std::ofstream out(path);
    out << R"({"index": 0, "config": )" << ofa::to_json(ofa::subnet_config<small_space>::max()).dump()
        << R"(, "top1": 7.5, "loss": 1.0, "images": 10, "seed": 0})" << "\n";
  }
  CHECK_THROWS_WITH(se::load_accuracy_dataset<small_space>(path), Contains("impossible"));
  {  // found by fuzzing: a count of 2.2e25 was cast to an integer (undefined behaviour)
    std::ofstream out(path);
    out << R"({"index": 0, "config": )" << ofa::to_json(ofa::subnet_config<small_space>::max()).dump()
        << R"(, "top1": 0.5, "loss": 1.0, "images": 2.2e25, "seed": 0})" << "\n";
  }
  CHECK_THROWS_WITH(se::load_accuracy_dataset<small_space>(path), Contains("\"images\" is not a whole number"));
  fs::remove(path);
}
