// Latency tables (ofa search --latency-table FILE), through the file reader.
#include <ofa/search/latency_table.hpp>
#include <ofa/spaces/cifar.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = ofa_fuzz::as_file(data, size);
  ofa_fuzz::expect_ofa_errors_only([&] { (void)ofa::search::latency_table<ofa::spaces::cifar>::load(path); });
  return 0;
}
