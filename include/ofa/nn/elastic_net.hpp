#pragma once
/// @file
/// elastic_net<Space>: the Once-for-All supernet of any space type. One set of
/// max-size weights; a forward pass runs one subnet: the first d blocks of every
/// unit, each block's kernel and expand ratio (and in ResNets each unit's width and
/// the deep stem's), at the config's resolution.
///
/// Weights are one thing, execution state another. A training forward records on
/// the tape and updates BN's running statistics; an evaluation forward is const:
/// it records nothing and writes nothing, so several threads may evaluate subnets
/// of one network at once (each with its own recalibrated bn_statistics). A
/// network is not copyable: clone() is the deep copy, freeze() stops its gradients.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>  // as_const
#include <vector>

#include "ofa/autograd/ops.hpp"
#include "ofa/blocks/block_types.hpp"
#include "ofa/blocks/elastic_blocks.hpp"
#include "ofa/nn/bn_statistics.hpp"
#include "ofa/nn/deep_stem.hpp"
#include "ofa/random.hpp"
#include "ofa/space/plan.hpp"
#include "ofa/space/sampling.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa::nn {

template <class Space, class T = float>
class elastic_net {
 public:
  using space_type = Space;
  using config_type = subnet_config<Space>;
  /// The training block of the space's block kind (include/ofa/blocks/<kind>/elastic_block.hpp).
  using block_type = elastic_block_t<Space, T>;
  static_assert(elastic_block<block_type, T>,
                "ofa::nn::elastic_net: the block kind's elastic block lacks what elastic_net calls (docs/spaces.md, "
                "Adding a block kind)");

  /** @brief A supernet initialised as the reference does, from `seed`.
   *  @param dropout the classifier's dropout rate (the reference's 0.1). */
  explicit elastic_net(std::uint64_t seed = 0, double dropout = 0.1);
  elastic_net(elastic_net&&) noexcept = default;
  elastic_net& operator=(elastic_net&&) noexcept = default;
  // Variables are handles: a copy would share the weights but not the BN statistics, and a
  // distillation teacher made that way would silently train with its student. clone() copies.
  elastic_net(const elastic_net&) = delete;
  elastic_net& operator=(const elastic_net&) = delete;

  /** @brief A deep copy: its own weights, BN statistics, dropout stream and active config. */
  elastic_net clone() const;
  /** @brief Stops every parameter's gradient (a teacher): no op records for it, on any thread. */
  void freeze();
  bool frozen() const noexcept { return frozen_; }

  /** @brief The subnet forward(images, mode) runs; throws ofa::config_error if outside the space. */
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

  /** @brief Logits [N, classes] of `config` for NHWC images [N, R, R, 3], R = config.resolution.
   *  train: records on the tape, BN on batch statistics (updating the running ones), dropout on.
   *  eval and recalibrate: as the const overload. */
  autograd::variable<T> forward(const autograd::variable<T>& images, const config_type& config,
                                forward_mode mode = forward_mode::train);
  /** @brief Evaluation (BN on `statistics` where given, else the running ones) or recalibration
   *  (BN on batch statistics, added to `measured`). Records nothing, writes nothing in the network:
   *  safe on several threads at once. */
  autograd::variable<T> forward(const autograd::variable<T>& images, const config_type& config, forward_mode mode,
                                const bn_statistics<T>* statistics = nullptr,
                                bn_statistics<T>* measured = nullptr) const;
  /** @brief forward(images, active(), mode). */
  autograd::variable<T> forward(const autograd::variable<T>& images, forward_mode mode) {
    return forward(images, active_, mode);
  }
  /** @brief Logits of `config` in eval mode, on `statistics` where given. */
  tensor<T> evaluate(const tensor<T>& images, const config_type& config,
                     const bn_statistics<T>* statistics = nullptr) const {
    return forward(autograd::variable<T>(images), config, forward_mode::eval, statistics).value();
  }
  /** @brief The BN statistics of `config` measured on `batches` (each [N, R, R, 3] at the
   *  config's resolution), as the reference's set_running_statistics; the network is unchanged. */
  bn_statistics<T> recalibrate(const config_type& config, std::span<const tensor<T>> batches) const;
  /** @brief As above on this process's share of the images, the sums combined with the other
   *  processes' by `sum_in_place` (see bn_statistics::combine) before they become averages. */
  template <class SumInPlace>
  bn_statistics<T> recalibrate(const config_type& config, std::span<const tensor<T>> batches,
                               SumInPlace&& sum_in_place) const {
    bn_statistics<T> measured(batch_norm_count_);
    for (const auto& b : batches)
      (void)forward(autograd::variable<T>(b), config, forward_mode::recalibrate, nullptr, &measured);
    measured.combine(sum_in_place);
    measured.finish();
    return measured;
  }

