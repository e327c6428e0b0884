// JPEG and PNG decoding, as the image-folder data sets decode every file.
#include <vector>

#include <ofa/data/codecs.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  ofa_fuzz::expect_ofa_errors_only([&] { (void)ofa::data::decode_image(bytes, "fuzz.img"); });
  return 0;
}
