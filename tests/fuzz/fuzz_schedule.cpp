// Training schedules (ofa train --schedule FILE).
#include <ofa/spaces/cifar.hpp>
#include <ofa/train/schedule.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ofa_fuzz::expect_ofa_errors_only([&] { (void)ofa::train::parse_schedule<ofa::spaces::cifar>(text, "fuzz.json"); });
  return 0;
}