  /** @brief Every parameter and buffer, named as the reference's state_dict. */
  state_list<T> state();
  /** @brief Number of trainable scalars (all max-size weights, transforms included). */
  std::int64_t parameter_count() const;
  void zero_grad();
  /** @brief Re-sorts every block's middle channels (before an expand phase of training). An
   *  optimizer whose state predates this refuses to step until it is reset(). */
  void reorganize_channels(int expand_stage = 0) {
    for (auto& b : blocks_) b.reorganize_middle(expand_stage);
    ++layout_version_;
  }
  /** @brief The number of BN layers (bn_statistics' size). */
  std::size_t batch_norm_count() const noexcept { return batch_norm_count_; }
  /** @brief The classifier's dropout stream, for checkpoints and per-step seeding. */
  rng& dropout_stream() noexcept { return dropout_rng_; }

  /** @brief The space's stem is the ResNets' deep stem (else a conv stem). */
  static constexpr bool deep_stem_space = Space::stem.deep();

  // The layers, for extraction and inspection: the stem (a conv stem, or deep_stem_), the blocks of
  // the space's kind, the head's layers where it has them.
  autograd::variable<T> stem_weight;
  elastic_batch_norm<T> stem_bn;
  std::optional<deep_stem<T>> deep_stem_;
  std::vector<block_type> blocks_;    // the fixed first block where the space has one, then slot by slot
  elastic_pointwise<T> final_expand;  // empty where the head has none (ResNets)
  elastic_batch_norm<T> final_expand_bn;
  std::optional<elastic_pointwise<T>> feature_mix;  // absent where the head has none (ProxylessNAS)
  autograd::variable<T> classifier_w, classifier_b;
  double dropout_rate;

  /** @brief Index in blocks_ of block i of unit u. */
  static std::size_t block_index(std::size_t u, int i) {
    return (Space::first_block.present() ? 1 : 0) + config_type::slot(u, i);
  }

 private:
  /// One body for the training and the const forward: the layers' overloads pick the mode's behaviour.
  template <class Self>
  static autograd::variable<T> run(Self& self, const autograd::variable<T>& images, const config_type& config,
                                   const forward_context<T>& context);
  void number_batch_norms();

  config_type active_ = config_type::max();
  rng dropout_rng_;
  std::size_t batch_norm_count_ = 0;
  std::uint64_t layout_version_ = 0;
  bool frozen_ = false;
};

// ---------------------------------------------------------------------------
// implementation

