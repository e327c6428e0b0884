#pragma once
/// @file
/// The fixed parts of a space, as types: stem, first_block, unit, head,
/// classes. Each checks its own arguments with a static_assert that names the
/// part and the rule, and exposes a constexpr run-time description (`info()`)
/// that the run-time code (profiling, sampling, the elastic net) walks.

#include <cstddef>

#include "ofa/space/activation.hpp"
#include "ofa/space/choice_set.hpp"
#include "ofa/space/choices.hpp"

namespace ofa::space {

/** @brief Run-time description of the stem: a dense k×k convolution + BN + activation. */
struct stem_info {
  int width;
  int stride;
  int kernel_size;
  activation act;
};

/** @brief Run-time description of the first block: MBConv with expand 1 (depthwise k×k,
 *  BN, activation, pointwise projection, BN), stride 1, residual when widths match. */
struct first_block_info {
  int width;
  int kernel_size;
  activation act;
};

/** @brief Run-time description of one elastic unit (a stage of up to max depth blocks). */
struct unit_info {
  int width;       ///< output channels of every block of the unit
  int stride;      ///< stride of the unit's first block; later blocks have stride 1
  activation act;  ///< activation after the expand and depthwise convolutions
  bool se;         ///< squeeze-and-excite after the depthwise convolution
  choice_set depths, expands, kernels;
  int first_slot = 0;  ///< index of the unit's first block slot in a subnet_config
};

/** @brief Run-time description of the head: 1×1 final expand (+BN, h-swish), global
 *  average pool, 1×1 feature mix (no BN, h-swish), dropout, linear classifier. */
struct head_info {
  int final_expand;
  int feature_mix;
};

/** @brief Input stem: dense Kernel×Kernel convolution from 3 channels, BN, activation. */
template <int Width, int Stride, class Activation>
struct stem {
  static_assert(Width > 0, "ofa::space::stem: the width must be positive");
  static_assert(Stride == 1 || Stride == 2, "ofa::space::stem: the stride must be 1 or 2");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::stem: the activation must be ofa::space::relu or ofa::space::hswish");
  static constexpr stem_info info() { return {Width, Stride, 3, Activation::kind}; }
};

/** @brief The fixed first block (MBConv, expand 1, 3×3 depthwise, no SE). */
template <int Width, class Activation>
struct first_block {
  static_assert(Width > 0, "ofa::space::first_block: the width must be positive");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::first_block: the activation must be ofa::space::relu or ofa::space::hswish");
  static constexpr first_block_info info() { return {Width, 3, Activation::kind}; }
};

/** @brief One elastic unit: up to Depth::max MBConv blocks of width Width. */
template <int Width, int Stride, class Activation, class SqueezeExcite, class Depth, class Expand, class Kernel>
struct unit {
  static_assert(Width > 0, "ofa::space::unit: the width must be positive");
  static_assert(Stride == 1 || Stride == 2, "ofa::space::unit: the stride must be 1 or 2");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::unit: the 3rd argument (activation) must be ofa::space::relu or ofa::space::hswish");
  static_assert(detail::is_squeeze_excite_v<SqueezeExcite>,
                "ofa::space::unit: the 4th argument must be ofa::space::se or ofa::space::no_se");
  static_assert(detail::is_depth_v<Depth>, "ofa::space::unit: the 5th argument must be ofa::space::depth<...>");
  static_assert(detail::is_expand_v<Expand>, "ofa::space::unit: the 6th argument must be ofa::space::expand<...>");
  static_assert(detail::is_kernel_v<Kernel>, "ofa::space::unit: the 7th argument must be ofa::space::kernel<...>");

  using depth_list = Depth;
  using expand_list = Expand;
  using kernel_list = Kernel;
  static constexpr int max_depth = Depth::max;

  static constexpr unit_info info() {
    return {Width, Stride, Activation::kind, SqueezeExcite::enabled, Depth::set(), Expand::set(), Kernel::set(), 0};
  }
};

/** @brief The units of a network, in order. */
template <class... Units>
struct units {
  static constexpr std::size_t size = sizeof...(Units);
};

/** @brief Head widths: the final expand layer and the feature mix layer. */
template <int FinalExpand, int FeatureMix>
struct head {
  static_assert(FinalExpand > 0, "ofa::space::head: the final expand width must be positive");
  static_assert(FeatureMix > 0, "ofa::space::head: the feature mix width must be positive");
  static constexpr head_info info() { return {FinalExpand, FeatureMix}; }
};

/** @brief Number of output classes. */
template <int Count>
struct classes {
  static_assert(Count >= 2, "ofa::space::classes: a classifier needs at least 2 classes");
  static constexpr int value = Count;
};

namespace detail {
template <class T>
inline constexpr bool is_stem_v = false;
template <int W, int S, class A>
inline constexpr bool is_stem_v<stem<W, S, A>> = true;
template <class T>
inline constexpr bool is_first_block_v = false;
template <int W, class A>
inline constexpr bool is_first_block_v<first_block<W, A>> = true;
template <class T>
inline constexpr bool is_unit_v = false;
template <int W, int S, class A, class E, class D, class X, class K>
inline constexpr bool is_unit_v<unit<W, S, A, E, D, X, K>> = true;
template <class T>
inline constexpr bool is_units_v = false;
template <class... U>
inline constexpr bool is_units_v<units<U...>> = true;
template <class T>
inline constexpr bool is_head_v = false;
template <int F, int M>
inline constexpr bool is_head_v<head<F, M>> = true;
template <class T>
inline constexpr bool is_classes_v = false;
template <int N>
inline constexpr bool is_classes_v<classes<N>> = true;
}  // namespace detail

}  // namespace ofa::space
