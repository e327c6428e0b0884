#pragma once
/// @file
/// subnet_config <-> JSON in the reference implementation's arch-dict form:
/// {"ks": [...], "e": [...], "d": [...], "r": [224]}; for ResNets {"d": [stem, units...],
/// "e": [0.25, ...], "w": [stem, stem, units...], "r": [224]}, d counting blocks above each unit's
/// smallest depth. Configs found with the
/// PyTorch OFA code load here, and configs written here load there.

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ofa/detail/json_excerpt.hpp"
#include "ofa/errors.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa {

/** @brief The arch dict of `config`; "r" is written as a one-element list, as the reference
 *  tutorial does. */
template <class Space>
nlohmann::json to_json(const subnet_config<Space>& config);

/** @brief Reads an arch dict ("r" may be an integer or a one-element list; "image_size"
 *  is accepted for "r", and the reference's "wid": null is ignored). Validates the result.
 *  @param source names the input in error messages (a file name, "stdin", ...). */
template <class Space>
subnet_config<Space> config_from_json(const nlohmann::json& j, std::string_view source = "config");

/** @brief Parses JSON text into a validated config; any problem is an ofa::config_error. */
template <class Space>
subnet_config<Space> parse_config(std::string_view text, std::string_view source = "config");

/** @brief Reads a config file; a missing file is an ofa::io_error, bad contents ofa::config_error. */
template <class Space>
subnet_config<Space> load_config(const std::string& path);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// A ResNet's "d" counts the blocks above each unit's smallest depth; its first entry is the deep
/// stem's: the largest such count where the stem runs whole, 0 where it skips its middle layer.
template <class Space>
constexpr int max_depth_offset() {
  int m = 0;
  for (const auto& u : Space::unit_table) m = std::max(m, u.depths.max() - u.depths.min());
  return m;
}

template <class Space>
nlohmann::json resnet_to_json(const subnet_config<Space>& config) {
  nlohmann::json j;
  auto d = nlohmann::json::array({config.stem_skip ? 0 : max_depth_offset<Space>()});
  for (std::size_t u = 0; u < Space::unit_count; ++u) d.push_back(config.depth[u] - Space::unit_table[u].depths.min());
  auto e = nlohmann::json::array();
  for (int percent : config.expand) e.push_back(percent / 100.0);
  auto w = nlohmann::json::array({config.stem_width[0], config.stem_width[1]});
  for (int i : config.width) w.push_back(i);
  j["d"] = d;
  j["e"] = e;
  j["w"] = w;
  j["r"] = nlohmann::json::array({config.resolution});
  return j;
}
}  // namespace detail

template <class Space>
nlohmann::json to_json(const subnet_config<Space>& config) {
  if constexpr (Space::blocks == space::block_kind::bottleneck) return detail::resnet_to_json(config);
  nlohmann::json j;
  j["ks"] = config.kernel;
  j["e"] = config.expand;
  j["d"] = config.depth;
  j["r"] = nlohmann::json::array({config.resolution});
  return j;
}

namespace detail {
[[noreturn]] inline void bad_config(std::string_view source, const std::string& what) {
  throw config_error("ofa: bad subnet config in " + std::string(source) + ": " + what);
}

inline int json_int(const nlohmann::json& v, std::string_view source, const std::string& where) {
  if (v.is_number_integer() || v.is_number_unsigned()) {
    const auto value = v.get<long long>();
    if (value < -1000000 || value > 1000000) bad_config(source, where + " = " + json_excerpt(v) + " is out of range");
    return static_cast<int>(value);
  }
  if (v.is_number_float()) {  // the reference sometimes writes expand ratios as 3.0
    const double value = v.get<double>();
    if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) <= 1e6) return static_cast<int>(value);
  }
  bad_config(source, where + " must be an integer, got " + json_excerpt(v));
}

template <std::size_t N>
void json_int_list(const nlohmann::json& j, const char* key, std::array<int, N>& out, std::string_view source) {
  if (!j.contains(key))
    bad_config(source, std::string("missing key \"") + key + "\" (a list of " + std::to_string(N) + " integers)");
  const auto& v = j.at(key);
  if (!v.is_array()) bad_config(source, std::string("\"") + key + "\" must be a list, got " + json_excerpt(v));
  if (v.size() != N)
    bad_config(source, std::string("\"") + key + "\" has " + std::to_string(v.size()) + " entries; this space needs " +
                           std::to_string(N));
  for (std::size_t i = 0; i < N; ++i) out[i] = json_int(v[i], source, std::string(key) + "[" + std::to_string(i) + "]");
}
}  // namespace detail

