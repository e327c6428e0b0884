#pragma once
/// @file
/// The IDX format of the MNIST family (MNIST, Fashion-MNIST, KMNIST):
/// <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte, big-endian
/// headers. Grey images are replicated to RGB.

#include <algorithm>  // max
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "ofa/data/image.hpp"
#include "ofa/errors.hpp"

namespace ofa::data {

class idx_dataset {
 public:
  /** @brief Loads `directory/<prefix>-images-idx3-ubyte` and `-labels-idx1-ubyte`
   *  (prefix "train" or "t10k"). */
  idx_dataset(const std::string& directory, const std::string& prefix = "train") {
    const std::string images = directory + "/" + prefix + "-images-idx3-ubyte";
    const std::string labels = directory + "/" + prefix + "-labels-idx1-ubyte";
    auto img = read_file(images);
    auto lab = read_file(labels);
    if (img.size() < 16 || be32(img, 0) != 0x00000803)
      throw data_error("ofa: '" + images + "' is not an IDX image file (magic 0x00000803 expected)");
    if (lab.size() < 8 || be32(lab, 0) != 0x00000801)
      throw data_error("ofa: '" + labels + "' is not an IDX label file (magic 0x00000801 expected)");
    count_ = be32(img, 4);
    rows_ = static_cast<int>(be32(img, 8));
    cols_ = static_cast<int>(be32(img, 12));
    if (rows_ <= 0 || cols_ <= 0 || rows_ > 4096 || cols_ > 4096)
      throw data_error("ofa: '" + images + "' has an impossible image size");
    if (img.size() != 16 + count_ * static_cast<std::size_t>(rows_) * cols_)
      throw data_error("ofa: '" + images + "' has " + std::to_string(img.size()) + " bytes but its header promises " +
                       std::to_string(16 + count_ * static_cast<std::size_t>(rows_) * cols_) +
                       "; the file is truncated");
    if (be32(lab, 4) != count_ || lab.size() != 8 + count_)
      throw data_error("ofa: '" + labels + "' does not hold one label per image of '" + images + "'");
    pixels_.assign(img.begin() + 16, img.end());
    labels_.assign(lab.begin() + 8, lab.end());
    for (auto l : labels_) classes_ = std::max(classes_, static_cast<int>(l) + 1);
    source_ = images;
  }

  std::size_t size() const { return count_; }
  int class_count() const { return classes_; }
  int label(std::size_t i) const { return labels_[i]; }
  record read(std::size_t i) const {
    const std::size_t n = static_cast<std::size_t>(rows_) * cols_;
    record r;
    r.index = i;
    r.label = labels_[i];
    r.source = source_ + "#" + std::to_string(i);
    r.bytes.assign(pixels_.begin() + static_cast<std::ptrdiff_t>(i * n),
                   pixels_.begin() + static_cast<std::ptrdiff_t>((i + 1) * n));
    return r;
  }
  image decode(const record& r) const {
    image img;
    img.height = rows_;
    img.width = cols_;
    img.pixels.resize(r.bytes.size() * 3);
    for (std::size_t p = 0; p < r.bytes.size(); ++p)
      img.pixels[3 * p] = img.pixels[3 * p + 1] = img.pixels[3 * p + 2] = r.bytes[p];
    return img;
  }

 private:
  static std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw data_error("ofa: cannot open IDX file '" + path + "'; check the directory and prefix (train or t10k)");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static std::size_t be32(const std::vector<std::uint8_t>& b, std::size_t at) {
    return (std::size_t(b[at]) << 24) | (std::size_t(b[at + 1]) << 16) | (std::size_t(b[at + 2]) << 8) | b[at + 3];
  }
  std::size_t count_ = 0;
  int rows_ = 0, cols_ = 0, classes_ = 0;
  std::vector<std::uint8_t> pixels_, labels_;
  std::string source_;
};

}  // namespace ofa::data
