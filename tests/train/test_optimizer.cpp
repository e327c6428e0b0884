// Optimizers against hand-computed steps, the no-decay group, unused parameters as
// zero gradients, the reduction seam, state round trips and the re-organisation guard.
#include <catch2/catch.hpp>

#include <filesystem>

#include <ofa/nn/elastic_net.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/train/checkpoint.hpp>
#include <ofa/train/optimizer.hpp>

namespace ag = ofa::autograd;
namespace nn = ofa::nn;
namespace tr = ofa::train;
using cifar = ofa::spaces::cifar;
using Catch::Matchers::Contains;

namespace {
/// Two one-element parameters: "conv.weight" (decayed) and "bn.bias" (no_weight_decay).
struct two_parameters {
  nn::state_list<float> list;
  ag::variable<float> weight = nn::make_parameter<float>({1}, 1.0f), bias = nn::make_parameter<float>({1}, 2.0f);
  two_parameters() {
    list.add("conv.weight", weight);
    list.add("bn.bias", bias, true);
  }
  void gradients(float g_weight) { weight.grad().data()[0] = g_weight; }  // bias: no gradient (unused)
};

std::vector<int> labels_for(std::size_t n) {
  std::vector<int> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<int>(i % 10);
  return labels;
}
ofa::tensor<float> images(std::size_t n, std::size_t r, std::uint64_t seed) {
  ofa::rng e(seed);
  ofa::tensor<float> t(ofa::shape_type{n, r, r, 3});
  for (auto& v : t) v = static_cast<float>(e.normal());
  return t;
}
void one_backward(nn::elastic_net<cifar>& net, const ofa::subnet_config<cifar>& c, std::uint64_t seed) {
  auto loss =
      ag::cross_entropy(net.forward(ag::variable<float>(images(4, std::size_t(c.resolution), seed)), c), labels_for(4));
  ag::backward(loss);
}
}  // namespace

TEST_CASE("SGD steps equal hand-computed ones (Nesterov, momentum, weight decay)", "[train][optimizer]") {
  // w = 1, g = 0.5, lr = 0.1, momentum 0.9, decay 0.01, by hand:
  //   Nesterov  step 1: d = 0.51, buf = 0.51, w = 1 - 0.1·(0.51 + 0.9·0.51) = 0.9031
  //             step 2: d = 0.509031, buf = 0.968031, w = 0.9031 - 0.1·(0.509031 + 0.9·0.968031) = 0.76507411
  //   classical step 1: w = 1 - 0.1·0.51 = 0.949; step 2: buf = 0.96849, w = 0.852151
  for (const bool nesterov : {true, false}) {
    two_parameters p;
    tr::sgd opt(p.list, {.momentum = 0.9, .nesterov = nesterov, .weight_decay = 0.01});
    tr::local_reduction local;
    for (int step = 0; step < 2; ++step) {
      opt.zero_grad();
      p.gradients(0.5f);
      opt.reduce_gradients(local);
      opt.apply(0.1);
    }
    CHECK(p.weight.value().data()[0] == Approx(nesterov ? 0.76507411 : 0.852151).epsilon(1e-6));
    CHECK(p.bias.value().data()[0] == 2.0f);  // no gradient and no decay: untouched
    CHECK(opt.steps() == 2);
  }
}

TEST_CASE("Adam steps equal hand-computed ones", "[train][optimizer]") {
  // g = 0.5 then 0.25, lr = 0.1: w = 0.9, then 0.9 - 0.1·(0.07/0.19)/(sqrt(0.00031225/0.001999)) = 0.80678204
  two_parameters p;
  tr::adam opt(p.list, {});
  for (const float g : {0.5f, 0.25f}) {
    opt.zero_grad();
    p.gradients(g);
    opt.apply(0.1);
  }
  CHECK(p.weight.value().data()[0] == Approx(0.80678204).epsilon(1e-5));
  CHECK(p.bias.value().data()[0] == 2.0f);
}

TEST_CASE("weight decay is off for BN and biases; a parameter used once is then updated every step",
          "[train][optimizer]") {
  nn::elastic_net<cifar> net(1);
  tr::sgd opt(net.state());
  CHECK(opt.weight_decay_of("blocks.3.conv.depth_conv.bn.weight") == 0.0);
  CHECK(opt.weight_decay_of("blocks.3.conv.depth_conv.bn.bias") == 0.0);
  CHECK(opt.weight_decay_of("classifier.linear.bias") == 0.0);
  CHECK(opt.weight_decay_of("classifier.linear.weight") == Approx(3e-5));
  CHECK(opt.weight_decay_of("blocks.3.conv.depth_conv.conv.weight") == Approx(3e-5));
  CHECK_THROWS_AS(opt.weight_decay_of("no.such"), ofa::config_error);
  // A parameter that never had a gradient is left alone (PyTorch skips a None gradient) ...
  two_parameters p;
  tr::sgd opt_p(p.list, {.momentum = 0.0, .nesterov = false, .weight_decay = 0.01});
  opt_p.apply(0.1);
  CHECK(p.weight.value().data()[0] == 1.0f);
  // ... and once it had one, a step whose subnets skip it is a zero gradient: decay still acts.
  p.gradients(0.0f);
  opt_p.apply(0.1);  // w = 1 - 0.1·0.01
  opt_p.zero_grad();
  opt_p.apply(0.1);  // w = 0.999 - 0.1·0.01·0.999
  CHECK(p.weight.value().data()[0] == Approx(0.999 * 0.999).epsilon(1e-7));
  CHECK(p.bias.value().data()[0] == 2.0f);
}

