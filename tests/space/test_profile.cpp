// MACs and parameters: by hand on a tiny space, and against the PyTorch
// reference (ofa.utils.flops_counter.profile on get_active_subnet()) on MobileNetV3.
#include <catch2/catch.hpp>

#include <ofa/space/config_json.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>
#include <ofa/spaces/proxyless.hpp>

#include "hand_space.hpp"

using mbv3 = ofa::spaces::mobilenet_v3;
using test::hand_space;

namespace {
/// A subnet (the reference's JSON) and the MACs and parameters the reference's profiler gives it.
struct reference_case {
  const char* arch;
  long long macs, params;
};
template <class Space, std::size_t N>
void check_reference_cases(const reference_case (&cases)[N]) {
  for (const auto& c : cases) {
    INFO(c.arch);
    const auto p = ofa::profile_subnet(ofa::parse_config<Space>(c.arch));
    CHECK(p.macs == c.macs);
    CHECK(p.params == c.params);
  }
}
}  // namespace

TEST_CASE("hand count: smallest subnet of the tiny space at 32", "[profile]") {
  const auto p = ofa::profile_subnet(ofa::subnet_config<hand_space>::min());
  // Layer by layer (MACs = out_c * out_h * out_w * in_c/groups * k^2):
  // first_conv 3->8 k3 s2 32->16: 8*256*27 = 55296         params 216 + BN 16 = 232
  // blocks.0 dw 8 k3 @16: 18432 (88); pw 8->8: 16384 (80)
  // unit 0 block (8 -> mid 24 -> 16, k3 s2 16->8): 49152 + 13824 + 24576; params 240 + 264 + 416
  // unit 1 block 1 (16 -> 48 -> 24, SE 48->16->48): 49152 + 27648 + 768 + 768 + 73728;
  //   params 864 + 528 + 784 + 816 + 1200
  // unit 1 block 2 (24 -> 72 -> 24, SE 72->24->72): 110592 + 41472 + 1728 + 1728 + 110592;
  //   params 1872 + 792 + 1752 + 1800 + 1776
  // head: final expand 24->64 @8: 98304 (1664); feature mix 64->128: 8192 (8192); linear 128->10: 1280 (1290)
  CHECK(p.macs == 703616);
  CHECK(p.params == 24650);
  CHECK(p.layers.front().name == "first_conv");
  CHECK(p.layers.front().out_size == 16);
  CHECK(p.layers.back().name == "classifier");
  REQUIRE(p.layers.size() == 3 + 3 + 5 + 5 + 3);
  CHECK(p.layers[8].name == "blocks.2.se.reduce");
  CHECK(p.layers[8].out_channels == 16);
}

TEST_CASE("hand count: largest subnet of the tiny space at 64", "[profile]") {
  const auto p = ofa::profile_subnet(ofa::subnet_config<hand_space>::max());
  // first_conv @64->32: 221184; blocks.0: 73728 + 65536
  // unit 0, k5: block 1 (8->24->16, s2 32->16): 196608 + 153600 + 98304
  //             block 2 (16->48->16 @16): 196608 + 307200 + 196608
  // unit 1, k7, e6: block 1 (16->96->24, SE 96->24): 393216 + 1204224 + 2304 + 2304 + 589824
  //                 block 2 (24->144->24, SE 144->40): 884736 + 1806336 + 5760 + 5760 + 884736
  // head @16: 393216 + 8192 + 1280
  CHECK(p.macs == 7691264);
  CHECK(p.params == 55810);
  // The supernet adds the kernel transformation matrices to the largest subnet:
  // 9*9 per unit-0 layer (kernels 3,5), 25*25 + 9*9 = 706 per unit-1 layer.
  CHECK(ofa::supernet_param_count<hand_space>() == 55810 + 2 * 81 + 2 * 706);
}

