// The fused batch norm + depthwise op: the same values, running statistics and gradients as
// batch_norm(…, act) then depthwise(…) in float (the SIMD kernels, which never form BN's
// output), and finite differences in double, for every kernel size, stride and activation.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <ofa/autograd/batch_norm_depthwise.hpp>
#include <ofa/autograd/gradcheck.hpp>

namespace ag = ofa::autograd;

namespace {
template <class T>
ag::variable<T> random_var(std::vector<std::size_t> shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  ofa::rng engine(seed);
  ofa::tensor<T> t(shape);
  for (auto& v : t) {
    v = static_cast<T>(lo + (hi - lo) * engine.uniform01());
    if (std::abs(v) < T(1e-3)) v = T(0.37);
  }
  return ag::variable<T>(std::move(t), true);
}
double max_abs_difference(const ofa::tensor<float>& a, const ofa::tensor<float>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a.data()[i]) - b.data()[i]));
  return worst;
}
}  // namespace

TEST_CASE("batch_norm_depthwise equals batch norm then depthwise, values and gradients", "[autograd][fused]") {
  // 20 channels of a 23-channel layer: off the vector width, and a prefix of max-size arrays.
  const std::size_t n = 2, h = 9, w = 10, c = 20, max_c = 23;
  std::uint64_t seed = 400;
  for (int k : {3, 5, 7})
    for (int stride : {1, 2})
      for (auto act : {ofa::activation::none, ofa::activation::relu, ofa::activation::relu6, ofa::activation::hswish}) {
        INFO("k=" << k << " stride=" << stride << " act=" << int(act));
        auto x = random_var<float>({n, h, w, c}, seed++, -2, 3);
        auto gamma = random_var<float>({max_c}, seed++, 0.5, 1.5), beta = random_var<float>({max_c}, seed++);
        auto weight = random_var<float>({7, 7, max_c}, seed++);
        const auto oh = std::size_t((h - 1) / stride + 1), ow = std::size_t((w - 1) / stride + 1);
        const auto r = random_var<float>({n, oh, ow, c}, seed++).value();
        struct outcome {
          ofa::tensor<float> y, dx, dgamma, dbeta, dw, running_mean, running_var;
        };
        auto run = [&](bool fused) {
          for (auto* v : {&x, &gamma, &beta, &weight}) v->zero_grad();
          ofa::tensor<float> rm = ofa::make_tensor<float>({max_c}, 0.5f), rv = ofa::make_tensor<float>({max_c}, 2.0f);
          auto y =
              fused ? ag::batch_norm_depthwise(x, gamma, beta, rm, rv, 0.1f, 1e-5f, act, weight, k, stride)
                    : ag::depthwise(ag::batch_norm(x, gamma, beta, rm, rv, true, 0.1f, 1e-5f, act), weight, k, stride);
          auto loss = ag::dot(y, r);
          ag::backward(loss);
          return outcome{y.value(), x.grad(), gamma.grad(), beta.grad(), weight.grad(), std::move(rm), std::move(rv)};
        };
        const auto two_ops = run(false);
        const auto fused = run(true);
        CHECK(max_abs_difference(fused.y, two_ops.y) < 1e-4);
        CHECK(max_abs_difference(fused.dx, two_ops.dx) < 1e-4);
        CHECK(max_abs_difference(fused.dgamma, two_ops.dgamma) < 1e-3);
        CHECK(max_abs_difference(fused.dbeta, two_ops.dbeta) < 1e-3);
        CHECK(max_abs_difference(fused.dw, two_ops.dw) < 1e-3);
        CHECK(max_abs_difference(fused.running_mean, two_ops.running_mean) == 0);
        CHECK(max_abs_difference(fused.running_var, two_ops.running_var) == 0);
      }
}

TEST_CASE("gradcheck: batch_norm_depthwise, every kernel, stride and activation", "[autograd][fused]") {
  std::uint64_t seed = 500;
  for (int k : {3, 5, 7})
    for (int stride : {1, 2})
      for (auto act : {ofa::activation::none, ofa::activation::relu, ofa::activation::relu6, ofa::activation::hswish}) {
        INFO("k=" << k << " stride=" << stride << " act=" << int(act));
        auto x = random_var<double>({2, 5, 6, 3}, seed++, -2, 3);
        auto gamma = random_var<double>({5}, seed++, 0.5, 1.5), beta = random_var<double>({5}, seed++);
        auto weight = random_var<double>({7, 7, 5}, seed++);
        ofa::tensor<double> rm = ofa::make_tensor<double>({5}, 0.0), rv = ofa::make_tensor<double>({5}, 1.0);
        const auto oh = std::size_t((5 - 1) / stride + 1), ow = std::size_t((6 - 1) / stride + 1);
        const auto r = random_var<double>({2, oh, ow, 3}, seed++).value();
        const auto r2 = random_var<double>({2, 5, 6, 3}, seed++).value();
        // x also feeds a second term, so its gradient from the fused op is added to another.
        const auto result = ag::gradcheck(
            [&] {
              auto y = ag::batch_norm_depthwise(x, gamma, beta, rm, rv, 0.1, 1e-5, act, weight, k, stride);
              return ag::add(ag::dot(y, r), ag::dot(x, r2));
            },
            {x, gamma, beta, weight});
        INFO(result.worst);
        CHECK(result.checked > 0);
        CHECK(result.max_rel_error < 1e-5);
      }
}

TEST_CASE("batch_norm_depthwise names its bad input", "[autograd][fused]") {
  auto x = random_var<float>({2, 4, 4, 6}, 1);
  auto gamma = random_var<float>({4}, 2), beta = random_var<float>({4}, 3);
  auto weight = random_var<float>({3, 3, 6}, 4);
  ofa::tensor<float> rm = ofa::make_tensor<float>({4}, 0.0f), rv = ofa::make_tensor<float>({4}, 1.0f);
  CHECK_THROWS_WITH(ag::batch_norm_depthwise(x, gamma, beta, rm, rv, 0.1f, 1e-5f, ofa::activation::relu, weight, 3, 1),
                    Catch::Matchers::Contains("6 channels, more than the BN layer's 4"));
  auto gamma6 = random_var<float>({6}, 5), beta6 = random_var<float>({6}, 6);
  ofa::tensor<float> rm6 = ofa::make_tensor<float>({6}, 0.0f), rv6 = ofa::make_tensor<float>({6}, 1.0f);
  CHECK_THROWS_AS(
      ag::batch_norm_depthwise(x, gamma6, beta6, rm6, rv6, 0.1f, 1e-5f, ofa::activation::relu, weight, 5, 1),
      ofa::shape_error);
  // An unsupported stride is refused before the running statistics move.
  CHECK_THROWS_WITH(
      ag::batch_norm_depthwise(x, gamma6, beta6, rm6, rv6, 0.1f, 1e-5f, ofa::activation::relu, weight, 3, 3),
      Catch::Matchers::Contains("stride 3 is not supported"));
  for (float v : rm6) CHECK(v == 0.0f);
}
