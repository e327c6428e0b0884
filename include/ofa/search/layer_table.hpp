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

namespace detail {
/// Visits every distinct layer of `Space` at resolution `r`, in layer_space's order: v(stem_plan),
/// v(block_plan, true) for the first block, v(head_plan), then for every unit its first block and
/// a later block at each (kernel, expand): v(block_plan, reachable).
template <class Space, class Visitor>
void visit_distinct_layers(int r, Visitor&& v) {
  const auto plan = plan_network(subnet_config<Space>::max(), r);
  v(plan.stem);
  v(plan.blocks[0], true);
  v(plan.head);
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    const auto& first = plan.blocks[1 + subnet_config<Space>::slot(u, 0)];
    for (int position = 0; position < 2; ++position) {
      const int in_channels = position == 0 ? first.in_channels : first.out_channels;
      const int in_size = position == 0 ? first.in_size : first.out_size;
      for (int k : info.kernels)
        for (int e : info.expands)
          v(plan_unit_block<Space>(u, position, in_channels, in_size, k, e), position == 0 || info.depths.max() >= 2);
    }
  }
}
}  // namespace detail

template <class Space>
layer_space<Space>::layer_space() {
  per_resolution_ = 3;
  for (const auto& u : Space::unit_table) {
    unit_offset_.push_back(per_resolution_);
    per_resolution_ += 2 * u.kernels.size * u.expands.size;
  }
  for (int r : Space::resolution_set) {
    struct visitor {
      layer_space& space;
      int r;
      void operator()(const stem_plan& s) {
        space.keys_.push_back({"stem", r, r, 3, s.width, 0, s.kernel, s.stride, false, std::string(to_string(s.act))});
        space.reachable_.push_back(true);
      }
      void operator()(const head_plan& h) {  // "hswish" (not to_string's h_swish): the key tables were written with
        space.keys_.push_back({"head", r, h.in_size, h.in_channels, h.final_expand, 0, 0, 1, false,
                               h.act == activation::hswish ? "hswish" : std::string(to_string(h.act))});
        space.reachable_.push_back(true);
      }
      void operator()(const block_plan& b, bool reachable) {
        if (b.unit < 0)
          space.keys_.push_back({"first_block", r, b.in_size, b.in_channels, b.out_channels, 0, b.kernel, 1, false,
                                 std::string(to_string(b.act))});
        else
          space.keys_.push_back({"mbconv", r, b.in_size, b.in_channels, b.out_channels, b.expand, b.kernel, b.stride,
                                 b.has_se(), std::string(to_string(b.act))});
        space.reachable_.push_back(reachable);
      }
    };
    detail::visit_distinct_layers<Space>(r, visitor{*this, r});
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
      const auto slot = subnet_config<Space>::slot(u, i);
      f(block(ri, u, i == 0, static_cast<std::size_t>(info.kernels.index_of(config.kernel[slot])),
              static_cast<std::size_t>(info.expands.index_of(config.expand[slot]))));
    }
  }
  f(head(ri));
}

namespace detail {
/// Every distinct layer's share of a profile field, profiled from its plan as profile_subnet profiles it.
template <class Space, class Field>
layer_table<Space> profiled_table(Field field) {
  layer_table<Space> t;
  std::size_t layer = 0;
  for (int r : Space::resolution_set) {
    struct visitor {
      layer_table<Space>& table;
      std::size_t& layer;
      Field& field;
      void record(const ofa::detail::profiler& p) {
        double sum = 0;
        for (const auto& l : p.result.layers) sum += double(field(l));
        table.values[layer++] = sum;
      }
      void operator()(const stem_plan& s) {
        ofa::detail::profiler p;
        ofa::detail::profile_stem(p, s);
        record(p);
      }
      void operator()(const head_plan& h) {
        ofa::detail::profiler p;
        ofa::detail::profile_head(p, h);
        record(p);
      }
      void operator()(const block_plan& b, bool) {
        ofa::detail::profiler p;
        ofa::detail::profile_block(p, b, 0);
        record(p);
      }
    };
    visit_distinct_layers<Space>(r, visitor{t, layer, field});
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
