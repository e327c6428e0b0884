#pragma once
/// @file
/// The distinct layers of a space, and a cost that adds up over them.
///
/// A block's shape depends only on its unit, on whether it is the unit's first
/// block (the first one strides and changes the width), on its kernel size and
/// expand ratio, and on the input resolution: the kernel size never changes a
/// "same"-padded output's size, and every unit ends at its own width whatever
/// came before. So a space has few distinct layers (the CIFAR space: 279 over
/// its three resolutions) although it has ~10^19 subnets, and any cost that is a
/// sum over layers (MACs, parameters, measured latency) is a table of that size
/// plus a lookup per block: what the search needs to check constraints on
/// millions of candidates.

#include <algorithm>  // max, min
#include <cstddef>
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/space/profile.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa::search {

/** @brief What a distinct layer is, in the reference latency table's terms. */
struct layer_key {
  std::string op;  ///< "stem", "first_block", "mbconv", "head"
  int resolution = 0;  ///< the network's input side
  int in_size = 0;     ///< this layer's input side
  int in_channels = 0, out_channels = 0;
  int expand = 0, kernel = 0, stride = 1;  ///< mbconv only (0 elsewhere)
  bool se = false;
  std::string act;

  /** @brief "mbconv-16x16x24-40-e4-k5-s2-se-relu@32": unique within a space. */
  std::string to_string() const;
};

/** @brief Numbers every distinct layer of `Space`, and names the layers a subnet runs. */
template <class Space>
class layer_space {
 public:
  layer_space();

  /** @brief Distinct layers, all resolutions together. */
  std::size_t size() const noexcept { return keys_.size(); }
  const layer_key& key(std::size_t layer) const { return keys_.at(layer); }
  /** @brief False for a slot no subnet has (a later block of a unit whose depth is at most 1). */
  bool reachable(std::size_t layer) const { return reachable_.at(layer); }

  std::size_t stem(std::size_t resolution_index) const { return base(resolution_index); }
  std::size_t first_block(std::size_t resolution_index) const { return base(resolution_index) + 1; }
  std::size_t head(std::size_t resolution_index) const { return base(resolution_index) + 2; }
  /** @brief Block `position` (0: the unit's first, else any later one) of unit `unit`. */
  std::size_t block(std::size_t resolution_index, std::size_t unit, bool first, std::size_t kernel_index,
                    std::size_t expand_index) const;

  /** @brief Calls `f(layer)` for every layer `config` runs, in forward order: the stem, the
   *  first block, each active block, the head (so for a static_net's stages one by one). */
  template <class F>
  void for_each_layer(const subnet_config<Space>& config, F&& f) const;

 private:
  std::size_t base(std::size_t resolution_index) const { return resolution_index * per_resolution_; }

  std::vector<layer_key> keys_;
  std::vector<bool> reachable_;
  std::vector<std::size_t> unit_offset_;  // within one resolution, of unit u's [first][k][e] block entries
  std::size_t per_resolution_ = 0;
};

/** @brief A cost that is a sum over layers: one value per distinct layer plus a fixed
 *  overhead (a measured latency's fixed part; 0 for MACs and parameters). */
template <class Space>
struct layer_table {
  layer_space<Space> layers;
  std::vector<double> values = std::vector<double>(layers.size(), 0.0);
  double overhead = 0;

  /** @brief The cost of `config` (not validated: the search's candidates are valid by construction). */
  double operator()(const subnet_config<Space>& config) const {
    double sum = overhead;
    layers.for_each_layer(config, [&](std::size_t layer) { sum += values[layer]; });
    return sum;
  }
};

/** @brief MACs per layer, from profile_subnet (so that both count the same). */
template <class Space>
layer_table<Space> macs_table();
/** @brief Parameters per layer, from profile_subnet. */
template <class Space>
layer_table<Space> params_table();

// ---------------------------------------------------------------------------
// implementation

inline std::string layer_key::to_string() const {
  std::string s = op + "-" + std::to_string(in_size) + "x" + std::to_string(in_size) + "x" +
                  std::to_string(in_channels) + "-" + std::to_string(out_channels);
  if (op == "mbconv")
    s += "-e" + std::to_string(expand) + "-k" + std::to_string(kernel) + "-s" + std::to_string(stride) +
         (se ? "-se" : "");
  return s + "-" + act + "@" + std::to_string(resolution);
}

template <class Space>
layer_space<Space>::layer_space() {
  per_resolution_ = 3;
  for (const auto& u : Space::unit_table) {
    unit_offset_.push_back(per_resolution_);
    per_resolution_ += 2 * u.kernels.size * u.expands.size;
  }
  for (int r : Space::resolution_set) {
    const auto& stem = Space::stem;
    int size = conv_output_size(r, stem.kernel_size, stem.stride);
    keys_.push_back({"stem", r, r, 3, stem.width, 0, stem.kernel_size, stem.stride, false, std::string(to_string(stem.act))});
    keys_.push_back({"first_block", r, size, stem.width, Space::first_block.width, 0, Space::first_block.kernel_size,
                     1, false, std::string(to_string(Space::first_block.act))});
    const auto& head = Space::head;  // "hswish" (not to_string's h_swish): the key tables were written with
    keys_.push_back({"head", r, 0, 0, head.final_expand, 0, 0, 1, false,
                     head.act == activation::hswish ? "hswish" : std::string(to_string(head.act))});
    reachable_.insert(reachable_.end(), 3, true);
    int in_c = Space::first_block.width;
    for (const auto& u : Space::unit_table) {
      for (int first = 1; first >= 0; --first) {
        const int stride = first ? u.stride : 1;
        const int channels = first ? in_c : u.width;
        const int in_size = first ? size : conv_output_size(size, 3, u.stride);
        for (int k : u.kernels)
          for (int e : u.expands) {
            keys_.push_back({"mbconv", r, in_size, channels, u.width, e, k, stride, u.se, std::string(to_string(u.act))});
            reachable_.push_back(first || u.depths.max() >= 2);
          }
      }
      size = conv_output_size(size, 3, u.stride);
      in_c = u.width;
    }
    keys_[keys_.size() - per_resolution_ + 2].in_size = size;  // the head sees the last unit's output
    keys_[keys_.size() - per_resolution_ + 2].in_channels = in_c;
  }
}

template <class Space>
std::size_t layer_space<Space>::block(std::size_t ri, std::size_t unit, bool first, std::size_t ki,
                                      std::size_t ei) const {
  const auto& u = Space::unit_table[unit];
  const std::size_t position = first ? 0 : 1;
  return base(ri) + unit_offset_[unit] + (position * u.kernels.size + ki) * u.expands.size + ei;
}

template <class Space>
template <class F>
void layer_space<Space>::for_each_layer(const subnet_config<Space>& config, F&& f) const {
  const auto ri = static_cast<std::size_t>(Space::resolution_set.index_of(config.resolution));
  f(stem(ri));
  f(first_block(ri));
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    for (int i = 0; i < config.depth[u]; ++i) {
      const auto slot = static_cast<std::size_t>(info.first_slot + i);
      f(block(ri, u, i == 0, static_cast<std::size_t>(info.kernels.index_of(config.kernel[slot])),
              static_cast<std::size_t>(info.expands.index_of(config.expand[slot]))));
    }
  }
  f(head(ri));
}

