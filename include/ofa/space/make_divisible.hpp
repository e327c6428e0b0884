#pragma once
/// @file
/// make_divisible: channel rounding exactly as the reference implementation
/// (ofa.utils.make_divisible with divisor 8), so widths match PyTorch OFA.

namespace ofa {

/** @brief The reference's channel divisor (MyNetwork.CHANNEL_DIVISIBLE). */
inline constexpr int channel_divisor = 8;

/** @brief Rounds `value` to the nearest multiple of `divisor` (at least `divisor`),
 *  never going below 90% of `value`. */
constexpr int make_divisible(double value, int divisor = channel_divisor) noexcept {
  int rounded = static_cast<int>(value + divisor / 2.0) / divisor * divisor;
  if (rounded < divisor) rounded = divisor;
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

/** @brief Python's round() for the products in_channels * expand_ratio (ties to even). */
constexpr int round_half_even(double value) noexcept {
  const auto floor_value = static_cast<long long>(value >= 0 ? value : value - 1);
  const double fraction = value - static_cast<double>(floor_value);
  if (fraction > 0.5) return static_cast<int>(floor_value + 1);
  if (fraction < 0.5) return static_cast<int>(floor_value);
  return static_cast<int>(floor_value % 2 == 0 ? floor_value : floor_value + 1);
}

/** @brief Middle (expanded) width of an MBConv block: make_divisible(round(in * e), 8). */
constexpr int expanded_width(int in_channels, double expand_ratio) noexcept {
  return make_divisible(round_half_even(in_channels * expand_ratio));
}

/** @brief Middle width of squeeze-excite over `channels` (reduction 4, as the reference). */
constexpr int squeeze_excite_width(int channels) noexcept {
  return make_divisible(channels / 4);
}

}  // namespace ofa
