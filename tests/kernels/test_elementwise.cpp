// Activations, batch norm, pooling, resize, dense conv and losses: fast paths
// against scalar references (float vs double where the fast path is generic).
#include <catch2/catch.hpp>

#include <cmath>

#include <ofa/kernels/activation.hpp>
#include <ofa/kernels/batch_norm.hpp>
#include <ofa/kernels/conv2d.hpp>
#include <ofa/kernels/loss.hpp>
#include <ofa/kernels/resize.hpp>

#include "random_fill.hpp"

using ofa::activation;

TEST_CASE("activations equal the reference, including around the kinks", "[kernels][activation]") {
  const std::size_t n = 1000 + 7;  // not a multiple of any vector width
  auto x = test::random_vector<float>(n, 1, -8.0, 8.0);
  x[0] = -3.0f;
  x[1] = 3.0f;
  x[2] = 0.0f;
  x[3] = 6.0f;
  const auto dy = test::random_vector<float>(n, 2);
  for (activation a : {activation::relu, activation::relu6, activation::hswish, activation::none}) {
    std::vector<float> y(n), y_ref(n), dx(n), dx_ref(n);
    ofa::kernels::activation_forward(a, n, x.data(), y.data());
    ofa::kernels::activation_forward_reference(a, n, x.data(), y_ref.data());
    ofa::kernels::activation_backward(a, n, x.data(), dy.data(), dx.data());
    ofa::kernels::activation_backward_reference(a, n, x.data(), dy.data(), dx_ref.data());
    CHECK(test::max_relative_error(y, y_ref) < 1e-6);
    CHECK(test::max_relative_error(dx, dx_ref) < 1e-6);
  }
  std::vector<float> y(n), y_ref(n), dx(n), dx_ref(n);
  ofa::kernels::hsigmoid_forward(n, x.data(), y.data());
  ofa::kernels::hsigmoid_forward_reference(n, x.data(), y_ref.data());
  ofa::kernels::hsigmoid_backward(n, x.data(), dy.data(), dx.data());
  ofa::kernels::hsigmoid_backward_reference(n, x.data(), dy.data(), dx_ref.data());
  CHECK(test::max_relative_error(y, y_ref) < 1e-6);
  CHECK(test::max_relative_error(dx, dx_ref) < 1e-6);
  // h-swish values: hswish(1) = 1·4/6
  float one = 1.0f, out = 0;
  ofa::kernels::activation_forward(activation::hswish, 1, &one, &out);
  CHECK(out == Approx(4.0 / 6.0));
  const float relu6_in[3] = {-1.0f, 2.5f, 7.0f};
  float relu6_out[3];
  ofa::kernels::activation_forward(activation::relu6, 3, relu6_in, relu6_out);
  CHECK(relu6_out[0] == 0.0f);
  CHECK(relu6_out[1] == 2.5f);
  CHECK(relu6_out[2] == 6.0f);
}

