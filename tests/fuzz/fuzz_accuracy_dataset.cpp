// Accuracy data sets (JSON lines: ofa fit-predictor --dataset, and acc-dataset's resume).
#include <ofa/search/accuracy_dataset.hpp>
#include <ofa/spaces/cifar.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = ofa_fuzz::as_file(data, size);
  ofa_fuzz::expect_ofa_errors_only([&] { (void)ofa::search::load_accuracy_dataset<ofa::spaces::cifar>(path); });
  return 0;
}
