// Inputs a hostile or careless user gave the trainer, each once a crash, a hang or a silent bad
// result (the reliability probe's findings): now a typed error that names the fix.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <tuple>

#include <ofa/data/synthetic.hpp>
#include <ofa/train/evaluation.hpp>
#include <ofa/train/trainer.hpp>

#include "../small_space.hpp"

namespace tr = ofa::train;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using test::small_space;

namespace {
fs::path fresh_dir(const std::string& name) {
  const auto p = fs::temp_directory_path() / ("ofa_test_hostile_" + name);
  fs::remove_all(p);
  return p;
}
tr::trainer_options quiet_options(const fs::path& dir) {
  tr::trainer_options o;
  o.out_dir = dir.string();
  o.batch_size = 8;
  o.quiet = true;
  o.evaluate_epochs = false;
  return o;
}
/// A JSON array nested `depth` deep around the value 3.
std::string nested(int depth) { return std::string(std::size_t(depth), '[') + "3" + std::string(std::size_t(depth), ']'); }
}  // namespace

TEST_CASE("a label beyond the network's classes is a data_error, not a read past the logits", "[train][hostile]") {
  auto logits = ofa::make_tensor<float>(ofa::shape_type{2, 10});
  tr::accuracy_meter meter;
  CHECK_THROWS_AS(meter.add(logits, {3, 255}), ofa::data_error);
  CHECK_THROWS_WITH(meter.add(logits, {-1}), Contains("labelled class -1") && Contains("10 classes"));
  CHECK_THROWS_AS(meter.add(logits, {1, 2, 3}), ofa::shape_error);
  CHECK(meter.images == 0);
  meter.add(logits, {9, 0});
  CHECK(meter.images == 2);
}

TEST_CASE("a config nested thousands deep is refused without overflowing the stack", "[train][hostile]") {
  const std::string config = R"({"ks": [3, 3, 3, 3, 3, 3, 3, 3], "e": [3, 3, 3, 3, 3, 3, 3, 3], "d": [2, 2],
                                  "r": [)" + nested(20000) + "]}";
  CHECK_THROWS_WITH(ofa::parse_config<small_space>(config, "deep.json"),
                    Contains("deep.json") && Contains("must be an integer") && Contains("[[[[...]]]]"));
  const std::string schedule = R"({"phases": [{"rule": "fixed", "config": {"ks": )" + nested(20000) + "}}]}";
  CHECK_THROWS_AS(tr::parse_schedule<small_space>(schedule, "deep"), ofa::config_error);
}

TEST_CASE("schedule sizes that overflowed or truncated are refused", "[train][hostile]") {
  const auto with = [](const std::string& phase) { return R"({"phases": [)" + phase + "]}"; };
  CHECK_THROWS_WITH(tr::parse_schedule<small_space>(with(R"({"epochs": 4294967297})"), "s"),
                    Contains("epochs must be a whole number from 1 to"));
  CHECK_THROWS_WITH(tr::parse_schedule<small_space>(with(R"({"epochs": 2000000000}, {"epochs": 2000000000})"), "s"),
                    Contains("epochs must be a whole number"));
  CHECK_THROWS_WITH(tr::parse_schedule<small_space>(with(R"({"epochs": 2.5})"), "s"), Contains("epochs"));
  CHECK_THROWS_WITH(tr::parse_schedule<small_space>(with(R"({"subnets_per_step": 2000000000})"), "s"),
                    Contains("subnets_per_step must be a whole number from 1 to 1024"));
  CHECK_THROWS_WITH(tr::parse_schedule<small_space>(with(R"({"lr": 0})"), "s"), Contains("lr must be"));
  // Found by fuzzing: a float past int's range in a list was cast to int (undefined behaviour).
  CHECK_THROWS_WITH(tr::parse_schedule<small_space>(with(R"({"expands": [6e116]})"), "s"),
                    Contains("expands must be a list of whole numbers, got 6e+116"));
  CHECK_THROWS_WITH(tr::parse_schedule<small_space>(with(R"({"reorganize_stage": 1e30})"), "s"),
                    Contains("reorganize_stage must be a whole number"));
  CHECK_THROWS_WITH(tr::parse_schedule<small_space>(with(R"({"kd_ratio": -1})"), "s"), Contains("kd_ratio"));
  for (double scale : {1e9, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(), -1.0})
    CHECK_THROWS_WITH(tr::progressive_shrinking<small_space>(scale), Contains("--epochs-scale"));
  CHECK(tr::progressive_shrinking<small_space>(0.001).total_epochs() == 6);  // at least one epoch a phase
}