namespace detail {
/// A ResNet's expand ratios, written as fractions (0.25), held as percent (25).
template <std::size_t N>
void json_percent_list(const nlohmann::json& j, const char* key, std::array<int, N>& out, std::string_view source) {
  if (!j.contains(key))
    bad_config(source, std::string("missing key \"") + key + "\" (a list of " + std::to_string(N) + " ratios)");
  const auto& v = j.at(key);
  if (!v.is_array() || v.size() != N)
    bad_config(source, std::string("\"") + key + "\" must be a list of " + std::to_string(N) + " ratios, got " +
                           json_excerpt(v));
  for (std::size_t i = 0; i < N; ++i) {
    const double percent = v[i].is_number() ? v[i].get<double>() * 100.0 : -1.0;
    if (!std::isfinite(percent) || percent <= 0 || percent > 1e4 || std::fabs(percent - std::round(percent)) > 1e-6)
      bad_config(source, std::string(key) + "[" + std::to_string(i) + "] = " + json_excerpt(v[i]) +
                             " is not a ratio in hundredths such as 0.25");
    out[i] = static_cast<int>(std::lround(percent));
  }
}

template <class Space>
void resnet_from_json(const nlohmann::json& j, subnet_config<Space>& c, std::string_view source) {
  std::array<int, Space::unit_count + 1> d{};
  std::array<int, Space::unit_count + 2> w{};
  json_int_list(j, "d", d, source);
  json_int_list(j, "w", w, source);
  json_percent_list(j, "e", c.expand, source);
  for (auto& k : c.kernel) k = 3;
  c.stem_skip = d[0] != max_depth_offset<Space>();
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    c.depth[u] = Space::unit_table[u].depths.min() + d[u + 1];
    c.width[u] = w[u + 2];
  }
  c.stem_width = {w[0], w[1]};
}
}  // namespace detail

template <class Space>
subnet_config<Space> config_from_json(const nlohmann::json& j, std::string_view source) {
  constexpr bool resnet = Space::blocks == space::block_kind::bottleneck;
  const char* expected = resnet ? "d, e, w, r" : "ks, e, d, r";
  if (!j.is_object()) detail::bad_config(source, std::string("expected a JSON object with keys ") + expected);
  for (const auto& item : j.items()) {
    const auto& key = item.key();
    const bool known = key == "e" || key == "d" || key == "r" || key == "image_size" ||
                       (resnet ? key == "w" : key == "ks" || key == "wid");
    if (!known) detail::bad_config(source, "unknown key \"" + key + "\" (expected " + expected + ")");
  }
  subnet_config<Space> c;
  if constexpr (resnet) {
    detail::resnet_from_json(j, c, source);
  } else {
    detail::json_int_list(j, "ks", c.kernel, source);
    detail::json_int_list(j, "e", c.expand, source);
    detail::json_int_list(j, "d", c.depth, source);
  }
  const char* r_key = j.contains("r") ? "r" : "image_size";
  if (!j.contains(r_key)) detail::bad_config(source, "missing key \"r\" (the input resolution)");
  const auto& r = j.at(r_key);
  if (r.is_array()) {
    if (r.size() != 1) detail::bad_config(source, "\"r\" must be an integer or a one-element list, got " + detail::json_excerpt(r));
    c.resolution = detail::json_int(r[0], source, "r[0]");
  } else {
    c.resolution = detail::json_int(r, source, "r");
  }
  try {
    c.validate();
  } catch (const config_error& e) {
    detail::bad_config(source, e.what());
  }
  return c;
}

template <class Space>
subnet_config<Space> parse_config(std::string_view text, std::string_view source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    detail::bad_config(source, std::string("not valid JSON (") + e.what() + ")");
  }
  return config_from_json<Space>(j, source);
}

template <class Space>
subnet_config<Space> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error("ofa: cannot open config file '" + path + "'; check the path");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config<Space>(text.str(), path);
}

}  // namespace ofa
