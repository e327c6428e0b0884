// The determinism contract: one whole training step (two subnets accumulated, the
// reduction seam, an SGD update) gives the same bits on 1 and 2 threads: the loss,
// every gradient, every BN buffer and every weight after the update.
#include <catch2/catch.hpp>

#include <cstring>  // memcpy

#include <oneapi/tbb/task_arena.h>

#include <ofa/nn/elastic_net.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/train/optimizer.hpp>
#include <ofa/train/trainer_state.hpp>

#include "../hash.hpp"
#include "../sanitized.hpp"

namespace ag = ofa::autograd;
using cifar = ofa::spaces::cifar;

namespace {
using test::fnv;

struct step_hashes {
  std::uint64_t loss = 0, gradients = 0, buffers = 0, weights = 0;
  bool operator==(const step_hashes&) const = default;
};

step_hashes one_step(int threads) {
  step_hashes h;
  tbb::task_arena arena(threads);
  arena.execute([&] {
    ofa::nn::elastic_net<cifar> net(7);
    ofa::train::sgd opt(net.state());
    ofa::train::local_reduction local;
    const std::size_t batch = test::sanitized ? 4 : 16;
    ofa::rng data(8);
    ofa::tensor<float> images(ofa::shape_type{batch, 28, 28, 3});
    for (auto& v : images) v = static_cast<float>(data.normal());
    std::vector<int> labels(batch);
    for (std::size_t i = 0; i < batch; ++i) labels[i] = static_cast<int>(data.uniform_index(10));
    opt.zero_grad();
    float losses = 0;
    for (std::uint64_t subnet = 0; subnet < 2; ++subnet) {  // dynamic batch size 2
      auto e = ofa::train::draw_stream(42, 0x5a3bULL, 0, subnet);
      auto config = ofa::sample_config<cifar>(e);
      config.resolution = 28;
      net.dropout_stream() = ofa::train::draw_stream(42, 0xd50ULL, 0, subnet);
      auto loss = ag::cross_entropy(net.forward(ag::variable<float>(images), config), labels, 0.1f);
      ag::backward(loss);
      losses += loss.item();
    }
    h.loss = fnv(&losses, sizeof losses, 1469598103934665603ULL);
    opt.reduce_gradients(local);
    auto state = net.state();
    h.gradients = h.buffers = h.weights = 1469598103934665603ULL;
    for (auto& p : state.parameters)
      h.gradients = fnv(p.value.grad().data(), p.value.grad().size() * sizeof(float), h.gradients);
    for (auto& b : state.buffers) h.buffers = fnv(b.value->data(), b.value->size() * sizeof(float), h.buffers);
    opt.apply(0.1);
    for (auto& p : state.parameters)
      h.weights = fnv(p.value.value().data(), p.value.value().size() * sizeof(float), h.weights);
  });
  return h;
}
}  // namespace

TEST_CASE("a whole training step gives the same bits on 1 and 2 threads", "[train][determinism]") {
  const auto one = one_step(1), two = one_step(2), again = one_step(2);
  CHECK(one.loss == two.loss);
  CHECK(one.gradients == two.gradients);
  CHECK(one.buffers == two.buffers);
  CHECK(one.weights == two.weights);
  CHECK(two == again);
}
