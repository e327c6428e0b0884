// The elastic net: channel re-organisation keeps the function, a whole small
// elastic net passes gradcheck at random configs, and a subnet learns.
#include <catch2/catch.hpp>

#include <ofa/autograd/gradcheck.hpp>
#include <ofa/nn/elastic_net.hpp>
#include <ofa/spaces/cifar.hpp>

#include "../sanitized.hpp"
#include "net_helpers.hpp"

namespace ag = ofa::autograd;
namespace sp = ofa::space;
using cifar = ofa::spaces::cifar;

// Small enough for double-precision gradchecks of the whole network.
using tiny_space = sp::network<
    sp::resolutions<8, 12>, sp::stem<4, 2, ofa::space::hswish>, sp::first_block<4, ofa::space::relu>,
    sp::units<sp::unit<8, 2, ofa::space::relu, ofa::space::se, sp::depth<1, 2>, sp::expand<2, 3>, sp::kernel<3, 5>>,
              sp::unit<8, 1, ofa::space::hswish, ofa::space::no_se, sp::depth<1, 2>, sp::expand<2, 3>, sp::kernel<3, 5, 7>>>,
    sp::head<16, 12>, sp::classes<3>>;

TEST_CASE("re-organising middle channels keeps the function at full width", "[nn][reorganize]") {
  ofa::nn::elastic_net<cifar> net(7);
  test::randomize_state(net, 8);
  const auto images = test::random_images(2, 32, 9);
  ag::no_grad<float> off;
  net.set_active(ofa::subnet_config<cifar>::max());
  const auto before = net.forward(ag::variable<float>(images), ofa::nn::forward_mode::eval).value();
  for (int stage : {0, 1, 2}) {
    net.reorganize_channels(stage);
    const auto after = net.forward(ag::variable<float>(images), ofa::nn::forward_mode::eval).value();
    for (std::size_t i = 0; i < before.size(); ++i)
      CHECK(after.data()[i] == Approx(before.data()[i]).epsilon(1e-4).margin(1e-4));
  }
}

TEST_CASE("re-organisation puts the most important channels first", "[nn][reorganize]") {
  ofa::nn::elastic_net<cifar> net(3);
  net.reorganize_channels(0);
  auto& block = net.blocks_[5];
  const auto& w = block.project_conv.weight.value();  // [out][mid]
  const std::size_t out = w.shape()[0], mid = w.shape()[1];
  auto importance = [&](std::size_t c) {
    double s = 0;
    for (std::size_t o = 0; o < out; ++o) s += std::abs(w.data()[o * mid + c]);
    return s;
  };
  for (std::size_t c = 1; c < mid; ++c) CHECK(importance(c - 1) >= importance(c));
}

TEST_CASE("gradcheck of a whole elastic net at random configs", "[nn][gradcheck]") {
  ofa::nn::elastic_net<tiny_space, double> net(5, 0.0);
  ofa::rng engine(6);
  for (int trial = 0; trial < 3; ++trial) {
    const auto config = net.sample_active(engine);
    ofa::tensor<double> images(ofa::shape_type{2, std::size_t(config.resolution), std::size_t(config.resolution), 3});
    for (auto& v : images) v = engine.normal();
    auto state = net.state();
    std::vector<ag::variable<double>> inputs;
    for (auto& p : state.parameters) inputs.push_back(p.value);
    const auto r = [&] {
      ofa::tensor<double> t(ofa::shape_type{2, 3});
      for (auto& v : t) v = engine.normal();
      return t;
    }();
    auto loss = [&] { return ag::dot(net.forward(ag::variable<double>(images), ofa::nn::forward_mode::train), r); };
    const auto result = ag::gradcheck(loss, inputs, 1e-6, 6);
    INFO("config " << trial << ": " << result.worst << " over " << result.checked << " elements");
    CHECK(result.max_rel_error < 1e-5);
  }
}

