// Max and average pooling over windows (the ResNets' stem and shortcuts): the kernels
// against a scalar reference written from PyTorch's definitions, odd sides included.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <vector>

#include <ofa/kernels/window_pooling.hpp>

#include "random_fill.hpp"

using ofa::kernels::pool_shape;

namespace {
/// PyTorch's pooling, one output at a time: window [o·s - p, o·s - p + k) clipped to the input;
/// the average divides by the pixels inside it (padding 0, ceil_mode: the part past the edge).
std::vector<double> reference_pool(const pool_shape& s, const std::vector<float>& x, bool max) {
  const int oh = s.out_height(), ow = s.out_width();
  std::vector<double> y(static_cast<std::size_t>(s.n) * oh * ow * s.c);
  for (int n = 0; n < s.n; ++n)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int c = 0; c < s.c; ++c) {
          double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
          int count = 0;
          for (int ky = 0; ky < s.window; ++ky)
            for (int kx = 0; kx < s.window; ++kx) {
              const int iy = oy * s.stride - s.padding + ky, ix = ox * s.stride - s.padding + kx;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              const double v = x[((std::size_t(n) * s.h + iy) * s.w + ix) * s.c + c];
              acc = max ? std::max(acc, v) : acc + v;
              ++count;
            }
          y[((std::size_t(n) * oh + oy) * ow + ox) * s.c + c] = max ? acc : acc / count;
        }
  return y;
}
}  // namespace

TEST_CASE("window pooling: output sides as PyTorch's MaxPool2d(3, 2, 1) and AvgPool2d(2, 2, ceil_mode)",
          "[kernels][pooling]") {
  CHECK(pool_shape::max_pool(1, 112, 112, 1, 3, 2).out_height() == 56);
  CHECK(pool_shape::max_pool(1, 66, 66, 1, 3, 2).out_height() == 33);
  CHECK(pool_shape::max_pool(1, 65, 65, 1, 3, 2).out_height() == 33);
  CHECK(pool_shape::average_pool(1, 33, 33, 1, 2).out_height() == 17);
  CHECK(pool_shape::average_pool(1, 56, 56, 1, 2).out_height() == 28);
  CHECK(pool_shape::average_pool(1, 7, 7, 1, 1).out_height() == 7);
}

TEST_CASE("window pooling: forward equals the reference, odd and even sides", "[kernels][pooling]") {
  for (int side : {5, 6, 9, 14})
    for (int c : {1, 3, 17}) {
      INFO("side " << side << ", channels " << c);
      const auto x = test::random_vector<float>(std::size_t(2) * side * side * c, std::uint64_t(side * 31 + c));
      for (bool max : {true, false}) {
        const auto s =
            max ? pool_shape::max_pool(2, side, side, c, 3, 2) : pool_shape::average_pool(2, side, side, c, 2);
        std::vector<float> y(std::size_t(2) * s.out_height() * s.out_width() * c);
        if (max)
          ofa::kernels::max_pool2d(s, x.data(), y.data());
        else
          ofa::kernels::average_pool2d(s, x.data(), y.data());
        CHECK(test::max_relative_error(y, reference_pool(s, x, max)) < 1e-6);
      }
    }
}

TEST_CASE("window pooling: a window past the edge averages the pixels it holds", "[kernels][pooling]") {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // 3×3, one channel
  const auto s = pool_shape::average_pool(1, 3, 3, 1, 2);
  std::vector<float> y(4);
  ofa::kernels::average_pool2d(s, x.data(), y.data());
  CHECK(y == std::vector<float>{3.0f, 4.5f, 7.5f, 9.0f});
}

TEST_CASE("window pooling: backward routes to the first maximum and spreads the average", "[kernels][pooling]") {
  // Two equal maxima in one window: the first in scan order takes the gradient, as in PyTorch.
  const std::vector<float> x = {5, 5, 1, 0};  // 2×2
  const auto s = pool_shape::max_pool(1, 2, 2, 1, 3, 2);
  std::vector<float> y(1), dx(4, 0.0f);
  const std::vector<float> dy = {2.0f};
  ofa::kernels::max_pool2d(s, x.data(), y.data());
  ofa::kernels::max_pool2d_backward(s, x.data(), y.data(), dy.data(), dx.data());
  CHECK(dx == std::vector<float>{2, 0, 0, 0});

  // The average's backward is the transpose of its forward: <avg(x), g> = <x, avg'(g)>.
  const int side = 7, c = 5;
  const auto a = pool_shape::average_pool(1, side, side, c, 2);
  const auto xs = test::random_vector<float>(std::size_t(side) * side * c, 3);
  const auto g = test::random_vector<float>(std::size_t(a.out_height()) * a.out_width() * c, 4);
  std::vector<float> ya(g.size()), dxa(xs.size(), 0.0f);
  ofa::kernels::average_pool2d(a, xs.data(), ya.data());
  ofa::kernels::average_pool2d_backward(a, g.data(), dxa.data());
  double lhs = 0, rhs = 0;
  for (std::size_t i = 0; i < g.size(); ++i) lhs += double(ya[i]) * g[i];
  for (std::size_t i = 0; i < xs.size(); ++i) rhs += double(xs[i]) * dxa[i];
  CHECK(lhs == Approx(rhs).epsilon(1e-5));
}
