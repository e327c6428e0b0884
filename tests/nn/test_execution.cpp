// Weights apart from execution state: clone() is deep, freeze() stops gradients on
// any thread, an evaluation forward records and writes nothing (and runs on several
// threads at once), recalibrated BN statistics are the data's and feed extract(),
// the resolution is checked, and a static_net runs stage by stage.
#include <catch2/catch.hpp>

#include <cmath>  // isfinite, nanf
#include <thread>

#include <ofa/nn/extract.hpp>
#include <ofa/spaces/cifar.hpp>

#include "net_helpers.hpp"

namespace ag = ofa::autograd;
namespace nn = ofa::nn;
using cifar = ofa::spaces::cifar;
using Catch::Matchers::Contains;

namespace {
std::vector<int> some_labels(std::size_t n) {
  std::vector<int> l(n);
  for (std::size_t i = 0; i < n; ++i) l[i] = static_cast<int>(i % 10);
  return l;
}
ofa::subnet_config<cifar> small_config() {
  auto c = ofa::subnet_config<cifar>::min();
  c.resolution = 24;
  return c;
}
/// One SGD-like step in training mode: the weights and the BN running statistics move.
void train_step(nn::elastic_net<cifar>& net, const ofa::subnet_config<cifar>& c, std::uint64_t seed) {
  net.zero_grad();
  const auto images = test::random_images(4, std::size_t(c.resolution), seed);
  auto loss = ag::cross_entropy(net.forward(ag::variable<float>(images), c), some_labels(4));
  ag::backward(loss);
  for (auto& p : net.state().parameters)
    if (p.value.has_grad())
      for (std::size_t i = 0; i < p.value.value().size(); ++i)
        p.value.value().data()[i] -= 0.1f * p.value.grad().data()[i];
}
using test::same_state;
}  // namespace

TEST_CASE("clone() is deep: training the clone leaves the original", "[nn][clone]") {
  nn::elastic_net<cifar> net(1);
  test::randomize_state(net, 2);
  auto copy = net.clone();
  REQUIRE(same_state(net, copy));
  const auto images = test::random_images(2, 32, 3);
  const auto max = ofa::subnet_config<cifar>::max();
  const bool same_outputs = net.evaluate(images, max) == copy.evaluate(images, max);
  CHECK(same_outputs);
  auto reference = net.clone();
  train_step(copy, small_config(), 4);
  CHECK_FALSE(same_state(net, copy));
  CHECK(same_state(net, reference));  // weights and BN running statistics alike
  static_assert(!std::is_copy_constructible_v<nn::elastic_net<cifar>>,
                "a copy would share weights but not BN statistics: clone() is the copy");
}

TEST_CASE("a frozen teacher is unchanged by its student's step, on any thread", "[nn][freeze]") {
  nn::elastic_net<cifar> student(5, 0.0);
  auto teacher = student.clone();
  teacher.freeze();
  auto teacher_before = teacher.clone();
  const auto c = small_config();
  const auto images = test::random_images(4, 24, 6);
  // Distillation: the teacher's logits (eval, no recording) are the student's soft target.
  const auto soft = teacher.evaluate(images, ofa::subnet_config<cifar>::max().with_resolution(24));
  student.zero_grad();
  auto loss = ag::soft_cross_entropy(student.forward(ag::variable<float>(images), c), soft);
  ag::backward(loss);
  for (auto& p : student.state().parameters)
    if (p.value.has_grad()) p.value.value().data()[0] -= 1.0f;
  CHECK(same_state(teacher, teacher_before));
  for (auto& p : teacher.state().parameters) CHECK_FALSE(p.value.has_grad());
  // Even a training forward of the frozen net records nothing, on another thread too.
  std::size_t recorded = 99;
  std::thread other([&] {
    (void)teacher.forward(ag::variable<float>(images), c, nn::forward_mode::train);
    recorded = ag::tape<float>::current().size();
  });
  other.join();
  CHECK(recorded == 0);
}

TEST_CASE("an eval forward records nothing and writes nothing", "[nn][eval]") {
  nn::elastic_net<cifar> net(7);
  test::randomize_state(net, 8);
  auto before = net.clone();
  const auto images = test::random_images(3, 32, 9);
  ag::tape<float>::current().clear();
  for (int i = 0; i < 3; ++i) (void)net.forward(ag::variable<float>(images), ofa::subnet_config<cifar>::max(),
                                                nn::forward_mode::eval);
  CHECK(ag::tape<float>::current().size() == 0);  // outside no_grad: the mode is enough
  CHECK(same_state(net, before));
  const nn::elastic_net<cifar>& as_const = net;
  (void)as_const.evaluate(images, ofa::subnet_config<cifar>::max());
  CHECK_THROWS_AS(as_const.forward(ag::variable<float>(images), ofa::subnet_config<cifar>::max(),
                                   nn::forward_mode::train),
                  ofa::logic_error);
}

TEST_CASE("subnets of one network evaluate on several threads at once", "[nn][eval][concurrent]") {
  nn::elastic_net<cifar> net(10);
  test::randomize_state(net, 11);
  ofa::rng engine(12);
  std::vector<ofa::subnet_config<cifar>> configs;
  for (int i = 0; i < 4; ++i) configs.push_back(ofa::sample_config<cifar>(engine));
  std::vector<ofa::tensor<float>> serial, parallel(configs.size());
  for (const auto& c : configs) serial.push_back(net.evaluate(test::random_images(2, std::size_t(c.resolution), 13), c));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < configs.size(); ++i)
    threads.emplace_back([&, i] {
      parallel[i] = net.evaluate(test::random_images(2, std::size_t(configs[i].resolution), 13), configs[i]);
    });
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const bool same = serial[i] == parallel[i];
    CHECK(same);
  }
}