TEST_CASE("batch norm with a fused activation equals the double reference, forward and backward", "[kernels][bn]") {
  // 3000 rows (several fixed chunks, partial blocks, rows after the last whole channel span),
  // channel counts that are and are not a multiple of the vector width (19 and 72 run as flat
  // spans of 16 and 2 rows on 16 lanes), and fewer rows than one span.
  struct shape {
    std::size_t m, c;
  };
  for (auto [m, c] : {shape{3000, 19}, shape{3000, 48}, shape{3000, 72}, shape{7, 19}, shape{2, 3}})
    for (auto act : {activation::none, activation::relu, activation::relu6, activation::hswish}) {
      INFO("m=" << m << " c=" << c << " act=" << int(act));
      const auto x = test::random_vector<float>(m * c, 3, -2.0, 3.0);
      auto dy = test::random_vector<float>(m * c, 8);
      const auto gamma = test::random_vector<float>(c, 4, 0.5, 1.5);
      const auto beta = test::random_vector<float>(c, 5);
      std::vector<float> rm(c, 0.0f), rv(c, 1.0f), y(m * c), dx(m * c), dgamma(c, 0.0f), dbeta(c, 0.0f);
      ofa::kernels::batch_norm_saved<float> saved;
      ofa::kernels::batch_norm_train(m, c, x.data(), {gamma.data(), beta.data(), rm.data(), rv.data()}, y.data(), saved,
                                     act);
      std::vector<double> xd(x.begin(), x.end()), gd(gamma.begin(), gamma.end()), bd(beta.begin(), beta.end()),
          rmd(c, 0.0), rvd(c, 1.0), yd(m * c), dxd(m * c), dgd(c, 0.0), dbd(c, 0.0);
      ofa::kernels::batch_norm_saved<double> saved_d;
      ofa::kernels::batch_norm_train_reference(m, c, xd.data(), {gd.data(), bd.data(), rmd.data(), rvd.data()},
                                               yd.data(), saved_d, act);
      // Where BN's output sits within rounding of a kink of the activation (ReLU at 0, h-swish
      // at ±3) float and double may take different sides; no gradient flows there in this test.
      for (std::size_t i = 0; i < m * c; ++i) {
        const std::size_t j = i % c;
        const double z = (xd[i] - saved_d.mean[j]) * saved_d.inv_std[j] * gd[j] + bd[j];
        if ((act == activation::relu && std::abs(z) < 1e-4) ||
            (act == activation::relu6 && (std::abs(z) < 1e-4 || std::abs(z - 6.0) < 1e-4)) ||
            (act == activation::hswish && std::abs(std::abs(z) - 3.0) < 1e-4))
          dy[i] = 0.0f;
      }
      ofa::kernels::batch_norm_backward(m, c, x.data(), dy.data(), gamma.data(), beta.data(), saved, dx.data(),
                                        dgamma.data(), dbeta.data(), act);
      std::vector<double> dyd(dy.begin(), dy.end());
      ofa::kernels::batch_norm_backward_reference(m, c, xd.data(), dyd.data(), gd.data(), bd.data(), saved_d,
                                                  dxd.data(), dgd.data(), dbd.data(), act);
      CHECK(test::max_relative_error(y, yd) < 1e-5);
      CHECK(test::max_relative_error(rv, rvd) < 1e-5);
      CHECK(test::max_relative_error(rm, rmd) < 1e-5);
      // inference with the running statistics: the float SIMD pass against the double loop
      std::vector<float> y_infer(m * c);
      std::vector<double> y_infer_d(m * c);
      ofa::kernels::batch_norm_infer(m, c, x.data(), {gamma.data(), beta.data(), rm.data(), rv.data()}, y_infer.data(),
                                     act);
      ofa::kernels::batch_norm_infer(m, c, xd.data(), {gd.data(), bd.data(), rmd.data(), rvd.data()}, y_infer_d.data(),
                                     act);
      CHECK(test::max_relative_error(y_infer, y_infer_d) < 1e-5);
      CHECK(test::max_relative_error(dx, dxd) < 1e-4);
      // Σ over 3000 rows: compare relative to the sum's own magnitude
      CHECK(test::max_relative_error(dgamma, dgd) < 1e-4 * std::sqrt(double(m)));
      CHECK(test::max_relative_error(dbeta, dbd) < 1e-4 * std::sqrt(double(m)));
      // a null dx leaves dgamma/dbeta accumulating (here: doubled)
      ofa::kernels::batch_norm_backward(m, c, x.data(), dy.data(), gamma.data(), beta.data(), saved, nullptr,
                                        dgamma.data(), dbeta.data(), act);
      for (auto& v : dgd) v *= 2;
      CHECK(test::max_relative_error(dgamma, dgd) < 2e-4 * std::sqrt(double(m)));
    }
}

