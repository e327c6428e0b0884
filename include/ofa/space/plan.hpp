#pragma once
/// @file
/// The plan of a subnet: its layers as they run, decided once. Every consumer of a
/// space's structure -- the elastic and static networks, extraction, profiles, layer
/// tables -- iterates a plan instead of walking the units itself, so that the network
/// they build, the weights they fill and the costs they count cannot disagree.
///
/// A plan is a stem, the blocks in forward order (the fixed first block, then every
/// active block of every unit) and a head, each with its channels and feature sizes.
/// The supernet's plan is the largest subnet's: every slot, every block at its widest.

#include <cstddef>
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/space/activation.hpp"
#include "ofa/space/make_divisible.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa {

/** @brief Output side of a "same"-padded (padding k/2) convolution. */
constexpr int conv_output_size(int in, int kernel, int stride) noexcept {
  return (in + 2 * (kernel / 2) - kernel) / stride + 1;
}

/** @brief The stem as it runs: a dense k×k convolution from 3 channels, BN, activation; a deep stem
 *  (ResNets) goes on with [a 3×3 convolution of mid_width plus its input], a 3×3 convolution to
 *  `width` and [max pooling]. */
struct stem_plan {
  int in_size = 0, out_size = 0;
  int width = 0, kernel = 3, stride = 1;
  activation act = activation::relu;
  bool deep = false;
  int mid_width = 0;                     ///< a deep stem's first two convolutions' width
  bool skip = false;                     ///< a deep stem's residual middle convolution is left out
  int conv_size = 0;                     ///< a deep stem's side after its convolutions, before pooling
  int pool_window = 0, pool_stride = 0;  ///< a deep stem's max pooling; 0: none

  /** @brief The first convolution's output width. */
  int first_width() const noexcept { return deep ? mid_width : width; }
};

/** @brief One block as it runs. An inverted residual (MBConv): [1×1 expand, BN, act] → k×k depthwise
 *  (stride), BN, act → [SE] → 1×1 project, BN → [+ input]. A bottleneck (ResNet): 1×1 to the middle
 *  width, BN, act → 3×3 (stride), BN, act → 1×1, BN → + the input or, where has_shortcut_conv,
 *  + BN(1×1(average pooling stride×stride of the input)) → act. */
struct block_plan {
  space::block_kind kind = space::block_kind::mbconv;
  int unit = -1;     ///< its unit, or -1 for the fixed first block
  int position = 0;  ///< its index within the unit (0: the unit's first block, which strides)
  int slot = -1;     ///< its block slot in subnet_config and in the supernet; -1 for the first block
  int in_channels = 0, mid_channels = 0, out_channels = 0;
  int se_channels = 0;  ///< the squeeze-and-excite's reduced width; 0 where the block has none
  int kernel = 3, stride = 1, expand = 1;
  int in_size = 0, out_size = 0;
  activation act = activation::relu;
  bool has_expand = false;  ///< the 1×1 expand exists: not in the first block, nor where a unit's largest ratio is 1
  bool has_shortcut_conv = false;  ///< a bottleneck's shortcut pools and convolves (the supernet's widths differ)
  int width = 0;                   ///< a bottleneck's width multiplier index (the config's w)
  int supernet_block = 0;          ///< its index among the supernet's blocks (the first block's 0; then by slot)

  bool bottleneck() const noexcept { return kind == space::block_kind::bottleneck; }
  bool has_se() const noexcept { return se_channels > 0; }
  /** @brief The input is added to the output: in a bottleneck always (through the shortcut conv where
   *  there is one), in an MBConv block where the stride is 1 and the widths match. */
  bool residual() const noexcept { return bottleneck() || (stride == 1 && in_channels == out_channels); }
  /** @brief Its index among the supernet's blocks: the fixed first block (where the space has one), then
   *  every slot in order. */
  std::size_t supernet_index() const noexcept { return static_cast<std::size_t>(supernet_block); }
};

/** @brief The head as it runs: 1×1 + BN + act, global pooling, [1×1 feature mix + act], classifier. */
struct head_plan {
  int in_size = 0, in_channels = 0;
  int final_expand = 0, feature_mix = 0, classes = 0;
  activation act = activation::hswish;

  bool has_final_expand() const noexcept { return final_expand > 0; }
  bool has_feature_mix() const noexcept { return feature_mix > 0; }
  int classifier_inputs() const noexcept {
    return has_feature_mix() ? feature_mix : has_final_expand() ? final_expand : in_channels;
  }
};

/** @brief A whole subnet as it runs, at one resolution. */
struct network_plan {
  int resolution = 0;
  stem_plan stem;
  std::vector<block_plan> blocks;  ///< the first block (where the space has one), then the units' blocks
  head_plan head;
};

/** @brief Block `position` of unit `unit` of `Space` at (kernel, expand, width multiplier index),
 *  given its input: the one place where a block's widths, stride and parts are decided. */
template <class Space>
block_plan plan_unit_block(std::size_t unit, int position, int in_channels, int in_size, int kernel, int expand,
                           int width = 0);

/** @brief The plan of `config` at `resolution` (0: the config's own). Validates the config. */
template <class Space>
network_plan plan_network(const subnet_config<Space>& config, int resolution = 0);

