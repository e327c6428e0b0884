// Subnet configs (JSON arch dicts) as ofa profile, export and eval read them: a MobileNet's and a
// ResNet's (whose "d" is relative, "e" fractions and "w" indices).
#include <ofa/space/config_json.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>
#include <ofa/spaces/resnet.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ofa_fuzz::expect_ofa_errors_only([&] { (void)ofa::parse_config<ofa::spaces::mobilenet_v3>(text, "fuzz.json"); });
  ofa_fuzz::expect_ofa_errors_only([&] { (void)ofa::parse_config<ofa::spaces::resnet50>(text, "fuzz.json"); });
  return 0;
}
