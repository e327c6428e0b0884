// The ResNet family's elastic net: gradcheck of the whole network at random configs (the
// deep stem with and without its middle layer, every width), the reference's state names,
// channel re-organisation that keeps the function, and BN recalibration.
#include <catch2/catch.hpp>

#include <set>

#include <ofa/autograd/gradcheck.hpp>
#include <ofa/nn/elastic_net.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/spaces/resnet.hpp>

#include "../space/small_resnet.hpp"
#include "net_helpers.hpp"

namespace ag = ofa::autograd;
using test::small_resnet;

TEST_CASE("resnet: gradcheck of a whole elastic net at random configs", "[nn][resnet][gradcheck]") {
  ofa::nn::elastic_net<small_resnet, double> net(5, 0.0);
  ofa::rng engine(6);
  std::set<bool> skips;
  for (int trial = 0; trial < 4; ++trial) {
    const auto config = net.sample_active(engine);
    skips.insert(config.stem_skip);
    ofa::tensor<double> images(ofa::shape_type{2, std::size_t(config.resolution), std::size_t(config.resolution), 3});
    for (auto& v : images) v = engine.normal();
    std::vector<ag::variable<double>> inputs;
    for (auto& p : net.state().parameters) inputs.push_back(p.value);
    ofa::tensor<double> r(ofa::shape_type{2, 3});
    for (auto& v : r) v = engine.normal();
    auto loss = [&] { return ag::dot(net.forward(ag::variable<double>(images), ofa::nn::forward_mode::train), r); };
    const auto result = ag::gradcheck(loss, inputs, 1e-6, 6);
    INFO("config " << trial << ": " << result.worst << " over " << result.checked << " elements");
    CHECK(result.max_rel_error < 1e-5);
  }
  CHECK(skips.size() == 2);
}

TEST_CASE("resnet: the supernet holds the reference's layers under its names", "[nn][resnet]") {
  ofa::nn::elastic_net<small_resnet> net(1);
  auto state = net.state();
  std::set<std::string> names;
  for (const auto& p : state.parameters) names.insert(p.name);
  for (const char* name : {"input_stem.0.conv.weight", "input_stem.1.conv.conv.weight", "input_stem.1.conv.bn.weight",
                           "input_stem.2.bn.bias", "blocks.0.conv1.conv.weight", "blocks.0.conv2.bn.weight",
                           "blocks.0.conv3.conv.weight", "blocks.0.downsample.conv.weight",
                           "blocks.2.downsample.bn.weight", "classifier.linear.weight", "classifier.linear.bias"})
    CHECK(names.count(name) == 1);
  CHECK(names.count("blocks.1.downsample.conv.weight") == 0);  // same stride and widths: the input itself
  CHECK(names.count("first_conv.conv.weight") == 0);
  CHECK(net.parameter_count() == ofa::supernet_param_count<small_resnet>());
  // conv2 is [out][k][k][in] in ofa's layout, at the supernet's widest middle width.
  const auto plan = ofa::plan_supernet<small_resnet>();
  CHECK(net.blocks_[0].conv.weight.value().shape() ==
        ofa::shape_type{std::size_t(plan.blocks[0].mid_channels), 3, 3, std::size_t(plan.blocks[0].mid_channels)});
  // Each of the stem's 3 and the blocks' 3 or 4 BN layers is numbered once.
  CHECK(net.batch_norm_count() == 3 + 4 + 3 + 4 + 3);
}

TEST_CASE("resnet: re-organising middle channels keeps the function at full width", "[nn][resnet][reorganize]") {
  ofa::nn::elastic_net<small_resnet> net(7);
  test::randomize_state(net, 8);
  const auto images = test::random_images(2, 16, 9);
  ag::no_grad<float> off;
  const auto max = ofa::subnet_config<small_resnet>::max();
  const auto before = net.evaluate(images, max);
  for (int stage : {0, 1}) {
    net.reorganize_channels(stage);
    const auto after = net.evaluate(images, max);
    for (std::size_t i = 0; i < before.size(); ++i)
      CHECK(after.data()[i] == Approx(before.data()[i]).epsilon(1e-4).margin(1e-4));
  }
  // The most important middle channels come first: the 3×3's filters by the last 1×1's weights on them.
  const auto& w = net.blocks_[1].expand.weight.value();  // [out][mid]
  const std::size_t out = w.shape()[0], mid = w.shape()[1];
  net.reorganize_channels(0);
  auto importance = [&](std::size_t c) {
    double s = 0;
    for (std::size_t o = 0; o < out; ++o) s += std::abs(w.data()[o * mid + c]);
    return s;
  };
  for (std::size_t c = 1; c < mid; ++c) CHECK(importance(c - 1) >= importance(c));
}

TEST_CASE("resnet: recalibrated BN statistics evaluate every subnet, the smallest included",
          "[nn][resnet][recalibrate]") {
  ofa::nn::elastic_net<small_resnet> net(2);
  ofa::rng engine(3);
  for (const auto& config : {ofa::subnet_config<small_resnet>::min(), ofa::subnet_config<small_resnet>::max(),
                             ofa::sample_config<small_resnet>(engine)}) {
    const std::vector<ofa::tensor<float>> batches = {test::random_images(4, std::size_t(config.resolution), 4)};
    const auto stats = net.recalibrate(config, batches);
    const auto logits = net.evaluate(batches[0], config, &stats);
    CHECK(logits.shape() == ofa::shape_type{4, 3});
    for (float v : logits) CHECK(std::isfinite(v));
  }
}

TEST_CASE("resnet50: the published space's supernet builds with the reference's parameter count", "[nn][resnet]") {
  ofa::nn::elastic_net<ofa::spaces::resnet50> net(0);
  CHECK(net.parameter_count() == 48105992);
  CHECK(net.state().parameters.size() == 3 * 3 + 18 * 3 * 3 + 4 * 3 + 2);  // stem, blocks, shortcuts, classifier
}
