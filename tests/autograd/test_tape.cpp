// The tape: accumulation across backward calls, no-grad mode, misuse errors,
// steady-state allocation, and an MLP that learns.
#include <catch2/catch.hpp>

#include <ofa/autograd/ops.hpp>
#include <ofa/tensor/pool.hpp>

#include <set>
#include <string>

namespace ag = ofa::autograd;
using fvar = ag::variable<float>;

namespace {
fvar param(std::vector<std::size_t> shape, std::uint64_t seed, double scale) {
  ofa::rng engine(seed);
  ofa::tensor<float> t(shape);
  for (auto& v : t) v = static_cast<float>(scale * engine.normal());
  return fvar(std::move(t), true);
}
}  // namespace

TEST_CASE("gradients accumulate across backward calls until zeroed", "[autograd]") {
  auto w = param({3, 4}, 1, 1.0);
  auto x = fvar(ofa::make_tensor<float>({2, 4}, 1.0f));
  auto l1 = ag::mse(ag::pointwise(x, w, 3, 4), ofa::make_tensor<float>({2, 3}, 0.0f));
  ag::backward(l1);
  const auto once = w.grad();
  auto l2 = ag::mse(ag::pointwise(x, w, 3, 4), ofa::make_tensor<float>({2, 3}, 0.0f));
  ag::backward(l2);
  for (std::size_t i = 0; i < once.size(); ++i) CHECK(w.grad().data()[i] == Approx(2 * once.data()[i]));
  w.zero_grad();
  for (float g : w.grad()) CHECK(g == 0.0f);
}

TEST_CASE("batch norm and channel scale overwrite the output gradient with the input's when it is the first",
          "[autograd]") {
  // float (the SIMD kernels): the in-place result equals the kernel run into a separate buffer
  const std::size_t n = 2, h = 5, w = 7, c = 19, m = n * h * w;
  auto x = param({n, h, w, c}, 11, 2.0), gamma = param({c + 3}, 12, 1.0), beta = param({c + 3}, 13, 1.0);
  auto s = param({n, c}, 14, 1.0);
  ofa::tensor<float> rm = ofa::make_tensor<float>({c + 3}, 0.0f), rv = ofa::make_tensor<float>({c + 3}, 1.0f);
  const auto r = param({n, h, w, c}, 15, 1.0).value();
  for (auto act : {ofa::activation::none, ofa::activation::relu, ofa::activation::relu6, ofa::activation::hswish}) {
    INFO("activation " << int(act));
    x.zero_grad();
    gamma.zero_grad();
    auto y = ag::batch_norm(x, gamma, beta, rm, rv, true, 0.1f, 1e-5f, act);
    auto out = ag::channel_scale(y, s);
    auto loss = ag::dot(out, r);
    ag::backward(loss);
    // expected: dy of the BN is r·s, then the BN backward into its own buffer
    std::vector<float> dy(m * c), dx(m * c), dgamma(c + 3, 0.0f), dbeta(c + 3, 0.0f);
    for (std::size_t i = 0; i < m * c; ++i) dy[i] = r.data()[i] * s.value().data()[(i / (h * w * c)) * c + i % c];
    ofa::kernels::batch_norm_saved<float> saved;
    std::vector<float> scratch(m * c);
    ofa::kernels::batch_norm_params<float> p{gamma.value().data(), beta.value().data(), nullptr, nullptr, 0.1f, 1e-5f};
    ofa::kernels::batch_norm_train(m, c, x.value().data(), p, scratch.data(), saved, act);
    ofa::kernels::batch_norm_backward(m, c, x.value().data(), dy.data(), gamma.value().data(), beta.value().data(),
                                      saved, dx.data(), dgamma.data(), dbeta.data(), act);
    for (std::size_t i = 0; i < m * c; ++i) REQUIRE(x.grad().data()[i] == Approx(dx[i]).margin(1e-5));
    for (std::size_t j = 0; j < c; ++j) CHECK(gamma.grad().data()[j] == Approx(dgamma[j]).margin(1e-4));
  }
}