/** @brief The supernet's plan: the largest subnet, whose blocks are every slot at its widest. */
template <class Space>
network_plan plan_supernet() {
  return plan_network(subnet_config<Space>::max());
}

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// The widths a unit's blocks receive in the supernet: the previous unit's, or the stem's.
template <class Space>
constexpr space::choice_set unit_input_widths(std::size_t unit) {
  if (unit > 0) return Space::unit_table[unit - 1].widths;
  return Space::first_block.present() ? space::choice_set::of(Space::first_block.width) : Space::stem.widths;
}

template <std::size_t N>
constexpr bool same_values(const space::basic_choice_set<N>& a, const space::basic_choice_set<N>& b) {
  if (a.size != b.size) return false;
  for (std::size_t i = 0; i < a.size; ++i)
    if (a[i] != b[i]) return false;
  return true;
}
}  // namespace detail

template <class Space>
block_plan plan_unit_block(std::size_t unit, int position, int in_channels, int in_size, int kernel, int expand,
                           int width) {
  const auto& u = Space::unit_table[unit];
  block_plan b;
  b.kind = u.kind;
  b.unit = static_cast<int>(unit);
  b.position = position;
  b.slot = u.first_slot + position;
  b.in_channels = in_channels;
  b.out_channels = u.widths[static_cast<std::size_t>(width)];
  b.width = width;
  b.kernel = kernel;
  b.expand = expand;
  b.stride = position == 0 ? u.stride : 1;
  b.act = u.act;
  b.in_size = in_size;
  b.out_size = conv_output_size(in_size, kernel, b.stride);
  if (u.bottleneck()) {
    // The reference's middle width follows the block's output width: round(out · e), made divisible.
    b.mid_channels = make_divisible(round_half_even(b.out_channels * (expand / 100.0)));
    b.has_expand = true;
    // Decided by the supernet, as the reference's block does: a shortcut conv wherever the stride or
    // the widths the block can receive and give differ; a subnet keeps its supernet's shortcut. A unit's
    // first block receives a width chosen apart from its own (the previous unit's or the stem's), so
    // only where both are one and the same width can its input be added as it is.
    const auto inputs = detail::unit_input_widths<Space>(unit);
    b.has_shortcut_conv = position == 0 && (u.stride != 1 || inputs.size > 1 || !detail::same_values(inputs, u.widths));
    return b;
  }
  // The supernet's block has an expand layer when its widest ratio needs one; its narrower
  // ratios then use that layer too (ratio 1 included), as the reference's dynamic block does.
  b.has_expand = u.expands.max() != 1;
  b.mid_channels = b.has_expand ? expanded_width(in_channels, expand) : in_channels;
  b.se_channels = u.se ? squeeze_excite_width(b.mid_channels) : 0;
  return b;
}

template <class Space>
network_plan plan_network(const subnet_config<Space>& config, int resolution) {
  config.validate();
  network_plan p;
  p.resolution = resolution == 0 ? config.resolution : resolution;
  if (p.resolution < 1)
    throw config_error("ofa::plan_network: resolution " + std::to_string(p.resolution) + " must be positive");
  const auto& stem = Space::stem;
  p.stem.in_size = p.resolution;
  p.stem.kernel = stem.kernel_size;
  p.stem.stride = stem.stride;
  p.stem.act = stem.act;
  p.stem.width = stem.widths[static_cast<std::size_t>(config.stem_width[1])];
  p.stem.conv_size = p.stem.out_size = conv_output_size(p.resolution, stem.kernel_size, stem.stride);
  if (stem.deep()) {
    p.stem.deep = true;
    p.stem.mid_width = stem.mid_widths[static_cast<std::size_t>(config.stem_width[0])];
    p.stem.skip = config.stem_skip;
    p.stem.pool_window = stem.pool_window;
    p.stem.pool_stride = stem.pool_stride;
    if (stem.pool_window > 0) p.stem.out_size = conv_output_size(p.stem.conv_size, stem.pool_window, stem.pool_stride);
  }

  p.blocks.reserve(1 + static_cast<std::size_t>(Space::block_slots));
  int channels = p.stem.width, size = p.stem.out_size;
  if (Space::first_block.present()) {
    block_plan first;
    first.in_channels = first.mid_channels = channels;
    first.out_channels = Space::first_block.width;
    first.kernel = Space::first_block.kernel_size;
    first.act = Space::first_block.act;
    first.in_size = first.out_size = size;
    p.blocks.push_back(first);
    channels = first.out_channels;
  }
  for (std::size_t u = 0; u < Space::unit_count; ++u)
    for (int i = 0; i < config.depth[u]; ++i) {
      const auto slot = config.slot(u, i);
      p.blocks.push_back(
          plan_unit_block<Space>(u, i, channels, size, config.kernel[slot], config.expand[slot], config.width[u]));
      p.blocks.back().supernet_block = slot + (Space::first_block.present() ? 1 : 0);
      channels = p.blocks.back().out_channels;
      size = p.blocks.back().out_size;
    }
  const auto& head = Space::head;
  p.head = {size, channels, head.final_expand, head.feature_mix, Space::class_count, head.act};
  return p;
}

}  // namespace ofa