TEST_CASE("the reduction seam sees one buffer of every gradient, zeros where unused", "[train][optimizer]") {
  struct doubling final : tr::gradient_reduction {
    std::vector<float> seen;
    void reduce(std::span<float> g) override {
      seen.assign(g.begin(), g.end());
      for (auto& v : g) v *= 2;
    }
  };
  two_parameters a, b;
  tr::sgd sa(a.list, {.momentum = 0.9, .nesterov = true, .weight_decay = 0.0}),
      sb(b.list, {.momentum = 0.9, .nesterov = true, .weight_decay = 0.0});
  CHECK(sa.gradient_size() == 2);
  doubling twice;
  tr::local_reduction local;
  a.gradients(0.25f);
  sa.reduce_gradients(twice);
  CHECK(twice.seen == std::vector<float>{0.25f, 0.0f});
  sa.apply(0.1);
  b.gradients(0.5f);  // what the doubling made of a's gradient
  sb.reduce_gradients(local);
  sb.apply(0.1);
  CHECK(a.weight.value().data()[0] == b.weight.value().data()[0]);
  // A parameter no subnet used keeps no gradient through a reduction: the unused bias is not
  // updated (nor decayed), as in one process.
  CHECK(sa.state().updated == std::vector<std::string>{"conv.weight"});
  std::vector<float> wrong(3);
  CHECK_THROWS_AS(sa.pack_gradients(wrong), ofa::shape_error);
}

TEST_CASE("momentum never meets re-organised channels", "[train][optimizer][reorganize]") {
  nn::elastic_net<cifar> net(2);
  tr::sgd opt(net.state());
  const auto config = ofa::subnet_config<cifar>::max();
  one_backward(net, config, 3);
  opt.apply(0.05);
  net.reorganize_channels(0);
  opt.zero_grad();
  one_backward(net, config, 4);
  CHECK_THROWS_AS(opt.apply(0.05), ofa::logic_error);
  CHECK_THROWS_WITH(opt.apply(0.05), Contains("reset()"));
  opt.reset();
  CHECK(opt.steps() == 0);
  CHECK_NOTHROW(opt.apply(0.05));
}

TEST_CASE("optimizer state round-trips through a training checkpoint", "[train][optimizer][io]") {
  const auto path = (std::filesystem::temp_directory_path() / "ofa_test_train_ckpt.ofa").string();
  auto config = ofa::subnet_config<cifar>::min();
  config.resolution = 24;
  auto run = [&](nn::elastic_net<cifar>& net, tr::sgd& opt, int from, int to) {
    for (int step = from; step < to; ++step) {
      opt.zero_grad();
      one_backward(net, config, 10 + std::uint64_t(step));
      opt.apply(0.05);
    }
  };
  nn::elastic_net<cifar> straight(5, 0.0);
  tr::sgd straight_opt(straight.state());
  run(straight, straight_opt, 0, 4);

  nn::elastic_net<cifar> first(5, 0.0);
  tr::sgd first_opt(first.state());
  run(first, first_opt, 0, 2);
  tr::trainer_state state;
  state.step = 2;
  state.phase = "kernel";
  state.dropout = first.dropout_stream().state();
  tr::save_checkpoint(path, first, first_opt, state);

  nn::elastic_net<cifar> resumed(99, 0.0);
  tr::sgd resumed_opt(resumed.state());
  const auto loaded = tr::load_checkpoint(path, resumed, resumed_opt);
  CHECK(loaded.step == 2);
  CHECK(loaded.phase == "kernel");
  CHECK(resumed_opt.steps() == 2);
  run(resumed, resumed_opt, 2, 4);
  auto a = straight.state(), b = resumed.state();
  for (std::size_t i = 0; i < a.parameters.size(); ++i) {
    INFO(a.parameters[i].name);
    const bool same = a.parameters[i].value.value() == b.parameters[i].value.value();
    CHECK(same);
  }
  // Another optimizer's state is refused, naming the missing tensor; the network is unchanged.
  tr::adam other(resumed.state());
  const auto before = resumed.stem_weight.value();
  CHECK_THROWS_WITH(tr::load_checkpoint(path, resumed, other), Contains("exp_avg"));
  const bool unchanged = resumed.stem_weight.value() == before;
  CHECK(unchanged);
  // A plain supernet file has no training state: said so, with the fix.
  nn::save(first, path);
  CHECK_THROWS_WITH(tr::load_checkpoint(path, resumed, resumed_opt), Contains("no training state"));
  std::filesystem::remove(path);
}
