#pragma once
/// @file
/// Optimizers over a network's named parameters: SGD (momentum, Nesterov, weight
/// decay) and Adam, with the reference's two groups (weight decay off for the
/// parameters marked no_weight_decay: BN affine and biases), state keyed by
/// parameter name so that a checkpoint restores it into the right tensors.
///
/// A step is two calls, so that a gradient reduction (MPI) or clipping fits between:
///   opt.reduce_gradients(reduction);   // gradients ready (identity in one process)
///   opt.apply(lr);                     // the update
/// A parameter that has had a gradient once is updated at every step after, with a
/// zero gradient when the step's subnets did not use it (momentum and weight decay
/// still act), and one that never had a gradient is left alone: the reference under
/// PyTorch 1.x, where zero_grad() zeroes gradients instead of freeing them and SGD
/// skips a gradient that is None. A non-identity reduction gives every parameter a
/// gradient, so data-parallel processes, whose subnets differ, update alike.

#include <algorithm>
#include <cmath>  // sqrt, pow
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ofa/parallel/loops.hpp"

#include "ofa/errors.hpp"
#include "ofa/nn/parameters.hpp"
#include "ofa/train/gradient_reduction.hpp"

namespace ofa::train {

/** @brief The reference's SGD: momentum 0.9, Nesterov, weight decay 3e-5 (0 for no_weight_decay). */
struct sgd_options {
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 3e-5;
};

/** @brief Adam (Kingma and Ba), PyTorch's formulation; `decoupled` gives AdamW's weight decay. */
struct adam_options {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;
};

/** @brief What an optimizer saves: per-parameter tensors by "<parameter>.<slot>" and its step count. */
struct optimizer_state {
  std::map<std::string, tensor<float>> tensors;
  std::int64_t steps = 0;
  std::vector<std::string> updated;  ///< parameters that have had a gradient (and so are updated)
};

/** @brief The parameters of a network with their decay groups, gradient packing and state
 *  bookkeeping; sgd and adam add the update rule. */
class optimizer {
 public:
  /** @brief Parameters the optimizer updates, in `parameters.parameters`' order.
   *  @param decay weight decay of the group without the no_weight_decay parameters. */
  optimizer(const nn::state_list<float>& parameters, double decay, std::vector<std::string> slots);
  virtual ~optimizer() = default;
  optimizer(const optimizer&) = delete;
  optimizer& operator=(const optimizer&) = delete;

  /** @brief Gradients ready: runs `reduction` over one buffer of every gradient (skipped when
   *  it is the identity), and afterwards every parameter has a gradient (zeros if unused). */
  void reduce_gradients(gradient_reduction& reduction);
  /** @brief One update with learning rate `lr`. Throws ofa::logic_error when the network's
   *  channels were re-organised since this optimizer's state was made. */
  void apply(double lr);
  /** @brief Clears every gradient (lazily, no pass over memory). */
  void zero_grad();
  /** @brief Forgets the state (momentum, moments, step count): the reference starts every
   *  progressive-shrinking phase with a new optimizer, so re-organised channels never meet
   *  the momentum of the channels that sat there before. */
  void reset();

  /** @brief Floats in the packed gradient buffer (every parameter's size, summed). */
  std::size_t gradient_size() const { return total_; }
  /** @brief Every gradient into `out` (gradient_size() floats, the parameters' order). */
  void pack_gradients(std::span<float> out) const;
  /** @brief The reverse of pack_gradients: `in` becomes the gradient of every parameter that has one. */
  void unpack_gradients(std::span<const float> in) const;

  std::int64_t steps() const noexcept { return steps_; }
  /** @brief The weight decay each parameter gets, by name (for inspection and tests). */
  double weight_decay_of(const std::string& name) const;
  const std::vector<nn::named_parameter<float>>& parameters() const noexcept { return params_; }

  /** @brief The state by parameter name, for a checkpoint. */
  optimizer_state state() const;
  /** @brief Restores a state saved by state(); every tensor must be present with the right
   *  shape, else ofa::io_error names the first that is not, and nothing changes. */
  void load_state(const optimizer_state& saved);

 protected:
  /// Updates floats [begin, end) of parameter i: w and g (g null: a zero gradient), state
  /// buffers slots_[s] of that parameter, decay the parameter's weight decay.
  virtual void update(std::size_t i, std::size_t begin, std::size_t end, double lr, double decay) = 0;
  float* slot(std::size_t i, std::size_t s) { return state_[i * slot_names_.size() + s].data(); }
  /// Called once per apply() before the updates (Adam's bias corrections).
  virtual void begin_step(double) {}

 private:
  void check_layout() const;
  void restore_updated(const std::vector<std::string>& names);