namespace {
// Four classes that differ in shape and colour, at random positions, with noise.
void make_batch(std::size_t n, int size, ofa::rng& engine, ofa::tensor<float>& images, std::vector<int>& labels) {
  images = ofa::tensor<float>(ofa::shape_type{n, std::size_t(size), std::size_t(size), 3});
  labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(engine.uniform_index(4));
    labels[i] = label;
    const int cx = size / 4 + static_cast<int>(engine.uniform_index(std::uint64_t(size / 2)));
    const int cy = size / 4 + static_cast<int>(engine.uniform_index(std::uint64_t(size / 2)));
    const int r = size / 5;
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const int dx = x - cx, dy = y - cy;
        bool inside = false;
        switch (label) {
          case 0:
            inside = dx * dx + dy * dy <= r * r;
            break;  // disc
          case 1:
            inside = std::abs(dx) <= r && std::abs(dy) <= r;
            break;  // square
          case 2:
            inside = std::abs(dx) <= 1 || std::abs(dy) <= 1;
            break;  // cross
          default:
            inside = (x + y) % 6 < 3;
            break;  // stripes
        }
        const float colour[4][3] = {{1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}, {1, 1, -1}};
        for (int ch = 0; ch < 3; ++ch)
          images(i, std::size_t(y), std::size_t(x), std::size_t(ch)) =
              (inside ? colour[label][ch] : -0.5f) + static_cast<float>(0.3 * engine.normal());
      }
  }
}

float accuracy(const ofa::tensor<float>& logits, const std::vector<int>& labels) {
  int correct = 0;
  const std::size_t k = logits.shape()[1];
  for (std::size_t i = 0; i < labels.size(); ++i) {
    std::size_t best = 0;
    for (std::size_t j = 1; j < k; ++j)
      if (logits(i, j) > logits(i, best)) best = j;
    correct += static_cast<int>(best) == labels[i];
  }
  return float(correct) / float(labels.size());
}
}  // namespace

TEST_CASE("a cifar subnet learns; a second config learns on the shared weights", "[nn][learns]") {
  ofa::nn::elastic_net<cifar> net(11, 0.0);
  auto config = ofa::subnet_config<cifar>::min();
  config.resolution = 24;
  auto second = config;
  second.depth = {3, 3, 3, 3, 3};
  for (auto& k : second.kernel) k = 5;
  ofa::rng data(12);
  auto state = net.state();
  for (const auto& c : {config, second}) {
    net.set_active(c);
    float first_loss = 0, last_loss = 0;
    const int steps = test::sanitized ? 6 : 80;  // sanitizers check memory, the Release run checks learning
    const int window = std::max(1, steps / 8);   // steps averaged at the start and at the end
    for (int step = 0; step < steps; ++step) {
      ofa::tensor<float> images;
      std::vector<int> labels;
      make_batch(16, 24, data, images, labels);
      net.zero_grad();
      auto loss = ag::cross_entropy(net.forward(ag::variable<float>(images), ofa::nn::forward_mode::train), labels);
      ag::backward(loss);
      for (auto& p : state.parameters)
        for (std::size_t i = 0; i < p.value.value().size(); ++i)
          p.value.value().data()[i] -= 0.05f * p.value.grad().data()[i];
      if (step < window) first_loss += loss.item() / float(window);
      if (step >= steps - window) last_loss += loss.item() / float(window);
    }
    ofa::tensor<float> images;
    std::vector<int> labels;
    make_batch(test::sanitized ? 16 : 128, 24, data, images, labels);
    ag::no_grad<float> off;
    const auto acc = accuracy(net.forward(ag::variable<float>(images), ofa::nn::forward_mode::train).value(), labels);
    INFO("loss " << first_loss << " -> " << last_loss << ", accuracy " << acc);
    if (test::sanitized) continue;
    CHECK(last_loss < 0.5f * first_loss);
    CHECK(acc > 0.6f);  // chance is 0.25
  }
}
