#pragma once
/// @file
/// Data set specs as the command line takes them:
///   synthetic[:COUNT]   the embedded synthetic set (default 50000 images)
///   cifar10-bin:DIR     CIFAR-10 binary release (data_batch_*.bin / test_batch.bin)
///   idx:DIR             MNIST-family IDX files (train-* / t10k-*)
///   folder:DIR          image folders, DIR/<class>/<image>; DIR/train and DIR/test (or val) if present

#include <filesystem>
#include <string>

#include "ofa/data/any_dataset.hpp"
#include "ofa/data/cifar_binary.hpp"
#include "ofa/data/idx.hpp"
#include "ofa/data/synthetic.hpp"
#if OFA_WITH_IMAGE_CODECS  // set by the ofa::ofa target when libjpeg-turbo and libpng were found
#include "ofa/data/image_folder.hpp"
#endif
#include "ofa/errors.hpp"

namespace ofa::data {

/** @brief The training (train = true) or test split of the data set `spec` names. */
inline any_dataset open_dataset(const std::string& spec, bool train = true, std::uint64_t seed = 0) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon), arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "synthetic") {
    // Splits and shuffles hold an index per image: a count past any real data set is refused
    // here rather than as an allocation failure later.
    constexpr std::size_t max_count = 10'000'000;
    std::size_t count = 50000;
    if (!arg.empty()) {
      const bool digits = arg.size() <= 9 && arg.find_first_not_of("0123456789") == std::string::npos;
      count = digits ? std::stoul(arg) : 0;
      if (count == 0 || count > max_count)
        throw config_error("ofa: bad data spec '" + spec + "': the count after synthetic: must be a whole number from "
                           "1 to " + std::to_string(max_count));
    }
    // the test split is a disjoint stream: another seed
    return any_dataset(synthetic(train ? count : std::max<std::size_t>(count / 5, 1), train ? seed : seed + 0x7e57));
  }
  if (arg.empty())
    throw config_error("ofa: bad data spec '" + spec + "': use synthetic[:N], cifar10-bin:DIR, idx:DIR or folder:DIR");
  if (kind == "cifar10-bin") return any_dataset(cifar10_binary(arg, train));
  if (kind == "idx") return any_dataset(idx_dataset(arg, train ? "train" : "t10k"));
  if (kind == "folder") {
#if OFA_WITH_IMAGE_CODECS
    // DIR/train and DIR/test, or ImageNet's DIR/train and DIR/val.
    auto split = std::filesystem::path(arg) / (train ? "train" : "test");
    if (!train && !std::filesystem::is_directory(split) && std::filesystem::is_directory(std::filesystem::path(arg) / "val"))
      split = std::filesystem::path(arg) / "val";
    return any_dataset(image_folder(std::filesystem::is_directory(split) ? split.string() : arg));
#else
    throw config_error("ofa: data spec '" + spec + "' needs image decoding, which this build lacks; install "
                       "libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev and reconfigure");
#endif
  }
  throw config_error("ofa: bad data spec '" + spec + "': unknown kind '" + kind +
                     "'; use synthetic[:N], cifar10-bin:DIR, idx:DIR or folder:DIR");
}

}  // namespace ofa::data
