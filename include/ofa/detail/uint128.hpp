#pragma once
/// @file
/// 128-bit unsigned counts: the MobileNetV3 space has more than 2^64 subnets.

#include <string>

namespace ofa {

/** @brief Unsigned 128-bit integer (a GCC/Clang builtin; MSVC is not supported). */
__extension__ typedef unsigned __int128 uint128;  // __extension__: -Wpedantic knows no __int128

/** @brief The decimal digits of `value` (std::to_string has no 128-bit overload). */
inline std::string to_decimal(uint128 value) {
  if (value == 0) return "0";
  std::string digits;
  while (value != 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  }
  return digits;
}

}  // namespace ofa
