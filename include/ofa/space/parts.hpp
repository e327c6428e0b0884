#pragma once
/// @file
/// The fixed parts of a space, as types: stem or deep_stem, first_block or
/// no_first_block, unit (MBConv) or bottleneck_unit (ResNet), head, conv_head
/// or pool_head, classes. Each checks its own arguments with a static_assert that names the
/// part and the rule, and exposes a constexpr run-time description (`info()`)
/// that the run-time code (profiling, sampling, the elastic net) walks.

#include <cstddef>
#include <cstdint>
#include <ratio>
#include <string_view>

#include "ofa/space/activation.hpp"
#include "ofa/space/choice_set.hpp"
#include "ofa/space/choices.hpp"

namespace ofa::space {

/** @brief What a space's stem is: one convolution (MobileNets), or the ResNet "deep stem" of three
 *  3×3 convolutions -- the middle one residual and skippable -- and a 3×3 max pooling. */
enum class stem_kind { conv, deep };

/** @brief Run-time description of the stem. A conv stem is a dense k×k convolution + BN + activation;
 *  a deep stem is conv 3×3 (stride) to a middle width, [conv 3×3 + the input], conv 3×3 to the output
 *  width, each with BN and the activation, then max pooling 3×3, stride 2. */
struct stem_info {
  int width;  ///< the output width, the largest where it is elastic
  int stride;
  int kernel_size;
  activation act;
  stem_kind kind = stem_kind::conv;
  choice_set widths = choice_set::of(width);  ///< output widths by multiplier index (the config's stem_width[1])
  choice_set mid_widths{};                    ///< a deep stem's middle widths by index (stem_width[0])
  int pool_window = 0, pool_stride = 0;       ///< a deep stem's max pooling; 0: none

  constexpr bool deep() const { return kind == stem_kind::deep; }
  constexpr bool elastic_width() const { return widths.size > 1 || mid_widths.size > 1; }
};

/** @brief Run-time description of the first block: MBConv with expand 1 (depthwise k×k,
 *  BN, activation, pointwise projection, BN), stride 1, residual when widths match. A space
 *  without one (the ResNets) has width 0. */
struct first_block_info {
  int width;
  int kernel_size;
  activation act;

  constexpr bool present() const { return width > 0; }
};

/** @brief The blocks of a unit: MobileNet's inverted residual (elastic kernel and expand ratio, the
 *  expand a multiple of the input width) or ResNet's bottleneck (1×1, 3×3, 1×1 with a shortcut;
 *  elastic expand ratio in percent of the output width and width multiplier). */
enum class block_kind { mbconv, bottleneck };

/** @brief The kind's name in layer keys and messages: "mbconv", "bottleneck". */
constexpr std::string_view to_string(block_kind kind) {
  switch (kind) {
    case block_kind::mbconv:
      return "mbconv";
    case block_kind::bottleneck:
      return "bottleneck";
  }
  return "?";
}

/** @brief Run-time description of one elastic unit (a stage of up to max depth blocks). */
struct unit_info {
  int width;       ///< output channels of every block of the unit (the largest where it is elastic)
  int stride;      ///< stride of the unit's first block; later blocks have stride 1
  activation act;  ///< activation after the expand and depthwise convolutions
  bool se;         ///< squeeze-and-excite after the depthwise convolution
  choice_set depths, expands, kernels;
  int first_slot = 0;  ///< index of the unit's first block slot in a subnet_config
  block_kind kind = block_kind::mbconv;
  choice_set widths = choice_set::of(width);  ///< output widths by multiplier index (the config's width[u])

