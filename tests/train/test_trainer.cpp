// The progressive-shrinking trainer: schedules and their parsing, the learning-rate
// curve, the distillation loss against hand values, gradient accumulation over
// subnets, an interrupted run resumed to the same bits, the NaN guard, bad input.
#include <catch2/catch.hpp>

#include <filesystem>
#include <numeric>
#include <set>
#include <thread>

#include <ofa/data/synthetic.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>
#include <ofa/spaces/resnet.hpp>
#include <ofa/train/trainer.hpp>

#include "../nn/net_helpers.hpp"
#include "../sanitized.hpp"
#include "../small_space.hpp"

namespace ag = ofa::autograd;
namespace tr = ofa::train;
namespace fs = std::filesystem;
using cifar = ofa::spaces::cifar;
using Catch::Matchers::Contains;

using test::small_space;

namespace {
fs::path fresh_dir(const std::string& name) {
  const auto p = fs::temp_directory_path() / ("ofa_test_trainer_" + name);
  fs::remove_all(p);
  return p;
}
/// Three short phases that exercise the teacher, distillation, re-organisation and two subnets a step.
const char* tiny_schedule = R"({"name": "tiny", "phases": [
  {"name": "full", "epochs": 1, "lr": 0.05, "rule": "fixed", "config": "max"},
  {"name": "kernel", "epochs": 1, "lr": 0.02, "kernels": [3, 5, 7], "depths": [4], "expands": [6], "kd_ratio": 1.0},
  {"name": "expand", "epochs": 1, "lr": 0.01, "subnets_per_step": 2, "reorganize_stage": 0, "kd_ratio": 1.0}]})";

tr::trainer_options tiny_options(const fs::path& dir) {
  tr::trainer_options o;
  o.out_dir = dir.string();
  o.batch_size = 8;
  o.seed = 3;
  o.recalibration_images = 16;
  o.eval_images = 8;
  o.quiet = true;
  return o;
}
}  // namespace

TEST_CASE("progressive shrinking is the reference's order of phases", "[train][schedule]") {
  const auto s = tr::progressive_shrinking<cifar>();
  std::vector<std::string> names;
  std::vector<int> subnets;
  for (const auto& p : s.phases) names.push_back(p.name), subnets.push_back(p.subnets_per_step);
  CHECK(names == std::vector<std::string>{"full", "kernel", "depth-1", "depth-2", "expand-1", "expand-2"});
  CHECK(subnets == std::vector<int>{1, 1, 2, 2, 4, 4});
  CHECK(s.phases[0].rule == tr::sampling_rule::fixed);
  CHECK(s.phases[0].kd_ratio == 0);
  CHECK(s.phases[1].kernels == std::vector<int>{3, 5, 7});
  CHECK(s.phases[2].depths == std::vector<int>{3, 4});
  CHECK(s.phases[3].depths == std::vector<int>{2, 3, 4});
  CHECK(s.phases[4].expands == std::vector<int>{4, 6});
  CHECK(s.phases[4].reorganize_stage == 0);
  CHECK(s.phases[5].reorganize_stage == 1);
  CHECK(s.needs_teacher());
  CHECK(tr::progressive_shrinking<cifar>(2.0).total_epochs() == 2 * s.total_epochs());
  CHECK(tr::no_progressive_shrinking<cifar>().total_epochs() == s.total_epochs());
  CHECK(tr::sandwich<cifar>().phases[0].rule == tr::sampling_rule::sandwich);
  // A schedule round-trips through its JSON.
  const auto again = tr::parse_schedule<cifar>(tr::to_json(s).dump(), "round trip");
  CHECK(tr::to_json(again) == tr::to_json(s));
}

