#pragma once
/// @file
/// The elastic dimensions as compile-time value lists: depth<2,3,4>,
/// expand<3,4,6>, kernel<3,5,7>, resolutions<...> and resolution_range<lo,hi,step>;
/// for ResNet bottlenecks bottleneck_expand<20,25,35> and width_multipliers<65,80,100>.
/// Which value is active is chosen at run time (subnet_config); what may be
/// chosen is fixed here, and a list that breaks a rule does not compile.

#include <array>
#include <cstddef>
#include <utility>  // integer_sequence

#include "ofa/space/choice_set.hpp"
#include "ofa/space/make_divisible.hpp"

namespace ofa::space {

namespace detail {
template <int... V>
constexpr bool strictly_ascending() {
  constexpr std::array<int, sizeof...(V)> v{V...};
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i - 1] >= v[i]) return false;
  return true;
}

template <std::size_t N, int... V>
constexpr basic_choice_set<N> make_choice_set() {
  basic_choice_set<N> set{};
  std::size_t i = 0;
  ((set.values[i++] = V), ...);
  set.size = sizeof...(V);
  return set;
}

/// Shared by every list: its values as a constant table.
template <int... V>
struct value_list {
  static constexpr std::size_t size = sizeof...(V);
  static constexpr std::array<int, size> values{V...};
  static constexpr int min = values[0];
  static constexpr int max = values[size - 1];
  static constexpr choice_set set() { return make_choice_set<max_choices, V...>(); }
};

template <class T>
inline constexpr bool is_depth_v = false;
template <class T>
inline constexpr bool is_expand_v = false;
template <class T>
inline constexpr bool is_kernel_v = false;
template <class T>
inline constexpr bool is_resolutions_v = false;
}  // namespace detail

/** @brief Elastic depth: how many of a unit's blocks may run, e.g. depth<2,3,4>. */
template <int... V>
struct depth : detail::value_list<V...> {
  static_assert(sizeof...(V) > 0, "ofa::space::depth: the list of depths must not be empty");
  static_assert(sizeof...(V) <= max_choices, "ofa::space::depth: at most 8 choices");
  static_assert(((V > 0) && ...), "ofa::space::depth: every depth must be at least 1");
  static_assert(detail::strictly_ascending<V...>(), "ofa::space::depth: depths must be unique and sorted ascending");
};

/** @brief Elastic width: the expand ratios of a block's middle layer, e.g. expand<3,4,6>. */
template <int... V>
struct expand : detail::value_list<V...> {
  static_assert(sizeof...(V) > 0, "ofa::space::expand: the list of expand ratios must not be empty");
  static_assert(sizeof...(V) <= max_choices, "ofa::space::expand: at most 8 choices");
  static_assert(((V > 0) && ...), "ofa::space::expand: expand ratios must be positive");
  static_assert(detail::strictly_ascending<V...>(),
                "ofa::space::expand: expand ratios must be unique and sorted ascending");
};

/** @brief Elastic kernel size of the depthwise convolution, e.g. kernel<3,5,7>. */
template <int... V>
struct kernel : detail::value_list<V...> {
  static_assert(sizeof...(V) > 0, "ofa::space::kernel: the list of kernel sizes must not be empty");
  static_assert(((V % 2 == 1) && ...), "ofa::space::kernel: kernel sizes must be odd");
  static_assert(((V >= 3 && V <= 7) && ...),
                "ofa::space::kernel: kernel sizes must be 3, 5 or 7 (the depthwise kernels ofa ships)");
  static_assert(detail::strictly_ascending<V...>(),
                "ofa::space::kernel: kernel sizes must be unique and sorted ascending");
};

/** @brief Expand ratios of a ResNet bottleneck, in percent of the block's output width (the
 *  reference's 0.2, 0.25, 0.35 are bottleneck_expand<20, 25, 35>): its middle width is
 *  make_divisible(round(out · percent / 100), 8). */
