#pragma once
/// @file
/// The IDX format of the MNIST family (MNIST, Fashion-MNIST, KMNIST):
/// <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte, big-endian
/// headers, as they are or gzipped (`.gz`, as Debian's dataset-fashion-mnist ships them; read with
/// zlib where ofa was built with it). Grey images are replicated to RGB.

#include <algorithm>  // max
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#if OFA_WITH_ZLIB
#include <zlib.h>
#endif

#include "ofa/data/image.hpp"
#include "ofa/errors.hpp"

namespace ofa::data {

class idx_dataset {
 public:
  /** @brief Loads `directory/<prefix>-images-idx3-ubyte` and `-labels-idx1-ubyte`
   *  (prefix "train" or "t10k"), each as it is or gzipped (the name plus `.gz`). */
  idx_dataset(const std::string& directory, const std::string& prefix = "train") {
    const std::string images = plain_or_gzipped(directory + "/" + prefix + "-images-idx3-ubyte");
    const std::string labels = plain_or_gzipped(directory + "/" + prefix + "-labels-idx1-ubyte");
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
  /// `path`, or `path.gz` where only that exists.
  static std::string plain_or_gzipped(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && std::filesystem::exists(path + ".gz", ec)) return path + ".gz";
    return path;
  }
  static std::vector<std::uint8_t> read_file(const std::string& path) {
    if (path.ends_with(".gz")) return read_gzipped(path);
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw data_error("ofa: cannot open IDX file '" + path + "'; check the directory and prefix (train or t10k)");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  /// The decompressed bytes of a gzip file. Deflate expands at most 1032:1, so anything longer
  /// than that of the file's size is a damaged or hostile stream, refused before it is held.
  static std::vector<std::uint8_t> read_gzipped(const std::string& path) {
#if OFA_WITH_ZLIB
    std::error_code ec;
    const auto compressed = std::filesystem::file_size(path, ec);
    if (ec) throw data_error("ofa: cannot open IDX file '" + path + "': " + ec.message());
    const std::uint64_t limit = std::uint64_t(compressed) * 1032 + 1024;
    gzFile file = ::gzopen(path.c_str(), "rb");
    if (!file) throw data_error("ofa: cannot open IDX file '" + path + "'; check the path");
    std::vector<std::uint8_t> out;
    std::vector<std::uint8_t> chunk(std::size_t{1} << 20);
    for (;;) {
      const int n = ::gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
      if (n < 0) {
        int code = 0;
        const std::string why = ::gzerror(file, &code);
        ::gzclose(file);
        throw data_error("ofa: '" + path + "' is not a readable gzip file (" + why +
                         "); download it again, or give the uncompressed file");
      }
      if (n == 0) break;
      if (out.size() + std::size_t(n) > limit) {
        ::gzclose(file);
        throw data_error("ofa: '" + path + "' decompresses to more than deflate allows for its size; it is damaged");
      }
      out.insert(out.end(), chunk.begin(), chunk.begin() + n);
    }
    ::gzclose(file);
    return out;
#else
    throw data_error("ofa: '" + path + "' is gzipped and this ofa was built without zlib; gunzip it (gunzip -k " +
                     path + ") or rebuild with zlib (Debian: zlib1g-dev)");
#endif
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