  std::vector<nn::named_parameter<float>> params_;
  std::vector<double> decay_;
  std::vector<std::string> slot_names_;
  std::vector<tensor<float>> state_;  // [parameter][slot], allocated on the first apply()
  std::size_t total_ = 0;
  std::int64_t steps_ = 0;
  const std::uint64_t* layout_version_ = nullptr;
  std::uint64_t state_layout_ = 0;
  std::vector<float> packed_;       // the reduction's buffer, kept between steps
  std::vector<char> had_gradient_;  // per parameter: a gradient was seen since reset()
};

/** @brief SGD with momentum (PyTorch's torch.optim.SGD: buf = μ·buf + g + λw; Nesterov:
 *  w -= lr·(g + λw + μ·buf), else w -= lr·buf). */
class sgd final : public optimizer {
 public:
  explicit sgd(const nn::state_list<float>& parameters, sgd_options options = {})
      : optimizer(parameters, options.weight_decay,
                  options.momentum != 0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{}),
        o_(options) {}
  const sgd_options& options() const noexcept { return o_; }

 private:
  void update(std::size_t i, std::size_t begin, std::size_t end, double lr, double decay) override;
  sgd_options o_;
};

/** @brief Adam, as torch.optim.Adam (and AdamW with decoupled = true). */
class adam final : public optimizer {
 public:
  explicit adam(const nn::state_list<float>& parameters, adam_options options = {})
      : optimizer(parameters, options.weight_decay, {"exp_avg", "exp_avg_sq"}), o_(options) {}
  const adam_options& options() const noexcept { return o_; }

 private:
  void begin_step(double) override;
  void update(std::size_t i, std::size_t begin, std::size_t end, double lr, double decay) override;
  adam_options o_;
  double correction1_ = 1, correction2_ = 1;
};

// ---------------------------------------------------------------------------
// implementation

inline optimizer::optimizer(const nn::state_list<float>& parameters, double decay, std::vector<std::string> slots)
    : params_(parameters.parameters), slot_names_(std::move(slots)), layout_version_(parameters.layout_version) {
  if (params_.empty()) throw config_error("ofa::train::optimizer: no parameters to optimise");
  for (const auto& p : params_) {
    decay_.push_back(p.no_weight_decay ? 0.0 : decay);
    total_ += p.value.value().size();
  }
  had_gradient_.assign(params_.size(), 0);
  state_layout_ = layout_version_ ? *layout_version_ : 0;
}

inline void optimizer::check_layout() const {
  if (layout_version_ && *layout_version_ != state_layout_ && !state_.empty())
    throw logic_error(
        "ofa::train::optimizer::apply: the network's channels were re-organised (reorganize_channels) after this "
        "optimizer's momentum was made, so it would act on the wrong channels; call reset() after re-organising "
        "(the reference starts each expand phase with a new optimizer)");
}

inline void optimizer::reset() {
  state_.clear();
  steps_ = 0;
  had_gradient_.assign(params_.size(), 0);
  state_layout_ = layout_version_ ? *layout_version_ : 0;
}

inline void optimizer::zero_grad() {
  for (auto& p : params_) p.value.zero_grad();
}

inline double optimizer::weight_decay_of(const std::string& name) const {
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (params_[i].name == name) return decay_[i];
  throw config_error("ofa::train::optimizer: no parameter named '" + name + "'");
}

inline void optimizer::pack_gradients(std::span<float> out) const {
  if (out.size() != total_)
    throw shape_error("ofa::train::optimizer::pack_gradients: the buffer holds " + std::to_string(out.size()) +
                      " floats, the gradients " + std::to_string(total_));
  std::size_t at = 0;
  for (const auto& p : params_) {
    const std::size_t n = p.value.value().size();
    if (p.value.has_grad())
      std::copy_n(p.value.grad().data(), n, out.data() + at);
    else
      std::fill_n(out.data() + at, n, 0.0f);
    at += n;
  }
}

inline void optimizer::unpack_gradients(std::span<const float> in) const {
  if (in.size() != total_)
    throw shape_error("ofa::train::optimizer::unpack_gradients: the buffer holds " + std::to_string(in.size()) +
                      " floats, the gradients " + std::to_string(total_));
  std::size_t at = 0;
  for (const auto& p : params_) {
    const std::size_t n = p.value.value().size();
    // A parameter this process's subnets did not use stays without a gradient (and so without an
    // update), as in one process: every process runs the same subnets, so its sum is zero anyway.
    if (p.value.has_grad()) std::copy_n(in.data() + at, n, p.value.grad().data());
    at += n;
  }
}

inline void optimizer::reduce_gradients(gradient_reduction& reduction) {
  if (reduction.is_identity()) return;
  packed_.resize(total_);
  pack_gradients(packed_);
  reduction.reduce(packed_);
  unpack_gradients(packed_);
}

inline void optimizer::apply(double lr) {
  check_layout();
  if (state_.empty() && !slot_names_.empty()) {
    state_.reserve(params_.size() * slot_names_.size());
    for (const auto& p : params_)
      for (std::size_t s = 0; s < slot_names_.size(); ++s)
        state_.push_back(
            make_tensor<float>(shape_type(p.value.value().shape().begin(), p.value.value().shape().end())));
    state_layout_ = layout_version_ ? *layout_version_ : 0;
  }
  ++steps_;
  begin_step(lr);
  // In pieces of 16 K floats, so that threads share the largest tensors (a network's head and
  // classifier hold about half of its weights) rather than take one each.
  constexpr std::size_t piece = std::size_t{1} << 14;
  std::vector<std::pair<std::size_t, std::size_t>> pieces;  // (parameter, first float)
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].value.has_grad()) had_gradient_[i] = 1;
    if (!had_gradient_[i]) continue;
    for (std::size_t b = 0; b < params_[i].value.value().size(); b += piece) pieces.emplace_back(i, b);
  }
  parallel::for_index(std::size_t{0}, pieces.size(), [&](std::size_t k) {
    const auto [i, b] = pieces[k];
    update(i, b, std::min(params_[i].value.value().size(), b + piece), lr, decay_[i]);
  });
}

