// The fused backward of depthwise(act(BN(x))): against the kernels it fuses, run one after
// the other (the same float arithmetic, so both take the same side of every activation kink),
// and, without an activation, against the double reference.
#include <catch2/catch.hpp>

#include <cmath>
#include <utility>
#include <vector>

#include <ofa/kernels/batch_norm_depthwise.hpp>
#include <ofa/parallel/arena.hpp>

#include "random_fill.hpp"

using ofa::activation;
using ofa::kernels::conv_shape;

namespace {
struct problem {
  conv_shape s;
  std::vector<float> x, dy, w, gamma, beta;
  ofa::kernels::batch_norm_saved<float> saved;
  std::size_t m, c;

  problem(conv_shape shape, std::uint64_t seed) : s(shape) {
    c = static_cast<std::size_t>(s.channels);
    m = static_cast<std::size_t>(s.batch) * s.height * s.width;
    x = test::random_vector<float>(m * c, seed, -2.0, 3.0);
    dy = test::random_vector<float>(static_cast<std::size_t>(s.batch) * s.out_height() * s.out_width() * c, seed + 1);
    w = test::random_vector<float>(static_cast<std::size_t>(s.kernel) * s.kernel * c, seed + 2);
    gamma = test::random_vector<float>(c, seed + 3, 0.5, 1.5);
    beta = test::random_vector<float>(c, seed + 4);
    std::vector<float> rm(c, 0.0f), rv(c, 1.0f);
    ofa::kernels::batch_norm_statistics(m, c, x.data(), {gamma.data(), beta.data(), rm.data(), rv.data()}, saved);
  }
  ofa::kernel_view<const float> view() const {
    return {w.data(), s.kernel, s.channels, s.kernel * s.channels, s.channels};
  }
};

/// The gradients as the separate fast kernels compute them: weight, input, then BN's backward.
struct separate {
  std::vector<float> dw, dx, dgamma, dbeta;
  separate(const problem& p, activation act) : dw(p.w.size()), dx(p.x.size()), dgamma(p.c, 0.0f), dbeta(p.c, 0.0f) {
    std::vector<float> scale(p.c), shift(p.c);
    ofa::kernels::batch_norm_scale_shift(p.c, p.gamma.data(), p.beta.data(), p.saved, scale.data(), shift.data());
    ofa::kernels::depthwise_backward_weight(p.s, p.x.data(), p.dy.data(), dw.data(), {scale.data(), shift.data(), act});
    ofa::kernels::depthwise_backward_input(p.s, p.dy.data(), p.view(), dx.data());
    ofa::kernels::batch_norm_backward(p.m, p.c, p.x.data(), dx.data(), p.gamma.data(), p.beta.data(), p.saved,
                                      dx.data(), dgamma.data(), dbeta.data(), act);
  }
};
}  // namespace

TEST_CASE("fused batch norm + depthwise backward equals the separate kernels", "[kernels][bn][depthwise]") {
  std::uint64_t seed = 500;
  // 9x11: every block touches the border; 6x40: interior blocks and a partial last block.
  // 5 channels: narrower than a vector (the separate kernels run); 37 and 72: a partial last
  // channel vector on 16 and 8 lanes.
  for (auto [h, wd] : {std::pair{9, 11}, std::pair{6, 40}})
    for (int k : {3, 5, 7})
      for (int stride : {1, 2})
        for (int channels : {5, 16, 37, 72})
          for (auto act : {activation::none, activation::relu, activation::relu6, activation::hswish}) {
            INFO("k=" << k << " stride=" << stride << " channels=" << channels << " map=" << h << "x" << wd
                      << " act=" << int(act));
            const problem p(conv_shape{2, h, wd, channels, k, stride}, seed);
            seed += 5;
            const separate want(p, act);
            std::vector<float> dw(p.w.size()), dx(p.x.size()), dgamma(p.c, 0.0f), dbeta(p.c, 0.0f);
            ofa::kernels::batch_norm_depthwise_backward(p.s, p.x.data(), p.dy.data(), p.view(), p.gamma.data(),
                                                        p.beta.data(), p.saved, act, dw.data(), dx.data(), true,
                                                        dgamma.data(), dbeta.data());
            CHECK(test::max_relative_error(dw, want.dw) < 1e-4);
            CHECK(test::max_relative_error(dx, want.dx) < 1e-4);
            CHECK(test::max_relative_error(dgamma, want.dgamma) < 1e-4);
            CHECK(test::max_relative_error(dbeta, want.dbeta) < 1e-4);
          }
}

