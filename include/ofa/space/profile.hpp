#pragma once
/// @file
/// Analytic MACs and parameter counts of a subnet, layer by layer, counted as
/// the reference profiler (ofa/utils/flops_counter.py) counts them:
/// convolutions cin/groups·k²·(output elements), linear layers in·out;
/// parameters are every weight of the extracted subnet (BN affine included,
/// running statistics not). Also the parameter count of the whole supernet.

#include <cstdint>
#include <string>
#include <vector>

#include "ofa/space/make_divisible.hpp"
#include "ofa/space/plan.hpp"

namespace ofa {

/** @brief Cost of one layer of an extracted subnet. */
struct layer_cost {
  std::string name;  ///< the reference's module path, e.g. "blocks.3.depth_conv"
  std::string kind;  ///< "conv", "depthwise", "se_reduce", "se_expand", "linear"
  int in_channels = 0;
  int out_channels = 0;
  int kernel_size = 1;
  int stride = 1;
  int in_size = 1;   ///< input side (square inputs)
  int out_size = 1;  ///< output side
  std::int64_t macs = 0;
  std::int64_t params = 0;  ///< weights, biases and BN affine parameters of the layer
};

/** @brief Totals and the per-layer breakdown. */
struct subnet_profile {
  std::vector<layer_cost> layers;
  std::int64_t macs = 0;
  std::int64_t params = 0;
  int resolution = 0;
};

/** @brief MACs and parameters of `config` at `resolution` (0: the config's own). */
template <class Space>
subnet_profile profile_subnet(const subnet_config<Space>& config, int resolution = 0);

/** @brief Parameters of the whole supernet at maximum size, kernel transformation matrices
 *  included (for kernels {3,5,7}: 25·25 + 9·9 = 706 per elastic depthwise layer). */
template <class Space>
std::int64_t supernet_param_count();

// ---------------------------------------------------------------------------
// implementation

namespace detail {
struct profiler {
  subnet_profile result;

  void conv(std::string name, const char* kind, int cin, int cout, int k, int stride, int groups, int in_size,
            bool bias, bool bn) {
    layer_cost l;
    l.name = std::move(name);
    l.kind = kind;
    l.in_channels = cin;
    l.out_channels = cout;
    l.kernel_size = k;
    l.stride = stride;
    l.in_size = in_size;
    l.out_size = conv_output_size(in_size, k, stride);
    const std::int64_t outputs = std::int64_t{cout} * l.out_size * l.out_size;
    l.macs = outputs * (cin / groups) * k * k;
    l.params = std::int64_t{cout} * (cin / groups) * k * k + (bias ? cout : 0) + (bn ? 2 * cout : 0);
    add(std::move(l));
  }
  void linear(std::string name, int in, int out) {
    layer_cost l;
    l.name = std::move(name);
    l.kind = "linear";
    l.in_channels = in;
    l.out_channels = out;
    l.macs = std::int64_t{in} * out;
    l.params = std::int64_t{in} * out + out;
    add(std::move(l));
  }
  void add(layer_cost l) {
    result.macs += l.macs;
    result.params += l.params;
    result.layers.push_back(std::move(l));
  }
};

/** @brief The layers of one block of a plan, named "blocks.<index>.<layer>" as the reference names them. */
inline void profile_block(profiler& p, const block_plan& b, std::size_t index) {
  const std::string prefix = "blocks." + std::to_string(index) + ".";
  if (b.bottleneck()) {
    p.conv(prefix + "conv1", "conv", b.in_channels, b.mid_channels, 1, 1, 1, b.in_size, false, true);
    p.conv(prefix + "conv2", "conv", b.mid_channels, b.mid_channels, b.kernel, b.stride, 1, b.in_size, false, true);
    p.conv(prefix + "conv3", "conv", b.mid_channels, b.out_channels, 1, 1, 1, b.out_size, false, true);
    if (b.has_shortcut_conv)  // after the average pooling, at the output's size
      p.conv(prefix + "downsample", "conv", b.in_channels, b.out_channels, 1, 1, 1, b.out_size, false, true);
    return;
  }
  if (b.has_expand)
    p.conv(prefix + "inverted_bottleneck", "conv", b.in_channels, b.mid_channels, 1, 1, 1, b.in_size, false, true);
  p.conv(prefix + "depth_conv", "depthwise", b.mid_channels, b.mid_channels, b.kernel, b.stride, b.mid_channels,
         b.in_size, false, true);
  if (b.has_se()) {
    p.conv(prefix + "se.reduce", "se_reduce", b.mid_channels, b.se_channels, 1, 1, 1, 1, true, false);
    p.conv(prefix + "se.expand", "se_expand", b.se_channels, b.mid_channels, 1, 1, 1, 1, true, false);
  }
  p.conv(prefix + "point_linear", "conv", b.mid_channels, b.out_channels, 1, 1, 1, b.out_size, false, true);
}

inline void profile_stem(profiler& p, const stem_plan& s) {
  if (!s.deep) {
    p.conv("first_conv", "conv", 3, s.width, s.kernel, s.stride, 1, s.in_size, false, true);
    return;
  }
  p.conv("input_stem.0", "conv", 3, s.mid_width, 3, s.stride, 1, s.in_size, false, true);
  if (!s.skip) p.conv("input_stem.1", "conv", s.mid_width, s.mid_width, 3, 1, 1, s.conv_size, false, true);
  p.conv("input_stem.2", "conv", s.mid_width, s.width, 3, 1, 1, s.conv_size, false, true);
}

/// The pre-pool layer's name: see head_info::pre_pool_name.
inline void profile_head(profiler& p, const head_plan& h) {
  if (h.has_final_expand())
    p.conv(h.has_feature_mix() ? "final_expand_layer" : "feature_mix_layer", "conv", h.in_channels, h.final_expand, 1,
           1, 1, h.in_size, false, true);
  if (h.has_feature_mix()) p.conv("feature_mix_layer", "conv", h.final_expand, h.feature_mix, 1, 1, 1, 1, false, false);
  p.linear("classifier", h.classifier_inputs(), h.classes);
}
}  // namespace detail

template <class Space>
subnet_profile profile_subnet(const subnet_config<Space>& config, int resolution) {
  const auto plan = plan_network(config, resolution);
  detail::profiler p;
  p.result.resolution = plan.resolution;
  detail::profile_stem(p, plan.stem);
  for (std::size_t i = 0; i < plan.blocks.size(); ++i) detail::profile_block(p, plan.blocks[i], i);
  detail::profile_head(p, plan.head);
  return p.result;
}

template <class Space>
std::int64_t supernet_param_count() {
  auto plan = plan_supernet<Space>();
  plan.stem.skip = false;  // the largest subnet runs every stem layer
  detail::profiler p;
  detail::profile_stem(p, plan.stem);
  for (std::size_t i = 0; i < plan.blocks.size(); ++i) {
    const auto& b = plan.blocks[i];
    detail::profile_block(p, b, i);
    if (b.unit < 0) continue;
    const auto& kernels = Space::unit_table[std::size_t(b.unit)].kernels;
    for (std::size_t j = 0; j + 1 < kernels.size; ++j)  // one transformation matrix per smaller kernel
      p.result.params += std::int64_t{kernels[j]} * kernels[j] * kernels[j] * kernels[j];
  }
  detail::profile_head(p, plan.head);
  return p.result.params;
}

}  // namespace ofa
