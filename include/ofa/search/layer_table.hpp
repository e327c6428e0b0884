#pragma once
/// @file
/// The distinct layers of a space, and a cost that adds up over them.
///
/// A block's shape depends only on its unit, on whether it is the unit's first
/// block (the first one strides and changes the width), on its kernel size and
/// expand ratio, on its width and (a unit's first) the width it receives, and on
/// the input resolution: the kernel size never changes a "same"-padded output's
/// size, and every unit ends at its own width whatever came before. So a space has few distinct layers (the CIFAR
/// space: 279 over its three resolutions) although it has ~10^19 subnets, and any cost that is a sum over layers (MACs,
/// parameters, measured latency) is a table of that size plus a lookup per block: what the search needs to check
/// constraints on millions of candidates.

#include <algorithm>  // find_if
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/random.hpp"
#include "ofa/space/profile.hpp"
#include "ofa/space/sampling.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa::search {

/** @brief What a distinct layer is, in the reference latency table's terms. */
struct layer_key {
  std::string op;      ///< "stem", "deep_stem", "first_block", "mbconv", "bottleneck", "head"
  int resolution = 0;  ///< the network's input side
  int in_size = 0;     ///< this layer's input side
  int in_channels = 0, out_channels = 0;
  int expand = 0, kernel = 0, stride = 1;  ///< blocks only (0 elsewhere); a bottleneck's expand is percent
  bool se = false;
  std::string act;
  int mid_channels = 0;  ///< a deep stem's middle width
  bool skip = false;     ///< a deep stem without its middle layer

  /** @brief "mbconv-16x16x24-40-e4-k5-s2-se-relu@32": unique within a space. */
  std::string to_string() const;
};

/** @brief Which choices a distinct layer stands for: its resolution and part, and for a block its
 *  unit, position, kernel and expand indices and (ResNets) input and output width indices; for a
 *  deep stem its skip and widths, for a pooling head the width it reads. */
struct layer_choice {
  enum class part { stem, first_block, head, block };
  std::size_t resolution_index = 0;
  part what = part::stem;
  std::size_t unit = 0;
  bool first = false;  ///< the unit's first block (it strides and changes the width)
  std::size_t kernel_index = 0, expand_index = 0;
  int in_width = 0, width = 0;  ///< width multiplier indices: the block's input and output; a stem's or head's width
  int mid_width = 0;            ///< a deep stem's middle width index
  bool skip = false;            ///< a deep stem without its middle layer
};

/** @brief Numbers every distinct layer of `Space`, and names the layers a subnet runs. */
template <class Space>
class layer_space {
 public:
  layer_space();

  /** @brief Distinct layers, all resolutions together. */
  std::size_t size() const noexcept { return keys_.size(); }
  const layer_key& key(std::size_t layer) const { return keys_.at(layer); }
  const layer_choice& choice(std::size_t layer) const { return choices_.at(layer); }
  /** @brief False for a slot no subnet has (a later block of a unit whose depth is at most 1). */
  bool reachable(std::size_t layer) const { return reachable_.at(layer); }

  /** @brief The stem; a deep stem's skip and width indices pick one of its variants. */
  std::size_t stem(std::size_t resolution_index, bool skip = false, int mid_width = 0, int width = 0) const {
    return layer_of_slot_[base(resolution_index) +
                          (static_cast<std::size_t>(skip) * stem_mid_widths_ + std::size_t(mid_width)) * stem_widths_ +
                          std::size_t(width)];
  }
  /** @brief The fixed first block (spaces that have one). */
  std::size_t first_block(std::size_t resolution_index) const {
    return layer_of_slot_[base(resolution_index) + stem_count_];
  }
  /** @brief The head; a pooling head reading the last unit at width index `width`. */
  std::size_t head(std::size_t resolution_index, int width = 0) const {
    return layer_of_slot_[base(resolution_index) + stem_count_ + first_count_ + std::size_t(width)];
  }
  /** @brief Block `position` (0: the unit's first, else any later one) of unit `unit`, from input width
   *  index `in_width` (a unit's first block only) to width index `width`. */
  std::size_t block(std::size_t resolution_index, std::size_t unit, bool first, std::size_t kernel_index,
                    std::size_t expand_index, int in_width = 0, int width = 0) const;