TEST_CASE("backward releases an op's saved tensors and gradients as soon as its closure has run", "[autograd]") {
  auto x = param({4, 6}, 16, 1.0);
  const auto r = param({4, 6}, 17, 1.0).value();
  std::weak_ptr<ag::node<float>> inner;
  bool released_before_the_end = false;
  ag::tape<float>::current().clear();
  // recorded first, so run last: by then the closures that held the inner result have run
  ag::tape<float>::current().record("probe", [&] { released_before_the_end = inner.expired(); });
  auto loss = [&] {
    auto h = ag::activate(ag::activate(x, ofa::activation::relu), ofa::activation::hswish);
    inner = h.handle();
    return ag::dot(h, r);
  }();
  CHECK_FALSE(inner.expired());  // the tape holds it for the backward pass
  ag::backward(loss);
  CHECK(released_before_the_end);
  CHECK(x.has_grad());
}

TEST_CASE("no_grad records nothing", "[autograd]") {
  auto w = param({3, 4}, 2, 1.0);
  auto x = fvar(ofa::make_tensor<float>({2, 4}, 1.0f));
  ag::tape<float>::current().clear();
  {
    ag::no_grad<float> off;
    auto y = ag::activate(ag::pointwise(x, w, 3, 4), ofa::activation::relu);
    CHECK_FALSE(y.requires_grad());
  }
  CHECK(ag::tape<float>::current().size() == 0);
  auto y = ag::activate(ag::pointwise(x, w, 3, 4), ofa::activation::relu);
  CHECK(ag::tape<float>::current().size() == 2);
  ag::tape<float>::current().clear();
}

TEST_CASE("misuse gives typed errors naming the op and shapes", "[autograd]") {
  auto w = param({3, 4}, 3, 1.0);
  auto x = fvar(ofa::make_tensor<float>({2, 5}, 1.0f));
  CHECK_THROWS_WITH(ag::pointwise(x, w, 3, 4),
                    Catch::Matchers::Contains("pointwise") && Catch::Matchers::Contains("[2, 5]"));
  CHECK_THROWS_AS(ag::pointwise(fvar(ofa::make_tensor<float>({2, 4})), w, 5, 4), ofa::shape_error);
  auto not_scalar = ag::pointwise(fvar(ofa::make_tensor<float>({2, 4}, 1.0f)), w, 3, 4);
  CHECK_THROWS_AS(ag::backward(not_scalar), ofa::logic_error);
  ag::tape<float>::current().clear();
  auto constant = fvar(ofa::make_tensor<float>({1}, 1.0f));
  CHECK_THROWS_WITH(ag::backward(constant), Catch::Matchers::Contains("nothing was recorded"));
  CHECK_THROWS_AS(ag::cross_entropy(fvar(ofa::make_tensor<float>({2, 3})), {0, 3}), ofa::shape_error);
  CHECK_THROWS_AS(ag::depthwise(fvar(ofa::make_tensor<float>({1, 4, 4, 3})), param({7, 7, 3}, 4, 1.0), 4, 1),
                  ofa::shape_error);
  ag::variable<float> empty;
  CHECK_THROWS_AS(empty.value(), ofa::logic_error);
}

TEST_CASE("an MLP learns a nonlinear function, and steps stop allocating", "[autograd]") {
  // y = sin(3 x0) + x1^2 on 256 points; 2 -> 32 -> 1 MLP with plain SGD.
  ofa::rng engine(5);
  ofa::tensor<float> x(ofa::shape_type{256, 2}), t(ofa::shape_type{256, 1});
  for (std::size_t i = 0; i < 256; ++i) {
    x(i, 0) = static_cast<float>(engine.uniform01() * 2 - 1);
    x(i, 1) = static_cast<float>(engine.uniform01() * 2 - 1);
    t(i, 0) = std::sin(3 * x(i, 0)) + x(i, 1) * x(i, 1);
  }
  auto w1 = param({32, 2}, 6, 0.7), b1 = param({32}, 7, 0.1), w2 = param({1, 32}, 8, 0.2), b2 = param({1}, 9, 0.1);
  const fvar input(x);
  std::vector<fvar> params{w1, b1, w2, b2};
  float first = 0, last = 0;
  std::size_t allocations_after_warmup = 0;
  for (int step = 0; step < 3000; ++step) {
    for (auto& p : params) p.zero_grad();
    auto h = ag::activate(ag::linear(input, w1, b1, 32, 2), ofa::activation::hswish);
    auto loss = ag::mse(ag::linear(h, w2, b2, 1, 32), t);
    ag::backward(loss);
    for (auto& p : params)
      for (std::size_t i = 0; i < p.value().size(); ++i) p.value().data()[i] -= 0.3f * p.grad().data()[i];
    if (step == 0) first = loss.item();
    last = loss.item();
    if (step == 10) allocations_after_warmup = ofa::pool_stats().system_allocations;
  }
  CHECK(last < 0.1f * first);
  CHECK(ofa::pool_stats().system_allocations == allocations_after_warmup);
}

