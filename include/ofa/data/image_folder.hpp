#pragma once
/// @file
/// Image folders: root/<class>/<image>.{jpg,jpeg,png}, class index by sorted
/// folder name (the ImageNet / torchvision ImageFolder layout).

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ofa/data/codecs.hpp"
#include "ofa/data/image.hpp"
#include "ofa/errors.hpp"

namespace ofa::data {

class image_folder {
 public:
  /** @brief Scans `root`; throws ofa::data_error for a missing directory, no class folders,
   *  or a class folder without images. */
  explicit image_folder(const std::string& root);

  std::size_t size() const { return files_.size(); }
  int class_count() const { return static_cast<int>(classes_.size()); }
  int label(std::size_t i) const { return labels_[i]; }
  const std::vector<std::string>& class_names() const { return classes_; }
  const std::string& path(std::size_t i) const { return files_[i]; }

  record read(std::size_t i) const {
    record r;
    r.index = i;
    r.label = labels_[i];
    r.source = files_[i];
    std::ifstream in(files_[i], std::ios::binary);
    if (!in) throw data_error("ofa: cannot read image '" + files_[i] + "' (was it removed while loading?)");
    r.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return r;
  }
  image decode(const record& r) const { return decode_image(r.bytes, r.source); }

 private:
  std::vector<std::string> classes_, files_;
  std::vector<int> labels_;
};

inline image_folder::image_folder(const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw data_error("ofa: image folder '" + root +
                     "' does not exist or is not a directory; expected root/<class>/<image>");
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
  std::sort(classes_.begin(), classes_.end());
  if (classes_.empty())
    throw data_error("ofa: image folder '" + root + "' has no class folders; expected root/<class>/<image>");
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    std::vector<std::string> images;
    const fs::path dir = fs::path(root) / classes_[c];
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_regular_file()) continue;
      auto ext = entry.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") images.push_back(entry.path().string());
    }
    if (images.empty())
      throw data_error("ofa: class folder '" + dir.string() +
                       "' has no .jpg, .jpeg or .png images; add images or remove it");
    std::sort(images.begin(), images.end());
    for (auto& f : images) {
      files_.push_back(std::move(f));
      labels_.push_back(static_cast<int>(c));
    }
  }
}

}  // namespace ofa::data
