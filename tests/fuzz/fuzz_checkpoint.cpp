// ofa checkpoints of every kind: a supernet, a static_net, a predictor, a trainer state.
#include <ofa/nn/serialize.hpp>
#include <ofa/search/accuracy_predictor.hpp>
#include <ofa/train/checkpoint.hpp>

#include "../small_space.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using space = test::small_space;
  static ofa::nn::elastic_net<space> net(1);
  static ofa::train::sgd optimizer(net.state());
  const auto path = ofa_fuzz::as_file(data, size);
  ofa_fuzz::expect_ofa_errors_only([&] { ofa::nn::load(net, path); });
  ofa_fuzz::expect_ofa_errors_only([&] { (void)ofa::nn::load_static<space>(path); });
  ofa_fuzz::expect_ofa_errors_only([&] { (void)ofa::search::accuracy_predictor<space>::load(path); });
  ofa_fuzz::expect_ofa_errors_only([&] { (void)ofa::train::load_checkpoint(path, net, optimizer); });
  return 0;
}