TEST_CASE("fused batch norm + depthwise backward without an activation equals the double reference",
          "[kernels][bn][depthwise]") {
  const problem p(conv_shape{2, 8, 13, 24, 5, 2}, 900);
  std::vector<double> x(p.x.begin(), p.x.end()), dy(p.dy.begin(), p.dy.end()), w(p.w.begin(), p.w.end()),
      gamma(p.gamma.begin(), p.gamma.end()), beta(p.beta.begin(), p.beta.end()), rm(p.c, 0.0), rv(p.c, 1.0);
  ofa::kernels::batch_norm_saved<double> saved;
  ofa::kernels::batch_norm_statistics_reference(p.m, p.c, x.data(), {gamma.data(), beta.data(), rm.data(), rv.data()},
                                                saved);
  std::vector<double> bn(x.size()), g(x.size()), dw_ref(w.size()), dx_ref(x.size()), dg_ref(p.c, 0.0), db_ref(p.c, 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t j = i % p.c;
    bn[i] = (x[i] - saved.mean[j]) * saved.inv_std[j] * gamma[j] + beta[j];
  }
  const ofa::kernel_view<const double> view{w.data(), p.s.kernel, p.s.channels, p.s.kernel * p.s.channels,
                                            p.s.channels};
  ofa::kernels::depthwise_backward_weight_reference(p.s, bn.data(), dy.data(), dw_ref.data());
  ofa::kernels::depthwise_backward_input_reference(p.s, dy.data(), view, g.data());
  ofa::kernels::batch_norm_backward_reference(p.m, p.c, x.data(), g.data(), gamma.data(), beta.data(), saved,
                                              dx_ref.data(), dg_ref.data(), db_ref.data(), activation::none);

  std::vector<float> dw(p.w.size()), dx(p.x.size()), dgamma(p.c, 0.0f), dbeta(p.c, 0.0f);
  ofa::kernels::batch_norm_depthwise_backward(p.s, p.x.data(), p.dy.data(), p.view(), p.gamma.data(), p.beta.data(),
                                              p.saved, activation::none, dw.data(), dx.data(), true, dgamma.data(),
                                              dbeta.data());
  CHECK(test::max_relative_error(dw, dw_ref) < 1e-4);
  CHECK(test::max_relative_error(dx, dx_ref) < 1e-4);
  CHECK(test::max_relative_error(dgamma, dg_ref) < 1e-4);
  CHECK(test::max_relative_error(dbeta, db_ref) < 1e-4);

  // Without the weight gradient and x's: γ's and β's gradients alone, added to what is there.
  std::vector<float> scratch(p.x.size());
  ofa::kernels::batch_norm_depthwise_backward(p.s, p.x.data(), p.dy.data(), p.view(), p.gamma.data(), p.beta.data(),
                                              p.saved, activation::none, nullptr, scratch.data(), false, dgamma.data(),
                                              dbeta.data());
  for (auto& v : dg_ref) v *= 2;
  for (auto& v : db_ref) v *= 2;
  CHECK(test::max_relative_error(dgamma, dg_ref) < 2e-4);
  CHECK(test::max_relative_error(dbeta, db_ref) < 2e-4);
}

TEST_CASE("fused batch norm + depthwise backward gives the same bits on one thread as on two",
          "[kernels][bn][depthwise]") {
  // Its sums are taken in fixed chunks of rows, added in chunk order and in double, whatever the
  // threads: training runs give the same weights on any machine size.
  const problem p(conv_shape{2, 40, 24, 72, 3, 1}, 950);
  auto run = [&](int threads) {
    ofa::parallel::arena arena(threads);
    std::vector<float> out(p.w.size() + p.x.size() + 2 * p.c, 0.0f);
    float* dw = out.data();
    float* dx = dw + p.w.size();
    ofa::kernels::batch_norm_depthwise_backward(p.s, p.x.data(), p.dy.data(), p.view(), p.gamma.data(), p.beta.data(),
                                                p.saved, activation::hswish, dw, dx, true, dx + p.x.size(),
                                                dx + p.x.size() + p.c);
    return out;
  };
  CHECK(run(1) == run(2));
}