TEST_CASE("profiling charges ops and their backward to their layer type, outermost scope only", "[autograd]") {
  ofa::profiling::reset();
  ofa::profiling::enable(true);
  auto w = param({3, 4}, 7, 1.0), b = param({3}, 8, 1.0);
  auto x = fvar(ofa::make_tensor<float>({2, 4}, 1.0f));
  auto loss = ag::mse(ag::linear(x, w, b, 3, 4), ofa::make_tensor<float>({2, 3}, 0.0f));
  ag::backward(loss);
  ofa::profiling::enable(false);
  auto rows = ofa::profiling::report();
  auto find = [&](const std::string& name, ofa::profiling::phase when) {
    for (const auto& r : rows)
      if (r.name == name && r.when == when) return r.calls;
    return std::int64_t{0};
  };
  CHECK(find("pointwise", ofa::profiling::phase::forward) == 1);
  CHECK(find("bias_add", ofa::profiling::phase::forward) == 1);
  CHECK(find("pointwise", ofa::profiling::phase::backward) == 1);
  CHECK(find("mse", ofa::profiling::phase::forward) == 1);
  CHECK(find("loss", ofa::profiling::phase::forward) == 0);  // inside mse: not charged twice
  for (const auto& r : rows) CHECK(r.seconds >= 0);
  // off: nothing more is collected
  auto again = ag::pointwise(x, w, 3, 4);
  CHECK(find("pointwise", ofa::profiling::phase::forward) == 1);
  CHECK(ofa::profiling::report().size() == rows.size());
  ofa::profiling::reset();
  CHECK(ofa::profiling::report().empty());
}

TEST_CASE("profiling by shape splits a layer type by its tensor shapes", "[autograd]") {
  ag::tape<float>::current().clear();  // no closures left by an earlier test (they are named by type)
  ofa::profiling::reset();
  ofa::profiling::enable(true, ofa::profiling::detail_level::shape);
  auto w = param({3, 4}, 7, 1.0);
  auto small = fvar(ofa::make_tensor<float>({2, 4}, 1.0f)), large = fvar(ofa::make_tensor<float>({5, 4}, 1.0f));
  auto loss_small = ag::mse(ag::pointwise(small, w, 3, 4), ofa::make_tensor<float>({2, 3}, 0.0f));
  ag::backward(loss_small);
  auto loss_large = ag::mse(ag::pointwise(large, w, 2, 4), ofa::make_tensor<float>({5, 2}, 0.0f));
  ag::backward(loss_large);
  ofa::profiling::enable(false);
  std::set<std::string> names;
  for (const auto& r : ofa::profiling::report()) names.insert(r.name);
  CHECK(names.count("pointwise 2x4->3") == 1);  // rows x in -> out
  CHECK(names.count("pointwise 5x4->2") == 1);
  CHECK(names.count("pointwise") == 0);
  // back to types: no shapes in the names
  ofa::profiling::reset();
  ofa::profiling::enable(true);
  auto loss_again = ag::mse(ag::pointwise(small, w, 3, 4), ofa::make_tensor<float>({2, 3}, 0.0f));
  ag::backward(loss_again);
  ofa::profiling::enable(false);
  bool plain = false;
  for (const auto& r : ofa::profiling::report()) plain = plain || r.name == "pointwise";
  CHECK(plain);
  ofa::profiling::reset();
}