TEST_CASE("a bottleneck space shrinks depth, expand, then width, in as many epochs", "[train][schedule]") {
  using resnet = ofa::spaces::cifar_resnet;
  const auto s = tr::progressive_shrinking<resnet>();
  std::vector<std::string> names;
  for (const auto& p : s.phases) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"full", "depth-1", "depth-2", "expand-1", "expand-2", "width-1", "width-2"});
  CHECK(s.total_epochs() == tr::progressive_shrinking<cifar>().total_epochs());
  for (std::size_t i = 1; i <= 4; ++i) CHECK(s.phases[i].widths == std::vector<int>{2});  // the widest until opened
  CHECK(s.phases[0].widths.empty());                                                      // the fixed full network
  CHECK(s.phases[5].widths == std::vector<int>{1, 2});
  CHECK(s.phases[6].widths.empty());                    // every width
  CHECK(s.phases[1].depths == std::vector<int>{1, 2});  // the reference's d: blocks above the least depth
  CHECK(s.phases[3].reorganize_stage == 0);
  CHECK(s.phases[4].reorganize_stage == 1);
  for (const auto& p : s.phases) CHECK(p.kernels == std::vector<int>{3});
}

TEMPLATE_TEST_CASE("progressive shrinking's last phase samples the whole space", "[train][schedule]", cifar,
                   ofa::spaces::cifar_resnet, ofa::spaces::mobilenet_v3, ofa::spaces::resnet50) {
  const auto last = tr::progressive_shrinking<TestType>().phases.back();
  // Every choice of every dimension is reachable: the constraint is the space's own.
  const auto all = ofa::sampling_constraint{};
  const auto c = last.constraint();
  CHECK(c.kernels == tr::detail::space_values<TestType>(&ofa::space::unit_info::kernels));
  CHECK(c.depths == tr::detail::space_values<TestType>(&ofa::space::unit_info::depths));
  CHECK(c.expands == tr::detail::space_values<TestType>(&ofa::space::unit_info::expands));
  CHECK(c.widths == all.widths);
}

TEST_CASE("schedule files with mistakes are refused, naming the mistake", "[train][schedule]") {
  auto refused = [](const std::string& text, const std::string& says) {
    INFO(text);
    CHECK_THROWS_AS(tr::parse_schedule<cifar>(text, "s.json"), ofa::config_error);
    CHECK_THROWS_WITH(tr::parse_schedule<cifar>(text, "s.json"), Contains(says) && Contains("s.json"));
  };
  refused(R"({"phases": [{"epochs": 1, "learning_rate": 0.1}]})", "unknown key 'learning_rate'");
  refused(R"({"phases": [{"kernels": [3, 9]}]})", "kernels value 9 is not in the space");
  refused(R"({"phases": [{"depths": [5]}]})", "depths value 5");
  refused(R"({"phases": [{"rule": "fixed"}]})", "needs a 'config'");
  refused(R"({"phases": [{"rule": "fixed", "config": "biggest"}]})", "config 'biggest'");
  refused(R"({"phases": [{"kd_ratio": 1.0}]})", "phase 0 must train it");
  refused(R"({"phases": [{"epochs": 0}]})", "epochs must be a whole number from 1");
  refused(R"({"phases": [{"rule": "sandwich", "subnets_per_step": 1}]})", "subnets_per_step >= 2");
  refused(R"({"phases": []})", "non-empty");
  refused("not json", "not a JSON object");
  CHECK_THROWS_AS(tr::load_schedule<cifar>("/no/such/schedule.json"), ofa::io_error);
}

TEST_CASE("the learning rate warms up linearly, then follows a cosine to zero", "[train][lr]") {
  const tr::cosine_schedule lr{0.1, 10, 110};
  CHECK(lr(0) == Approx(0.1 / 11));
  CHECK(lr(9) == Approx(0.1 * 10 / 11));
  CHECK(lr(10) == Approx(0.1));
  CHECK(lr(60) == Approx(0.05));
  CHECK(lr(35) == Approx(0.05 * (1 + std::cos(3.141592653589793 / 4))));
  CHECK(lr(110) == Approx(0.0).margin(1e-12));
}

