#pragma once
/// @file
/// The MobileNetV3 inverted-residual block with elastic kernel and width:
/// [1×1 expand, BN, act] → k×k depthwise (stride), BN, act → [SE] → 1×1
/// project, BN → + input when the stride is 1 and the widths match.
/// Its layers are those of its plan (space/plan.hpp): built from the supernet's, run by a subnet's.
/// The training side of the MBConv block kind (docs/spaces.md: a kind's folder).

#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>  // is_const
#include <vector>

#include "ofa/blocks/block_types.hpp"
#include "ofa/nn/channel_sorting.hpp"
#include "ofa/nn/elastic_layers.hpp"
#include "ofa/space/activation.hpp"
#include "ofa/space/plan.hpp"

namespace ofa::nn {

template <class T>
struct mbconv_block {
  int in_channels, out_channels, stride;
  activation act;
  space::choice_set expands;
  std::optional<elastic_pointwise<T>> expand_conv;
  std::optional<elastic_batch_norm<T>> expand_bn;
  elastic_depthwise<T> depth_conv;
  elastic_batch_norm<T> depth_bn;
  std::optional<elastic_se<T>> se;
  elastic_pointwise<T> project_conv;
  elastic_batch_norm<T> project_bn;

  /** @brief The block of the supernet's plan `widest` (every layer at its largest), elastic over
   *  its unit's kernel sizes and expand ratios. */
  mbconv_block(const block_plan& widest, const space::unit_info& unit)
      : in_channels(widest.in_channels),
        out_channels(widest.out_channels),
        stride(widest.stride),
        act(widest.act),
        expands(unit.expands),
        depth_conv(widest.mid_channels, unit.kernels),
        depth_bn(widest.mid_channels),
        project_conv(widest.out_channels, widest.mid_channels),
        project_bn(widest.out_channels) {
    if (widest.has_expand) {
      expand_conv.emplace(widest.mid_channels, widest.in_channels);
      expand_bn.emplace(widest.mid_channels);
    }
    if (widest.has_se()) se.emplace(widest.mid_channels);
  }

  int max_middle() const noexcept { return static_cast<int>(depth_bn.gamma.value().size()); }
  bool residual() const { return stride == 1 && in_channels == out_channels; }

  /** @brief The block as `b` (a subnet's plan of it) runs it; training updates BN's running statistics. */
  variable<T> forward(const variable<T>& x, const block_plan& b, const forward_context<T>& context) {
    return run(*this, x, b, context);
  }
  /** @brief Evaluation or recalibration, which leave the block as it is. */
  variable<T> forward(const variable<T>& x, const block_plan& b, const forward_context<T>& context) const {
    return run(*this, x, b, context);
  }

  /** @brief Calls f(bn) for each BN layer of the block, in order. */
  template <class F>
  void for_each_batch_norm(F&& f) {
    if (expand_bn) f(*expand_bn);
    f(depth_bn);
    f(project_bn);
  }
  void init(rng& engine) {
    if (expand_conv) expand_conv->init(engine);
    depth_conv.init(engine);
    if (se) se->init(engine);
    project_conv.init(engine);
  }

  /** @brief The reference's names: `block`.conv.inverted_bottleneck, .depth_conv (with .se), .point_linear. */
  void collect(state_list<T>& s, const std::string& block) {
    const std::string prefix = block + ".conv";  // the reference's MobileInvertedResidualBlock.conv
    if (expand_conv) {
      expand_conv->collect(s, prefix + ".inverted_bottleneck.conv");
      expand_bn->collect(s, prefix + ".inverted_bottleneck.bn");
    }
    depth_conv.collect(s, prefix + ".depth_conv.conv");
    depth_bn.collect(s, prefix + ".depth_conv.bn");
    if (se) se->collect(s, prefix + ".depth_conv.se");
    project_conv.collect(s, prefix + ".point_linear.conv");
    project_bn.collect(s, prefix + ".point_linear.bn");
  }

  /** @brief The reference's re_organize_middle_weights: sort middle channels by the L1 norm
   *  of the projection weights (most important first), keeping the channels of widths
   *  already supported (expand ratios above `expand_stage` in descending order) in their
   *  groups, and permute every layer that touches the middle channels to match. */
  void reorganize_middle(int expand_stage);