template <class Space, class T>
elastic_net<Space, T>::elastic_net(std::uint64_t seed, double dropout)
    : stem_bn(deep_stem_space ? 0 : Space::stem.width),
      final_expand(Space::head.final_expand, plan_supernet<Space>().head.in_channels),
      final_expand_bn(Space::head.final_expand),
      dropout_rate(dropout),
      dropout_rng_(seed ^ 0x5eedULL) {
  const auto& stem = Space::stem;
  const auto plan = plan_supernet<Space>();
  if constexpr (deep_stem_space) {
    deep_stem_.emplace(plan.stem);
  } else {
    stem_weight = make_parameter<T>(
        {std::size_t(stem.width), std::size_t(stem.kernel_size), std::size_t(stem.kernel_size), std::size_t(3)});
  }
  blocks_.reserve(plan.blocks.size());
  for (const auto& b : plan.blocks) {
    if (b.unit >= 0) {
      blocks_.emplace_back(b, Space::unit_table[std::size_t(b.unit)]);
    } else {  // the fixed first block: a unit of its own with one choice of each
      auto fixed = Space::unit_table[0];
      fixed.kernels = space::choice_set::of(b.kernel);
      fixed.expands = space::choice_set::of(b.expand);
      blocks_.emplace_back(b, fixed);
    }
  }
  const auto& head = Space::head;
  if (head.has_feature_mix()) feature_mix.emplace(head.feature_mix, head.final_expand);
  const int classifier_inputs = plan.head.classifier_inputs();
  classifier_w = make_parameter<T>({std::size_t(Space::class_count), std::size_t(classifier_inputs)});
  classifier_b = make_parameter<T>({std::size_t(Space::class_count)});
  number_batch_norms();

  rng engine(seed);
  if constexpr (deep_stem_space)
    deep_stem_->init(engine);
  else
    init_he_fan_out(stem_weight.value(), stem.kernel_size, stem.width, engine);
  for (auto& b : blocks_) b.init(engine);
  if constexpr (Space::head.has_final_expand()) final_expand.init(engine);
  if (feature_mix) feature_mix->init(engine);
  init_linear(classifier_w.value(), classifier_inputs, engine);
}

template <class Space, class T>
void elastic_net<Space, T>::number_batch_norms() {
  std::size_t next = 0;
  auto number = [&](elastic_batch_norm<T>& bn) {
    bn.index = next++;
    bn.eps = static_cast<T>(Space::bn_eps);
    bn.momentum = static_cast<T>(Space::bn_momentum);
  };
  if constexpr (deep_stem_space)
    deep_stem_->for_each_batch_norm(number);
  else
    number(stem_bn);
  for (auto& b : blocks_) b.for_each_batch_norm(number);
  if constexpr (Space::head.has_final_expand()) number(final_expand_bn);
  batch_norm_count_ = next;
}

template <class Space, class T>
elastic_net<Space, T> elastic_net<Space, T>::clone() const {
  elastic_net copy(0, dropout_rate);
  auto from = const_cast<elastic_net&>(*this).state();  // read only
  auto to = copy.state();
  for (std::size_t i = 0; i < from.parameters.size(); ++i) {
    to.parameters[i].value.value() = from.parameters[i].value.value();
    to.parameters[i].value.set_requires_grad(from.parameters[i].value.requires_grad());
  }
  for (std::size_t i = 0; i < from.buffers.size(); ++i) *to.buffers[i].value = *from.buffers[i].value;
  copy.active_ = active_;
  copy.dropout_rng_ = dropout_rng_;
  copy.layout_version_ = layout_version_;
  copy.frozen_ = frozen_;
  return copy;
}

template <class Space, class T>
void elastic_net<Space, T>::freeze() {
  for (auto& p : state().parameters) {
    p.value.set_requires_grad(false);
    p.value.zero_grad();
  }
  frozen_ = true;
}

