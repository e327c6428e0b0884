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
#include "ofa/space/subnet_config.hpp"

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

/** @brief Output side of a "same"-padded (padding k/2) convolution. */
constexpr int conv_output_size(int in, int kernel, int stride) noexcept {
  return (in + 2 * (kernel / 2) - kernel) / stride + 1;
}

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

}  // namespace detail

template <class Space>
subnet_profile profile_subnet(const subnet_config<Space>& config, int resolution) {
  config.validate();
  const int r = resolution == 0 ? config.resolution : resolution;
  if (r < 1) throw config_error("ofa::profile_subnet: resolution " + std::to_string(r) + " must be positive");
  detail::profiler p;
  p.result.resolution = r;
  int size = r;

  const auto& stem = Space::stem;
  p.conv("first_conv", "conv", 3, stem.width, stem.kernel_size, stem.stride, 1, size, false, true);
  size = conv_output_size(size, stem.kernel_size, stem.stride);

  const auto& fb = Space::first_block;
  p.conv("blocks.0.depth_conv", "depthwise", stem.width, stem.width, fb.kernel_size, 1, stem.width, size, false, true);
  p.conv("blocks.0.point_linear", "conv", stem.width, fb.width, 1, 1, 1, size, false, true);

  int in_c = fb.width;
  int block = 1;
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    for (int i = 0; i < config.depth[u]; ++i, ++block) {
      const auto slot = static_cast<std::size_t>(info.first_slot + i);
      const int stride = i == 0 ? info.stride : 1;
      const int k = config.kernel[slot];
      const int mid = expanded_width(in_c, config.expand[slot]);
      const std::string prefix = "blocks." + std::to_string(block) + ".";
      p.conv(prefix + "inverted_bottleneck", "conv", in_c, mid, 1, 1, 1, size, false, true);
      p.conv(prefix + "depth_conv", "depthwise", mid, mid, k, stride, mid, size, false, true);
      size = conv_output_size(size, k, stride);
      if (info.se) {
        const int se_mid = squeeze_excite_width(mid);
        p.conv(prefix + "se.reduce", "se_reduce", mid, se_mid, 1, 1, 1, 1, true, false);
        p.conv(prefix + "se.expand", "se_expand", se_mid, mid, 1, 1, 1, 1, true, false);
      }
      p.conv(prefix + "point_linear", "conv", mid, info.width, 1, 1, 1, size, false, true);
      in_c = info.width;
    }
  }
  const auto& head = Space::head;
  p.conv(head.pre_pool_name(), "conv", in_c, head.final_expand, 1, 1, 1, size, false, true);
  if (head.has_feature_mix())
    p.conv("feature_mix_layer", "conv", head.final_expand, head.feature_mix, 1, 1, 1, 1, false, false);
  p.linear("classifier", head.classifier_inputs(), Space::class_count);
  return p.result;
}

template <class Space>
std::int64_t supernet_param_count() {
  std::int64_t params = 0;
  auto conv = [&](std::int64_t cin_per_group, std::int64_t cout, std::int64_t k, bool bias, bool bn) {
    params += cout * cin_per_group * k * k + (bias ? cout : 0) + (bn ? 2 * cout : 0);
  };
  const auto& stem = Space::stem;
  conv(3, stem.width, stem.kernel_size, false, true);
  conv(1, stem.width, Space::first_block.kernel_size, false, true);
  conv(stem.width, Space::first_block.width, 1, false, true);
  int in_c = Space::first_block.width;
  for (const auto& u : Space::unit_table) {
    for (int i = 0; i < u.depths.max(); ++i) {
      const int mid = expanded_width(in_c, u.expands.max());
      conv(in_c, mid, 1, false, true);
      conv(1, mid, u.kernels.max(), false, true);
      for (std::size_t j = 0; j + 1 < u.kernels.size; ++j)  // one matrix per smaller kernel
        params += std::int64_t{u.kernels[j]} * u.kernels[j] * u.kernels[j] * u.kernels[j];
      if (u.se) {
        const int se_mid = squeeze_excite_width(mid);
        conv(mid, se_mid, 1, true, false);
        conv(se_mid, mid, 1, true, false);
      }
      conv(mid, u.width, 1, false, true);
      in_c = u.width;
    }
  }
  const auto& head = Space::head;
  conv(in_c, head.final_expand, 1, false, true);
  if (head.has_feature_mix()) conv(head.final_expand, head.feature_mix, 1, false, false);
  params += std::int64_t{head.classifier_inputs()} * Space::class_count + Space::class_count;
  return params;
}

}  // namespace ofa