  constexpr bool bottleneck() const { return kind == block_kind::bottleneck; }
  /** @brief Whether JSON configs and schedules count this unit's depth in blocks above its smallest
   *  depth (the reference's ResNet d) rather than in blocks. */
  constexpr bool relative_depths() const { return bottleneck(); }
};

/** @brief Run-time description of the head: [1×1 final expand (+BN, activation)], global
 *  average pool, [1×1 feature mix (no BN, activation)], dropout, linear classifier. The
 *  MobileNetV3 head has both 1×1 layers, the ProxylessNAS head only the one before pooling,
 *  the ResNet head neither. */
struct head_info {
  int final_expand;  ///< width of the 1×1 conv + BN + activation before pooling
  int feature_mix;   ///< width of the 1×1 conv + activation after pooling; 0 where there is none
  activation act;

  constexpr bool has_final_expand() const { return final_expand > 0; }
  constexpr bool has_feature_mix() const { return feature_mix > 0; }
  /// What the classifier reads: the feature mix's output, or the pooled final expand; 0 where it
  /// reads the last block's output (head_plan::classifier_inputs knows that width).
  constexpr int classifier_inputs() const { return has_feature_mix() ? feature_mix : final_expand; }
  /// The reference's name of the layer before pooling (its state-dict prefix): MobileNetV3
  /// calls it final_expand_layer, ProxylessNAS (whose only head conv it is) feature_mix_layer.
  constexpr const char* pre_pool_name() const { return has_feature_mix() ? "final_expand_layer" : "feature_mix_layer"; }
};

/** @brief Input stem: dense Kernel×Kernel convolution from 3 channels, BN, activation. */
template <int Width, int Stride, class Activation>
struct stem {
  static_assert(Width > 0, "ofa::space::stem: the width must be positive");
  static_assert(Stride == 1 || Stride == 2, "ofa::space::stem: the stride must be 1 or 2");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::stem: the activation must be ofa::space::relu, relu6 or hswish");
  static constexpr stem_info info() { return {Width, Stride, 3, Activation::kind}; }
};

template <int Window, int Stride>
struct max_pool;
struct no_pool;
namespace detail {
template <class T>
inline constexpr bool is_pool_v = false;
template <int W, int S>
inline constexpr bool is_pool_v<max_pool<W, S>> = true;
template <>
inline constexpr bool is_pool_v<no_pool> = true;
}  // namespace detail

/** @brief Max pooling Window×Window with stride Stride and padding Window / 2, after a stem. */
template <int Window, int Stride>
struct max_pool {
  static_assert(Window >= 1 && Window % 2 == 1, "ofa::space::max_pool: the window must be odd and positive");
  static_assert(Stride >= 1, "ofa::space::max_pool: the stride must be positive");
  static constexpr int window = Window, stride = Stride;
};
/** @brief No pooling after the stem (small images). */
struct no_pool {
  static constexpr int window = 0, stride = 0;
};

/** @brief The ResNet "deep stem" of the reference's OFAResNets: 3×3 convolution (Stride) to a middle
 *  width make_divisible(width / 2); a 3×3 convolution of that width plus its input, which a subnet may
 *  skip; a 3×3 convolution to the output width; then Pool (the reference's: 3×3 max pooling, stride 2).
 *  Both widths follow BaseWidth times one of Multipliers, each chosen by the config (stem_width). */
template <int BaseWidth, class Multipliers = width_multipliers<100>, class Activation = relu, int Stride = 2,
          class Pool = max_pool<3, 2>>
struct deep_stem {
  static_assert(BaseWidth > 0, "ofa::space::deep_stem: the width must be positive");
  static_assert(detail::is_width_multipliers_v<Multipliers>,
                "ofa::space::deep_stem: the 2nd argument must be ofa::space::width_multipliers<...> (percent)");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::deep_stem: the activation must be ofa::space::relu, relu6 or hswish");
  static_assert(Stride == 1 || Stride == 2, "ofa::space::deep_stem: the stride must be 1 or 2");
  static_assert(detail::is_pool_v<Pool>,
                "ofa::space::deep_stem: the 5th argument must be ofa::space::max_pool<W, S> or ofa::space::no_pool");
  static constexpr stem_info info() {
    const choice_set widths = Multipliers::widths(BaseWidth);
    stem_info s{widths.max(), Stride, 3, Activation::kind, stem_kind::deep, widths};
    s.mid_widths = widths;
    for (std::size_t i = 0; i < widths.size; ++i) s.mid_widths.values[i] = make_divisible(widths[i] / 2);
    s.pool_window = Pool::window;
    s.pool_stride = Pool::stride;
    return s;
  }
};

/** @brief No fixed first block: the units follow the stem (the ResNets). */
struct no_first_block {
  static constexpr first_block_info info() { return {0, 0, activation::none}; }
};

/** @brief The fixed first block (MBConv, expand 1, 3×3 depthwise, no SE). */
template <int Width, class Activation>
struct first_block {
  static_assert(Width > 0, "ofa::space::first_block: the width must be positive");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::first_block: the activation must be ofa::space::relu, relu6 or hswish");
  static constexpr first_block_info info() { return {Width, 3, Activation::kind}; }
};

/** @brief One elastic unit: up to Depth::max MBConv blocks of width Width. */
template <int Width, int Stride, class Activation, class SqueezeExcite, class Depth, class Expand, class Kernel>
struct unit {
  static_assert(Width > 0, "ofa::space::unit: the width must be positive");
  static_assert(Stride == 1 || Stride == 2, "ofa::space::unit: the stride must be 1 or 2");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::unit: the 3rd argument (activation) must be ofa::space::relu, relu6 or hswish");
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
    return {Width, Stride, Activation::kind, SqueezeExcite::enabled, Depth::set(), Expand::set(), Kernel::set()};
  }
};