  /** @brief Calls `f(layer)` for every layer `config` runs, in forward order: the stem, the
   *  first block, each active block, the head (so for a static_net's stages one by one). */
  template <class F>
  void for_each_layer(const subnet_config<Space>& config, F&& f) const;

  /** @brief The layer of slot `slot` (visit_distinct_layers' order: every combination of choices). */
  std::size_t layer_of_slot(std::size_t slot) const { return layer_of_slot_.at(slot); }

  /** @brief A random subnet (from `engine`) that runs `layer` (which must be reachable). */
  subnet_config<Space> config_with(std::size_t layer, rng& engine) const;

  /** @brief How many width indices a unit's first block may receive: the previous unit's widths,
   *  the deep stem's, or 1. */
  static std::size_t input_widths(std::size_t unit) {
    if (unit > 0) return Space::unit_table[unit - 1].widths.size;
    return Space::first_block.present() ? 1 : Space::stem.widths.size;
  }

 private:
  std::size_t base(std::size_t resolution_index) const { return resolution_index * per_resolution_; }

  // Slots number every combination of choices; layers are the distinct ones among them: two width
  // indices may round to one width (ResNets' 0.65 and 0.8 of 32 are both 24), and then are one layer.
  std::vector<std::size_t> layer_of_slot_;
  std::vector<layer_key> keys_;  // by layer
  std::vector<layer_choice> choices_;
  std::vector<bool> reachable_;
  std::vector<std::size_t> unit_offset_;  // within one resolution, of unit u's [first][in][w][k][e] entries
  std::size_t per_resolution_ = 0, stem_count_ = 1, first_count_ = 0, head_count_ = 1;
  std::size_t stem_mid_widths_ = 1, stem_widths_ = 1;
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
  if (op == "mbconv" || op == "bottleneck")
    s += "-e" + std::to_string(expand) + "-k" + std::to_string(kernel) + "-s" + std::to_string(stride) +
         (se ? "-se" : "");
  if (op == "deep_stem") s += "-m" + std::to_string(mid_channels) + (skip ? "-skip" : "");
  return s + "-" + act + "@" + std::to_string(resolution);
}

namespace detail {
/// Visits every distinct layer of `Space` at resolution `r`, in layer_space's order: v(stem_plan,
/// choice) for each stem variant, v(block_plan, choice, true) for the first block, v(head_plan, choice)
/// for each head variant, then for every unit its first block at each (input width, width, kernel,
/// expand) and a later block at each (width, kernel, expand): v(block_plan, choice, reachable).
template <class Space, class Visitor>
void visit_distinct_layers(std::size_t ri, Visitor&& v) {
  const int r = Space::resolution_set[ri];
  const auto plan = plan_network(subnet_config<Space>::max(), r);
  const auto& stem = Space::stem;
  layer_choice c;
  c.resolution_index = ri;
  c.what = layer_choice::part::stem;
  for (int skip = 0; skip < (stem.deep() ? 2 : 1); ++skip)
    for (int mid = 0; mid < (stem.deep() ? int(stem.mid_widths.size) : 1); ++mid)
      for (int w = 0; w < int(stem.widths.size); ++w) {
        auto s = plan.stem;
        s.skip = skip == 1;
        s.width = stem.widths[std::size_t(w)];
        if (stem.deep()) s.mid_width = stem.mid_widths[std::size_t(mid)];
        c.skip = s.skip, c.mid_width = mid, c.width = w;
        v(s, c);
      }
  const auto fresh = [ri](layer_choice::part what, std::size_t unit = 0) {
    layer_choice fresh_choice;
    fresh_choice.resolution_index = ri;
    fresh_choice.what = what;
    fresh_choice.unit = unit;
    return fresh_choice;
  };
  c = fresh(layer_choice::part::first_block);
  std::size_t next = 0;  // plan.blocks' index of the first unit's first block
  if (Space::first_block.present()) {
    v(plan.blocks[0], c, true);
    next = 1;
  }
  c = fresh(layer_choice::part::head);
  const auto& last = Space::unit_table[Space::unit_count - 1];
  for (int w = 0; w < (Space::head.has_final_expand() ? 1 : int(last.widths.size)); ++w) {
    auto h = plan.head;
    if (!Space::head.has_final_expand()) h.in_channels = last.widths[std::size_t(w)];
    c.width = w;
    v(h, c);
  }
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    const auto& first = plan.blocks[next + subnet_config<Space>::slot(u, 0)];
    c = fresh(layer_choice::part::block, u);
    for (int position = 0; position < 2; ++position) {
      const std::size_t inputs = position == 0 ? layer_space<Space>::input_widths(u) : 1;
      for (std::size_t in = 0; in < inputs; ++in)
        for (int w = 0; w < int(info.widths.size); ++w) {
          int in_channels = info.widths[std::size_t(w)];  // a later block's input: its own width
          if (position == 0)
            in_channels = u > 0                          ? Space::unit_table[u - 1].widths[in]
                          : Space::first_block.present() ? Space::first_block.width
                                                         : Space::stem.widths[in];
          const int in_size = position == 0 ? first.in_size : first.out_size;
          for (std::size_t k = 0; k < info.kernels.size; ++k)
            for (std::size_t e = 0; e < info.expands.size; ++e) {
              c.first = position == 0, c.kernel_index = k, c.expand_index = e;
              c.in_width = position == 0 ? int(in) : w, c.width = w;
              v(plan_unit_block<Space>(u, position, in_channels, in_size, info.kernels[k], info.expands[e], w), c,
                position == 0 || info.depths.max() >= 2);
            }
        }
    }
  }
}
}  // namespace detail