TEST_CASE("the distillation loss equals hand-computed values", "[train][kd]") {
  // logits (0, 0), label 0, teacher logits (ln 3, 0): p = (1/2, 1/2), q = (3/4, 1/4).
  // CE = ln 2; soft CE = -(3/4 ln 1/2 + 1/4 ln 1/2) = ln 2; loss = ln 2 + r ln 2.
  // d/dz = (p - onehot) + r (p - q) = (-1/2, 1/2) + r (-1/4, 1/4).
  for (const float r : {0.0f, 1.0f, 0.5f}) {
    ag::variable<float> z(ofa::make_tensor<float>({1, 2}, 0.0f), true);
    ofa::tensor<float> teacher(ofa::shape_type{1, 2});
    teacher.data()[0] = std::log(3.0f);
    teacher.data()[1] = 0.0f;
    auto loss = tr::distillation_loss(z, {0}, teacher, r, 0.0f);
    CHECK(loss.item() == Approx((1 + r) * std::log(2.0)).epsilon(1e-6));
    ag::backward(loss);
    CHECK(z.grad().data()[0] == Approx(-0.5 - 0.25 * r).epsilon(1e-6));
    CHECK(z.grad().data()[1] == Approx(0.5 + 0.25 * r).epsilon(1e-6));
  }
  // Label smoothing 0.1 over 2 classes: targets (0.95, 0.05): CE = ln 2 still at p = 1/2.
  ag::variable<float> z(ofa::make_tensor<float>({1, 2}, 0.0f), true);
  CHECK(tr::distillation_loss(z, {0}, ofa::make_tensor<float>({1, 2}, 0.0f), 0.0f, 0.1f).item() ==
        Approx(std::log(2.0)).epsilon(1e-6));
}

TEST_CASE("a step's cost counts each subnet's forward and backward and the teacher's forward", "[train][eta]") {
  const auto s = tr::progressive_shrinking<cifar>();
  const double largest = double(ofa::profile_subnet(ofa::subnet_config<cifar>::max(), 32).macs);
  const double smallest = double(ofa::profile_subnet(ofa::subnet_config<cifar>::min(), 32).macs);
  CHECK(tr::step_macs(s.phases[0], false, 32) == Approx(3 * largest));
  CHECK(tr::step_macs(s.phases[0], true, 32) == Approx(4 * largest));
  // Four random subnets a step, and the teacher: more than one full step, less than four.
  const double expand = tr::step_macs(s.phases[5], true, 32);
  CHECK(expand > 4 * 3 * smallest + largest);
  CHECK(expand < 4 * 3 * largest + largest);
  CHECK(expand > 1.5 * tr::step_macs(s.phases[0], false, 32));
  // Kernel sizes alone move little: between the smallest kernel's cost and the full network's.
  const double kernel = tr::step_macs(s.phases[1], false, 32);
  CHECK(kernel < 3 * largest);
  CHECK(kernel > 0.8 * 3 * largest);
  // Lower resolutions cost less.
  CHECK(tr::step_macs(s.phases[5], true, 24) < expand);
}