/** @brief One elastic unit of ResNet bottlenecks: up to Depth::max blocks whose output width is
 *  BaseWidth times one of Multipliers (chosen per unit), each with 1×1 reduce to the middle width
 *  (Expand, percent of the output width), 3×3 (the unit's first block strides here), 1×1 to the
 *  output width, and a shortcut: the input itself, or where the stride or width changes, average
 *  pooling (stride×stride) then 1×1 + BN, as the reference's "avgpool_conv" downsampling. */
template <int BaseWidth, int Stride, class Depth, class Expand, class Multipliers = width_multipliers<100>,
          class Activation = relu>
struct bottleneck_unit {
  static_assert(BaseWidth > 0, "ofa::space::bottleneck_unit: the base width must be positive");
  static_assert(Stride == 1 || Stride == 2, "ofa::space::bottleneck_unit: the stride must be 1 or 2");
  static_assert(detail::is_depth_v<Depth>,
                "ofa::space::bottleneck_unit: the 3rd argument must be ofa::space::depth<...> (blocks, not the "
                "reference's d: depth<2, 3, 4> for a base depth of 2)");
  static_assert(detail::is_bottleneck_expand_v<Expand>,
                "ofa::space::bottleneck_unit: the 4th argument must be ofa::space::bottleneck_expand<...> (percent)");
  static_assert(detail::is_width_multipliers_v<Multipliers>,
                "ofa::space::bottleneck_unit: the 5th argument must be ofa::space::width_multipliers<...> (percent)");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::bottleneck_unit: the activation must be ofa::space::relu, relu6 or hswish");

  static constexpr int max_depth = Depth::max;

  static constexpr unit_info info() {
    const choice_set widths = Multipliers::widths(BaseWidth);
    unit_info u{widths.max(), Stride, Activation::kind, false, Depth::set(), Expand::set(), choice_set::of(3)};
    u.kind = block_kind::bottleneck;
    u.widths = widths;
    return u;
  }
};

/** @brief The units of a network, in order. */
template <class... Units>
struct units {
  static constexpr std::size_t size = sizeof...(Units);
};

/** @brief The MobileNetV3 head: a 1×1 final expand layer (with BN) before pooling, a 1×1
 *  feature mix layer (without BN) after it, both with `Activation`. */
