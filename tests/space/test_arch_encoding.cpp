// The accuracy predictor's one-hot encoding, laid out as the reference's MobileNetArchEncoder.
#include <catch2/catch.hpp>

#include <numeric>

#include <ofa/space/arch_encoding.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>

using mbv3 = ofa::spaces::mobilenet_v3;
using config = ofa::subnet_config<mbv3>;

TEST_CASE("encoding size and layout match the reference", "[encoding]") {
  // 25 resolutions + 20 slots x 3 kernels + 20 slots x 3 expands
  STATIC_REQUIRE(ofa::arch_encoding_size<mbv3>() == 25 + 60 + 60);
  auto c = config::min();  // depth 2 everywhere: slots 0,1 of each unit run
  c.resolution = 132;
  c.kernel[1] = 5;
  c.expand[4] = 6;
  const auto f = ofa::encode_arch(c);
  REQUIRE(f.size() == 145);
  CHECK(f[1] == 1.0f);  // resolution 132 is index 1
  CHECK(std::accumulate(f.begin(), f.begin() + 25, 0.0f) == 1.0f);
  // kernel one-hots start at 25, 3 per slot; slot 1 = kernel 5 -> index 25 + 3 + 1
  CHECK(f[25 + 3 + 1] == 1.0f);
  CHECK(f[25 + 0] == 1.0f);  // slot 0 kernel 3
  // slot 2 is cut by depth: all zeros
  CHECK(f[25 + 6] + f[25 + 7] + f[25 + 8] == 0.0f);
  // expand one-hots start at 85; slot 4 (unit 1, first block) = 6 -> index 85 + 12 + 2
  CHECK(f[85 + 12 + 2] == 1.0f);
  // 1 resolution + 10 active slots x 2
  CHECK(std::accumulate(f.begin(), f.end(), 0.0f) == 21.0f);
}

TEST_CASE("configs that differ only in cut slots encode the same", "[encoding]") {
  auto a = config::min();
  auto b = a;
  b.kernel[3] = 7;
  b.expand[3] = 6;
  CHECK(ofa::encode_arch(a) == ofa::encode_arch(b));
  b.depth[0] = 4;
  CHECK_FALSE(ofa::encode_arch(a) == ofa::encode_arch(b));
}