template <int... Percent>
struct bottleneck_expand : detail::value_list<Percent...> {
  static_assert(sizeof...(Percent) > 0, "ofa::space::bottleneck_expand: the list of ratios must not be empty");
  static_assert(sizeof...(Percent) <= max_choices, "ofa::space::bottleneck_expand: at most 8 choices");
  static_assert(((Percent > 0 && Percent <= 400) && ...),
                "ofa::space::bottleneck_expand: ratios are percent of the output width, in 1..400");
  static_assert(detail::strictly_ascending<Percent...>(),
                "ofa::space::bottleneck_expand: ratios must be unique and sorted ascending");
};

/** @brief Width multipliers in percent of a part's base width (the reference's 0.65, 0.8, 1.0 are
 *  width_multipliers<65, 80, 100>); each width is make_divisible(base · percent / 100, 8). A
 *  config picks one by its index, as the reference's "w" does: two multipliers may round to the
 *  same width. */
template <int... Percent>
struct width_multipliers : detail::value_list<Percent...> {
  static_assert(sizeof...(Percent) > 0, "ofa::space::width_multipliers: the list must not be empty");
  static_assert(sizeof...(Percent) <= max_choices, "ofa::space::width_multipliers: at most 8 choices");
  static_assert(((Percent > 0 && Percent <= 400) && ...),
                "ofa::space::width_multipliers: multipliers are percent, in 1..400");
  static_assert(detail::strictly_ascending<Percent...>(),
                "ofa::space::width_multipliers: multipliers must be unique and sorted ascending");
  /** @brief The widths of a part whose base width is `base`, by multiplier index. */
  static constexpr choice_set widths(int base) {
    choice_set set{};
    std::size_t i = 0;
    ((set.values[i++] = make_divisible(base * (Percent / 100.0))), ...);
    set.size = sizeof...(Percent);
    return set;
  }
};

/** @brief Input resolutions the network supports, listed: resolutions<160, 192, 224>. */
template <int... V>
struct resolutions : detail::value_list<V...> {
  static_assert(sizeof...(V) > 0, "ofa::space::resolutions: the list must not be empty");
  static_assert(sizeof...(V) <= 64, "ofa::space::resolutions: at most 64 resolutions");
  static_assert(((V >= 8) && ...), "ofa::space::resolutions: every resolution must be at least 8");
  static_assert(detail::strictly_ascending<V...>(),
                "ofa::space::resolutions: resolutions must be unique and sorted ascending");
  using list = resolutions;
  static constexpr basic_choice_set<64> set() { return detail::make_choice_set<64, V...>(); }
};

namespace detail {
template <int First, int Step, class Seq>
struct range_impl;
template <int First, int Step, int... I>
struct range_impl<First, Step, std::integer_sequence<int, I...>> {
  using type = resolutions<(First + I * Step)...>;
};
}  // namespace detail

/** @brief Resolutions First, First+Step, ..., Last: resolution_range<128, 224, 4>. */
template <int First, int Last, int Step>
struct resolution_range {
  static_assert(Step > 0, "ofa::space::resolution_range: the step must be positive");
  static_assert(First <= Last, "ofa::space::resolution_range: First must not exceed Last");
  static_assert((Last - First) % (Step > 0 ? Step : 1) == 0,
                "ofa::space::resolution_range: Last - First must be a multiple of Step");
  using list =
      typename detail::range_impl<First, Step,
                                  std::make_integer_sequence<int, (Last - First) / (Step > 0 ? Step : 1) + 1>>::type;
};

namespace detail {
template <int... V>
inline constexpr bool is_depth_v<depth<V...>> = true;
template <int... V>
inline constexpr bool is_expand_v<expand<V...>> = true;
template <int... V>
inline constexpr bool is_kernel_v<kernel<V...>> = true;
template <int... V>
inline constexpr bool is_resolutions_v<resolutions<V...>> = true;
template <class T>
inline constexpr bool is_bottleneck_expand_v = false;
template <int... V>
inline constexpr bool is_bottleneck_expand_v<bottleneck_expand<V...>> = true;
template <class T>
inline constexpr bool is_width_multipliers_v = false;
template <int... V>
inline constexpr bool is_width_multipliers_v<width_multipliers<V...>> = true;
template <int F, int L, int S>
inline constexpr bool is_resolutions_v<resolution_range<F, L, S>> = true;
}  // namespace detail

}  // namespace ofa::space
