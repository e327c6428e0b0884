#pragma once
/// @file
/// Whole numbers read from JSON that other people wrote. nlohmann's get<int>() on a floating-point
/// value converts with a cast, which is undefined behaviour when the value is out of the integer's
/// range (1e30 as an epoch count, found by fuzzing); json_whole accepts an integer, or a float that
/// is a whole number, within T's range, and says no to anything else.

#include <cmath>  // isfinite, floor
#include <cstdint>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

namespace ofa::detail {

/** @brief `v` as a T when it is a whole number in T's range; otherwise nothing. */
template <class T>
std::optional<T> json_whole(const nlohmann::json& v) {
  using limits = std::numeric_limits<T>;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(limits::max())) return std::nullopt;
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i < 0 && !limits::is_signed) return std::nullopt;
    if (limits::is_signed && (i < static_cast<std::int64_t>(limits::min()) || i > static_cast<std::int64_t>(limits::max())))
      return std::nullopt;
    if (!limits::is_signed && static_cast<std::uint64_t>(i) > static_cast<std::uint64_t>(limits::max()))
      return std::nullopt;
    return static_cast<T>(i);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // The bounds as doubles: max() of a 64-bit type rounds up to 2^63 or 2^64, which is out of range.
    if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(limits::min()) ||
        d >= static_cast<double>(limits::max()))
      return std::nullopt;
    return static_cast<T>(d);
  }
  return std::nullopt;
}

}  // namespace ofa::detail
