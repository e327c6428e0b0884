// CIFAR-10 binary and IDX (MNIST family) files: the first byte chooses the reader, the rest is the file.
#include <ofa/data/cifar_binary.hpp>
#include <ofa/data/idx.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& folder = ofa_fuzz::scratch_folder();
  const auto write = [&](const std::string& name, std::size_t from, std::size_t to) {
    (void)ofa_fuzz::as_file(data + from, to - from, name);
  };
  if (data[0] % 2 == 0) {
    write("test_batch.bin", 1, size);
    ofa_fuzz::expect_ofa_errors_only([&] {
      const ofa::data::cifar10_binary set(folder, false);
      if (set.size()) (void)set.decode(set.read(0));
    });
  } else {  // the images and the labels file split where the second byte says
    const std::size_t split = 1 + (size > 1 ? data[1] * (size - 1) / 256 : 0);
    write("t10k-images-idx3-ubyte", 1, split);
    write("t10k-labels-idx1-ubyte", split, size);
    ofa_fuzz::expect_ofa_errors_only([&] {
      const ofa::data::idx_dataset set(folder, "t10k");
      if (set.size()) (void)set.decode(set.read(set.size() - 1));
    });
  }
  return 0;
}
