#pragma once
// Small formatting helpers for the command's human-readable output.

#include <cstdint>
#include <cstdio>
#include <string>

#include <ofa/space/subnet_config.hpp>

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

/// "r32 d[4,3,2,4,3]", a ResNet's "r32 d[2,3,2] w[0,2,1]": enough to tell subnets apart in a table
/// (the full config goes to a file).
template <class Space>
std::string short_config(const ofa::subnet_config<Space>& c) {
  const auto list = [](const auto& values) {
    std::string s = "[";
    for (std::size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + std::to_string(values[i]);
    return s + "]";
  };
  std::string s = "r" + std::to_string(c.resolution) + " d" + list(c.depth);
  if constexpr (Space::blocks == ofa::space::block_kind::bottleneck) s += " w" + list(c.width);
  return s;
}

/// `text` as one CSV field: quoted, its quotes doubled (RFC 4180), so that a config's JSON reads back.
inline std::string csv_field(const std::string& text) {
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace ofa_cli
