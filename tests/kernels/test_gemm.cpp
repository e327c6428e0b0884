// GEMM against its scalar reference: every transposition, odd sizes, slices
// (leading dimensions), alpha/beta, and the shapes the MobileNetV3 space makes.
#include <catch2/catch.hpp>

#include <tuple>

#include <ofa/kernels/gemm.hpp>

#include "random_fill.hpp"

using ofa::kernels::trans;

namespace {
void check_gemm(trans ta, trans tb, int m, int n, int k, int pad, float alpha, float beta, std::uint64_t seed) {
  const int a_rows = ta == trans::no ? m : k, a_cols = ta == trans::no ? k : m;
  const int b_rows = tb == trans::no ? k : n, b_cols = tb == trans::no ? n : k;
  const int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  const auto a = test::random_vector<float>(static_cast<std::size_t>(a_rows) * lda, seed);
  const auto b = test::random_vector<float>(static_cast<std::size_t>(b_rows) * ldb, seed + 1);
  auto c = test::random_vector<float>(static_cast<std::size_t>(m) * ldc, seed + 2);
  auto expected = c;
  ofa::kernels::gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  ofa::kernels::gemm_reference(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, expected.data(), ldc);
  INFO("m=" << m << " n=" << n << " k=" << k << " ta=" << int(ta) << " tb=" << int(tb) << " pad=" << pad);
  // float accumulation order differs: allow K-proportional rounding.
  CHECK(test::max_relative_error(c, expected) < 1e-5 * (k + 1));
}
}  // namespace

TEST_CASE("gemm equals the reference for every transposition and odd sizes", "[kernels][gemm]") {
  std::uint64_t seed = 1;
  for (trans ta : {trans::no, trans::yes})
    for (trans tb : {trans::no, trans::yes})
      for (int m : {1, 5, 17, 100})
        // 1, 7, 33: narrow tile; 25, 90: wide; 48, 64: whole panels (B in place); 24, 70, 120:
        // the 24-column tile where there is one (AVX-512), 120 as whole panels
        for (int n : {1, 7, 33, 70, 25, 90, 48, 64, 24, 120})
          for (int k : {1, 3, 64, 300}) check_gemm(ta, tb, m, n, k, 0, 1.0f, 0.0f, seed++);
}

namespace {
/// gemm_packed with a bias and each activation against the reference (inference's layers).
void check_bias_activation(int m, int n, int k) {
  for (auto act : {ofa::activation::none, ofa::activation::relu, ofa::activation::relu6, ofa::activation::hswish}) {
    const auto w = test::random_vector<float>(static_cast<std::size_t>(n) * k, 40);
    const auto a = test::random_vector<float>(static_cast<std::size_t>(m) * k, 41, -3, 3);
    const auto bias = test::random_vector<float>(static_cast<std::size_t>(n), 42);
    std::vector<float> c(static_cast<std::size_t>(m) * n), expected(c.size());
    ofa::kernels::gemm_packed(m, a.data(), k, ofa::kernels::pack_weights(w.data(), k, n, k), 0.0f, c.data(), n,
                              bias.data(), act);
    ofa::kernels::gemm_reference(trans::no, trans::yes, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, expected.data(),
                                 n);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        float& e = expected[static_cast<std::size_t>(i * n + j)];
        e += bias[static_cast<std::size_t>(j)];
        ofa::kernels::activation_forward_reference(act, 1, &e, &e);
      }
    INFO("m=" << m << " n=" << n << " k=" << k << " activation " << int(act));
    CHECK(test::max_relative_error(c, expected) < 1e-5 * (k + 1));
  }
}
}  // namespace

TEST_CASE("the 24-column tile, forced on CPUs that would not choose it", "[kernels][gemm]") {
  // Chosen only where AVX-512 runs as two 256-bit halves (AMD); forced here so that every AVX-512
  // machine tests it, plain and with packed weights.
  ofa::kernels::detail::half_tile_override() = 1;
  std::uint64_t seed = 900;
  for (trans ta : {trans::no, trans::yes})
    for (int m : {1, 13, 100})
      for (int n : {24, 72})
        for (int k : {3, 24, 300}) check_gemm(ta, trans::yes, m, n, k, 0, 1.0f, 0.0f, seed++);
  for (auto [m, n, k] : {std::tuple{29, 24, 40}, {13, 72, 300}, {3136, 72, 24}}) {
    const auto w = test::random_vector<float>(static_cast<std::size_t>(n) * k, seed++);
    const auto a = test::random_vector<float>(static_cast<std::size_t>(m) * k, seed++);
    std::vector<float> c(static_cast<std::size_t>(m) * n), expected(c.size());
    ofa::kernels::gemm_packed(m, a.data(), k, ofa::kernels::pack_weights(w.data(), k, n, k), 0.0f, c.data(), n);
    ofa::kernels::gemm_reference(trans::no, trans::yes, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, expected.data(),
                                 n);
    INFO("packed m=" << m << " n=" << n << " k=" << k);
    CHECK(test::max_relative_error(c, expected) < 1e-5 * (k + 1));
  }
  for (auto [m, n, k] : {std::tuple{29, 24, 40}, {48, 72, 24}}) check_bias_activation(m, n, k);
  ofa::kernels::detail::half_tile_override() = -1;
}

