// Save/load round trips, and every way a checkpoint can be bad gives an io_error
// that names the file and the reason.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <ofa/nn/extract.hpp>
#include <ofa/nn/serialize.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>

#include "net_helpers.hpp"

using cifar = ofa::spaces::cifar;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {
std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("ofa_test_" + name)).string();
}
std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_all(const std::string& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}
}  // namespace

TEST_CASE("supernet save/load round trip restores outputs", "[nn][io]") {
  ofa::nn::elastic_net<cifar> a(1), b(2);
  test::randomize_state(a, 3);
  const auto path = temp_path("supernet.ofa");
  ofa::nn::save(a, path, R"({"epoch": 3})");
  CHECK(ofa::nn::load(b, path) == R"({"epoch": 3})");
  ofa::rng engine(5);
  for (int i = 0; i < 3; ++i) {
    const auto c = ofa::sample_config<cifar>(engine);
    const auto images = test::random_images(2, std::size_t(c.resolution), 4);
    a.set_active(c);
    b.set_active(c);
    const auto ya = a.forward(ofa::autograd::variable<float>(images), ofa::nn::forward_mode::eval).value();
    const auto yb = b.forward(ofa::autograd::variable<float>(images), ofa::nn::forward_mode::eval).value();
    const bool same = ya == yb;
    CHECK(same);
  }
  CHECK_FALSE(fs::exists(path + ".tmp"));
  fs::remove(path);
}

TEST_CASE("static_net save/load round trip", "[nn][io]") {
  ofa::nn::elastic_net<cifar> net(1);
  test::randomize_state(net, 2);
  ofa::rng engine(3);
  const auto config = ofa::sample_config<cifar>(engine);
  auto extracted = ofa::nn::extract(net, config);
  const auto path = temp_path("static.ofa");
  ofa::nn::save(extracted, path);
  const auto loaded = ofa::nn::load_static<cifar>(path);
  CHECK(loaded.config() == config);
  const auto images = test::random_images(1, std::size_t(config.resolution), 4);
  const bool same = loaded.forward(images) == extracted.forward(images);
  CHECK(same);
  fs::remove(path);
}

TEST_CASE("bad checkpoints are refused with io_error naming file and reason", "[nn][io]") {
  ofa::nn::elastic_net<cifar> net(1);
  const auto path = temp_path("bad.ofa");
  ofa::nn::save(net, path);
  const std::string good = read_all(path);

  SECTION("missing file") {
    CHECK_THROWS_WITH(ofa::nn::load(net, "/no/such/file.ofa"),
                      Contains("/no/such/file.ofa") && Contains("cannot open"));
  }
  SECTION("truncated") {
    write_all(path, good.substr(0, good.size() / 2));
    CHECK_THROWS_WITH(ofa::nn::load(net, path), Contains(path) && Contains("checksum"));
  }
  SECTION("one flipped byte") {
    auto bad = good;
    bad[bad.size() / 3] ^= 0x10;
    write_all(path, bad);
    CHECK_THROWS_WITH(ofa::nn::load(net, path), Contains(path) && Contains("corrupt"));
  }
  SECTION("not a checkpoint") {
    write_all(path, "hello world, this is not a checkpoint at all");
    CHECK_THROWS_WITH(ofa::nn::load(net, path), Contains("not an ofa checkpoint"));
  }
  SECTION("another space") {
    ofa::nn::elastic_net<ofa::spaces::mobilenet_v3> other(1);
    CHECK_THROWS_WITH(ofa::nn::load(other, path), Contains(path) && Contains("different space"));
  }
  SECTION("dimensions whose product wraps to a small number, with a valid checksum") {
    // 2^32 x 2^32 x 4 floats wraps to 0 x 4 in 64 bits: it once passed, and xtensor's strides overflowed.
    std::string bytes;
    const ofa::io::byte_sink sink = [&](std::string_view piece) { bytes += piece; };
    ofa::io::detail::writer w(sink);
    w.bytes(ofa::io::detail::checkpoint_magic, 8);
    w.pod<std::uint32_t>(ofa::io::checkpoint_version);
    w.pod<std::uint32_t>(static_cast<std::uint32_t>(ofa::io::checkpoint_kind::supernet));
    w.str(cifar::signature());
    w.str("{}");
    w.pod<std::uint64_t>(1);
    w.str("stem.conv.weight");
    w.pod<std::uint32_t>(3);
    for (std::uint64_t d : {std::uint64_t{1} << 32, std::uint64_t{1} << 32, std::uint64_t{4}}) w.pod<std::uint64_t>(d);
    const std::uint64_t hash = w.hash();
    w.pod<std::uint64_t>(hash);
    w.flush();
    write_all(path, bytes);
    CHECK_THROWS_WITH(ofa::nn::load(net, path), Contains(path) && Contains("runs past the end of the file"));
  }
  SECTION("a static_net file is not a supernet") {
    auto s = ofa::nn::extract(net, ofa::subnet_config<cifar>::min());
    ofa::nn::save(s, path);
    CHECK_THROWS_WITH(ofa::nn::load(net, path), Contains("holds a static_net, not a supernet"));
  }
  fs::remove(path);
}