template <class Space>
layer_space<Space>::layer_space() {
  const auto& stem = Space::stem;
  if (stem.deep()) {
    stem_mid_widths_ = stem.mid_widths.size;
    stem_widths_ = stem.widths.size;
    stem_count_ = 2 * stem_mid_widths_ * stem_widths_;
  }
  first_count_ = Space::first_block.present() ? 1 : 0;
  head_count_ = Space::head.has_final_expand() ? 1 : Space::unit_table[Space::unit_count - 1].widths.size;
  per_resolution_ = stem_count_ + first_count_ + head_count_;
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    unit_offset_.push_back(per_resolution_);
    per_resolution_ += (input_widths(u) + 1) * info.widths.size * info.kernels.size * info.expands.size;
  }
  std::unordered_map<std::string, std::size_t> by_key;
  for (std::size_t ri = 0; ri < Space::resolution_set.size; ++ri) {
    struct visitor {
      layer_space& space;
      int r;
      std::unordered_map<std::string, std::size_t>& by_key;
      void add(layer_key key, const layer_choice& c, bool reachable) {
        const auto [it, fresh] = by_key.emplace(key.to_string(), space.keys_.size());
        space.layer_of_slot_.push_back(it->second);
        if (!fresh) {
          space.reachable_[it->second] = space.reachable_[it->second] || reachable;
          return;
        }
        space.keys_.push_back(std::move(key));
        space.choices_.push_back(c);
        space.reachable_.push_back(reachable);
      }
      void operator()(const stem_plan& s, const layer_choice& c) {
        layer_key k{s.deep ? "deep_stem" : "stem", r, r, 3, s.width, 0, s.kernel, s.stride, false,
                    std::string(to_string(s.act))};
        if (s.deep) k.mid_channels = s.mid_width, k.skip = s.skip;
        add(std::move(k), c, true);
      }
      void operator()(const head_plan& h, const layer_choice& c) {  // "hswish" (not to_string's h_swish): the key
                                                                    // tables were written with it
        add({"head", r, h.in_size, h.in_channels, h.final_expand, 0, 0, 1, false,
             h.act == activation::hswish ? "hswish" : std::string(to_string(h.act))},
            c, true);
      }
      void operator()(const block_plan& b, const layer_choice& c, bool reachable) {
        if (b.unit < 0)
          add({"first_block", r, b.in_size, b.in_channels, b.out_channels, 0, b.kernel, 1, false,
               std::string(to_string(b.act))},
              c, reachable);
        else
          add({std::string(to_string(b.kind)), r, b.in_size, b.in_channels, b.out_channels, b.expand, b.kernel,
               b.stride, b.has_se(), std::string(to_string(b.act))},
              c, reachable);
      }
    };
    detail::visit_distinct_layers<Space>(ri, visitor{*this, Space::resolution_set[ri], by_key});
  }
}