TEST_CASE("gemm honours leading dimensions, alpha and beta", "[kernels][gemm]") {
  check_gemm(trans::no, trans::yes, 37, 45, 29, 11, 1.0f, 1.0f, 3);  // accumulate into C
  check_gemm(trans::yes, trans::no, 19, 64, 40, 5, 0.5f, 2.0f, 4);
  check_gemm(trans::no, trans::no, 64, 32, 513, 3, -1.0f, 0.0f, 5);  // K spans two KC blocks
}

TEST_CASE("gemm reads operands in place and packs what it must", "[kernels][gemm]") {
  // A transposed and B without transposition are read in place for whole row tiles and column
  // panels, the partial ones packed; a leading dimension of a multiple of 4 KiB is packed whole.
  std::uint64_t seed = 60;
  for (int m : {8, 16, 23, 100})
    for (int n : {16, 32, 40, 96}) check_gemm(trans::yes, trans::no, m, n, 700, 2, 1.0f, 0.5f, seed++);
  check_gemm(trans::yes, trans::no, 24, 40, 50, 1024 - 24, 1.0f, 0.0f, seed++);  // lda = 1024
  check_gemm(trans::yes, trans::no, 24, 48, 50, 1024 - 48, 1.0f, 0.0f, seed++);  // ldb = 1024
  check_gemm(trans::no, trans::no, 70, 64, 33, 1024 - 64, 1.0f, 0.0f, seed++);   // lda, ldb = 1024
}

TEST_CASE("gemm at MobileNetV3 shapes", "[kernels][gemm]") {
  // pointwise convs: M = batch*H*W, K = in channels, N = out channels (weights [N][K] -> trans B)
  check_gemm(trans::no, trans::yes, 2 * 28 * 28, 120, 40, 0, 1.0f, 0.0f, 10);
  check_gemm(trans::no, trans::yes, 2 * 7 * 7, 960, 160, 0, 1.0f, 0.0f, 11);
  // backward: dW = dY^T X, dX = dY W
  check_gemm(trans::yes, trans::no, 120, 40, 2 * 28 * 28, 0, 1.0f, 1.0f, 12);
  check_gemm(trans::no, trans::no, 2 * 28 * 28, 40, 120, 0, 1.0f, 0.0f, 13);
}

TEST_CASE("a long-K product with a small C is split along K (weight gradients)", "[kernels][gemm]") {
  // dW [out][in] = dYᵀ·X over batch·H·W rows; both orientations of the split (N = 16 runs
  // transposed), a K that is not a multiple of the slice, leading dimensions, alpha and beta.
  std::uint64_t seed = 40;
  for (trans ta : {trans::no, trans::yes})
    for (trans tb : {trans::no, trans::yes}) {
      check_gemm(ta, tb, 48, 16, 5000, 0, 1.0f, 1.0f, seed++);
      check_gemm(ta, tb, 24, 70, 4099, 3, 0.5f, 0.0f, seed++);
    }
  check_gemm(trans::yes, trans::no, 1, 1, 3000, 0, 1.0f, 0.0f, seed++);
}

TEST_CASE("a few rows of C against a wide transposed B run transposed", "[kernels][gemm]") {
  // Up to a vector's width of rows and N >= 4·M (batch-16 squeeze-excite, head and classifier):
  // computed as Cᵀ = B·Aᵀ with B read in place, then stored transposed with alpha and beta.
  std::uint64_t seed = 80;
  check_gemm(trans::no, trans::yes, 16, 88, 336, 3, 0.5f, 2.0f, seed++);
  check_gemm(trans::no, trans::yes, 16, 64, 240, 0, 1.0f, 0.0f, seed++);  // N = 4·M exactly
  check_gemm(trans::no, trans::yes, 16, 1000, 1280, 0, 1.0f, 1.0f, seed++);
  check_gemm(trans::yes, trans::yes, 7, 40, 50, 2, -1.0f, 1.0f, seed++);
  check_gemm(trans::no, trans::yes, 16, 63, 40, 1, 1.0f, 0.5f, seed++);  // N < 4·M: the plain path
}

