#pragma once
/// @file
/// The elastic layers of an OFA supernet. Each holds its weights at maximum
/// size; the active part (output/input channels, kernel size) is chosen per
/// call and used in place (slices with leading dimensions, centre crops).

#include <algorithm>
#include <string>
#include <utility>  // as_const
#include <vector>

#include "ofa/autograd/batch_norm_depthwise.hpp"
#include "ofa/autograd/kernel_transform.hpp"
#include "ofa/autograd/ops.hpp"
#include "ofa/nn/bn_statistics.hpp"
#include "ofa/nn/init.hpp"
#include "ofa/nn/parameters.hpp"
#include "ofa/space/choice_set.hpp"
#include "ofa/space/make_divisible.hpp"

namespace ofa::nn {

using autograd::variable;

/** @brief How one forward pass runs its BN layers (forward_mode), the statistics an
 *  evaluation uses instead of the running ones, and where recalibration adds what it measures. */
template <class T>
struct forward_context {
  forward_mode mode = forward_mode::train;
  const bn_statistics<T>* statistics = nullptr;  ///< eval: used for the layers it has
  bn_statistics<T>* measured = nullptr;          ///< recalibrate: receives every layer's batch statistics
};

/** @brief BN over the first C of max_channels channels (running statistics sliced). */
template <class T>
struct elastic_batch_norm {
  variable<T> gamma, beta;
  tensor<T> running_mean, running_var;
  T momentum = T(0.1), eps = T(1e-5);  // the reference's bn_param
  std::size_t index = 0;               ///< place among the network's BN layers (bn_statistics' key)

  explicit elastic_batch_norm(int max_channels)
      : gamma(make_parameter<T>({std::size_t(max_channels)}, T(1))),
        beta(make_parameter<T>({std::size_t(max_channels)}, T(0))),
        running_mean(make_tensor<T>({std::size_t(max_channels)}, T(0))),
        running_var(make_tensor<T>({std::size_t(max_channels)}, T(1))) {}

  /** @brief BN, then `act` fused into the same pass (forward and backward). */
  variable<T> forward(const variable<T>& x, bool training, activation act = activation::none) {
    return autograd::batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps, act);
  }
  /** @brief As `context` says; training updates the running statistics. */
  variable<T> forward(const variable<T>& x, const forward_context<T>& context, activation act = activation::none) {
    if (context.mode == forward_mode::train) return forward(x, true, act);
    return std::as_const(*this).forward(x, context, act);
  }
  /** @brief Evaluation or recalibration, which leave the layer as it is. */
  variable<T> forward(const variable<T>& x, const forward_context<T>& context,
                      activation act = activation::none) const {
    if (context.mode == forward_mode::train)
      throw logic_error("ofa::nn::elastic_batch_norm: a const network cannot run a training forward");
    if (context.mode == forward_mode::eval) {
      const auto* given = context.statistics ? context.statistics->find(index) : nullptr;
      return autograd::batch_norm_inference(x, gamma, beta, given ? given->mean : running_mean,
                                            given ? given->var : running_var, eps, act);
    }
    // Recalibration: normalise with the batch's statistics (as training), and hand them over.
    const std::size_t c = x.value().shape().back(), m = x.value().size() / c;
    // Zeros, not fresh storage: with momentum 1 the kernel still reads them (0·garbage is NaN
    // when the garbage is).
    tensor<T> mean = make_tensor<T>(shape_type{c}), var = make_tensor<T>(shape_type{c});
    auto y = autograd::batch_norm(x, gamma, beta, mean, var, true, T(1), eps, act);
    // momentum 1 left the batch's unbiased variance; the reference averages the biased one.
    const T biased = m > 1 ? T(double(m - 1) / double(m)) : T(1);
    for (auto& v : var) v *= biased;
    if (context.measured)
      context.measured->add(index, c, mean.data(), var.data(), double(x.value().shape()[0]));
    return y;
  }
  void collect(state_list<T>& s, const std::string& prefix) {
    s.add(prefix + ".weight", gamma, true);
    s.add(prefix + ".bias", beta, true);
    s.add_buffer(prefix + ".running_mean", running_mean);
    s.add_buffer(prefix + ".running_var", running_var);
  }
};

/** @brief 1×1 convolution [out_max][in_max]; the active input is the input's channels. */
template <class T>
struct elastic_pointwise {
  variable<T> weight;
  explicit elastic_pointwise(int out_max, int in_max)
      : weight(make_parameter<T>({std::size_t(out_max), std::size_t(in_max)})) {}
  int max_out() const { return static_cast<int>(weight.value().shape()[0]); }
  variable<T> forward(const variable<T>& x, int out) const {
    return autograd::pointwise(x, weight, out, static_cast<int>(x.value().shape().back()));
  }
  void init(rng& engine) { init_he_fan_out(weight.value(), 1, max_out(), engine); }
  void collect(state_list<T>& s, const std::string& prefix) { s.add(prefix + ".weight", weight); }
};

/** @brief Dense k×k convolution [out_max][k][k][in_max] with elastic output and input widths: the
 *  active filters over the input's channels run as a contiguous slice (autograd::conv_weight_slice). */
