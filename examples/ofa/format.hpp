#pragma once
// Small formatting helpers for the command's human-readable output.

#include <cstdint>
#include <cstdio>
#include <string>

namespace ofa_cli {

/// 566170688 -> "566.17 M"
inline std::string human(double value) {
  char buffer[64];
  if (value >= 1e9)
    std::snprintf(buffer, sizeof buffer, "%.2f G", value / 1e9);
  else if (value >= 1e6)
    std::snprintf(buffer, sizeof buffer, "%.2f M", value / 1e6);
  else if (value >= 1e3)
    std::snprintf(buffer, sizeof buffer, "%.2f K", value / 1e3);
  else
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  return buffer;
}

/// 7678880 -> "7,678,880"
inline std::string grouped(std::string digits) {
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return digits;
}
inline std::string grouped(std::int64_t value) {
  return grouped(std::to_string(value));
}

}  // namespace ofa_cli
