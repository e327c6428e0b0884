// The space types: constant tables, exact subnet counts, signatures.
#include <catch2/catch.hpp>

#include <cstdint>

#include <ofa/space/make_divisible.hpp>
#include <ofa/space/network.hpp>
#include <ofa/space/sampling.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>
#include <ofa/spaces/proxyless.hpp>

#include "hand_space.hpp"

using mbv3 = ofa::spaces::mobilenet_v3;
using cifar = ofa::spaces::cifar;
namespace sp = ofa::space;

using test::hand_space;

TEST_CASE("space tables follow the type", "[space]") {
  STATIC_REQUIRE(mbv3::unit_count == 5);
  STATIC_REQUIRE(mbv3::block_slots == 20);
  STATIC_REQUIRE(mbv3::resolution_set.size == 25);
  STATIC_REQUIRE(mbv3::resolution_set.min() == 128);
  STATIC_REQUIRE(mbv3::resolution_set.max() == 224);
  STATIC_REQUIRE(mbv3::class_count == 1000);
  STATIC_REQUIRE(mbv3::stem.width == 16 && mbv3::stem.stride == 2);
  STATIC_REQUIRE(mbv3::head.final_expand == 960 && mbv3::head.feature_mix == 1280);
  constexpr int widths[] = {24, 40, 80, 112, 160};
  constexpr int strides[] = {2, 2, 2, 1, 2};
  constexpr bool se[] = {false, true, false, true, true};
  for (std::size_t u = 0; u < 5; ++u) {
    CHECK(mbv3::unit_table[u].width == widths[u]);
    CHECK(mbv3::unit_table[u].stride == strides[u]);
    CHECK(mbv3::unit_table[u].se == se[u]);
    CHECK(mbv3::unit_table[u].first_slot == static_cast<int>(4 * u));
    CHECK(mbv3::unit_table[u].kernels.to_string() == "3, 5, 7");
  }
  CHECK(mbv3::unit_table[0].act == ofa::activation::relu);
  CHECK(mbv3::unit_table[2].act == ofa::activation::hswish);
  CHECK(hand_space::unit_table[1].first_slot == 2);
  STATIC_REQUIRE(hand_space::block_slots == 4);
  STATIC_REQUIRE(cifar::class_count == 10);
}

TEST_CASE("the ProxylessNAS space is the reference's: ReLU6, a one-block last unit, a head before pooling, BN eps 1e-3",
          "[space]") {
  using proxyless = ofa::spaces::proxyless_w13;
  STATIC_REQUIRE(proxyless::unit_count == 6);
  STATIC_REQUIRE(proxyless::block_slots == 21);
  STATIC_REQUIRE(proxyless::stem.width == 40 && proxyless::stem.act == ofa::activation::relu6);
  STATIC_REQUIRE(proxyless::first_block.width == 24);
  STATIC_REQUIRE(proxyless::unit_table[5].depths.size == 1 && proxyless::unit_table[5].depths.max() == 1);
  STATIC_REQUIRE(!proxyless::head.has_feature_mix() && proxyless::head.classifier_inputs() == 1664);
  STATIC_REQUIRE(std::string_view(proxyless::head.pre_pool_name()) == "feature_mix_layer");
  // The reference sets bn_param (0.1, 1e-3) for ProxylessNAS; with MobileNetV3's 1e-5 an imported
  // supernet's logits were 1e-3 off the reference's, with 1e-3 within 1e-6.
  STATIC_REQUIRE(proxyless::bn_eps == 1e-3 && mbv3::bn_eps == 1e-5);
  for (std::size_t u = 0; u < 6; ++u) {
    CHECK(proxyless::unit_table[u].act == ofa::activation::relu6);
    CHECK_FALSE(proxyless::unit_table[u].se);
  }
  // A fixed dimension is not constrained by a phase's list: depth {4} elsewhere, 1 here.
  ofa::rng engine(1);
  ofa::sampling_constraint deepest;
  deepest.depths = {4};
  const auto c = ofa::sample_config<proxyless>(engine, deepest);
  for (std::size_t u = 0; u < 5; ++u) CHECK(c.depth[u] == 4);
  CHECK(c.depth[5] == 1);
  // Existing spaces keep their signatures (checkpoints store them); the new parts show in its own.
  CHECK(mbv3::signature().find(";bn=") == std::string::npos);
  CHECK(proxyless::signature().find("head=1664,0,relu6") != std::string::npos);
  CHECK(proxyless::signature().find(";bn=0.001") != std::string::npos);
}

TEST_CASE("subnet counts are exact", "[space]") {
  // unit 0: d=1: 2 kernels x 1 expand = 2; d=2: 2^2 = 4  -> 6
  // unit 1: d=2 only: (3 kernels x 2 expands)^2 = 36        -> 36
  STATIC_REQUIRE(hand_space::architecture_count == 6 * 36);
  STATIC_REQUIRE(hand_space::subnet_count == 6 * 36 * 2);
  // MobileNetV3: per unit 9^2 + 9^3 + 9^4 = 7371; five units; 25 resolutions.
  constexpr ofa::uint128 per_unit = 81 + 729 + 6561;
  STATIC_REQUIRE(mbv3::architecture_count == per_unit * per_unit * per_unit * per_unit * per_unit);
  CHECK(ofa::to_decimal(mbv3::architecture_count) == "21758655492572485851");
  CHECK(ofa::to_decimal(mbv3::subnet_count) == "543966387314312146275");
  CHECK(mbv3::architecture_count > static_cast<ofa::uint128>(~std::uint64_t{0}));  // needs 128 bits
}

TEST_CASE("the signature tells spaces apart", "[space]") {
  CHECK(mbv3::signature() != cifar::signature());
  CHECK(mbv3::signature() == mbv3::signature());
  CHECK(mbv3::signature().find("unit=40,2,relu,se,d2.3.4,e3.4.6,k3.5.7") != std::string::npos);
}

TEST_CASE("to_decimal prints 128-bit values", "[space]") {
  CHECK(ofa::to_decimal(0) == "0");
  CHECK(ofa::to_decimal(1234567890) == "1234567890");
  const ofa::uint128 big = static_cast<ofa::uint128>(1) << 100;
  CHECK(ofa::to_decimal(big) == "1267650600228229401496703205376");
}

TEST_CASE("make_divisible matches the reference", "[space]") {
  // Values computed with ofa.utils.make_divisible(round(c * e), 8).
  CHECK(ofa::expanded_width(16, 3) == 48);
  CHECK(ofa::expanded_width(24, 3) == 72);
  CHECK(ofa::expanded_width(40, 3) == 120);
  CHECK(ofa::expanded_width(112, 6) == 672);
  CHECK(ofa::make_divisible(10) == 16);  // 10+4 = 14 -> 8, below 0.9*10 -> 16
  CHECK(ofa::make_divisible(3) == 8);    // never below the divisor
  CHECK(ofa::squeeze_excite_width(120) == 32);
  CHECK(ofa::squeeze_excite_width(72) == 24);  // 18 -> 24
  CHECK(ofa::round_half_even(2.5) == 2);
  CHECK(ofa::round_half_even(3.5) == 4);
}