TEST_CASE("batch norm: statistics and folding are right", "[kernels][bn]") {
  const std::size_t m = 3000, c = 19;
  const auto x = test::random_vector<float>(m * c, 3, -2.0, 3.0);
  const auto gamma = test::random_vector<float>(c, 4, 0.5, 1.5);
  const auto beta = test::random_vector<float>(c, 5);
  std::vector<float> rm1(c, 0.0f), rv1(c, 1.0f), y1(m * c);
  ofa::kernels::batch_norm_saved<float> s1;
  ofa::kernels::batch_norm_train(m, c, x.data(), {gamma.data(), beta.data(), rm1.data(), rv1.data()}, y1.data(), s1);
  // normalised output: per channel mean beta, std gamma
  double mean0 = 0;
  for (std::size_t r = 0; r < m; ++r) mean0 += y1[r * c];
  CHECK(mean0 / m == Approx(beta[0]).margin(1e-4));
  // running mean moved 10% of the way to the batch mean (momentum 0.1)
  CHECK(rm1[0] == Approx(0.1 * s1.mean[0]).margin(1e-6));
  // the statistics alone (for a consumer that normalises as it loads) are the training forward's,
  // and BN is then x·scale + shift
  std::vector<float> rm2(c, 0.0f), rv2(c, 1.0f), scale(c), shift(c);
  ofa::kernels::batch_norm_saved<float> s2;
  ofa::kernels::batch_norm_statistics(m, c, x.data(), {gamma.data(), beta.data(), rm2.data(), rv2.data()}, s2);
  ofa::kernels::batch_norm_scale_shift(c, gamma.data(), beta.data(), s2, scale.data(), shift.data());
  for (std::size_t j = 0; j < c; ++j) {
    CHECK(s2.mean[j] == s1.mean[j]);
    CHECK(s2.inv_std[j] == s1.inv_std[j]);
    CHECK(rm2[j] == rm1[j]);
    CHECK(rv2[j] == rv1[j]);
    for (std::size_t r : {std::size_t{0}, m / 2, m - 1})
      CHECK(x[r * c + j] * scale[j] + shift[j] == Approx(y1[r * c + j]).margin(1e-5));
  }
  // folding: conv then inference BN == folded conv
  const std::size_t out_c = c, in_c = 4;
  auto w = test::random_vector<float>(out_c * in_c, 6);
  auto folded = w;
  std::vector<float> bias(out_c);
  ofa::kernels::batch_norm_params<float> p{gamma.data(), beta.data(), rm1.data(), rv1.data()};
  ofa::kernels::fold_batch_norm(out_c, in_c, folded.data(), in_c, 1, p, bias.data());
  const auto input = test::random_vector<float>(in_c, 7);
  std::vector<float> conv(out_c), bn(out_c);
  for (std::size_t o = 0; o < out_c; ++o)
    for (std::size_t i = 0; i < in_c; ++i) conv[o] += w[o * in_c + i] * input[i];
  ofa::kernels::batch_norm_infer(1, out_c, conv.data(), p, bn.data());
  for (std::size_t o = 0; o < out_c; ++o) {
    float f = bias[o];
    for (std::size_t i = 0; i < in_c; ++i) f += folded[o * in_c + i] * input[i];
    CHECK(f == Approx(bn[o]).epsilon(1e-5).margin(1e-5));
  }
}

TEST_CASE("dense conv (float GEMM path) equals the double reference", "[kernels][conv2d]") {
  const ofa::kernels::conv_shape s{2, 13, 11, 3, 3, 2};
  const int cout = 16;
  const auto in = test::random_vector<float>(2 * 13 * 11 * 3, 8);
  const auto w = test::random_vector<float>(static_cast<std::size_t>(cout) * 27, 9);
  const std::size_t out_n = static_cast<std::size_t>(2) * s.out_height() * s.out_width() * cout;
  std::vector<float> out(out_n);
  ofa::kernels::conv2d_forward(s, cout, in.data(), w.data(), out.data());
  std::vector<double> ind(in.begin(), in.end()), wd(w.begin(), w.end()), ref(out_n);
  ofa::kernels::conv2d_forward<double>(s, cout, ind.data(), wd.data(), ref.data());
  CHECK(test::max_relative_error(out, ref) < 1e-5);
  // the direct definition at one output
  double direct = 0;
  for (int ky = 0; ky < 3; ++ky)
    for (int kx = 0; kx < 3; ++kx)
      for (int c = 0; c < 3; ++c) {
        const int iy = 2 * 2 - 1 + ky, ix = 3 * 2 - 1 + kx;
        direct += ind[static_cast<std::size_t>((iy * 11 + ix) * 3 + c)] *
                  wd[static_cast<std::size_t>(5 * 27 + (ky * 3 + kx) * 3 + c)];
      }
  CHECK(ref[static_cast<std::size_t>((2 * s.out_width() + 3) * cout + 5)] == Approx(direct));
}