TEST_CASE("gemm of an active slice uses the max-size weight in place", "[kernels][gemm]") {
  // A [672 x 112] weight; the active slice is the first 240 rows and 40 columns.
  const int max_out = 672, max_in = 112, out = 240, in = 40, m = 50;
  const auto w = test::random_vector<float>(static_cast<std::size_t>(max_out) * max_in, 20);
  const auto x = test::random_vector<float>(static_cast<std::size_t>(m) * in, 21);
  std::vector<float> y(static_cast<std::size_t>(m) * out), expected(y.size());
  ofa::kernels::gemm(trans::no, trans::yes, m, out, in, 1.0f, x.data(), in, w.data(), max_in, 0.0f, y.data(), out);
  for (int i = 0; i < m; ++i)
    for (int o = 0; o < out; ++o) {
      double s = 0;
      for (int c = 0; c < in; ++c) s += double(x[i * in + c]) * w[o * max_in + c];
      expected[static_cast<std::size_t>(i * out + o)] = float(s);
    }
  CHECK(test::max_relative_error(y, expected) < 1e-4);
}

TEST_CASE("gemm rejects bad sizes with a shape_error", "[kernels][gemm]") {
  std::vector<float> a(16), b(16), c(16);
  CHECK_THROWS_AS(ofa::kernels::gemm(trans::no, trans::no, 4, 4, 4, 1.0f, a.data(), 3, b.data(), 4, 0.0f, c.data(), 4),
                  ofa::shape_error);
  CHECK_THROWS_AS(ofa::kernels::gemm(trans::no, trans::no, -1, 4, 4, 1.0f, a.data(), 4, b.data(), 4, 0.0f, c.data(), 4),
                  ofa::shape_error);
}

TEST_CASE("gemm with pre-packed weights equals the plain gemm", "[kernels][gemm]") {
  for (auto [m, n, k] : {std::tuple{1, 1, 1},
                         {49, 960, 160},
                         {7, 33, 300},
                         {130, 70, 517},
                         {40, 48, 24},
                         // N = 24 and 72: the 24-column tile where there is one (AVX-512); 120: the wide one
                         {29, 24, 40},
                         {13, 72, 300},
                         {1, 24, 40},
                         {2, 120, 300},
                         {3, 1000, 64},
                         // one or two rows: the matrix-vector path, over several K blocks and a partial last panel
                         {1, 33, 300},
                         {2, 70, 517},
                         {1, 1000, 64},
                         {2, 17, 1},
                         // large enough to be split into tasks (squeeze-excite's shapes at batch 1)
                         {1, 144, 576},
                         {2, 576, 144},
                         {1, 1280, 960}}) {
    const int ldw = k + 3;
    const auto w = test::random_vector<float>(static_cast<std::size_t>(n) * ldw, 30);
    const auto a = test::random_vector<float>(static_cast<std::size_t>(m) * k, 31);
    std::vector<float> c(static_cast<std::size_t>(m) * n), expected(c.size());
    const auto packed = ofa::kernels::pack_weights(w.data(), ldw, n, k);
    ofa::kernels::gemm_packed(m, a.data(), k, packed, 0.0f, c.data(), n);
    ofa::kernels::gemm_reference(trans::no, trans::yes, m, n, k, 1.0f, a.data(), k, w.data(), ldw, 0.0f,
                                 expected.data(), n);
    INFO("m=" << m << " n=" << n << " k=" << k);
    CHECK(test::max_relative_error(c, expected) < 1e-5 * (k + 1));
  }
}

TEST_CASE("gemm with pre-packed weights adds beta times C, on both paths", "[kernels][gemm]") {
  for (int m : {1, 2, 5, 20})
    for (int n : {37, 24, 72}) {
      const int k = 300;
      const auto w = test::random_vector<float>(static_cast<std::size_t>(n) * k, 35);
      const auto a = test::random_vector<float>(static_cast<std::size_t>(m) * k, 36);
      auto c = test::random_vector<float>(static_cast<std::size_t>(m) * n, 37);
      auto expected = c;
      ofa::kernels::gemm_packed(m, a.data(), k, ofa::kernels::pack_weights(w.data(), k, n, k), 0.5f, c.data(), n);
      ofa::kernels::gemm_reference(trans::no, trans::yes, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.5f,
                                   expected.data(), n);
      INFO("m=" << m << " n=" << n);
      CHECK(test::max_relative_error(c, expected) < 1e-5 * (k + 1));
    }
}

TEST_CASE("the fused bias + activation epilogue", "[kernels][gemm]") {
  for (auto [m, n, k] : {std::tuple{5, 7, 3},
                         {64, 96, 600},
                         {1, 7, 3},
                         {2, 96, 600},
                         {29, 24, 40},
                         {13, 70, 300},
                         {48, 64, 16},
                         {48, 80, 24},
                         {48, 72, 40}})  // the last three: whole tiles only
    check_bias_activation(m, n, k);
}
