// Depthwise convolution: SIMD kernels against the scalar reference for every
// kernel size and stride, odd sizes, channel counts off the vector width, and
// the centre-crop/active-channel view of a max-size 7x7 weight.
#include <catch2/catch.hpp>

#include <utility>

#include <ofa/kernels/depthwise.hpp>

#include "random_fill.hpp"

using ofa::kernels::conv_shape;

TEST_CASE("depthwise forward and backward equal the reference", "[kernels][depthwise]") {
  std::uint64_t seed = 100;
  // 9x11: every output block touches the border; 5x40: interior blocks too, and a last
  // partial block of the row.
  for (auto [h, wd] : {std::pair{9, 11}, std::pair{5, 40}})
    for (int k : {3, 5, 7})
      for (int stride : {1, 2})
        for (int channels : {5, 16, 37}) {
          const conv_shape s{2, h, wd, channels, k, stride};
          const int max_c = channels + 3;  // the weight is max-size: 7x7 x (channels + 3)
          const auto full = test::random_vector<float>(static_cast<std::size_t>(49) * max_c, seed++);
          const auto w = ofa::kernel_view<const float>::centre(full.data(), 7, max_c, k, channels);
          const auto in = test::random_vector<float>(static_cast<std::size_t>(2) * h * wd * channels, seed++);
          const std::size_t out_n = static_cast<std::size_t>(2) * s.out_height() * s.out_width() * channels;
          const auto dy = test::random_vector<float>(out_n, seed++);
          std::vector<float> out(out_n), ref(out_n), dx(in.size()), dx_ref(in.size());
          std::vector<float> dw(static_cast<std::size_t>(k) * k * channels), dw_ref(dw.size());
          ofa::kernels::depthwise_forward(s, in.data(), w, out.data());
          ofa::kernels::depthwise_forward_reference(s, in.data(), w, ref.data());
          ofa::kernels::depthwise_backward_input(s, dy.data(), w, dx.data());
          ofa::kernels::depthwise_backward_input_reference(s, dy.data(), w, dx_ref.data());
          ofa::kernels::depthwise_backward_weight(s, in.data(), dy.data(), dw.data());
          ofa::kernels::depthwise_backward_weight_reference(s, in.data(), dy.data(), dw_ref.data());
          INFO("k=" << k << " stride=" << stride << " channels=" << channels << " map=" << h << "x" << wd);
          CHECK(test::max_relative_error(out, ref) < 1e-5);
          CHECK(test::max_relative_error(dx, dx_ref) < 1e-5);
          CHECK(test::max_relative_error(dw, dw_ref) < 1e-4);
        }
}

TEST_CASE("depthwise output sizes follow same padding", "[kernels][depthwise]") {
  CHECK(conv_shape{1, 224, 224, 8, 3, 2}.out_height() == 112);
  CHECK(conv_shape{1, 7, 7, 8, 7, 1}.out_height() == 7);
  CHECK(conv_shape{1, 7, 7, 8, 5, 2}.out_width() == 4);
}

TEST_CASE("depthwise rejects unsupported geometry", "[kernels][depthwise]") {
  std::vector<float> buf(1000);
  const auto w = ofa::kernel_view<const float>::centre(buf.data(), 7, 4, 3, 4);
  CHECK_THROWS_AS(ofa::kernels::depthwise_forward(conv_shape{1, 4, 4, 4, 4, 1}, buf.data(), w, buf.data()),
                  ofa::shape_error);
  CHECK_THROWS_AS(ofa::kernels::depthwise_forward(conv_shape{1, 4, 4, 4, 3, 3}, buf.data(), w, buf.data()),
                  ofa::shape_error);
  CHECK_THROWS_WITH(ofa::kernels::depthwise_forward(conv_shape{1, 4, 4, 5, 3, 1}, buf.data(), w, buf.data()),
                    Catch::Matchers::Contains("weight is 3x3x4 but the input needs 3x3x5"));
}

TEST_CASE("depthwise forward with the fused bias + activation", "[kernels][depthwise]") {
  const conv_shape s{1, 10, 10, 24, 5, 1};
  const auto w = test::random_vector<float>(25 * 24, 50);
  const auto in = test::random_vector<float>(10 * 10 * 24, 51, -3, 3);
  const auto bias = test::random_vector<float>(24, 52);
  const ofa::kernel_view<const float> view{w.data(), 5, 24, 5 * 24, 24};
  std::vector<float> out(in.size()), expected(in.size());
  ofa::kernels::depthwise_forward(s, in.data(), view, out.data(), bias.data(), ofa::activation::hswish);
  ofa::kernels::depthwise_forward_reference(s, in.data(), view, expected.data());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    expected[i] += bias[i % 24];
    ofa::kernels::activation_forward_reference(ofa::activation::hswish, 1, &expected[i], &expected[i]);
  }
  CHECK(test::max_relative_error(out, expected) < 1e-5);
}

TEST_CASE("depthwise forward and weight gradient map their input as they load it (a fused batch norm)",
          "[kernels][depthwise]") {
  std::uint64_t seed = 300;
  for (int k : {3, 5, 7})
    for (int stride : {1, 2})
      for (int channels : {5, 16, 37})
        for (auto act :
             {ofa::activation::none, ofa::activation::relu, ofa::activation::relu6, ofa::activation::hswish}) {
          const conv_shape s{2, 9, 11, channels, k, stride};
          const auto w = test::random_vector<float>(static_cast<std::size_t>(k) * k * channels, seed++);
          const ofa::kernel_view<const float> view{w.data(), k, channels, k * channels, channels};
          const auto in = test::random_vector<float>(static_cast<std::size_t>(2) * 9 * 11 * channels, seed++, -3, 3);
          const auto scale = test::random_vector<float>(static_cast<std::size_t>(channels), seed++, 0.5, 2.0);
          const auto shift = test::random_vector<float>(static_cast<std::size_t>(channels), seed++);
          // The reference runs on the mapped input, made explicitly.
          std::vector<float> mapped(in.size());
          for (std::size_t i = 0; i < in.size(); ++i) {
            const auto c = i % static_cast<std::size_t>(channels);
            const float z = in[i] * scale[c] + shift[c];
            ofa::kernels::activation_forward_reference(act, 1, &z, &mapped[i]);
          }
          const std::size_t out_n = static_cast<std::size_t>(2) * s.out_height() * s.out_width() * channels;
          const auto dy = test::random_vector<float>(out_n, seed++);
          std::vector<float> out(out_n), ref(out_n), dw(w.size()), dw_ref(w.size());
          const ofa::kernels::input_transform pre{scale.data(), shift.data(), act};
          ofa::kernels::depthwise_forward(s, in.data(), view, out.data(), nullptr, ofa::activation::none, pre);
          ofa::kernels::depthwise_forward_reference(s, mapped.data(), view, ref.data());
          ofa::kernels::depthwise_backward_weight(s, in.data(), dy.data(), dw.data(), pre);
          ofa::kernels::depthwise_backward_weight_reference(s, mapped.data(), dy.data(), dw_ref.data());
          INFO("k=" << k << " stride=" << stride << " channels=" << channels << " act=" << int(act));
          CHECK(test::max_relative_error(out, ref) < 1e-5);
          CHECK(test::max_relative_error(dw, dw_ref) < 1e-4);
        }
}