TEST_CASE("gradients over two subnets are the sum of the two single steps", "[train][accumulate]") {
  ofa::nn::elastic_net<cifar> net(4, 0.0);
  ofa::data::batch b;
  ofa::rng e(5);
  b.resolution = 24;
  b.images = ofa::tensor<float>(ofa::shape_type{4, 24, 24, 3});
  for (auto& v : b.images) v = static_cast<float>(e.normal());
  b.labels = {1, 2, 3, 4};
  tr::phase<cifar> p;
  p.subnets_per_step = 2;
  const auto configs = tr::subnets_of_step(p, 9, 0);
  REQUIRE(configs.size() == 2);
  CHECK_FALSE(configs[0] == configs[1]);
  auto gradients = [&](const std::vector<ofa::subnet_config<cifar>>& c) {
    // Training BN moves the running statistics: every run starts from the same ones.
    auto copy = net.clone();
    copy.zero_grad();
    const double loss = tr::accumulate_gradients(copy, b, c, nullptr, 0.0, false, 0.1f, 9, 0);
    std::vector<float> g;
    for (auto& q : copy.state().parameters) {
      if (q.value.has_grad())
        g.insert(g.end(), q.value.grad().begin(), q.value.grad().end());
      else
        g.insert(g.end(), q.value.value().size(), 0.0f);
    }
    return std::pair{loss, g};
  };
  const auto both = gradients(configs);
  const auto first = gradients({configs[0]}), second = gradients({configs[1]});
  CHECK(both.first == Approx(first.first + second.first).epsilon(1e-6));
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < both.second.size(); ++i) {
    worst = std::max(worst, std::abs(double(both.second[i]) - double(first.second[i]) - double(second.second[i])));
    scale = std::max(scale, std::abs(double(both.second[i])));
  }
  INFO("worst " << worst << " of " << scale);
  CHECK(worst <= 1e-5 * scale);
  CHECK(scale > 0);
}

TEST_CASE("an interrupted run, resumed, ends with the uninterrupted run's weights", "[train][resume]") {
  const ofa::data::synthetic train(32, 1), test_set(16, 2);
  const auto plan = tr::parse_schedule<small_space>(tiny_schedule, "tiny");
  const auto straight_dir = fresh_dir("straight"), resumed_dir = fresh_dir("resumed");
  ofa::nn::elastic_net<small_space> straight(7);
  {
    tr::trainer<small_space, ofa::data::synthetic> t(straight, plan, train, &test_set, tiny_options(straight_dir));
    CHECK(t.run(false) == tr::run_outcome::finished);
    CHECK(t.last_evaluation().size() == 6);
    CHECK(fs::exists(straight_dir / "log.jsonl"));
    CHECK(t.state().step == 3 * std::int64_t(train.size() / 8));
  }
  CHECK(fs::exists(straight_dir / "final.ofa"));
  CHECK(fs::exists(straight_dir / "teacher.ofa"));
  // The same run stopped mid-way (a signal sets the flag), then resumed by a new trainer.
  ofa::nn::elastic_net<small_space> first(7);
  {
    tr::trainer<small_space, ofa::data::synthetic> t(first, plan, train, &test_set, tiny_options(resumed_dir));
    std::atomic<bool> done{false};
    std::thread stopper([&] {
      while (!done && !fs::exists(resumed_dir / "teacher.ofa"))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      t.stop_requested() = true;
    });
    const auto outcome = t.run(false);
    done = true;
    stopper.join();
    CHECK(outcome == tr::run_outcome::interrupted);
  }
  ofa::nn::elastic_net<small_space> resumed(99);  // other initial weights: all must come from the checkpoint
  {
    tr::trainer<small_space, ofa::data::synthetic> t(resumed, plan, train, &test_set, tiny_options(resumed_dir));
    CHECK(t.run(true) == tr::run_outcome::finished);
  }
  CHECK(test::same_state(straight, resumed));
  // Resuming with another schedule is refused, naming the fix.
  auto other = plan;
  other.phases[0].base_lr = 0.06;
  ofa::nn::elastic_net<small_space> net(7);
  tr::trainer<small_space, ofa::data::synthetic> t(net, other, train, &test_set, tiny_options(resumed_dir));
  CHECK_THROWS_WITH(t.run(true), Contains("another schedule"));
  fs::remove_all(straight_dir);
  fs::remove_all(resumed_dir);
}