 private:
  /// One body for the const and the mutable block: BN's overloads pick the mode's behaviour.
  template <class Self>
  static variable<T> run(Self& self, const variable<T>& x, const block_plan& b, const forward_context<T>& context) {
    const int kernel = b.kernel;
    variable<T> h = x;
    bool fused = false;
    if constexpr (!std::is_const_v<Self>) {
      if (self.expand_conv && context.mode == forward_mode::train && kernel == 3) {
        // The expand BN and its activation run inside the depthwise, which maps its input as it
        // loads it: the widest tensor of the block is never written (autograd/batch_norm_depthwise.hpp).
        // At k = 3 the depthwise waits on memory and the map is free; at 5 and 7 it computes, and
        // mapping each of its k-fold reloaded inputs cost more than the pass it saves (W1, all k = 7:
        // 3% slower).
        h = self.depth_conv.forward_normalised(self.expand_conv->forward(x, b.mid_channels), *self.expand_bn, self.act,
                                               kernel, self.stride);
        fused = true;
      }
    }
    if (!fused) {
      if (self.expand_conv)
        h = self.expand_bn->forward(self.expand_conv->forward(x, b.mid_channels), context, self.act);
      h = self.depth_conv.forward(h, kernel, self.stride);
    }
    h = self.depth_bn.forward(h, context, self.act);
    if (self.se) h = self.se->forward(h);
    h = self.project_bn.forward(self.project_conv.forward(h, self.out_channels), context);
    return self.residual() ? autograd::add(h, x) : h;
  }
};

// ---------------------------------------------------------------------------
// implementation

template <class T>
void mbconv_block<T>::reorganize_middle(int expand_stage) {
  if (!expand_conv) return;
  const auto mid = static_cast<std::size_t>(max_middle());
  auto& pw = project_conv.weight.value();  // [out][mid]
  std::vector<double> importance(mid, 0.0);
  for (std::size_t o = 0; o < std::size_t(out_channels); ++o)
    for (std::size_t c = 0; c < mid; ++c) importance[c] += std::abs(double(pw.data()[o * mid + c]));
  detail::keep_width_groups(importance, expands, expand_stage, [&](int e) { return expanded_width(in_channels, e); });
  const auto order = detail::sort_descending(importance);
  detail::permute_cols(pw, std::size_t(out_channels), mid, order);
  if (se) {
    const auto se_mid = se->reduce_w.value().shape()[0];
    detail::permute_rows(se->expand_w.value(), se_mid, order);
    detail::permute_rows(se->expand_b.value(), 1, order);
    detail::permute_cols(se->reduce_w.value(), se_mid, mid, order);
    // and SE's own middle channels by the L1 norm of the expand weights
    std::vector<double> se_importance(se_mid, 0.0);
    for (std::size_t c = 0; c < mid; ++c)
      for (std::size_t j = 0; j < se_mid; ++j)
        se_importance[j] += std::abs(double(se->expand_w.value().data()[c * se_mid + j]));
    const auto se_order = detail::sort_descending(se_importance);
    detail::permute_cols(se->expand_w.value(), mid, se_mid, se_order);
    detail::permute_rows(se->reduce_w.value(), mid, se_order);
    detail::permute_rows(se->reduce_b.value(), 1, se_order);
  }
  detail::permute_channels_last(depth_conv.weight.value(), mid, order);
  for (auto* t : {&depth_bn.gamma.value(), &depth_bn.beta.value(), &depth_bn.running_mean, &depth_bn.running_var})
    detail::permute_rows(*t, 1, order);
  detail::permute_rows(expand_conv->weight.value(), std::size_t(in_channels), order);
  for (auto* t :
       {&expand_bn->gamma.value(), &expand_bn->beta.value(), &expand_bn->running_mean, &expand_bn->running_var})
    detail::permute_rows(*t, 1, order);
}

template <class T>
struct elastic_block_type<space::block_kind::mbconv, T> {
  using type = mbconv_block<T>;
};

}  // namespace ofa::nn
