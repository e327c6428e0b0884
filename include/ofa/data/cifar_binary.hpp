#pragma once
/// @file
/// CIFAR-10 in its official binary form: data_batch_1..5.bin (train) and
/// test_batch.bin, each record 1 label byte + 3072 pixel bytes (R, G, B planes
/// of 32×32). Loaded into memory at construction.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ofa/data/image.hpp"
#include "ofa/errors.hpp"

namespace ofa::data {

class cifar10_binary {
 public:
  static constexpr std::size_t record_bytes = 1 + 3072;

  /** @brief Loads the train (5 files) or test split from `directory`. */
  cifar10_binary(const std::string& directory, bool train) {
    std::vector<std::string> files;
    if (train)
      for (int i = 1; i <= 5; ++i) files.push_back(directory + "/data_batch_" + std::to_string(i) + ".bin");
    else
      files.push_back(directory + "/test_batch.bin");
    for (const auto& f : files) append(f);
  }

  std::size_t size() const { return labels_.size(); }
  int class_count() const { return 10; }
  int label(std::size_t i) const { return labels_[i]; }
  record read(std::size_t i) const {
    record r;
    r.index = i;
    r.label = labels_[i];
    r.source = sources_[i / 10000] + "#" + std::to_string(i % 10000);
    r.bytes.assign(pixels_.begin() + static_cast<std::ptrdiff_t>(i * 3072),
                   pixels_.begin() + static_cast<std::ptrdiff_t>((i + 1) * 3072));
    return r;
  }
  image decode(const record& r) const {  // planar CHW -> HWC
    image img;
    img.height = img.width = 32;
    img.pixels.resize(3072);
    for (int p = 0; p < 1024; ++p)
      for (int c = 0; c < 3; ++c)
        img.pixels[static_cast<std::size_t>(p * 3 + c)] = r.bytes[static_cast<std::size_t>(c * 1024 + p)];
    return img;
  }

 private:
  void append(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in)
      throw data_error("ofa: cannot open CIFAR-10 file '" + file +
                       "'; expected the official binary release (data_batch_1.bin ... test_batch.bin)");
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty() || bytes.size() % record_bytes != 0)
      throw data_error("ofa: CIFAR-10 file '" + file + "' has " + std::to_string(bytes.size()) +
                       " bytes, not a multiple of 3073 (1 label + 3072 pixels); the file is truncated or not CIFAR-10");
    const std::size_t n = bytes.size() / record_bytes;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t label = bytes[i * record_bytes];
      if (label > 9)
        throw data_error("ofa: CIFAR-10 file '" + file + "' record " + std::to_string(i) + " has label " +
                         std::to_string(label) + " (must be 0-9); the file is corrupt");
      labels_.push_back(label);
      pixels_.insert(pixels_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(i * record_bytes + 1),
                     bytes.begin() + static_cast<std::ptrdiff_t>((i + 1) * record_bytes));
    }
    sources_.push_back(file);
    if (n != 10000 && sources_.size() > 1)
      throw data_error("ofa: CIFAR-10 file '" + file + "' holds " + std::to_string(n) + " records, not 10000");
  }
  std::vector<int> labels_;
  std::vector<std::uint8_t> pixels_;
  std::vector<std::string> sources_;
};

}  // namespace ofa::data