template <class Space, class T>
template <class Self>
autograd::variable<T> elastic_net<Space, T>::run(Self& self, const autograd::variable<T>& images,
                                                 const config_type& config, const forward_context<T>& context) {
  const auto& shape = images.value().shape();
  if (images.value().dimension() != 4 || shape[3] != 3)
    throw shape_error("ofa::elastic_net::forward: images must be [N, H, W, 3] (NHWC RGB), got " + shape_string(shape));
  config.validate();
  const auto r = static_cast<std::size_t>(config.resolution);
  if (shape[1] != r || shape[2] != r)
    throw shape_error("ofa::elastic_net::forward: the images are " + std::to_string(shape[1]) + "x" +
                      std::to_string(shape[2]) + " but the config's resolution is " + std::to_string(r) +
                      "; resize the batch to the config's resolution (the loader does) or set config.resolution");
  using namespace autograd;
  const auto plan = plan_network(config);
  const auto& head = plan.head;
  variable<T> x;
  if constexpr (deep_stem_space)
    x = self.deep_stem_->forward(images, plan.stem, context);
  else
    x = self.stem_bn.forward(conv2d(images, self.stem_weight, plan.stem.stride), context, plan.stem.act);
  for (const auto& b : plan.blocks) x = self.blocks_[b.supernet_index()].forward(x, b, context);
  if constexpr (Space::head.has_final_expand())
    x = self.final_expand_bn.forward(self.final_expand.forward(x, head.final_expand), context, head.act);
  x = global_avg_pool(x);
  if (self.feature_mix) x = activate(self.feature_mix->forward(x, head.feature_mix), head.act);
  if constexpr (!std::is_const_v<Self>)
    if (context.mode == forward_mode::train) x = dropout(x, self.dropout_rate, self.dropout_rng_, true);
  return linear(x, self.classifier_w, self.classifier_b, head.classes, head.classifier_inputs());
}

template <class Space, class T>
autograd::variable<T> elastic_net<Space, T>::forward(const autograd::variable<T>& images, const config_type& config,
                                                     forward_mode mode) {
  if (mode != forward_mode::train) return std::as_const(*this).forward(images, config, mode);
  return run(*this, images, config, forward_context<T>{forward_mode::train});
}

template <class Space, class T>
autograd::variable<T> elastic_net<Space, T>::forward(const autograd::variable<T>& images, const config_type& config,
                                                     forward_mode mode, const bn_statistics<T>* statistics,
                                                     bn_statistics<T>* measured) const {
  if (mode == forward_mode::train)
    throw logic_error("ofa::elastic_net::forward: a training forward needs a non-const network");
  if (statistics && statistics->layer_count() != batch_norm_count_)
    throw logic_error("ofa::elastic_net::forward: the BN statistics are of a network with " +
                      std::to_string(statistics->layer_count()) + " BN layers, this one has " +
                      std::to_string(batch_norm_count_));
  autograd::no_grad<T> off;  // this thread's tape: the forward's ops all run on it
  return run(*this, images, config, forward_context<T>{mode, statistics, measured});
}

template <class Space, class T>
bn_statistics<T> elastic_net<Space, T>::recalibrate(const config_type& config,
                                                    std::span<const tensor<T>> batches) const {
  if (batches.empty())
    throw data_error("ofa::elastic_net::recalibrate: no images given; pass a few thousand training images");
  bn_statistics<T> measured(batch_norm_count_);
  for (const auto& b : batches) (void)forward(autograd::variable<T>(b), config, forward_mode::recalibrate, nullptr, &measured);
  measured.finish();
  return measured;
}

template <class Space, class T>
state_list<T> elastic_net<Space, T>::state() {
  state_list<T> s;
  s.layout_version = &layout_version_;
  if constexpr (deep_stem_space) {
    deep_stem_->collect(s);
  } else {
    s.add("first_conv.conv.weight", stem_weight);
    stem_bn.collect(s, "first_conv.bn");
  }
  for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].collect(s, "blocks." + std::to_string(i));
  if constexpr (Space::head.has_final_expand()) {
    const std::string pre_pool = Space::head.pre_pool_name();
    final_expand.collect(s, pre_pool + ".conv");
    final_expand_bn.collect(s, pre_pool + ".bn");
  }
  if (feature_mix) feature_mix->collect(s, "feature_mix_layer.conv");
  s.add("classifier.linear.weight", classifier_w);
  s.add("classifier.linear.bias", classifier_b, true);
  return s;
}

template <class Space, class T>
std::int64_t elastic_net<Space, T>::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : const_cast<elastic_net&>(*this).state().parameters)
    n += static_cast<std::int64_t>(p.value.value().size());
  return n;
}

template <class Space, class T>
void elastic_net<Space, T>::zero_grad() {
  for (auto& p : state().parameters) p.value.zero_grad();
}

}  // namespace ofa::nn
