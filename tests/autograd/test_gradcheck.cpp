// Finite differences (double) against the tape for every op, on random shapes
// and random inputs, and a whole small MBConv block.
#include <catch2/catch.hpp>

#include <ofa/autograd/gradcheck.hpp>
#include <ofa/autograd/ops.hpp>

namespace ag = ofa::autograd;
using var = ag::variable<double>;

namespace {
var random_var(std::vector<std::size_t> shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  ofa::rng engine(seed);
  ofa::tensor<double> t(shape);
  for (auto& v : t) {
    v = lo + (hi - lo) * engine.uniform01();
    if (std::abs(v) < 1e-3) v = 0.37;
  }
  return var(std::move(t), true);
}
ofa::tensor<double> random_tensor(std::vector<std::size_t> shape, std::uint64_t seed) {
  return random_var(std::move(shape), seed).value();
}
void require_close(const ag::gradcheck_result& r, double tolerance = 1e-6) {
  INFO(r.worst << " (checked " << r.checked << ")");
  CHECK(r.checked > 0);
  CHECK(r.max_rel_error < tolerance);
}
}  // namespace

TEST_CASE("gradcheck: pointwise and linear with max-size weights", "[autograd]") {
  for (int trial = 0; trial < 3; ++trial) {
    ofa::rng shapes(static_cast<std::uint64_t>(trial));
    const int in = 2 + static_cast<int>(shapes.uniform_index(5)), out = 1 + static_cast<int>(shapes.uniform_index(6));
    auto x = random_var({2, 3, 2, static_cast<std::size_t>(in)}, 10 + trial);
    auto w = random_var({static_cast<std::size_t>(out + 2), static_cast<std::size_t>(in + 3)}, 20 + trial);
    auto b = random_var({static_cast<std::size_t>(out + 2)}, 30 + trial);
    const auto r = random_tensor({2, 3, 2, static_cast<std::size_t>(out)}, 40 + trial);
    require_close(ag::gradcheck([&] { return ag::dot(ag::linear(x, w, b, out, in), r); }, {x, w, b}));
  }
}

TEST_CASE("gradcheck: depthwise, every kernel and stride, centre crops of a 7x7 weight", "[autograd]") {
  for (int k : {3, 5, 7})
    for (int stride : {1, 2}) {
      auto x = random_var({2, 6, 5, 3}, 50 + k * 3 + stride);
      auto w = random_var({7, 7, 4}, 60 + k);
      const int oh = (6 - 1) / stride + 1, ow = (5 - 1) / stride + 1;
      const auto r = random_tensor({2, static_cast<std::size_t>(oh), static_cast<std::size_t>(ow), 3}, 70);
      INFO("k=" << k << " stride=" << stride);
      require_close(ag::gradcheck([&] { return ag::dot(ag::depthwise(x, w, k, stride), r); }, {x, w}));
    }
}

TEST_CASE("gradcheck: dense conv", "[autograd]") {
  auto x = random_var({2, 5, 6, 3}, 80);
  auto w = random_var({4, 3, 3, 3}, 81);
  const auto r = random_tensor({2, 3, 3, 4}, 82);
  require_close(ag::gradcheck([&] { return ag::dot(ag::conv2d(x, w, 2), r); }, {x, w}));
}

TEST_CASE("gradcheck: batch norm (plain and with a fused activation), training and inference, on a channel prefix",
          "[autograd]") {
  auto x = random_var({3, 2, 2, 5}, 90, -2, 3);
  auto gamma = random_var({7}, 91, 0.5, 1.5);
  auto beta = random_var({7}, 92);
  ofa::tensor<double> rm = random_tensor({7}, 93), rv = random_tensor({7}, 94);
  for (auto& v : rv) v = std::abs(v) + 0.5;
  const auto r = random_tensor({3, 2, 2, 5}, 95);
  for (bool training : {true, false})
    for (auto act : {ofa::activation::none, ofa::activation::relu, ofa::activation::relu6, ofa::activation::hswish}) {
      INFO("training=" << training << " fused activation=" << int(act));
      require_close(
          ag::gradcheck([&] { return ag::dot(ag::batch_norm(x, gamma, beta, rm, rv, training, 0.1, 1e-5, act), r); },
                        {x, gamma, beta}),
          1e-5);
    }
  // The first gradient of x is computed in place over the output gradient; a second BN on the
  // same x then adds into it.
  const auto r2 = random_tensor({3, 2, 2, 5}, 96);
  require_close(ag::gradcheck(
                    [&] {
                      auto bn = [&](ofa::activation act) {
                        return ag::batch_norm(x, gamma, beta, rm, rv, true, 0.1, 1e-5, act);
                      };
                      return ag::add(ag::dot(bn(ofa::activation::relu), r), ag::dot(bn(ofa::activation::none), r2));
                    },
                    {x, gamma, beta}),
                1e-5);
}

