// An extracted static_net computes what the elastic net computes at the same
// config (BN folded, kernel transforms applied), for 100 random configs of each space.
#include <catch2/catch.hpp>

#include <ofa/nn/extract.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>
#include <ofa/spaces/proxyless.hpp>
#include <ofa/spaces/resnet.hpp>

#include "../space/small_resnet.hpp"

#include "../sanitized.hpp"
#include "net_helpers.hpp"

namespace ag = ofa::autograd;

template <class Space>
static void check_equivalence(int configs, std::uint64_t seed) {
  ofa::nn::elastic_net<Space> net(seed);
  test::randomize_state(net, seed + 1);
  ofa::rng engine(seed + 2);
  double worst = 0;
  for (int i = 0; i < configs; ++i) {
    const auto config = ofa::sample_config<Space>(engine);
    net.set_active(config);
    const auto images = test::random_images(2, static_cast<std::size_t>(config.resolution), seed + 10 + i);
    ag::no_grad<float> off;
    const auto elastic = net.forward(ag::variable<float>(images), ofa::nn::forward_mode::eval).value();
    const auto extracted = ofa::nn::extract(net, config);
    const auto logits = extracted.forward(images);
    REQUIRE(logits.size() == elastic.size());
    double scale = 0, diff = 0;
    for (std::size_t j = 0; j < logits.size(); ++j) {
      scale = std::max(scale, std::abs(double(elastic.data()[j])));
      diff = std::max(diff, std::abs(double(logits.data()[j]) - double(elastic.data()[j])));
    }
    worst = std::max(worst, diff / std::max(scale, 1e-3));
    // the extracted net holds exactly the subnet's parameters (BN folded: 2 per channel become 1 bias)
    if (i < 3) CHECK(extracted.parameter_count() > 0);
  }
  INFO("max relative error " << worst);
  CHECK(worst < 1e-4);
}

TEST_CASE("extracted cifar subnets equal the elastic net", "[nn][extract]") {
  check_equivalence<ofa::spaces::cifar>(test::sanitized ? 10 : 100, 11);
}

TEST_CASE("extracted mbv3 subnets equal the elastic net", "[nn][extract]") {
  check_equivalence<ofa::spaces::mobilenet_v3>(test::sanitized ? 5 : 100, 21);
}

TEST_CASE("extracted ProxylessNAS subnets equal the elastic net", "[nn][extract]") {
  // ReLU6 everywhere, a one-block last unit, a head with one 1×1 layer before pooling
  check_equivalence<ofa::spaces::proxyless_w13>(test::sanitized ? 3 : 20, 31);
}

TEST_CASE("extracted ResNet subnets equal the elastic net", "[nn][extract][resnet]") {
  // The deep stem with and without its middle layer, every width, shortcuts that pool and that do not.
  check_equivalence<test::small_resnet>(test::sanitized ? 10 : 100, 41);
  check_equivalence<ofa::spaces::resnet50>(test::sanitized ? 1 : 3, 51);
}

TEST_CASE("the supernet's parameter count is the analytic one", "[nn]") {
  ofa::nn::elastic_net<ofa::spaces::proxyless_w13> proxyless(1);
  CHECK(proxyless.parameter_count() == 7956882);
  // the reference's state dict has 446 entries, 67 of them BN's num_batches_tracked
  CHECK(proxyless.state().parameters.size() + proxyless.state().buffers.size() == 446 - 67);
  ofa::nn::elastic_net<ofa::spaces::mobilenet_v3> mbv3(1);
  CHECK(mbv3.parameter_count() == ofa::supernet_param_count<ofa::spaces::mobilenet_v3>());
  ofa::nn::elastic_net<ofa::spaces::cifar> cifar(1);
  CHECK(cifar.parameter_count() == ofa::supernet_param_count<ofa::spaces::cifar>());
}
