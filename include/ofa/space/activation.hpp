#pragma once
/// @file
/// Activation and squeeze-excite tags used to describe a space.

#include <string_view>

namespace ofa {

/** @brief Run-time name of an activation (what the kernels switch on). */
enum class activation : int { none = 0, relu = 1, hswish = 2, relu6 = 3 };

/** @brief The activation's name as the reference implementation spells it. */
constexpr std::string_view to_string(activation a) noexcept {
  switch (a) {
    case activation::relu:
      return "relu";
    case activation::hswish:
      return "h_swish";
    case activation::relu6:
      return "relu6";
    case activation::none:
      break;
  }
  return "none";
}

namespace space {

// The tags a space is written with (ofa::space::unit<24, 2, relu, no_se, ...>): parts of a space,
// beside stem, unit and head. The run-time enum above is what the kernels switch on.

/** @brief ReLU, max(x, 0). */
struct relu {
  static constexpr activation kind = activation::relu;
};
/** @brief ReLU6, min(max(x, 0), 6) (MobileNetV2, ProxylessNAS). */
struct relu6 {
  static constexpr activation kind = activation::relu6;
};
/** @brief Hard swish, x * relu6(x + 3) / 6 (MobileNetV3). */
struct hswish {
  static constexpr activation kind = activation::hswish;
};

/** @brief A block without squeeze-and-excite. */
struct no_se {
  static constexpr bool enabled = false;
};
/** @brief A block with squeeze-and-excite (reduction 4, middle width a multiple of 8). */
struct se {
  static constexpr bool enabled = true;
};

namespace detail {
template <class T>
inline constexpr bool is_activation_v = false;
template <>
inline constexpr bool is_activation_v<relu> = true;
template <>
inline constexpr bool is_activation_v<hswish> = true;
template <>
inline constexpr bool is_activation_v<relu6> = true;

template <class T>
inline constexpr bool is_squeeze_excite_v = false;
template <>
inline constexpr bool is_squeeze_excite_v<se> = true;
template <>
inline constexpr bool is_squeeze_excite_v<no_se> = true;
}  // namespace detail

}  // namespace space

}  // namespace ofa