TEST_CASE("gradcheck: activations away from their kinks", "[autograd]") {
  auto x = random_var({4, 3, 5}, 100, -8, 8);
  for (auto& v : x.value())
    for (double kink : {-3.0, 0.0, 3.0, 6.0})
      if (std::abs(v - kink) < 1e-3) v += 0.01;
  const auto r = random_tensor({4, 3, 5}, 101);
  for (ofa::activation a : {ofa::activation::relu, ofa::activation::relu6, ofa::activation::hswish})
    require_close(ag::gradcheck([&] { return ag::dot(ag::activate(x, a), r); }, {x}));
  require_close(ag::gradcheck([&] { return ag::dot(ag::hsigmoid(x), r); }, {x}));
}

TEST_CASE("gradcheck: squeeze-excite pieces, add, resize, dropout", "[autograd]") {
  auto x = random_var({2, 3, 4, 5}, 110);
  auto s = random_var({2, 5}, 111);
  auto y = random_var({2, 3, 4, 5}, 112);
  require_close(ag::gradcheck([&] { return ag::dot(ag::global_avg_pool(x), random_tensor({2, 5}, 113)); }, {x}));
  require_close(ag::gradcheck(
      [&] {
        return ag::dot(ag::channel_scale(x, s), random_tensor({2, 3, 4, 5}, 114));
      },
      {x, s}));
  // x scaled twice: the first gradient in place, the second added
  require_close(ag::gradcheck(
      [&] {
        return ag::dot(ag::add(ag::channel_scale(x, s), ag::channel_scale(x, ag::hsigmoid(s))),
                       random_tensor({2, 3, 4, 5}, 124));
      },
      {x, s}));
  require_close(ag::gradcheck([&] { return ag::dot(ag::add(x, y), random_tensor({2, 3, 4, 5}, 115)); }, {x, y}));
  // add hands its output gradient to its first input when that has none yet: chains of adds,
  // an input on both sides, an input that already has a gradient.
  require_close(ag::gradcheck(
      [&] {
        return ag::dot(ag::add(ag::add(x, y), x), random_tensor({2, 3, 4, 5}, 118));
      },
      {x, y}));
  require_close(ag::gradcheck([&] { return ag::dot(ag::add(x, x), random_tensor({2, 3, 4, 5}, 119)); }, {x}));
  require_close(ag::gradcheck(
      [&] {
        const auto sum = ag::add(y, x);
        return ag::add(ag::dot(sum, random_tensor({2, 3, 4, 5}, 122)), ag::dot(y, random_tensor({2, 3, 4, 5}, 123)));
      },
      {x, y}));
  require_close(ag::gradcheck(
      [&] {
        return ag::dot(ag::resize_bilinear(x, 5, 3), random_tensor({2, 5, 3, 5}, 116));
      },
      {x}));
  require_close(ag::gradcheck(
      [&] {
        ofa::rng mask(7);  // the same mask at every evaluation
        return ag::dot(ag::dropout(x, 0.3, mask, true), random_tensor({2, 3, 4, 5}, 117));
      },
      {x}));
}

TEST_CASE("gradcheck: losses", "[autograd]") {
  auto z = random_var({4, 6}, 120, -2, 2);
  require_close(ag::gradcheck([&] { return ag::cross_entropy(z, {0, 5, 2, 2}, 0.1); }, {z}));
  const auto teacher = random_tensor({4, 6}, 121);
  require_close(ag::gradcheck([&] { return ag::soft_cross_entropy(z, teacher); }, {z}));
  require_close(ag::gradcheck([&] { return ag::mse(z, teacher); }, {z}));
}

