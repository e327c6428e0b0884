#pragma once
/// @file
/// subnet_config<Space>: one point of a space, chosen at run time: the active
/// depth of every unit, the kernel size and expand ratio of every block slot,
/// and the input resolution. validate() checks it against the compile-time
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
  std::array<int, slot_count> kernel{};  ///< depthwise kernel size per block slot ("ks")
  std::array<int, slot_count> expand{};  ///< expand ratio per block slot ("e")
  int resolution = 0;                    ///< input side in pixels ("r")

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
  static subnet_config uniform(Pick pick, bool largest_resolution) {
    subnet_config c;
    for (std::size_t u = 0; u < unit_count; ++u) {
      const auto& info = Space::unit_table[u];
      c.depth[u] = pick(info.depths);
      for (int i = 0; i < info.depths.max(); ++i) {
        c.kernel[slot(u, i)] = pick(info.kernels);
        c.expand[slot(u, i)] = pick(info.expands);
      }
    }
    c.resolution = largest_resolution ? Space::resolution_set.max() : Space::resolution_set.min();
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