template <class T>
struct elastic_conv {
  variable<T> weight;
  elastic_conv(int out_max, int kernel, int in_max)
      : weight(
            make_parameter<T>({std::size_t(out_max), std::size_t(kernel), std::size_t(kernel), std::size_t(in_max)})) {}
  int max_out() const { return static_cast<int>(weight.value().shape()[0]); }
  int kernel() const { return static_cast<int>(weight.value().shape()[1]); }
  variable<T> forward(const variable<T>& x, int out, int stride) const {
    const int in = static_cast<int>(x.value().shape().back());
    return autograd::conv2d(x, autograd::conv_weight_slice(weight, out, in), stride);
  }
  void init(rng& engine) { init_he_fan_out(weight.value(), kernel(), max_out(), engine); }
  void collect(state_list<T>& s, const std::string& prefix) { s.add(prefix + ".weight", weight); }
};

/** @brief Depthwise convolution with an elastic kernel: weights [K][K][C_max] for the largest
 *  kernel K and, for each smaller kernel k, a k²×k² matrix (identity at first) that turns
 *  the centre of the next larger kernel into the k×k one. */
template <class T>
struct elastic_depthwise {
  variable<T> weight;
  std::vector<int> kernels;             ///< ascending
  std::vector<variable<T>> transforms;  ///< transforms[i]: kernels[i+1] -> kernels[i]

  elastic_depthwise(int max_channels, const space::choice_set& kernel_choices)
      : kernels(kernel_choices.begin(), kernel_choices.end()) {
    const auto K = static_cast<std::size_t>(kernels.back());
    weight = make_parameter<T>({K, K, std::size_t(max_channels)});
    for (std::size_t i = 0; i + 1 < kernels.size(); ++i) {
      const auto taps = static_cast<std::size_t>(kernels[i] * kernels[i]);
      auto m = make_parameter<T>({taps, taps});
      for (std::size_t j = 0; j < taps; ++j) m.value().data()[j * taps + j] = T(1);
      transforms.push_back(m);
    }
  }
  int max_kernel() const { return kernels.back(); }
  int max_channels() const { return static_cast<int>(weight.value().shape()[2]); }

  /** @brief The k×k kernel over the first `channels` channels; for the largest kernel the
   *  max-size weight itself (the op crops it in place), else a transformed copy. */
  variable<T> active_kernel(int k, int channels) const {
    if (k == max_kernel()) return weight;
    variable<T> current = weight;
    for (int i = static_cast<int>(kernels.size()) - 2; i >= 0 && kernels[std::size_t(i) + 1] > k; --i)
      current = autograd::transform_kernel(current, transforms[std::size_t(i)], kernels[std::size_t(i)], channels);
    return current;
  }
  variable<T> forward(const variable<T>& x, int k, int stride) const {
    const int channels = static_cast<int>(x.value().shape().back());
    return autograd::depthwise(x, active_kernel(k, channels), k, stride);
  }
  /** @brief The depthwise of act(bn(x)), bn in training, as one op that never forms act(bn(x)):
   *  the kernels map x as they load it (autograd::batch_norm_depthwise). */
  variable<T> forward_normalised(const variable<T>& x, elastic_batch_norm<T>& bn, activation act, int k,
                                 int stride) const {
    const int channels = static_cast<int>(x.value().shape().back());
    return autograd::batch_norm_depthwise(x, bn.gamma, bn.beta, bn.running_mean, bn.running_var, bn.momentum, bn.eps,
                                          act, active_kernel(k, channels), k, stride);
  }
  void init(rng& engine) { init_he_fan_out(weight.value(), max_kernel(), max_channels(), engine); }
  void collect(state_list<T>& s, const std::string& prefix) {
    s.add(prefix + ".weight", weight);
    for (std::size_t i = 0; i < transforms.size(); ++i)
      s.add(prefix + "." + std::to_string(kernels[i + 1]) + "to" + std::to_string(kernels[i]) + "_matrix",
            transforms[i]);
  }
};

/** @brief Squeeze-and-excite whose middle width follows the active channels:
 *  make_divisible(C / 4, 8); reduce (with bias), ReLU, expand (with bias), h-sigmoid. */
template <class T>
struct elastic_se {
  variable<T> reduce_w, reduce_b, expand_w, expand_b;
  explicit elastic_se(int max_channels) {
    const auto c = std::size_t(max_channels), mid = std::size_t(squeeze_excite_width(max_channels));
    reduce_w = make_parameter<T>({mid, c});
    reduce_b = make_parameter<T>({mid});
    expand_w = make_parameter<T>({c, mid});
    expand_b = make_parameter<T>({c});
  }
  variable<T> forward(const variable<T>& x) const {
    const int c = static_cast<int>(x.value().shape().back()), mid = squeeze_excite_width(c);
    auto s = autograd::global_avg_pool(x);
    s = autograd::activate(autograd::linear(s, reduce_w, reduce_b, mid, c), activation::relu);
    s = autograd::hsigmoid(autograd::linear(s, expand_w, expand_b, c, mid));
    return autograd::channel_scale(x, s);
  }
  void init(rng& engine) {  // convs in the reference: He fan-out, zero bias
    init_he_fan_out(reduce_w.value(), 1, static_cast<int>(reduce_w.value().shape()[0]), engine);
    init_he_fan_out(expand_w.value(), 1, static_cast<int>(expand_w.value().shape()[0]), engine);
  }
  void collect(state_list<T>& s, const std::string& prefix) {
    s.add(prefix + ".fc.reduce.weight", reduce_w);
    s.add(prefix + ".fc.reduce.bias", reduce_b, true);
    s.add(prefix + ".fc.expand.weight", expand_w);
    s.add(prefix + ".fc.expand.bias", expand_b, true);
  }
};

}  // namespace ofa::nn
