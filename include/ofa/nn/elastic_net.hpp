#pragma once
/// @file
/// elastic_net<Space>: the Once-for-All supernet of any space type. One set of
/// max-size weights; set_active(config) picks the subnet that forward() runs:
/// the first d blocks of every unit, each block's kernel and expand ratio.
/// Input: NHWC images at any size (the loader resizes batches to a resolution
/// of the space).

#include <cstdint>
#include <string>
#include <vector>

#include "ofa/autograd/ops.hpp"
#include "ofa/nn/mbconv_block.hpp"
#include "ofa/random.hpp"
#include "ofa/space/sampling.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa::nn {

template <class Space, class T = float>
class elastic_net {
 public:
  using space_type = Space;
  using config_type = subnet_config<Space>;

  /** @brief A supernet initialised as the reference does, from `seed`.
   *  @param dropout the classifier's dropout rate (the reference's 0.1). */
  explicit elastic_net(std::uint64_t seed = 0, double dropout = 0.1);

  /** @brief Chooses the subnet forward() runs; throws ofa::config_error if outside the space. */
  void set_active(const config_type& config) {
    config.validate();
    active_ = config;
  }
  const config_type& active() const noexcept { return active_; }
  /** @brief Samples a subnet (as the reference's sample_active_subnet) and makes it active. */
  config_type sample_active(rng& engine, const sampling_constraint& constraint = {}) {
    active_ = sample_config<Space>(engine, constraint);
    return active_;
  }

  /** @brief Logits [N, classes] of the active subnet. training: BN on batch statistics
   *  (updating the running ones) and dropout on; else BN on running statistics. */
  autograd::variable<T> forward(const autograd::variable<T>& images, bool training);

  /** @brief Every parameter and buffer, named as the reference's state_dict. */
  state_list<T> state();
  /** @brief Number of trainable scalars (all max-size weights, transforms included). */
  std::int64_t parameter_count();
  void zero_grad();
  /** @brief Re-sorts every block's middle channels (before an expand phase of training). */
  void reorganize_channels(int expand_stage = 0) {
    for (auto& b : blocks_) b.reorganize_middle(expand_stage);
  }

  // The layers, for extraction and inspection.
  autograd::variable<T> stem_weight;
  elastic_batch_norm<T> stem_bn;
  std::vector<mbconv_block<T>> blocks_;  // blocks_[0] is the first block, then unit by unit
  elastic_pointwise<T> final_expand;
  elastic_batch_norm<T> final_expand_bn;
  elastic_pointwise<T> feature_mix;
  autograd::variable<T> classifier_w, classifier_b;
  double dropout_rate;

  /** @brief Index in blocks_ of slot i of unit u. */
  static std::size_t block_index(std::size_t u, int i) {
    return 1 + static_cast<std::size_t>(Space::unit_table[u].first_slot + i);
  }

 private:
  config_type active_ = config_type::max();
  rng dropout_rng_;
};

// ---------------------------------------------------------------------------
// implementation

template <class Space, class T>
elastic_net<Space, T>::elastic_net(std::uint64_t seed, double dropout)
    : stem_bn(Space::stem.width),
      final_expand(Space::head.final_expand, Space::unit_table[Space::unit_count - 1].width),
      final_expand_bn(Space::head.final_expand),
      feature_mix(Space::head.feature_mix, Space::head.final_expand),
      dropout_rate(dropout),
      dropout_rng_(seed ^ 0x5eedULL) {
  const auto& stem = Space::stem;
  stem_weight = make_parameter<T>(
      {std::size_t(stem.width), std::size_t(stem.kernel_size), std::size_t(stem.kernel_size), std::size_t(3)});
  space::choice_set one_kernel{}, one_expand{};
  one_kernel.values[0] = Space::first_block.kernel_size;
  one_kernel.size = 1;
  one_expand.values[0] = 1;
  one_expand.size = 1;
  blocks_.reserve(1 + static_cast<std::size_t>(Space::block_slots));
  blocks_.emplace_back(stem.width, Space::first_block.width, 1, Space::first_block.act, false, one_kernel, one_expand);
  int in = Space::first_block.width;
  for (const auto& u : Space::unit_table)
    for (int i = 0; i < u.depths.max(); ++i) {
      blocks_.emplace_back(in, u.width, i == 0 ? u.stride : 1, u.act, u.se, u.kernels, u.expands);
      in = u.width;
    }
  classifier_w = make_parameter<T>({std::size_t(Space::class_count), std::size_t(Space::head.feature_mix)});
  classifier_b = make_parameter<T>({std::size_t(Space::class_count)});

  rng engine(seed);
  init_he_fan_out(stem_weight.value(), stem.kernel_size, stem.width, engine);
  for (auto& b : blocks_) b.init(engine);
  final_expand.init(engine);
  feature_mix.init(engine);
  init_linear(classifier_w.value(), Space::head.feature_mix, engine);
}

template <class Space, class T>
autograd::variable<T> elastic_net<Space, T>::forward(const autograd::variable<T>& images, bool training) {
  const auto& shape = images.value().shape();
  if (images.value().dimension() != 4 || shape[3] != 3)
    throw shape_error("ofa::elastic_net::forward: images must be [N, H, W, 3] (NHWC RGB), got " + shape_string(shape));
  using namespace autograd;
  auto x = stem_bn.forward(conv2d(images, stem_weight, Space::stem.stride), training, Space::stem.act);
  x = blocks_[0].forward(x, Space::first_block.kernel_size, 1, training);
  for (std::size_t u = 0; u < Space::unit_count; ++u)
    for (int i = 0; i < active_.depth[u]; ++i) {
      const auto slot = static_cast<std::size_t>(Space::unit_table[u].first_slot + i);
      x = blocks_[block_index(u, i)].forward(x, active_.kernel[slot], active_.expand[slot], training);
    }
  x = final_expand_bn.forward(final_expand.forward(x, Space::head.final_expand), training, activation::hswish);
  x = global_avg_pool(x);
  x = activate(feature_mix.forward(x, Space::head.feature_mix), activation::hswish);
  x = dropout(x, dropout_rate, dropout_rng_, training);
  return linear(x, classifier_w, classifier_b, Space::class_count, Space::head.feature_mix);
}

template <class Space, class T>
state_list<T> elastic_net<Space, T>::state() {
  state_list<T> s;
  s.add("first_conv.conv.weight", stem_weight);
  stem_bn.collect(s, "first_conv.bn");
  for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].collect(s, "blocks." + std::to_string(i) + ".conv");
  final_expand.collect(s, "final_expand_layer.conv");
  final_expand_bn.collect(s, "final_expand_layer.bn");
  feature_mix.collect(s, "feature_mix_layer.conv");
  s.add("classifier.linear.weight", classifier_w);
  s.add("classifier.linear.bias", classifier_b, true);
  return s;
}

template <class Space, class T>
std::int64_t elastic_net<Space, T>::parameter_count() {
  std::int64_t n = 0;
  for (const auto& p : state().parameters) n += static_cast<std::int64_t>(p.value.value().size());
  return n;
}

template <class Space, class T>
void elastic_net<Space, T>::zero_grad() {
  for (auto& p : state().parameters) p.value.zero_grad();
}

}  // namespace ofa::nn