namespace detail {
/// Every distinct layer's share of a profile_subnet field: each layer appears in a config
/// whose blocks all use one (kernel, expand) pair at full depth.
template <class Space, class Field>
layer_table<Space> profiled_table(Field field) {
  layer_table<Space> t;
  const std::size_t stem_layers = 1, first_block_layers = 2;  // first_conv; blocks.0 depth_conv + point_linear
  std::size_t most_kernels = 0, most_expands = 0;
  for (const auto& u : Space::unit_table) {
    most_kernels = std::max(most_kernels, u.kernels.size);
    most_expands = std::max(most_expands, u.expands.size);
  }
  for (int r : Space::resolution_set) {
    const auto ri = static_cast<std::size_t>(Space::resolution_set.index_of(r));
    for (std::size_t ki = 0; ki < most_kernels; ++ki)
      for (std::size_t ei = 0; ei < most_expands; ++ei) {
        auto c = subnet_config<Space>::max().with_resolution(r);
        bool used = false;
        for (const auto& u : Space::unit_table)
          for (int i = 0; i < u.depths.max(); ++i) {
            const auto slot = static_cast<std::size_t>(u.first_slot + i);
            if (ki < u.kernels.size && ei < u.expands.size) used = true;
            c.kernel[slot] = u.kernels[std::min(ki, u.kernels.size - 1)];
            c.expand[slot] = u.expands[std::min(ei, u.expands.size - 1)];
          }
        if (!used) continue;
        const auto p = profile_subnet(c);
        std::size_t l = 0;
        double stem = 0, first = 0, head = 0;
        for (; l < stem_layers; ++l) stem += double(field(p.layers[l]));
        for (; l < stem_layers + first_block_layers; ++l) first += double(field(p.layers[l]));
        std::size_t slot_layer = l;
        for (std::size_t u = 0; u < Space::unit_count; ++u) {
          const auto& info = Space::unit_table[u];
          const std::size_t per_block = 3 + (info.se ? 2 : 0);
          for (int i = 0; i < info.depths.max(); ++i) {
            double block = 0;
            for (std::size_t j = 0; j < per_block; ++j) block += double(field(p.layers[slot_layer + j]));
            slot_layer += per_block;
            if (ki < info.kernels.size && ei < info.expands.size && i < 2)
              t.values[t.layers.block(ri, u, i == 0, ki, ei)] = block;
          }
        }
        for (; slot_layer < p.layers.size(); ++slot_layer) head += double(field(p.layers[slot_layer]));
        t.values[t.layers.stem(ri)] = stem;
        t.values[t.layers.first_block(ri)] = first;
        t.values[t.layers.head(ri)] = head;
      }
  }
  return t;
}
}  // namespace detail

template <class Space>
layer_table<Space> macs_table() {
  return detail::profiled_table<Space>([](const layer_cost& l) { return l.macs; });
}

template <class Space>
layer_table<Space> params_table() {
  return detail::profiled_table<Space>([](const layer_cost& l) { return l.params; });
}

}  // namespace ofa::search