TEST_CASE("gradcheck: a whole MBConv block with SE at random widths", "[autograd]") {
  for (int trial = 0; trial < 3; ++trial) {
    ofa::rng pick(static_cast<std::uint64_t>(trial) + 200);
    const int in = 4, mid = 6 + 2 * static_cast<int>(pick.uniform_index(3)),
              k = 3 + 2 * static_cast<int>(pick.uniform_index(3));
    auto x = random_var({2, 5, 5, static_cast<std::size_t>(in)}, 130 + trial);
    auto w_expand = random_var({12, 4}, 131), w_dw = random_var({7, 7, 12}, 132), w_proj = random_var({4, 12}, 133);
    auto w_se1 = random_var({4, 12}, 134), b_se1 = random_var({4}, 135), w_se2 = random_var({12, 4}, 136),
         b_se2 = random_var({12}, 137);
    auto g1 = random_var({12}, 138, 0.5, 1.5), be1 = random_var({12}, 139);
    ofa::tensor<double> rm(ofa::shape_type{12}), rv(ofa::shape_type{12});
    rm.fill(0);
    rv.fill(1);
    const auto r = random_tensor({2, 5, 5, 4}, 140);
    auto block = [&] {
      auto h = ag::activate(ag::batch_norm(ag::pointwise(x, w_expand, mid, in), g1, be1, rm, rv, true),
                            ofa::activation::hswish);
      h = ag::depthwise(h, w_dw, k, 1);
      auto se = ag::global_avg_pool(h);
      se = ag::activate(ag::linear(se, w_se1, b_se1, 2, mid), ofa::activation::relu);
      se = ag::hsigmoid(ag::linear(se, w_se2, b_se2, mid, 2));
      h = ag::channel_scale(h, se);
      return ag::dot(ag::add(ag::pointwise(h, w_proj, in, mid), x), r);
    };
    INFO("mid=" << mid << " k=" << k);
    require_close(ag::gradcheck(block, {x, w_expand, w_dw, w_proj, w_se1, b_se1, w_se2, b_se2, g1, be1}), 1e-5);
  }
}

TEST_CASE("gradcheck: max and average pooling over windows, odd sides", "[autograd][pooling]") {
  for (int side : {5, 6}) {
    auto x = random_var({2, std::size_t(side), std::size_t(side), 3}, 90 + side);
    const std::size_t o = std::size_t(side + 1) / 2;
    const auto r = random_tensor({2, o, o, 3}, 91);
    INFO("side " << side);
    require_close(ag::gradcheck([&] { return ag::dot(ag::max_pool2d(x, 3, 2), r); }, {x}));
    require_close(ag::gradcheck([&] { return ag::dot(ag::average_pool2d(x, 2), r); }, {x}));
  }
}

TEST_CASE("gradcheck: a dense conv on a slice of a max-size weight", "[autograd]") {
  auto x = random_var({2, 5, 5, 3}, 92);
  auto w = random_var({6, 3, 3, 5}, 93);  // room for 6 filters over 5 channels; 4 over 3 run
  const auto r = random_tensor({2, 3, 3, 4}, 94);
  require_close(ag::gradcheck([&] { return ag::dot(ag::conv2d(x, ag::conv_weight_slice(w, 4, 3), 2), r); }, {x, w}));
  // The cut filters and channels get no gradient.
  ag::tape<double>::current().clear();
  w.zero_grad();
  auto y = ag::dot(ag::conv2d(x, ag::conv_weight_slice(w, 4, 3), 2), r);
  ag::backward(y);
  REQUIRE(w.has_grad());
  double cut = 0;
  for (std::size_t f = 0; f < 6; ++f)
    for (std::size_t t = 0; t < 9; ++t)
      for (std::size_t c = 0; c < 5; ++c)
        if (f >= 4 || c >= 3) cut += std::abs(w.grad().data()[(f * 9 + t) * 5 + c]);
  CHECK(cut == 0.0);
}