TEST_CASE("a diverging loss stops the run and keeps the last good checkpoint", "[train][nan]") {
  const ofa::data::synthetic train(16, 1);
  const auto plan = tr::parse_schedule<small_space>(R"({"phases": [
    {"name": "fine", "epochs": 1, "lr": 0.01, "rule": "fixed", "config": "min"},
    {"name": "wild", "epochs": 3, "lr": 1e30, "rule": "fixed", "config": "min"}]})",
                                                    "diverging");
  const auto dir = fresh_dir("nan");
  auto o = tiny_options(dir);
  o.checkpoint_steps = 0;
  ofa::nn::elastic_net<small_space> net(8);
  tr::trainer<small_space, ofa::data::synthetic> t(net, plan, train, nullptr, o);
  CHECK_THROWS_AS(t.run(false), ofa::numeric_error);
  tr::trainer<small_space, ofa::data::synthetic> again(net, plan, train, nullptr, o);  // resumes, and diverges again
  CHECK_THROWS_WITH(again.run(true), Contains("loss became") && Contains("last good checkpoint"));
  // The checkpoint is the one after phase 'fine': it loads.
  ofa::nn::elastic_net<small_space> back(0);
  tr::sgd opt(back.state());
  const auto state = tr::load_checkpoint((dir / "checkpoint.ofa").string(), back, opt);
  CHECK(state.phase_index == 1);
  CHECK(state.epoch == 0);
  fs::remove_all(dir);
}

TEST_CASE("bad trainer input is refused before any work", "[train][errors]") {
  const ofa::data::synthetic small(4, 1);
  const auto dir = fresh_dir("bad");
  ofa::nn::elastic_net<small_space> net(1);
  auto o = tiny_options(dir);
  CHECK_THROWS_WITH((tr::trainer<small_space, ofa::data::synthetic>(net, tr::progressive_shrinking<small_space>(),
                                                                    small, nullptr, o)),
                    Contains("fewer images") && Contains("--batch"));
  const ofa::data::synthetic enough(16, 1);
  tr::trainer<small_space, ofa::data::synthetic> t(net, tr::progressive_shrinking<small_space>(), enough, nullptr, o);
  CHECK_THROWS_WITH(t.run(true), Contains("does not exist") && Contains("without --resume"));
  fs::remove_all(dir);
}

TEST_CASE("a limited evaluation sees every class of a class-sorted test set", "[train][evaluation]") {
  // An image folder's order: all of class 0, then all of class 1, ... The first 20% would be two classes.
  const ofa::data::synthetic source(400, 1);
  std::vector<std::size_t> by_class(source.size());
  std::iota(by_class.begin(), by_class.end(), std::size_t{0});
  std::stable_sort(by_class.begin(), by_class.end(),
                   [&](std::size_t a, std::size_t b) { return source.label(a) < source.label(b); });
  const ofa::data::subset<ofa::data::synthetic> sorted(source, by_class);
  const auto picked = tr::evenly_spaced(sorted.size(), 80);
  REQUIRE(picked.size() == 80);
  std::set<int> classes;
  for (auto i : picked) classes.insert(sorted.label(i));
  CHECK(classes.size() == std::size_t(source.class_count()));
  CHECK(tr::evenly_spaced(10, 20).size() == 10);  // a limit above the size takes everything once
  CHECK(tr::evenly_spaced(10, 20).back() == 9);
}

TEST_CASE("the size ladder climbs from the smallest subnet to the largest, one step at a time", "[train][evaluation]") {
  const int r = cifar::resolution_set.max();
  const auto ladder = tr::size_ladder<cifar>(r);
  REQUIRE(ladder.size() == 7);  // three levels of depth, expand and kernel: six raises
  CHECK(ladder.front().second == ofa::subnet_config<cifar>::min().with_resolution(r));
  CHECK(ladder.back().second == ofa::subnet_config<cifar>::max().with_resolution(r));
  std::set<std::string> names;
  for (std::size_t i = 0; i < ladder.size(); ++i) {
    names.insert(ladder[i].first);
    CHECK(ladder[i].second.resolution == r);
    if (i > 0) CHECK(ofa::profile_subnet(ladder[i].second).macs > ofa::profile_subnet(ladder[i - 1].second).macs);
  }
  CHECK(names.size() == ladder.size());
}
