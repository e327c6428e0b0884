// ImageNet evaluation preprocessing as the reference's (torchvision Resize(ceil(r / 0.875)) with PIL's
// bilinear filter, CenterCrop(r)), against torchvision's own output on JPEGs of real photographs of
// several sizes and aspect ratios (tests/data/imagenet, written by make_imagenet_fixtures.py).
#include <catch2/catch.hpp>

#include <cstdlib>  // abs
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <ofa/data/codecs.hpp>
#include <ofa/data/resize_pil.hpp>
#include <ofa/data/transforms.hpp>

namespace od = ofa::data;

namespace {
std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("the reference's evaluation resize and crop give torchvision's pixels", "[data][imagenet]") {
  const std::string dir = std::string(OFA_TEST_SOURCE_DIR) + "/data/imagenet/";
  for (const auto& [name, r] : std::vector<std::pair<std::string, int>>{
           {"photo_384x288", 128}, {"photo_288x384", 128}, {"photo_320x320", 128}, {"photo_512x192", 128},
           {"photo_96x64", 128}, {"photo_384x288", 224}, {"photo_301x227", 160}}) {
    INFO(name << " at " << r);
    const auto image = od::decode_image(read_bytes(dir + name + ".jpg"), name);
    const auto expected = read_bytes(dir + name + "_r" + std::to_string(r) + ".rgb");
    const auto ours = od::resize_and_centre_crop_like_reference(image, r);
    REQUIRE(ours.pixels.size() == expected.size());
    int worst = 0;
    std::size_t exact = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const int d = std::abs(int(ours.pixels[i]) - int(expected[i]));
      worst = std::max(worst, d);
      exact += d == 0;
    }
    INFO("largest difference " << worst << "/255, " << 100.0 * double(exact) / double(expected.size()) << "% exact");
    CHECK(worst <= 1);
    // The evaluation transform is this geometry, normalised.
    od::augmentation eval;
    eval.kind = od::augmentation::recipe::imagenet;
    eval.train = false;
    std::vector<float> normalised(expected.size());
    ofa::rng unused(0);
    od::transform_image(image, eval, r, unused, normalised.data());
    CHECK(normalised[5] == Approx((ours.pixels[5] / 255.0 - eval.mean[2]) / eval.stddev[2]));
  }
}

TEST_CASE("PIL's resize: an identity, a constant, and a reduction that low-passes", "[data][imagenet]") {
  od::image img;
  img.width = 8;
  img.height = 2;
  for (int i = 0; i < 16; ++i)
    for (int c = 0; c < 3; ++c) img.pixels.push_back(std::uint8_t((i % 2) * 200));  // stripes 0/200
  CHECK(od::resize_like_pil(img, 8, 2).pixels == img.pixels);
  // Halving the width averages the stripes (a plain bilinear sample would alias to 0 or 200): inside,
  // four taps weigh 0, 200, 0, 200 by 1/8, 3/8, 3/8, 1/8; at the edges the filter is cut and renormalised.
  const auto half = od::resize_like_pil(img, 4, 2);
  for (int x = 0; x < 4; ++x) {
    INFO("x " << x);
    const int v = half.at(0, x, 0);
    CHECK(v == (x == 0 ? 86 : x == 3 ? 114 : 100));
  }
  CHECK_THROWS_AS(od::resize_like_pil(img, 0, 2), ofa::config_error);
}