inline optimizer_state optimizer::state() const {
  optimizer_state s;
  s.steps = steps_;
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (had_gradient_[i]) s.updated.push_back(params_[i].name);
  for (std::size_t i = 0; i < params_.size() && !state_.empty(); ++i)
    for (std::size_t k = 0; k < slot_names_.size(); ++k)
      s.tensors.emplace(params_[i].name + "." + slot_names_[k], state_[i * slot_names_.size() + k]);
  return s;
}

inline void optimizer::load_state(const optimizer_state& saved) {
  if (saved.tensors.empty()) {  // saved before its first step, or a rule without state
    reset();
    steps_ = saved.steps;
    restore_updated(saved.updated);
    return;
  }
  std::vector<tensor<float>> restored;
  for (const auto& p : params_)
    for (const auto& slot_name : slot_names_) {
      const std::string key = p.name + "." + slot_name;
      auto it = saved.tensors.find(key);
      if (it == saved.tensors.end())
        throw io_error("ofa::train::optimizer::load_state: the saved state lacks '" + key +
                       "'; it was saved by another optimizer or network");
      if (it->second.shape() != p.value.value().shape())
        throw io_error("ofa::train::optimizer::load_state: '" + key + "' has shape " +
                       shape_string(it->second.shape()) + ", the parameter " + shape_string(p.value.value().shape()));
      restored.push_back(it->second);
    }
  state_ = std::move(restored);
  steps_ = saved.steps;
  state_layout_ = layout_version_ ? *layout_version_ : 0;
  restore_updated(saved.updated);
}

inline void optimizer::restore_updated(const std::vector<std::string>& names) {
  had_gradient_.assign(params_.size(), 0);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < params_.size(); ++i) index.emplace(params_[i].name, i);
  for (const auto& n : names)
    if (auto it = index.find(n); it != index.end()) had_gradient_[it->second] = 1;
}

inline void sgd::update(std::size_t i, std::size_t begin, std::size_t end, double lr, double decay) {
  const auto& p = parameters()[i];
  float* __restrict w = p.value.value().data();
  const float* __restrict g = p.value.has_grad() ? p.value.grad().data() : nullptr;
  const auto rate = static_cast<float>(lr), lambda = static_cast<float>(decay), mu = static_cast<float>(o_.momentum);
  if (o_.momentum == 0) {
    for (std::size_t j = begin; j < end; ++j) w[j] -= rate * ((g ? g[j] : 0.0f) + lambda * w[j]);
    return;
  }
  float* __restrict buf = slot(i, 0);
  for (std::size_t j = begin; j < end; ++j) {
    const float d = (g ? g[j] : 0.0f) + lambda * w[j];
    buf[j] = mu * buf[j] + d;
    w[j] -= rate * (o_.nesterov ? d + mu * buf[j] : buf[j]);
  }
}

inline void adam::begin_step(double) {
  correction1_ = 1 - std::pow(o_.beta1, static_cast<double>(steps()));
  correction2_ = 1 - std::pow(o_.beta2, static_cast<double>(steps()));
}

inline void adam::update(std::size_t i, std::size_t begin, std::size_t end, double lr, double decay) {
  const auto& p = parameters()[i];
  float* __restrict w = p.value.value().data();
  const float* __restrict g = p.value.has_grad() ? p.value.grad().data() : nullptr;
  float* __restrict m = slot(i, 0);
  float* __restrict v = slot(i, 1);
  const auto b1 = static_cast<float>(o_.beta1), b2 = static_cast<float>(o_.beta2), eps = static_cast<float>(o_.eps);
  const auto step_size = static_cast<float>(lr / correction1_);
  const auto root2 = static_cast<float>(std::sqrt(correction2_));
  const auto l2 = o_.decoupled ? 0.0f : static_cast<float>(decay);
  const auto shrink = o_.decoupled ? static_cast<float>(1 - lr * decay) : 1.0f;
  for (std::size_t j = begin; j < end; ++j) {
    w[j] *= shrink;
    const float d = (g ? g[j] : 0.0f) + l2 * w[j];
    m[j] = b1 * m[j] + (1 - b1) * d;
    v[j] = b2 * v[j] + (1 - b2) * d * d;
    w[j] -= step_size * m[j] / (std::sqrt(v[j]) / root2 + eps);
  }
}

}  // namespace ofa::train