TEST_CASE("dense conv forward and gradients (direct stem path and GEMM path) equal the double reference",
          "[kernels][conv2d]") {
  std::uint64_t seed = 300;
  // {kernel, stride, Cin, Cout}: the stem (direct), a Cout with a vector tail (direct), and
  // 5x5x8 = 200 taps (im2col + GEMM).
  // Widths 10 and 37: output rows shorter than one 8-pixel block, and rows with a padded first
  // block, blocks inside the image and a partial last block.
  const int cases[][4] = {{3, 2, 3, 16}, {3, 1, 3, 20}, {5, 2, 8, 12}};
  for (const int width : {10, 37})
    for (const auto& cs : cases) {
      const ofa::kernels::conv_shape s{2, 9, width, cs[2], cs[0], cs[1]};
      const int cout = cs[3], taps = cs[0] * cs[0] * cs[2];
      INFO("k=" << cs[0] << " stride=" << cs[1] << " cin=" << cs[2] << " cout=" << cout << " width=" << width);
      const auto in = test::random_vector<float>(static_cast<std::size_t>(2) * 9 * width * cs[2], seed++);
      const auto w = test::random_vector<float>(static_cast<std::size_t>(cout) * taps, seed++);
      const std::size_t out_n = static_cast<std::size_t>(2) * s.out_height() * s.out_width() * cout;
      const auto dy = test::random_vector<float>(out_n, seed++);
      std::vector<float> out(out_n), dw(w.size(), 0.5f), dx(in.size());
      ofa::kernels::conv2d_forward(s, cout, in.data(), w.data(), out.data());
      ofa::kernels::conv2d_backward(s, cout, in.data(), w.data(), dy.data(), dx.data(), dw.data());
      std::vector<double> ind(in.begin(), in.end()), wd(w.begin(), w.end()), dyd(dy.begin(), dy.end()), ref(out_n),
          dw_ref(w.size(), 0.5), dx_ref(in.size());
      ofa::kernels::conv2d_forward<double>(s, cout, ind.data(), wd.data(), ref.data());
      ofa::kernels::conv2d_backward<double>(s, cout, ind.data(), wd.data(), dyd.data(), dx_ref.data(), dw_ref.data());
      CHECK(test::max_relative_error(out, ref) < 1e-5);
      CHECK(test::max_relative_error(dx, dx_ref) < 1e-5);
      CHECK(test::max_relative_error(dw, dw_ref) < 1e-4);  // accumulated onto 0.5
      // Bias and activation fused into the stores (inference's stem) equal the separate steps.
      const auto bias = test::random_vector<float>(std::size_t(cout), seed++);
      for (auto act : {activation::relu6, activation::hswish}) {
        ofa::kernels::conv2d_forward(s, cout, in.data(), w.data(), out.data(), bias.data(), act);
        for (std::size_t i = 0; i < out_n; ++i)
          ref[i] = ofa::kernels::detail::apply_activation(act, ref[i] + double(bias[i % std::size_t(cout)]));
        CHECK(test::max_relative_error(out, ref) < 1e-5);
        ofa::kernels::conv2d_forward<double>(s, cout, ind.data(), wd.data(), ref.data());  // back to no bias
      }
    }
}

TEST_CASE("bilinear resize: identity at the same size, constant stays constant", "[kernels][resize]") {
  const auto x = test::random_vector<float>(2 * 5 * 6 * 3, 10);
  std::vector<float> y(x.size());
  ofa::kernels::resize_bilinear(2, 5, 6, 3, x.data(), 5, 6, y.data());
  CHECK(test::max_relative_error(y, x) < 1e-6);
  std::vector<float> ones(4 * 4 * 2, 1.0f), up(9 * 7 * 2);
  ofa::kernels::resize_bilinear(1, 4, 4, 2, ones.data(), 9, 7, up.data());
  for (float v : up) CHECK(v == Approx(1.0f));
}

TEST_CASE("losses: values by hand", "[kernels][loss]") {
  const double z[] = {0.0, 0.0, 0.0, 0.0};
  const int label[] = {2};
  double g[4];
  CHECK(ofa::kernels::softmax_cross_entropy<double>(1, 4, z, label, 0.0, g) == Approx(std::log(4.0)));
  CHECK(g[2] == Approx(0.25 - 1.0));
  // label smoothing 0.1 on uniform logits leaves the loss at log K
  CHECK(ofa::kernels::softmax_cross_entropy<double>(1, 4, z, label, 0.1, g) == Approx(std::log(4.0)));
  const double teacher[] = {0.0, 0.0, 0.0, 0.0};
  CHECK(ofa::kernels::soft_cross_entropy<double>(1, 4, z, teacher, g) == Approx(std::log(4.0)));
  const double y[] = {1.0, 2.0}, t[] = {0.0, 0.0};
  CHECK(ofa::kernels::mean_squared_error<double>(2, y, t, g) == Approx(2.5));
}
