#pragma once
/// @file
/// Data set specs as the command line takes them:
///   synthetic[:COUNT]   the embedded synthetic set (default 50000 images)
///   cifar10-bin:DIR     CIFAR-10 binary release (data_batch_*.bin / test_batch.bin)
///   idx:DIR             MNIST-family IDX files (train-* / t10k-*)
///   folder:DIR          image folders, DIR/<class>/<image>; DIR/train and DIR/test (or val) if present
/// and any of them followed by @N: N training images drawn at random (seeded; the test split whole),
/// e.g. idx:/usr/share/datasets/fashion-mnist@6000 for a run of minutes on Fashion-MNIST.

#include <algorithm>  // sort
#include <filesystem>
#include <numeric>  // iota
#include <string>
#include <vector>

#include "ofa/data/any_dataset.hpp"
#include "ofa/data/cifar_binary.hpp"
#include "ofa/data/idx.hpp"
#include "ofa/data/synthetic.hpp"
#if OFA_WITH_IMAGE_CODECS  // set by the ofa::ofa target when libjpeg-turbo and libpng were found
#include "ofa/data/image_folder.hpp"
#endif
#include "ofa/errors.hpp"
#include "ofa/random.hpp"

namespace ofa::data {

/** @brief `count` examples of a data set drawn at random from `seed`, in the data set's order;
 *  it keeps the data set alive. */
class random_sample {
 public:
  random_sample(any_dataset base, std::size_t count, std::uint64_t seed) : base_(std::move(base)) {
    std::vector<std::size_t> order(base_.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    rng engine(seed);
    shuffle(order.begin(), order.end(), engine);
    order.resize(std::min(count, order.size()));
    std::sort(order.begin(), order.end());
    indices_ = std::move(order);
  }
  std::size_t size() const { return indices_.size(); }
  int class_count() const { return base_.class_count(); }
  int label(std::size_t i) const { return base_.label(indices_[i]); }
  record read(std::size_t i) const { return base_.read(indices_[i]); }
  image decode(const record& r) const { return base_.decode(r); }

 private:
  any_dataset base_;
  std::vector<std::size_t> indices_;
};

/** @brief The training (train = true) or test split of the data set `spec` names. */
inline any_dataset open_dataset(const std::string& spec, bool train = true, std::uint64_t seed = 0) {
  // SPEC@N (digits only after the @: a folder's name may hold an @ of its own).
  if (const auto at = spec.rfind('@'); at != std::string::npos && at + 1 < spec.size() &&
                                       spec.find_first_not_of("0123456789", at + 1) == std::string::npos) {
    const std::string count_text = spec.substr(at + 1);
    const std::size_t count = count_text.size() <= 9 ? std::stoul(count_text) : 0;
    if (count == 0)
      throw config_error("ofa: bad data spec '" + spec +
                         "': the count after @ must be a whole number of training "
                         "images from 1 to 999999999");
    any_dataset whole = open_dataset(spec.substr(0, at), train, seed);
    if (!train) return whole;  // the test split whole: every measurement on the same images
    if (count > whole.size())
      throw config_error("ofa: bad data spec '" + spec + "': it asks for " + count_text + " training images of " +
                         std::to_string(whole.size()) + "; ask for at most that many");
    return any_dataset(random_sample(std::move(whole), count, 0x5a3b1eULL));
  }
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
    throw config_error("ofa: bad data spec '" + spec +
                       "': use synthetic[:N], cifar10-bin:DIR, idx:DIR or folder:DIR"
                       " (each optionally @N)");
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
