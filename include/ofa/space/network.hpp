#pragma once
/// @file
/// network<...>: a whole Once-for-All space as one type. It composes the parts
/// of parts.hpp, checks that they fit together, and turns them into constant
/// tables (units, block slots, resolutions) plus the exact number of subnets.

#include <array>
#include <concepts>
#include <cstddef>
#include <string>
#include <type_traits>

#include "ofa/detail/uint128.hpp"
#include "ofa/space/choices.hpp"
#include "ofa/space/parts.hpp"

namespace ofa::space {

namespace detail {
template <class Units>
struct unit_table_impl {
  static constexpr std::array<unit_info, 0> table{};
};
template <class... U>
struct unit_table_impl<units<U...>> {
  static constexpr std::array<unit_info, sizeof...(U)> make() {
    std::array<unit_info, sizeof...(U)> table{U::info()...};
    int slot = 0;
    for (auto& u : table) {
      u.first_slot = slot;
      slot += u.depths.max();
    }
    return table;
  }
  static constexpr std::array<unit_info, sizeof...(U)> table = make();
};

/// (count, overflowed): the number of distinct architectures. Blocks cut by depth
/// carry no choice, so a unit contributes sum over d of (|kernels|·|expands|)^d.
template <std::size_t N>
constexpr std::pair<uint128, bool> count_architectures(const std::array<unit_info, N>& table) {
  constexpr uint128 max128 = ~uint128{0};
  uint128 total = 1;
  for (const auto& u : table) {
    const uint128 per_block = static_cast<uint128>(u.kernels.size * u.expands.size);
    uint128 per_unit = 0;
    for (int d : u.depths) {
      uint128 term = 1;
      for (int i = 0; i < d; ++i) {
        if (term > max128 / per_block) return {0, true};
        term *= per_block;
      }
      if (per_unit > max128 - term) return {0, true};
      per_unit += term;
    }
    const uint128 widths = static_cast<uint128>(u.widths.size);
    if (per_unit > max128 / widths) return {0, true};
    per_unit *= widths;
    if (total > max128 / per_unit) return {0, true};
    total *= per_unit;
  }
  return {total, false};
}

/// The stem's own choices: a deep stem's skip (run or not) and its two width indices.
constexpr uint128 stem_choices(const stem_info& stem) {
  if (!stem.deep()) return 1;
  return uint128{2} * static_cast<uint128>(stem.widths.size) * static_cast<uint128>(stem.mid_widths.size);
}

template <std::size_t N>
constexpr bool one_block_kind(const std::array<unit_info, N>& table) {
  for (const auto& u : table)
    if (u.kind != table[0].kind) return false;
  return true;
}

template <class R>
struct resolution_list_of {
  using type = resolutions<224>;
};
template <class R>
requires is_resolutions_v<R>
struct resolution_list_of<R> {
  using type = typename R::list;
};
}  // namespace detail

/** @brief A Once-for-All architecture space: resolutions, stem, first block, the elastic
 *  units, head and number of classes. MobileNets: stem, first_block, unit, head or conv_head;
 *  ResNets: deep_stem, no_first_block, bottleneck_unit, pool_head (see ofa::spaces::resnet50).
 *
 *  @code
 *  using my_space = ofa::space::network<
 *      ofa::space::resolution_range<24, 32, 4>,
 *      ofa::space::stem<16, 1, ofa::space::hswish>, ofa::space::first_block<16, ofa::space::relu>,
 *      ofa::space::units<ofa::space::unit<24, 2, ofa::space::relu, ofa::space::no_se, ofa::space::depth<1, 2>,
 *                                         ofa::space::expand<3, 6>, ofa::space::kernel<3, 5>>>,
 *      ofa::space::head<256, 512>, ofa::space::classes<10>>;
 *  @endcode
 */
template <class Resolutions, class Stem, class FirstBlock, class Units, class Head, class Classes,
          class BatchNorm = batch_norm<>>
struct network {
  static_assert(detail::is_resolutions_v<Resolutions>,
                "ofa::space::network: the 1st argument must be ofa::space::resolutions<...> or "
                "ofa::space::resolution_range<...>");
  static_assert(detail::is_stem_v<Stem>, "ofa::space::network: the 2nd argument must be ofa::space::stem<...>");
  static_assert(detail::is_first_block_v<FirstBlock>,
                "ofa::space::network: the 3rd argument must be ofa::space::first_block<...>");
  static_assert(detail::is_units_v<Units>, "ofa::space::network: the 4th argument must be ofa::space::units<...>");
  static_assert(detail::is_head_v<Head>,
                "ofa::space::network: the 5th argument must be ofa::space::head<...> or "
                "ofa::space::conv_head<...>");
  static_assert(detail::is_classes_v<Classes>, "ofa::space::network: the 6th argument must be ofa::space::classes<N>");
  static_assert(detail::is_batch_norm_v<BatchNorm>,
                "ofa::space::network: the 7th argument (optional) must be ofa::space::batch_norm<std::ratio<...>>");

