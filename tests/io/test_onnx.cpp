// ONNX export: the wire format against hand-encoded bytes, and exported subnets checked by the
// ONNX checker (Debian's python3-onnx) and run by ONNX Runtime (npm's onnxruntime-node), which
// must give the static_net's logits within 1e-4. Without Python's onnx or Node's onnxruntime
// those two checks say so and pass: CI installs both (scripts/setup.sh).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <ofa/exporters/onnx.hpp>
#include <ofa/search/latency_table.hpp>
#include <ofa/space/sampling.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>
#include <ofa/spaces/proxyless.hpp>
#include <ofa/spaces/resnet.hpp>

#include "../nn/net_helpers.hpp"

namespace fs = std::filesystem;
using cifar = ofa::spaces::cifar;

namespace {
bool run(const std::string& command) { return std::system((command + " > /dev/null 2>&1").c_str()) == 0; }

bool have_python_onnx() { return run("/usr/bin/python3 -c 'import onnx'"); }
std::string node_modules() {
  const char* env = std::getenv("OFA_NODE_MODULES");
  return env ? env : OFA_NODE_MODULES;
}
bool have_onnxruntime() {
  return run("NODE_PATH=" + node_modules() + " node -e \"require('onnxruntime-node')\"");
}

void write_floats(const fs::path& path, const float* data, std::size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
}

/// Exports `config` with random weights and BN folded; checks and runs it where the tools exist.
template <class Space>
void check_export(const ofa::subnet_config<Space>& config, const std::string& name, std::size_t batch) {
  const auto dir = fs::temp_directory_path() / ("ofa_test_onnx_" + name);
  fs::create_directories(dir);
  const auto net = ofa::search::random_static_net(config, 3);
  const auto model = (dir / "model.onnx").string();
  ofa::exporters::export_onnx(net, model);
  REQUIRE(fs::file_size(model) > std::size_t(net.parameter_count()) * 4);

  if (have_python_onnx()) {
    const std::string check = "/usr/bin/python3 -c \"import onnx, sys; m = onnx.load(sys.argv[1]); "
                              "onnx.checker.check_model(m, full_check=True)\" " + model;
    INFO(check);
    CHECK(std::system(check.c_str()) == 0);
  } else {
    WARN("python3-onnx is not installed: the ONNX checker did not run (apt-get install python3-onnx)");
  }

  if (!have_onnxruntime()) {
    WARN("onnxruntime-node is not installed in " << node_modules()
                                                 << ": ONNX Runtime did not run (scripts/setup.sh installs it)");
    return;
  }
  const std::size_t r = std::size_t(config.resolution);
  const auto nhwc = test::random_images(batch, r, 8);
  const auto logits = net.forward(nhwc);
  std::vector<float> nchw(nhwc.size());
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t y = 0; y < r; ++y)
      for (std::size_t x = 0; x < r; ++x)
        for (std::size_t c = 0; c < 3; ++c)
          nchw[((n * 3 + c) * r + y) * r + x] = nhwc.data()[((n * r + y) * r + x) * 3 + c];
  write_floats(dir / "input.bin", nchw.data(), nchw.size());
  write_floats(dir / "expected.bin", logits.data(), logits.size());
  const std::string compare = "NODE_PATH=" + node_modules() + " node " + OFA_TEST_SOURCE_DIR + "/io/ort_compare.js " +
                              model + " " + (dir / "input.bin").string() + " " + (dir / "expected.bin").string() +
                              " " + std::to_string(batch) + " " + std::to_string(r) + " 1e-4";
  INFO(compare);
  CHECK(std::system(compare.c_str()) == 0);
  fs::remove_all(dir);
}
}  // namespace

TEST_CASE("the protobuf writer encodes as the wire format says", "[io][onnx]") {
  ofa::io::protobuf::message m;
  m.varint(1, 150);  // the protobuf documentation's example: 08 96 01
  CHECK(m.str() == std::string("\x08\x96\x01", 3));
  ofa::io::protobuf::message s;
  s.bytes(2, "testing");  // 12 07 74 65 73 74 69 6e 67
  CHECK(s.str() == std::string("\x12\x07testing", 9));
  ofa::io::protobuf::message f;
  f.fixed_float(2, 1.0f);  // 15 00 00 80 3f
  CHECK(f.str() == std::string("\x15\x00\x00\x80\x3f", 5));
  ofa::io::protobuf::message outer;
  outer.nested(3, m);  // 1a 03 08 96 01
  CHECK(outer.str() == std::string("\x1a\x03\x08\x96\x01", 5));
}

TEST_CASE("exported subnets pass the ONNX checker and match ONNX Runtime", "[io][onnx]") {
  check_export(ofa::subnet_config<cifar>::max(), "cifar_max", 2);
  check_export(ofa::subnet_config<cifar>::min(), "cifar_min", 1);
  ofa::rng engine(4);
  check_export(ofa::sample_config<cifar>(engine), "cifar_random", 3);
  // MobileNetV3: stride-2 stem, h-swish and SE in several units, 1000 classes.
  auto small = ofa::subnet_config<ofa::spaces::mobilenet_v3>::min();
  check_export(small, "mbv3_min", 1);
  // ProxylessNAS: ReLU6 (Clip) everywhere, the one-layer head before pooling, a one-block unit.
  auto proxyless = ofa::subnet_config<ofa::spaces::proxyless_w13>::min();
  proxyless.resolution = 128;
  check_export(proxyless, "proxyless_min", 1);
  // ResNets: the deep stem (with and without its middle layer, with and without max pooling),
  // bottlenecks whose shortcut average-pools, an odd side included (resnet50 at 132: 33 → 17 in
  // ceil mode), the pooling head.
  using cifar_resnet = ofa::spaces::cifar_resnet;
  check_export(ofa::subnet_config<cifar_resnet>::max(), "cifar_resnet_max", 2);
  check_export(ofa::sample_config<cifar_resnet>(engine), "cifar_resnet_random", 1);
  auto resnet50 = ofa::subnet_config<ofa::spaces::resnet50>::min().with_resolution(132);  // 66 → 33 after pooling
  check_export(resnet50, "resnet50_min", 1);
}
