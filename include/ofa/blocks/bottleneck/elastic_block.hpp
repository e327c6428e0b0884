#pragma once
/// @file
/// The ResNet bottleneck with elastic expand ratio and width, as the reference's
/// DynamicResNetBottleneckBlock: 1×1 to the middle width, BN, act → 3×3 (stride), BN,
/// act → 1×1 to the output width, BN → + shortcut → act. The shortcut is the input, or
/// where the supernet's block changes stride or width, BN(1×1(average pooling s×s of the
/// input)). A subnet's block (its plan) takes the first middle and output channels.
/// The training side of the bottleneck block kind (docs/spaces.md: a kind's folder).

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "ofa/blocks/block_types.hpp"
#include "ofa/nn/channel_sorting.hpp"
#include "ofa/nn/elastic_layers.hpp"
#include "ofa/space/plan.hpp"

namespace ofa::nn {

template <class T>
struct bottleneck_block {
  int max_in, max_out, stride;
  activation act;
  space::choice_set expands;  ///< percent of the output width
  elastic_pointwise<T> reduce;
  elastic_batch_norm<T> reduce_bn;
  elastic_conv<T> conv;
  elastic_batch_norm<T> conv_bn;
  elastic_pointwise<T> expand;
  elastic_batch_norm<T> expand_bn;
  std::optional<elastic_pointwise<T>> shortcut;
  std::optional<elastic_batch_norm<T>> shortcut_bn;

  /** @brief The block of the supernet's plan `widest`, elastic over its unit's expand ratios (percent). */
  bottleneck_block(const block_plan& widest, const space::unit_info& unit)
      : max_in(widest.in_channels),
        max_out(widest.out_channels),
        stride(widest.stride),
        act(widest.act),
        expands(unit.expands),
        reduce(widest.mid_channels, widest.in_channels),
        reduce_bn(widest.mid_channels),
        conv(widest.mid_channels, widest.kernel, widest.mid_channels),
        conv_bn(widest.mid_channels),
        expand(widest.out_channels, widest.mid_channels),
        expand_bn(widest.out_channels) {
    if (widest.has_shortcut_conv) {
      shortcut.emplace(widest.out_channels, widest.in_channels);
      shortcut_bn.emplace(widest.out_channels);
    }
  }

  int max_middle() const noexcept { return static_cast<int>(conv_bn.gamma.value().size()); }

  /** @brief The block as `b` (a subnet's plan of it) runs it; training updates BN's running statistics. */
  variable<T> forward(const variable<T>& x, const block_plan& b, const forward_context<T>& context) {
    return run(*this, x, b, context);
  }
  /** @brief Evaluation or recalibration, which leave the block as it is. */
  variable<T> forward(const variable<T>& x, const block_plan& b, const forward_context<T>& context) const {
    return run(*this, x, b, context);
  }

  template <class F>
  void for_each_batch_norm(F&& f) {
    f(reduce_bn);
    f(conv_bn);
    f(expand_bn);
    if (shortcut_bn) f(*shortcut_bn);
  }
  void init(rng& engine) {
    reduce.init(engine);
    conv.init(engine);
    expand.init(engine);
    if (shortcut) shortcut->init(engine);
  }
  /** @brief The reference's names: conv1, conv2, conv3, downsample. */
  void collect(state_list<T>& s, const std::string& prefix) {
    reduce.collect(s, prefix + ".conv1.conv");
    reduce_bn.collect(s, prefix + ".conv1.bn");
    conv.collect(s, prefix + ".conv2.conv");
    conv_bn.collect(s, prefix + ".conv2.bn");
    expand.collect(s, prefix + ".conv3.conv");
    expand_bn.collect(s, prefix + ".conv3.bn");
    if (shortcut) {
      shortcut->collect(s, prefix + ".downsample.conv");
      shortcut_bn->collect(s, prefix + ".downsample.bn");
    }
  }

  /** @brief The reference's re_organize_middle_weights: the 3×3's output channels sorted by the L1 norm
   *  of the last 1×1's weights on them, then its input channels by the 3×3's weights on them, each
   *  keeping the channels of ratios already supported (above `expand_stage`, widest first) in their
   *  groups; every layer touching the middle channels permuted to match. */
  void reorganize_middle(int expand_stage);

 private:
  template <class Self>
  static variable<T> run(Self& self, const variable<T>& x, const block_plan& b, const forward_context<T>& context) {
    variable<T> identity = x;
    if (self.shortcut) {
      const auto pooled = self.stride > 1 ? autograd::average_pool2d(x, self.stride) : x;
      identity = self.shortcut_bn->forward(self.shortcut->forward(pooled, b.out_channels), context);
    }
    auto h = self.reduce_bn.forward(self.reduce.forward(x, b.mid_channels), context, self.act);
    h = self.conv_bn.forward(self.conv.forward(h, b.mid_channels, self.stride), context, self.act);
    h = self.expand_bn.forward(self.expand.forward(h, b.out_channels), context);
    return autograd::activate(autograd::add(h, identity), self.act);
  }
};

template <class T>
void bottleneck_block<T>::reorganize_middle(int expand_stage) {
  const auto mid = static_cast<std::size_t>(max_middle()), out = static_cast<std::size_t>(max_out);
  const auto taps = static_cast<std::size_t>(conv.kernel() * conv.kernel());
  auto permute_bn = [](elastic_batch_norm<T>& bn, const std::vector<std::size_t>& order) {
    for (auto* t : {&bn.gamma.value(), &bn.beta.value(), &bn.running_mean, &bn.running_var})
      detail::permute_rows(*t, 1, order);
  };
  // conv3 → conv2: the 3×3's filters (rows of [mid][k][k][mid]) by the last 1×1's columns.
  auto& last = expand.weight.value();  // [out][mid]
  std::vector<double> importance(mid, 0.0);
  for (std::size_t o = 0; o < out; ++o)
    for (std::size_t c = 0; c < mid; ++c) importance[c] += std::abs(double(last.data()[o * mid + c]));
  const auto middle_of = [&](int percent) { return make_divisible(round_half_even(max_out * (percent / 100.0))); };
  detail::keep_width_groups(importance, expands, expand_stage, middle_of);
  auto order = detail::sort_descending(importance);
  detail::permute_cols(last, out, mid, order);
  permute_bn(conv_bn, order);
  detail::permute_rows(conv.weight.value(), taps * mid, order);
  // conv2 → conv1: the 3×3's input channels (its innermost axis) by its weights on them.
  auto& w = conv.weight.value();
  std::fill(importance.begin(), importance.end(), 0.0);
  for (std::size_t r = 0; r < mid * taps; ++r)
    for (std::size_t c = 0; c < mid; ++c) importance[c] += std::abs(double(w.data()[r * mid + c]));
  detail::keep_width_groups(importance, expands, expand_stage, middle_of);
  order = detail::sort_descending(importance);
  detail::permute_cols(w, mid * taps, mid, order);
  permute_bn(reduce_bn, order);
  detail::permute_rows(reduce.weight.value(), static_cast<std::size_t>(max_in), order);
}

template <class T>
struct elastic_block_type<space::block_kind::bottleneck, T> {
  using type = bottleneck_block<T>;
};

}  // namespace ofa::nn
