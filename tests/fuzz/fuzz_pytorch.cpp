// PyTorch files (ofa import): the zip and legacy formats, the restricted unpickler, and the import of
// the state dict into a supernet and a predictor.
#include <ofa/io/pytorch.hpp>
#include <ofa/nn/import_pytorch.hpp>
#include <ofa/search/import_pytorch_predictor.hpp>

#include "../small_space.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ofa::nn::elastic_net<test::small_space> net(1);
  const auto path = ofa_fuzz::as_file(data, size);
  ofa_fuzz::expect_ofa_errors_only([&] {
    const auto tensors = ofa::io::read_pytorch_state_dict(path);
    ofa_fuzz::expect_ofa_errors_only([&] { ofa::nn::import_pytorch(net, tensors, path); });
    ofa_fuzz::expect_ofa_errors_only(
        [&] { (void)ofa::search::import_pytorch_predictor<test::small_space>(tensors, path); });
  });
  return 0;
}
