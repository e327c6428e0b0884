#pragma once
/// @file
/// How a forward pass treats batch norm, and the statistics that recalibration
/// measures. A subnet's BN statistics must be measured on data before it is
/// evaluated (the reference's set_running_statistics): the supernet's running
/// statistics mix every subnet trained. Measured statistics are an object of their
/// own, never written into the supernet, so that several threads can recalibrate and
/// evaluate different subnets of one network at once.

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::nn {

/** @brief What a forward pass does.
 *  - train: BN on batch statistics, updating the running ones; dropout on; records on the tape.
 *  - eval: BN on running (or given) statistics; records nothing, writes nothing.
 *  - recalibrate: BN on batch statistics, which are added to a bn_statistics; records and
 *    writes nothing in the network. */
enum class forward_mode { train, eval, recalibrate };

/** @brief Per-layer BN statistics of one subnet: the batch-size-weighted mean of the batches'
 *  means and (biased) variances, as the reference computes them. Layers are numbered in the
 *  network's order (elastic_batch_norm::index). */
template <class T = float>
class bn_statistics {
 public:
  struct layer {
    tensor<T> mean, var;  // the first `channels` channels of the layer
    std::size_t channels = 0;
  };

  bn_statistics() = default;
  explicit bn_statistics(std::size_t layer_count) : sums_(layer_count), layers_(layer_count) {}

  /** @brief Adds one batch's statistics of layer `index` (weight: the batch's image count). */
  void add(std::size_t index, std::size_t channels, const T* mean, const T* var, double weight);
  /** @brief Turns the sums into the averages; done by recalibrate(), needed before use. */
  void finish();
  /** @brief Adds the sums other processes measured on other images of the same subnet, before
   *  finish(): `sum_in_place(std::span<double>)` replaces a buffer by its sum over processes (a
   *  parallel::process_group's sum). Every process must have measured the same layers. */
  template <class SumInPlace>
  void combine(SumInPlace&& sum_in_place);

  /** @brief Layer `index`'s statistics, or null where the subnet did not run it. */
  const layer* find(std::size_t index) const {
    if (!finished_)
      throw logic_error("ofa::nn::bn_statistics: used before finish(); recalibrate() returns finished statistics");
    return index < layers_.size() && layers_[index].channels > 0 ? &layers_[index] : nullptr;
  }
  std::size_t layer_count() const noexcept { return layers_.size(); }
  /** @brief Images the statistics were measured on. */
  double images() const noexcept { return images_; }
  bool finished() const noexcept { return finished_; }

 private:
  struct sum {
    std::vector<double> mean, var;
    double weight = 0;
  };
  std::vector<sum> sums_;
  std::vector<layer> layers_;
  double images_ = 0;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------
// implementation

template <class T>
void bn_statistics<T>::add(std::size_t index, std::size_t channels, const T* mean, const T* var, double weight) {
  if (finished_) throw logic_error("ofa::nn::bn_statistics::add: the statistics are finished");
  if (index >= sums_.size())
    throw logic_error("ofa::nn::bn_statistics::add: layer " + std::to_string(index) + " of a network with " +
                      std::to_string(sums_.size()) + " BN layers");
  auto& s = sums_[index];
  if (s.mean.empty()) {
    s.mean.assign(channels, 0.0);
    s.var.assign(channels, 0.0);
  }
  if (s.mean.size() != channels)
    throw shape_error("ofa::nn::bn_statistics::add: layer " + std::to_string(index) + " ran with " +
                      std::to_string(channels) + " channels after " + std::to_string(s.mean.size()) +
                      "; measure one subnet at a time");
  for (std::size_t j = 0; j < channels; ++j) {
    s.mean[j] += weight * double(mean[j]);
    s.var[j] += weight * double(var[j]);
  }
  s.weight += weight;
  if (index == 0) images_ += weight;
}

template <class T>
template <class SumInPlace>
void bn_statistics<T>::combine(SumInPlace&& sum_in_place) {
  if (finished_) throw logic_error("ofa::nn::bn_statistics::combine: the statistics are finished");
  std::vector<double> flat{images_};
  for (const auto& s : sums_) {
    flat.push_back(s.weight);
    flat.insert(flat.end(), s.mean.begin(), s.mean.end());
    flat.insert(flat.end(), s.var.begin(), s.var.end());
  }
  sum_in_place(std::span<double>(flat));
  std::size_t at = 0;
  images_ = flat[at++];
  for (auto& s : sums_) {
    s.weight = flat[at++];
    for (auto& v : s.mean) v = flat[at++];
    for (auto& v : s.var) v = flat[at++];
  }
}

template <class T>
void bn_statistics<T>::finish() {
  if (finished_) return;
  for (std::size_t i = 0; i < sums_.size(); ++i) {
    const auto& s = sums_[i];
    if (s.weight == 0) continue;
    auto& l = layers_[i];
    l.channels = s.mean.size();
    l.mean = tensor<T>(shape_type{l.channels});
    l.var = tensor<T>(shape_type{l.channels});
    for (std::size_t j = 0; j < l.channels; ++j) {
      l.mean.data()[j] = static_cast<T>(s.mean[j] / s.weight);
      l.var.data()[j] = static_cast<T>(s.var[j] / s.weight);
    }
  }
  sums_.clear();
  finished_ = true;
}

}  // namespace ofa::nn
