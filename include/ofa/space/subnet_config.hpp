#pragma once
/// @file
/// subnet_config<Space>: one point of a space, chosen at run time: the active
/// depth of every unit, the kernel size and expand ratio of every block slot,
/// the input resolution, and where the space has them (ResNets) the width of
/// every unit and the deep stem's widths and skip. validate() checks it against the compile-time
/// choices and says exactly which field is wrong.

#include <array>
#include <string>

#include "ofa/errors.hpp"
#include "ofa/space/network.hpp"

namespace ofa {

/** @brief A subnet of `Space`. Plain data: build it, then call validate().
 *
 *  Slots are numbered unit by unit: unit u owns slots [unit_table[u].first_slot,
 *  first_slot + its max depth). A unit with depth d runs the first d of its slots; the
 *  values stored in cut slots are kept (the reference's arch dicts keep them too) but
 *  do not change the network.
 */
template <class Space>
struct subnet_config {
  static_assert(space::space_type<Space>,
                "ofa::subnet_config: the argument must be a space, e.g. ofa::spaces::mobilenet_v3");
  using space_type = Space;
  static constexpr std::size_t unit_count = Space::unit_count;
  static constexpr std::size_t slot_count = static_cast<std::size_t>(Space::block_slots);

  std::array<int, unit_count> depth{};   ///< active blocks per unit ("d")
  std::array<int, slot_count> kernel{};  ///< depthwise kernel size per block slot ("ks"); 3 in bottlenecks
  std::array<int, slot_count> expand{};  ///< expand ratio per block slot ("e"); percent in bottlenecks
  int resolution = 0;                    ///< input side in pixels ("r")
  /// Per unit, the index of its width multiplier ("w"); 0 where the unit has one width (MBConv).
  std::array<int, unit_count> width{};
  /// A deep stem's width indices: its middle width, then its output width (the reference's w[0], w[1]).
  std::array<int, 2> stem_width{};
  /// A deep stem runs without its residual middle convolution (the reference's d[0] below its maximum).
  bool stem_skip = false;

  /** @brief The largest subnet: every choice at its maximum, largest resolution. */
  static subnet_config max() {
    return uniform([](const space::choice_set& c) { return c.max(); }, true);
  }
  /** @brief The smallest subnet: every choice at its minimum, smallest resolution. */
  static subnet_config min() {
    return uniform([](const space::choice_set& c) { return c.min(); }, false);
  }

  /** @brief The same architecture at another input resolution (validate() checks it). */
  subnet_config with_resolution(int side) const {
    subnet_config c = *this;
    c.resolution = side;
    return c;
  }

  /** @brief Throws ofa::config_error naming the first field outside the space. */
  void validate() const;

  /** @brief The slot of block `index_in_unit` of unit `u`: the unit's slots are consecutive. */
  static std::size_t slot(std::size_t u, int index_in_unit) noexcept {
    return static_cast<std::size_t>(Space::unit_table[u].first_slot + index_in_unit);
  }

  /** @brief True when slot `slot` of unit `u` runs (its index within the unit < depth[u]). */
  bool slot_active(std::size_t u, int index_in_unit) const noexcept { return index_in_unit < depth[u]; }

  /** @brief The same subnet with cut slots set to their unit's smallest choices, so that
   *  equal networks compare equal. */
  subnet_config canonical() const;

  friend bool operator==(const subnet_config&, const subnet_config&) = default;

 private:
  template <class Pick>
  static subnet_config uniform(Pick pick, bool largest) {
    subnet_config c;
    // Width multipliers are ascending: the first index is the narrowest, the last the widest.
    auto width_index = [largest](const space::choice_set& widths) { return largest ? int(widths.size) - 1 : 0; };
    for (std::size_t u = 0; u < unit_count; ++u) {
      const auto& info = Space::unit_table[u];
      c.depth[u] = pick(info.depths);
      c.width[u] = width_index(info.widths);
      for (int i = 0; i < info.depths.max(); ++i) {
        c.kernel[slot(u, i)] = pick(info.kernels);
        c.expand[slot(u, i)] = pick(info.expands);
      }
    }
    if constexpr (Space::stem.deep()) {
      c.stem_width = {width_index(Space::stem.mid_widths), width_index(Space::stem.widths)};
      c.stem_skip = !largest;
    }
    c.resolution = largest ? Space::resolution_set.max() : Space::resolution_set.min();
    return c;
  }
};

// ---------------------------------------------------------------------------
// implementation

template <class Space>
void subnet_config<Space>::validate() const {
  auto fail = [](const std::string& field, int value, const std::string& what, const std::string& allowed) {
    throw config_error("ofa::subnet_config: " + field + " = " + std::to_string(value) + " is not " + what +
                       " (allowed: " + allowed + "); pick one of the allowed values");
  };
  for (std::size_t u = 0; u < unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    if (!info.depths.contains(depth[u]))
      fail("d[" + std::to_string(u) + "]", depth[u], "an allowed depth of unit " + std::to_string(u),
           info.depths.to_string());
    if (width[u] < 0 || width[u] >= int(info.widths.size))
      fail("w[" + std::to_string(u) + "]", width[u], "a width multiplier index of unit " + std::to_string(u),
           "0 to " + std::to_string(info.widths.size - 1));
    for (int i = 0; i < info.depths.max(); ++i) {
      const auto s = slot(u, i);
      if (!info.kernels.contains(kernel[s]))
        fail("ks[" + std::to_string(s) + "]", kernel[s], "an allowed kernel size of unit " + std::to_string(u),
             info.kernels.to_string());
      if (!info.expands.contains(expand[s]))
        fail("e[" + std::to_string(s) + "]", expand[s], "an allowed expand ratio of unit " + std::to_string(u),
             info.expands.to_string());
    }
  }
  const auto& stem = Space::stem;
  const int mid_choices = stem.deep() ? int(stem.mid_widths.size) : 1, out_choices = int(stem.widths.size);
  if (stem_width[0] < 0 || stem_width[0] >= mid_choices)
    fail("stem w[0]", stem_width[0], "a middle width index of the stem", "0 to " + std::to_string(mid_choices - 1));
  if (stem_width[1] < 0 || stem_width[1] >= out_choices)
    fail("stem w[1]", stem_width[1], "a width index of the stem", "0 to " + std::to_string(out_choices - 1));
  if (stem_skip && !stem.deep())
    throw config_error(
        "ofa::subnet_config: stem_skip is set but this space's stem has no skippable layer (only a "
        "deep stem has one); leave it false");
  if (!Space::resolution_set.contains(resolution))
    fail("r", resolution, "an allowed resolution", Space::resolution_set.to_string());
}

template <class Space>
subnet_config<Space> subnet_config<Space>::canonical() const {
  subnet_config c = *this;
  for (std::size_t u = 0; u < unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    for (int i = depth[u]; i < info.depths.max(); ++i) {
      c.kernel[slot(u, i)] = info.kernels.min();
      c.expand[slot(u, i)] = info.expands.min();
    }
  }
  return c;
}

}  // namespace ofa