  using resolution_list = typename detail::resolution_list_of<Resolutions>::type;

  /** @brief The units, each with its widths, stride and choices, and its first block slot. */
  static constexpr auto unit_table = detail::unit_table_impl<Units>::table;
  static constexpr std::size_t unit_count = unit_table.size();
  static_assert(unit_count > 0, "ofa::space::network: a space needs at least one unit");

  /** @brief Block slots: sum over units of their largest depth. A subnet_config holds one
   *  kernel size and one expand ratio per slot, also for slots its depth cuts. */
  static constexpr int block_slots = [] {
    int slots = 0;
    for (const auto& u : unit_table) slots += u.depths.max();
    return slots;
  }();

  static constexpr stem_info stem = Stem::info();
  static constexpr first_block_info first_block = FirstBlock::info();
  static constexpr head_info head = Head::info();
  static constexpr int class_count = Classes::value;
  static constexpr double bn_eps = BatchNorm::eps;
  static constexpr double bn_momentum = BatchNorm::momentum;
  static constexpr basic_choice_set<64> resolution_set = resolution_list::set();

  static_assert(detail::one_block_kind(unit_table),
                "ofa::space::network: every unit must have the same block kind (all ofa::space::unit or all "
                "ofa::space::bottleneck_unit)");
  /** @brief The units' block kind. */
  static constexpr block_kind blocks = unit_table[0].kind;

  static constexpr auto architecture_count_checked = detail::count_architectures(unit_table);
  static_assert(!architecture_count_checked.second, "ofa::space::network: the space has more than 2^128 architectures");
  /** @brief Distinct architectures (depth, kernel, expand, widths, a deep stem's choices), resolution
   *  not counted. */
  static constexpr uint128 architecture_count = architecture_count_checked.first * detail::stem_choices(stem);
  /** @brief Distinct subnets: architectures times input resolutions. */
  static constexpr uint128 subnet_count = architecture_count * resolution_list::size;

  /** @brief A text that identifies the space's structure; stored in checkpoints so that
   *  weights are never loaded into a different space. */
  static std::string signature() {
    // Built with += only: GCC 12 warns (-Wrestrict, PR 105329) on the "literal" + std::string
    // chains in every user translation unit that includes this header.
    std::string s = "ofa-space/1";
    auto add = [&s](const auto&... parts) { (s.append(parts), ...); };
    auto list = [&s](const auto& set) {
      bool first = true;
      for (int v : set) {
        if (!first) s += '.';
        s += std::to_string(v);
        first = false;
      }
    };
    add(";r=");
    list(resolution_set);
    // The parts MobileNets had before ResNets came write what they wrote then, so that their
    // checkpoints still load; the newer parts add their own fields.
    if (stem.deep()) {
      add(";deep_stem=", std::to_string(stem.stride), ",", to_string(stem.act), ",w");
      list(stem.widths);
      add(",m");
      list(stem.mid_widths);
      add(",pool", std::to_string(stem.pool_window), "/", std::to_string(stem.pool_stride));
    } else {
      add(";stem=", std::to_string(stem.width), ",", std::to_string(stem.stride), ",", std::to_string(stem.kernel_size),
          ",", to_string(stem.act));
    }
    if (first_block.present()) add(";first=", std::to_string(first_block.width), ",", to_string(first_block.act));
    for (const auto& u : unit_table) {
      if (u.bottleneck()) {
        add(";bottleneck=", std::to_string(u.stride), ",", to_string(u.act), ",w");
        list(u.widths);
        add(",d");
        list(u.depths);
        add(",e%");
        list(u.expands);
        continue;
      }
      add(";unit=", std::to_string(u.width), ",", std::to_string(u.stride), ",", to_string(u.act), ",",
          u.se ? "se" : "no_se", ",d");
      list(u.depths);
      add(",e");
      list(u.expands);
      add(",k");
      list(u.kernels);
    }
    add(";head=", std::to_string(head.final_expand), ",", std::to_string(head.feature_mix));
    if (head.act != activation::hswish && head.has_final_expand())
      add(",", to_string(head.act));  // h-swish: the signature before heads had one
    add(";classes=", std::to_string(class_count));
    if (bn_eps != 1e-5 || bn_momentum != 0.1)  // the defaults: the signature before spaces chose them
      add(";bn=", std::to_string(bn_eps), ",", std::to_string(bn_momentum));
    return s;
  }
};

/** @brief What every space type provides; satisfied by ofa::space::network<...> and by
 *  any type derived from one.
 *
 *  @code
 *  template <ofa::space::space_type S> void f() { for (auto& u : S::unit_table) ...; }
 *  @endcode
 */
template <class S>
concept space_type = requires {
  { S::unit_count } -> std::convertible_to<std::size_t>;
  { S::block_slots } -> std::convertible_to<int>;
  { S::class_count } -> std::convertible_to<int>;
  S::unit_table;
  S::resolution_set;
  S::stem;
  S::first_block;
  S::head;
  { S::signature() } -> std::convertible_to<std::string>;
};

}  // namespace ofa::space
