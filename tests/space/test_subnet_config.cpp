// subnet_config: validation errors name the field, JSON round trips in the
// reference's arch-dict form, and every malformed input is a config_error.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include <ofa/space/config_json.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>

using mbv3 = ofa::spaces::mobilenet_v3;
using cifar = ofa::spaces::cifar;
using config = ofa::subnet_config<mbv3>;
using Catch::Matchers::Contains;

TEST_CASE("max and min are valid and extreme", "[config]") {
  const auto mx = config::max();
  const auto mn = config::min();
  REQUIRE_NOTHROW(mx.validate());
  REQUIRE_NOTHROW(mn.validate());
  CHECK(mx.resolution == 224);
  CHECK(mn.resolution == 128);
  for (int k : mx.kernel) CHECK(k == 7);
  for (int e : mn.expand) CHECK(e == 3);
  for (int d : mn.depth) CHECK(d == 2);
}

TEST_CASE("validate names the field, the value and the allowed values", "[config]") {
  auto c = config::max();
  c.depth[2] = 5;
  CHECK_THROWS_WITH(c.validate(), Contains("d[2] = 5") && Contains("allowed: 2, 3, 4"));
  c = config::max();
  c.kernel[7] = 4;
  CHECK_THROWS_WITH(c.validate(), Contains("ks[7] = 4") && Contains("allowed: 3, 5, 7"));
  c = config::max();
  c.expand[19] = 5;
  CHECK_THROWS_WITH(c.validate(), Contains("e[19] = 5") && Contains("allowed: 3, 4, 6"));
  c = config::max();
  c.resolution = 100;
  CHECK_THROWS_WITH(c.validate(), Contains("r = 100") && Contains("128, 132, ..., 224"));
  CHECK_THROWS_AS(c.validate(), ofa::config_error);
  // A cut slot must still hold an allowed value: the reference's dicts always do.
  c = config::min();
  c.kernel[3] = 9;
  CHECK_THROWS_AS(c.validate(), ofa::config_error);
}

TEST_CASE("JSON round trip in the reference form", "[config][json]") {
  auto c = config::min();
  c.kernel[0] = 5;
  c.expand[5] = 6;
  c.depth[4] = 3;
  c.resolution = 160;
  const auto j = ofa::to_json(c);
  CHECK(j["r"] == nlohmann::json::array({160}));
  CHECK(j["ks"].size() == 20);
  CHECK(ofa::config_from_json<mbv3>(j) == c);
  CHECK(ofa::parse_config<mbv3>(j.dump()) == c);

  const auto cifar_config = ofa::subnet_config<cifar>::max();
  CHECK(ofa::parse_config<cifar>(ofa::to_json(cifar_config).dump()) == cifar_config);
}

TEST_CASE("JSON written by the PyTorch reference loads", "[config][json]") {
  // r as a plain integer, expand ratios as floats, the tutorial's "wid": null.
  const std::string text = R"({"wid": null, "ks": [3,5,7,3,5,7,3,5,7,3,5,7,3,5,7,3,5,7,3,5],
      "e": [3.0,4,6,3,4,6,3,4,6,3,4,6,3,4,6,3,4,6,3,4], "d": [2,3,4,2,3], "r": 176})";
  const auto c = ofa::parse_config<mbv3>(text, "tutorial");
  CHECK(c.resolution == 176);
  CHECK(c.expand[0] == 3);
  CHECK(c.depth[2] == 4);
  // and "image_size", as the accuracy predictor's arch dicts have it
  auto j = ofa::to_json(c);
  j.erase("r");
  j["image_size"] = 176;
  CHECK(ofa::config_from_json<mbv3>(j) == c);
}

TEST_CASE("every malformed input is a config_error naming the problem", "[config][json]") {
  const auto good = ofa::to_json(config::max());
  auto expect_error = [](const nlohmann::json& j, const std::string& fragment) {
    CHECK_THROWS_AS(ofa::config_from_json<mbv3>(j, "x.json"), ofa::config_error);
    CHECK_THROWS_WITH(ofa::config_from_json<mbv3>(j, "x.json"), Contains("x.json") && Contains(fragment));
  };
  auto j = good;
  j.erase("ks");
  expect_error(j, "missing key \"ks\"");
  j = good;
  j.erase("r");
  expect_error(j, "missing key \"r\"");
  j = good;
  j["e"] = 6;
  expect_error(j, "\"e\" must be a list");
  j = good;
  j["d"] = {4, 4, 4};
  expect_error(j, "\"d\" has 3 entries; this space needs 5");
  j = good;
  j["ks"][3] = "seven";
  expect_error(j, "ks[3] must be an integer");
  j = good;
  j["e"][1] = 4.5;
  expect_error(j, "e[1] must be an integer");
  j = good;
  j["r"] = {224, 192};
  expect_error(j, "one-element list");
  j = good;
  j["r"] = 225;
  expect_error(j, "r = 225");
  j = good;
  j["kernel"] = 3;
  expect_error(j, "unknown key \"kernel\"");
  expect_error(nlohmann::json::array({1, 2}), "expected a JSON object");
  j = good;
  j["d"][0] = 1e12;
  expect_error(j, "d[0]");

  CHECK_THROWS_WITH(ofa::parse_config<mbv3>("{\"ks\": [3,", "broken.json"),
                    Contains("broken.json") && Contains("not valid JSON"));
  CHECK_THROWS_AS(ofa::parse_config<mbv3>("", "empty.json"), ofa::config_error);
}

TEST_CASE("config files: missing is an io_error, present loads", "[config][json]") {
  CHECK_THROWS_AS(ofa::load_config<mbv3>("/nonexistent/dir/config.json"), ofa::io_error);
  CHECK_THROWS_WITH(ofa::load_config<mbv3>("/nonexistent/dir/config.json"), Contains("/nonexistent/dir/config.json"));
  const std::string path = "ofa_test_config.json";
  {
    std::ofstream out(path);
    out << ofa::to_json(config::min()).dump();
  }
  CHECK(ofa::load_config<mbv3>(path) == config::min());
  std::remove(path.c_str());
}

TEST_CASE("canonical clears cut slots", "[config]") {
  auto a = config::min();
  auto b = config::min();
  a.kernel[3] = 7;  // slot 3 of unit 0 is cut at depth 2
  CHECK_FALSE(a == b);
  CHECK(a.canonical() == b.canonical());
  a.kernel[1] = 7;  // slot 1 runs
  CHECK_FALSE(a.canonical() == b.canonical());
}