template <int FinalExpand, int FeatureMix, class Activation = hswish>
struct head {
  static_assert(FinalExpand > 0, "ofa::space::head: the final expand width must be positive");
  static_assert(FeatureMix > 0, "ofa::space::head: the feature mix width must be positive");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::head: the activation must be ofa::space::relu, relu6 or hswish");
  static constexpr head_info info() { return {FinalExpand, FeatureMix, Activation::kind}; }
};

/** @brief The ProxylessNAS / MobileNetV2 head: one 1×1 layer (with BN and `Activation`)
 *  before pooling, then the classifier. */
template <int Width, class Activation>
struct conv_head {
  static_assert(Width > 0, "ofa::space::conv_head: the width must be positive");
  static_assert(detail::is_activation_v<Activation>,
                "ofa::space::conv_head: the activation must be ofa::space::relu, relu6 or hswish");
  static constexpr head_info info() { return {Width, 0, Activation::kind}; }
};

/** @brief The ResNet head: global average pooling, dropout and the classifier, nothing before. */
struct pool_head {
  static constexpr head_info info() { return {0, 0, activation::none}; }
};

namespace detail {
template <class T>
inline constexpr bool is_ratio_v = false;
template <std::intmax_t N, std::intmax_t D>
inline constexpr bool is_ratio_v<std::ratio<N, D>> = true;
}  // namespace detail

/** @brief The batch-norm layers' epsilon and momentum (the reference's bn_param), as std::ratio:
 *  MobileNetV3 trains with (0.1, 1e-5), ProxylessNAS with (0.1, 1e-3). A supernet imported with
 *  another eps than it was trained with is off by about a thousandth in every layer.
 *  (Ratios, not doubles: clang 14 takes no floating-point template arguments.) */
template <class Eps = std::ratio<1, 100000>, class Momentum = std::ratio<1, 10>>
struct batch_norm {
  static_assert(detail::is_ratio_v<Eps> && detail::is_ratio_v<Momentum>,
                "ofa::space::batch_norm: epsilon and momentum are std::ratio<N, D>, e.g. std::ratio<1, 1000>");
  static constexpr double eps = double(Eps::num) / double(Eps::den);
  static constexpr double momentum = double(Momentum::num) / double(Momentum::den);
  static_assert(eps > 0, "ofa::space::batch_norm: epsilon must be positive");
  static_assert(momentum > 0 && momentum <= 1, "ofa::space::batch_norm: the momentum must be in (0, 1]");
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
template <int W, class M, class A, int S, class P>
inline constexpr bool is_stem_v<deep_stem<W, M, A, S, P>> = true;
template <class T>
inline constexpr bool is_first_block_v = false;
template <int W, class A>
inline constexpr bool is_first_block_v<first_block<W, A>> = true;
template <>
inline constexpr bool is_first_block_v<no_first_block> = true;
template <class T>
inline constexpr bool is_unit_v = false;
template <int W, int S, class A, class E, class D, class X, class K>
inline constexpr bool is_unit_v<unit<W, S, A, E, D, X, K>> = true;
template <int W, int S, class D, class X, class M, class A>
inline constexpr bool is_unit_v<bottleneck_unit<W, S, D, X, M, A>> = true;
template <class T>
inline constexpr bool is_units_v = false;
template <class... U>
inline constexpr bool is_units_v<units<U...>> = true;
template <class T>
inline constexpr bool is_head_v = false;
template <int F, int M, class A>
inline constexpr bool is_head_v<head<F, M, A>> = true;
template <int W, class A>
inline constexpr bool is_head_v<conv_head<W, A>> = true;
template <>
inline constexpr bool is_head_v<pool_head> = true;
template <class T>
inline constexpr bool is_batch_norm_v = false;
template <class E, class M>
inline constexpr bool is_batch_norm_v<batch_norm<E, M>> = true;
template <class T>
inline constexpr bool is_classes_v = false;
template <int N>
inline constexpr bool is_classes_v<classes<N>> = true;
}  // namespace detail

}  // namespace ofa::space