TEST_CASE("MobileNetV3 figures equal the PyTorch reference", "[profile]") {
  using config = ofa::subnet_config<mbv3>;
  // OFAMobileNetV3(ks_list=[3,5,7], expand_ratio_list=[3,4,6], depth_list=[2,3,4]):
  // sum(p.numel() for p in net.parameters())
  CHECK(ofa::supernet_param_count<mbv3>() == 7678880);
  // The reference profiler sums per-layer counts in float32 (torch.zeros(1).fill_), so its
  // totals can be off by float32 rounding: 566170688 for the largest subnet, whose exact
  // sum of the same per-layer counts (checked with the same hooks in integers) is 566170656.
  const auto largest = ofa::profile_subnet(config::max(), 224);
  CHECK(largest.macs == 566170656);
  CHECK(largest.params == 7664760);
  const auto smallest = ofa::profile_subnet(config::min(), 224);
  CHECK(smallest.macs == 121278672);
  CHECK(smallest.params == 3410792);
  CHECK(ofa::profile_subnet(config::max(), 128).macs == 188248320);
  CHECK(ofa::profile_subnet(config::min(), 128).macs == 41476224);

  const reference_case cases[] = {
      {R"({"ks": [5,3,5,7,3,3,7,3,5,7,3,7,3,3,3,5,5,3,3,3], "e": [6,4,3,6,3,3,6,6,6,3,6,6,4,3,3,3,6,3,4,4],
          "d": [2,4,2,4,3], "r": 196})",
       210859248, 4575992},
      {R"({"ks": [7,3,3,7,7,7,3,5,3,7,7,3,7,3,7,3,5,7,7,5], "e": [4,4,6,4,4,4,3,3,6,3,3,6,4,6,4,4,6,4,4,6],
          "d": [2,2,4,3,2], "r": 224})",
       245525856, 4561832},
      {R"({"ks": [5,3,5,5,3,7,3,7,7,5,5,7,5,7,5,7,5,3,3,5], "e": [4,6,6,3,3,6,6,4,6,6,6,4,4,6,4,6,4,3,4,4],
          "d": [2,4,2,3,2], "r": 152})",
       127151784, 4234152},
      {R"({"ks": [5,3,7,3,5,5,5,3,3,5,5,7,5,3,5,7,5,7,5,5], "e": [6,4,3,3,3,3,3,3,6,3,3,4,6,3,4,4,3,3,4,6],
          "d": [3,4,4,3,2], "r": 216})",
       241199552, 3981144},
      {R"({"ks": [7,7,7,7,7,3,5,7,7,5,5,5,5,3,5,7,5,3,3,3], "e": [3,4,3,3,4,6,3,3,3,6,3,6,3,4,6,3,3,3,6,4],
          "d": [2,4,3,3,4], "r": 172})",
       168059688 /* float32 sum: 168059680 */, 5278640},
  };
  check_reference_cases<mbv3>(cases);
}

TEST_CASE("ProxylessNAS w1.3 figures equal the PyTorch reference", "[profile]") {
  using proxyless = ofa::spaces::proxyless_w13;
  using config = ofa::subnet_config<proxyless>;
  // OFAProxylessNASNets(width_mult=1.3, ks_list=[3,5,7], expand_ratio_list=[3,4,6], depth_list=[2,3,4]);
  // MACs from the reference's profiler with its sums in float64 (its float32 sums print
  // 1,004,907,968 and 265,526,240 for the largest and smallest at 224).
  CHECK(ofa::supernet_param_count<proxyless>() == 7956882);
  const auto largest = ofa::profile_subnet(config::max(), 224);
  CHECK(largest.macs == 1004908032);
  CHECK(largest.params == 7942056);
  const auto smallest = ofa::profile_subnet(config::min(), 224);
  CHECK(smallest.macs == 265526256);
  CHECK(smallest.params == 3718832);
  CHECK(ofa::profile_subnet(config::min(), 128).macs == 87823104);
  const reference_case cases[] = {
      {R"({"ks": [7,5,7,5,7,7,7,7,3,5,3,7,3,3,3,5,5,3,5,7,3], "e": [6,3,3,6,3,4,4,3,4,3,3,3,6,6,4,3,3,3,3,3,3],
          "d": [2,2,3,3,2,1], "r": 196})",
       351532928, 4158600},
      {R"({"ks": [7,7,3,3,7,3,5,5,3,5,5,3,3,5,3,5,5,7,7,3,7], "e": [6,6,4,3,4,4,4,4,6,4,3,4,4,6,3,3,4,3,6,4,4],
          "d": [2,4,3,3,3,1], "r": 200})",
       481125952, 5313576},
      {R"({"ks": [3,5,3,7,3,7,3,3,3,5,5,7,5,7,5,5,3,7,7,5,5], "e": [3,4,3,3,4,6,6,4,3,4,4,6,6,3,4,6,4,4,3,3,6],
          "d": [2,4,4,3,3,1], "r": 148})",
       255792512, 5522864},
      {R"({"ks": [7,3,3,7,7,5,3,3,7,7,5,5,5,7,5,3,3,7,3,5,5], "e": [3,3,6,6,3,6,4,3,3,4,4,3,3,4,4,3,4,6,3,6,4],
          "d": [3,4,4,3,3,1], "r": 160})",
       263297400, 5292344},
  };
  check_reference_cases<proxyless>(cases);
}

TEST_CASE("profile rejects an invalid config", "[profile]") {
  auto c = ofa::subnet_config<mbv3>::max();
  c.depth[0] = 7;
  CHECK_THROWS_AS(ofa::profile_subnet(c), ofa::config_error);
}
