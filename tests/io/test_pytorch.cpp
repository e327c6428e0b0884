// Reading torch.save files natively: both formats, views, float16, the published files' names and
// wrapper, imported into a supernet with ofa's own outputs; malformed files refused by name.
// The fixtures (tests/io/pytorch/) are written by make_pytorch_fixtures.py with Debian's python3-torch
// from small.ofa, the test space's network of seed 7.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include <ofa/io/pytorch.hpp>
#include <ofa/nn/import_pytorch.hpp>
#include <ofa/nn/serialize.hpp>
#include <ofa/random.hpp>
#include <ofa/search/import_pytorch_predictor.hpp>
#include <ofa/space/config_json.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>
#include <ofa/spaces/resnet.hpp>

#include "../small_space.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using test::small_space;

namespace {
std::string fixture(const std::string& name) { return std::string(OFA_TEST_SOURCE_DIR) + "/io/pytorch/" + name; }

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::string written(const std::string& name, const std::string& bytes) {
  const auto path = (fs::temp_directory_path() / ("ofa_test_pytorch_" + name)).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

/// Largest |a - b| over every parameter and buffer, relative to the largest |a| of each tensor.
double largest_difference(ofa::nn::elastic_net<small_space>& a, ofa::nn::elastic_net<small_space>& b) {
  auto sa = a.state(), sb = b.state();
  double worst = 0;
  const auto compare = [&](const ofa::tensor<float>& x, const ofa::tensor<float>& y) {
    REQUIRE(x.shape() == y.shape());
    for (std::size_t i = 0; i < x.size(); ++i)
      worst = std::max(worst, double(std::fabs(x.data()[i] - y.data()[i])) / std::max(1.0, double(std::fabs(x.data()[i]))));
  };
  for (std::size_t i = 0; i < sa.parameters.size(); ++i) compare(sa.parameters[i].value.value(), sb.parameters[i].value.value());
  for (std::size_t i = 0; i < sa.buffers.size(); ++i) compare(*sa.buffers[i].value, *sb.buffers[i].value);
  return worst;
}
}  // namespace

// Writes tests/io/pytorch/small.ofa, the source of the fixtures (hidden: run by hand).
TEST_CASE("write the fixtures' supernet", "[.write-small-supernet]") {
  ofa::nn::save(ofa::nn::elastic_net<small_space>(7), fixture("small.ofa"));
}

TEST_CASE("both torch.save formats import with the published names, bit for bit", "[io][pytorch]") {
  ofa::nn::elastic_net<small_space> expected(0);
  ofa::nn::load(expected, fixture("small.ofa"));
  for (const char* file : {"small_zip.pth", "small_legacy.pth"}) {
    INFO(file);
    ofa::nn::elastic_net<small_space> imported(99);
    ofa::nn::import_pytorch(imported, fixture(file));  // the file mapped, each tensor read into its place
    CHECK(largest_difference(expected, imported) == 0);
    ofa::nn::elastic_net<small_space> from_list(98);  // every tensor read first, then imported
    ofa::nn::import_pytorch(from_list, ofa::io::read_pytorch_state_dict(fixture(file)), fixture(file));
    CHECK(largest_difference(expected, from_list) == 0);
    // Entries describe what read() gives, and a tensor read again (its pages given back) is the same.
    const ofa::io::pytorch_state_dict opened(fixture(file));
    for (std::size_t i = 0; i < opened.entries().size(); ++i) {
      const auto t = opened.read(i);
      REQUIRE(t.shape == opened.entries()[i].shape);
      REQUIRE(t.dtype == opened.entries()[i].dtype);
      REQUIRE(opened.read(i).data == t.data);
    }
    ofa::rng engine(3);
    auto images = ofa::make_tensor<float>(ofa::shape_type{2, 20, 20, 3});
    for (auto& v : images) v = engine.uniform(-1.0f, 1.0f);
    for (const auto& config : {ofa::subnet_config<small_space>::max(), ofa::subnet_config<small_space>::min()}) {
      const auto a = expected.evaluate(images, config.with_resolution(20)),
                 b = imported.evaluate(images, config.with_resolution(20));
      CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    }
  }
  // float16 storages are converted: the same weights to half precision.
  ofa::nn::elastic_net<small_space> half(99);
  ofa::nn::import_pytorch(half, fixture("small_half.pth"));
  CHECK(largest_difference(expected, half) < 1e-3);
}

TEST_CASE("the reader honours views and reports dtypes", "[io][pytorch]") {
  const auto legacy = ofa::io::read_pytorch_state_dict(fixture("small_legacy.pth"));
  const auto zip = ofa::io::read_pytorch_state_dict(fixture("small_zip.pth"));
  REQUIRE(legacy.size() == zip.size());
  std::size_t tracked = 0;
  for (std::size_t i = 0; i < zip.size(); ++i) {
    INFO(zip[i].first);
    CHECK(legacy[i].first == zip[i].first);
    CHECK(legacy[i].second.shape == zip[i].second.shape);
    CHECK(legacy[i].second.data == zip[i].second.data);  // the legacy file's classifier and feature mix are views
    if (zip[i].second.dtype == "int64") ++tracked;
  }
  CHECK(tracked > 0);  // num_batches_tracked, read and ignored
  CHECK(ofa::nn::canonical_pytorch_name("blocks.3.mobile_inverted_conv.depth_conv.conv.conv.weight") ==
        "blocks.3.conv.depth_conv.conv.weight");
  CHECK(ofa::nn::canonical_pytorch_name("blocks.3.mobile_inverted_conv.point_linear.bn.bn.running_var") ==
        "blocks.3.conv.point_linear.bn.running_var");
  CHECK(ofa::nn::canonical_pytorch_name("classifier.linear.linear.bias") == "classifier.linear.bias");
}

TEST_CASE("malformed PyTorch files are refused, naming the file and the problem", "[io][pytorch]") {
  ofa::nn::elastic_net<small_space> net(1);
  const auto refused = [&](const std::string& path, const char* why) {
    INFO(path);
    CHECK_THROWS_WITH(ofa::nn::import_pytorch(net, path), Contains(path) && Contains(why));
  };
  refused(fixture("foreign_global.pth"), "calls posix.system");
  refused(fixture("wrong_shape.pth"), "'first_conv.conv.weight' has shape [4, 3, 3, 3]");
  refused(fixture("missing_keys.pth"), "it lacks");
  const auto zip = read_all(fixture("small_zip.pth")), legacy = read_all(fixture("small_legacy.pth"));
  refused(written("zip_half.pth", zip.substr(0, zip.size() / 2)), "truncated");
  refused(written("zip_tail.pth", zip.substr(0, zip.size() - 10)), "truncated");
  refused(written("legacy_half.pth", legacy.substr(0, legacy.size() / 2)), "truncated");
  refused(written("legacy_start.pth", legacy.substr(0, 100)), "truncated");
  refused(written("text.pth", "not a checkpoint at all"), "not a torch.save file");
  refused("/no/such/file.pth", "cannot open");
  // Found by fuzzing: a legacy pickle whose dict holds itself leaked under shared ownership.
  refused(fixture("cyclic_pickle.pth"), "cannot import");
  // A file of another space: the first tensor that differs is named with both shapes.
  ofa::nn::elastic_net<small_space> other(1);
  auto tensors = ofa::io::read_pytorch_state_dict(fixture("small_zip.pth"));
  tensors.emplace_back("blocks.99.conv.extra.weight", tensors.front().second);
  CHECK_THROWS_WITH(ofa::nn::import_pytorch(other, tensors, "extra.pth"),
                    Contains("not of this space") && Contains("blocks.99.conv.extra.weight"));
}

TEST_CASE("the reference's two predictor layouts predict what the reference predicts", "[io][pytorch][predictor]") {
  using mbv3 = ofa::spaces::mobilenet_v3;
  const auto tutorial = ofa::search::import_pytorch_predictor<mbv3>(fixture("predictor_tutorial.pth"));
  const auto nas = ofa::search::import_pytorch_predictor<mbv3>(fixture("predictor_nas.pth"));
  CHECK(tutorial.base_accuracy() == Approx(0.7587));
  CHECK(nas.base_accuracy() == Approx(0.8056));
  std::ifstream in(fixture("predictor_expected.json"));
  const auto expected = nlohmann::json::parse(in);
  REQUIRE(expected.size() == 20);
  for (const auto& row : expected) {
    const auto config = ofa::config_from_json<mbv3>(row["config"]);
    INFO(row["config"].dump());
    CHECK(tutorial.predict(config) == Approx(row["tutorial"].get<double>()).margin(1e-5));
    CHECK(nas.predict(config) == Approx(row["nas"].get<double>()).margin(1e-5));
  }
  // A supernet's file is no predictor; a predictor of another space is refused by its input size.
  CHECK_THROWS_WITH(ofa::search::import_pytorch_predictor<mbv3>(fixture("small_zip.pth")),
                    Contains("neither the tutorial's Sequential"));
  CHECK_THROWS_WITH(ofa::search::import_pytorch_predictor<small_space>(fixture("predictor_nas.pth")),
                    Contains("inputs; this space's encoding has"));
}

TEST_CASE("the published ResNet50 predictor's layout: 82 inputs, its own image sizes, base_acc",
          "[io][pytorch][predictor][resnet]") {
  using resnet = ofa::spaces::resnet50;
  const auto predictor = ofa::search::import_pytorch_predictor<resnet>(fixture("predictor_resnet.pth"));
  CHECK(predictor.base_accuracy() == Approx(0.7712));
  std::ifstream in(fixture("predictor_resnet_expected.json"));
  const auto expected = nlohmann::json::parse(in);
  REQUIRE(expected.size() == 20);
  for (const auto& row : expected) {
    const auto config = ofa::config_from_json<resnet>(row["config"]);
    INFO(row["config"].dump());
    CHECK(predictor.predict(config) == Approx(row["nas"].get<double>()).margin(1e-5));
    // A size between the predictor's is predicted as the nearest of them: 132 as 128, 220 as 224.
    if (config.resolution == 128) CHECK(predictor.predict(config.with_resolution(132)) == predictor.predict(config));
    if (config.resolution == 224) CHECK(predictor.predict(config.with_resolution(220)) == predictor.predict(config));
  }
  CHECK_THROWS_WITH(ofa::search::import_pytorch_predictor<ofa::spaces::mobilenet_v3>(fixture("predictor_resnet.pth")),
                    Contains("inputs; this space's encoding has"));
}