TEST_CASE("recalibrated BN statistics are the data's, and extraction uses them", "[nn][recalibrate]") {
  nn::elastic_net<cifar> net(14);
  test::randomize_state(net, 15);
  auto untouched = net.clone();
  const auto c = small_config();
  std::vector<ofa::tensor<float>> batches{test::random_images(6, 24, 16), test::random_images(2, 24, 17)};
  {  // Leave NaN in the pool's free blocks: scratch that is read before it is written shows.
    std::vector<ofa::tensor<float>> poison;
    for (std::size_t n = 8; n <= 4096; n *= 2)
      for (int i = 0; i < 8; ++i) poison.push_back(ofa::make_tensor<float>({n}, std::nanf("")));
  }
  const auto stats = net.recalibrate(c, batches);
  CHECK(same_state(net, untouched));  // measured, not written
  CHECK(stats.images() == 8);
  // The stem BN's input is the stem convolution of the images: its statistics by hand, as the
  // reference averages them (batch means and biased variances, weighted by batch size).
  const auto* stem = stats.find(net.stem_bn.index);
  REQUIRE(stem != nullptr);
  const std::size_t channels = cifar::stem.width;
  REQUIRE(stem->channels == channels);
  std::vector<double> mean(channels, 0.0), var(channels, 0.0);
  for (const auto& b : batches) {
    ag::no_grad<float> off;
    const auto y = ag::conv2d(ag::variable<float>(b), net.stem_weight, cifar::stem.stride).value();
    const std::size_t rows = y.size() / channels;
    for (std::size_t j = 0; j < channels; ++j) {
      double s = 0, s2 = 0;
      for (std::size_t r = 0; r < rows; ++r) s += y.data()[r * channels + j];
      const double m = s / double(rows);
      for (std::size_t r = 0; r < rows; ++r) s2 += (y.data()[r * channels + j] - m) * (y.data()[r * channels + j] - m);
      mean[j] += m * double(b.shape()[0]) / 8.0;
      var[j] += s2 / double(rows) * double(b.shape()[0]) / 8.0;
    }
  }
  for (std::size_t layer = 0; layer < stats.layer_count(); ++layer)
    if (const auto* l = stats.find(layer))
      for (std::size_t j = 0; j < l->channels; ++j) REQUIRE((std::isfinite(l->mean.data()[j]) && std::isfinite(l->var.data()[j])));
  for (std::size_t j = 0; j < channels; ++j) {
    CHECK(stem->mean.data()[j] == Approx(mean[j]).epsilon(1e-4).margin(1e-5));
    CHECK(stem->var.data()[j] == Approx(var[j]).epsilon(1e-4).margin(1e-5));
  }
  // A deeper layer moved off the running statistics too.
  const auto& deep = net.blocks_[net.block_index(2, 0)].depth_bn;
  REQUIRE(stats.find(deep.index) != nullptr);
  CHECK(stats.find(deep.index)->mean.data()[0] != deep.running_mean.data()[0]);
  // Layers of blocks the subnet skipped have none.
  CHECK(stats.find(net.blocks_[net.block_index(0, 3)].depth_bn.index) == nullptr);
  // Evaluation on the statistics equals the extracted net folded on them.
  const auto images = test::random_images(2, 24, 18);
  const auto elastic = net.evaluate(images, c, &stats);
  const auto extracted = nn::extract(net, c, &stats).forward(images);
  const auto plain = net.evaluate(images, c);
  double diff = 0, moved = 0;
  for (std::size_t i = 0; i < elastic.size(); ++i) {
    diff = std::max(diff, std::abs(double(elastic.data()[i]) - double(extracted.data()[i])));
    moved = std::max(moved, std::abs(double(elastic.data()[i]) - double(plain.data()[i])));
  }
  CHECK(diff < 1e-3);
  CHECK(moved > 1e-3);
  CHECK_THROWS_AS(net.recalibrate(c, {}), ofa::data_error);
}

TEST_CASE("images of another resolution than the config's are refused", "[nn][resolution]") {
  nn::elastic_net<cifar> net(19);
  const auto c = small_config();  // 24
  const auto images = test::random_images(1, 32, 20);
  CHECK_THROWS_AS(net.evaluate(images, c), ofa::shape_error);
  CHECK_THROWS_WITH(net.evaluate(images, c), Contains("resolution is 24"));
  const auto extracted = nn::extract(net, c);
  CHECK_THROWS_WITH(extracted.forward(images), Contains("extracted for 24x24"));
}

TEST_CASE("a static_net runs stage by stage as its forward does", "[nn][stages]") {
  nn::elastic_net<cifar> net(21);
  test::randomize_state(net, 22);
  ofa::rng engine(23);
  const auto c = ofa::sample_config<cifar>(engine);
  const auto s = nn::extract(net, c);
  std::size_t blocks = 1;
  for (int d : c.depth) blocks += std::size_t(d);
  REQUIRE(s.stage_count() == blocks + 2);
  CHECK(s.stage_name(0) == "stem");
  CHECK(s.stage_name(1) == "blocks.0");
  CHECK(s.stage_name(s.stage_count() - 1) == "head");
  const auto images = test::random_images(2, std::size_t(c.resolution), 24);
  nn::feature_map a = nn::feature_map::view(images), b;
  for (std::size_t i = 0; i < s.stage_count(); ++i) {
    s.run_stage(i, a, b);
    std::swap(a, b);
  }
  const auto logits = s.forward(images);
  REQUIRE(a.size() == logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) CHECK(a.data()[i] == logits.data()[i]);
}