template <class Space>
std::size_t layer_space<Space>::block(std::size_t ri, std::size_t unit, bool first, std::size_t ki, std::size_t ei,
                                      int in_width, int width) const {
  const auto& u = Space::unit_table[unit];
  const std::size_t per_width = u.kernels.size * u.expands.size;
  // The first block's entries: [in][w][k][e]; the later block's after them: [w][k][e].
  const std::size_t row = first ? std::size_t(in_width) * u.widths.size + std::size_t(width)
                                : input_widths(unit) * u.widths.size + std::size_t(width);
  return layer_of_slot_[base(ri) + unit_offset_[unit] + row * per_width + ki * u.expands.size + ei];
}

template <class Space>
template <class F>
void layer_space<Space>::for_each_layer(const subnet_config<Space>& config, F&& f) const {
  const auto ri = static_cast<std::size_t>(Space::resolution_set.index_of(config.resolution));
  f(stem(ri, config.stem_skip, config.stem_width[0], config.stem_width[1]));
  if (first_count_ > 0) f(first_block(ri));
  int in_width = Space::first_block.present() ? 0 : config.stem_width[1];
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    const int width = config.width[u];
    for (int i = 0; i < config.depth[u]; ++i) {
      const auto slot = subnet_config<Space>::slot(u, i);
      f(block(ri, u, i == 0, static_cast<std::size_t>(info.kernels.index_of(config.kernel[slot])),
              static_cast<std::size_t>(info.expands.index_of(config.expand[slot])), in_width, width));
    }
    in_width = width;
  }
  f(head(ri, Space::head.has_final_expand() ? 0 : config.width[Space::unit_count - 1]));
}

template <class Space>
subnet_config<Space> layer_space<Space>::config_with(std::size_t layer, rng& engine) const {
  const auto& c = choice(layer);
  auto config = sample_config<Space>(engine);
  config.resolution = Space::resolution_set[c.resolution_index];
  switch (c.what) {
    case layer_choice::part::stem:
      config.stem_skip = c.skip;
      config.stem_width = {c.mid_width, c.width};
      break;
    case layer_choice::part::first_block:
      break;
    case layer_choice::part::head:
      config.width[Space::unit_count - 1] = c.width;
      break;
    case layer_choice::part::block: {
      const auto& info = Space::unit_table[c.unit];
      const int position = c.first ? 0 : 1;
      if (config.depth[c.unit] <= position)
        config.depth[c.unit] =
            *std::find_if(info.depths.begin(), info.depths.end(), [&](int d) { return d > position; });
      const auto slot = subnet_config<Space>::slot(c.unit, position);
      config.kernel[slot] = info.kernels[c.kernel_index];
      config.expand[slot] = info.expands[c.expand_index];
      config.width[c.unit] = c.width;
      if (c.first && input_widths(c.unit) > 1) {
        if (c.unit > 0)
          config.width[c.unit - 1] = c.in_width;
        else
          config.stem_width[1] = c.in_width;
      }
      break;
    }
  }
  return config;
}

namespace detail {
/// Every distinct layer's share of a profile field, profiled from its plan as profile_subnet profiles it.
template <class Space, class Field>
layer_table<Space> profiled_table(Field field) {
  layer_table<Space> t;
  std::size_t layer = 0;
  for (std::size_t ri = 0; ri < Space::resolution_set.size; ++ri) {
    struct visitor {
      layer_table<Space>& table;
      std::size_t& layer;
      Field& field;
      void record(const ofa::detail::profiler& p) {
        double sum = 0;
        for (const auto& l : p.result.layers) sum += double(field(l));
        table.values[table.layers.layer_of_slot(layer++)] = sum;  // identical slots: one layer, one value
      }
      void operator()(const stem_plan& s, const layer_choice&) {
        ofa::detail::profiler p;
        ofa::detail::profile_stem(p, s);
        record(p);
      }
      void operator()(const head_plan& h, const layer_choice&) {
        ofa::detail::profiler p;
        ofa::detail::profile_head(p, h);
        record(p);
      }
      void operator()(const block_plan& b, const layer_choice&, bool) {
        ofa::detail::profiler p;
        ofa::detail::profile_block(p, b, 0);
        record(p);
      }
    };
    visit_distinct_layers<Space>(ri, visitor{t, layer, field});
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