TEST_CASE("a learning rate that makes the weights infinite writes no checkpoint or final network", "[train][hostile]") {
  // One step a phase: the loss of the step that makes the weights infinite is still finite, and
  // no later step computes one, so only the check before writing can see it.
  const ofa::data::synthetic train(8, 1);
  const auto plan = tr::parse_schedule<small_space>(
      R"({"phases": [{"name": "fine", "epochs": 1, "lr": 0.01, "rule": "fixed", "config": "min"},
                     {"name": "huge", "epochs": 1, "lr": 1e308, "rule": "fixed", "config": "min"}]})",
      "huge-lr");
  const auto dir = fresh_dir("huge_lr");
  ofa::nn::elastic_net<small_space> net(8);
  tr::trainer<small_space, ofa::data::synthetic> t(net, plan, train, nullptr, quiet_options(dir));
  CHECK_THROWS_AS(t.run(false), ofa::numeric_error);
  CHECK_FALSE(fs::exists(dir / "final.ofa"));
  ofa::nn::elastic_net<small_space> back(0);
  tr::sgd opt(back.state());
  const auto state = tr::load_checkpoint((dir / "checkpoint.ofa").string(), back, opt);  // the one after 'fine'
  CHECK(state.phase_index == 1);
  CHECK(tr::detail::first_non_finite(back.state()).empty());
  fs::remove_all(dir);
}

TEST_CASE("a tampered training position is refused; a finished run is not run again", "[train][hostile]") {
  const ofa::data::synthetic train(16, 1);
  const auto plan = tr::parse_schedule<small_space>(
      R"({"phases": [{"name": "only", "epochs": 2, "lr": 0.01, "rule": "fixed", "config": "min"}]})", "two");
  const auto dir = fresh_dir("tampered");
  ofa::nn::elastic_net<small_space> net(8);
  {
    tr::trainer<small_space, ofa::data::synthetic> t(net, plan, train, nullptr, quiet_options(dir));
    REQUIRE(t.run(false) == tr::run_outcome::finished);
  }
  const auto checkpoint = (dir / "checkpoint.ofa").string();
  const auto final_time = fs::last_write_time(dir / "final.ofa");
  {
    tr::trainer<small_space, ofa::data::synthetic> t(net, plan, train, nullptr, quiet_options(dir));
    CHECK(t.run(true) == tr::run_outcome::finished);  // nothing trained, nothing rewritten
    CHECK(fs::last_write_time(dir / "final.ofa") == final_time);
  }
  const auto rewrite = [&](std::size_t phase, std::size_t epoch, std::size_t batch) {
    ofa::nn::elastic_net<small_space> n(0);
    tr::sgd opt(n.state());
    nlohmann::json extra;
    auto state = tr::load_checkpoint(checkpoint, n, opt, &extra);
    state.phase_index = phase;
    state.epoch = epoch;
    state.batch = batch;
    extra.erase("trainer_state");
    tr::save_checkpoint(checkpoint, n, opt, state, extra);
  };
  for (const auto& [phase, epoch, batch] : {std::tuple<std::size_t, std::size_t, std::size_t>{99, 0, 0},
                                            {0, 1000, 0}, {0, 0, 1000}, {1, 3, 0}}) {
    rewrite(phase, epoch, batch);
    tr::trainer<small_space, ofa::data::synthetic> t(net, plan, train, nullptr, quiet_options(dir));
    CHECK_THROWS_WITH(t.run(true), Contains("impossible position") && Contains("start a new run"));
  }
  fs::remove_all(dir);
}
