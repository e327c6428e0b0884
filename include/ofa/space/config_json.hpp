#pragma once
/// @file
/// subnet_config <-> JSON in the reference implementation's arch-dict form:
/// {"ks": [...], "e": [...], "d": [...], "r": [224]}. Configs found with the
/// PyTorch OFA code load here, and configs written here load there.

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

template <class Space>
nlohmann::json to_json(const subnet_config<Space>& config) {
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

template <class Space>
subnet_config<Space> config_from_json(const nlohmann::json& j, std::string_view source) {
  if (!j.is_object()) detail::bad_config(source, "expected a JSON object with keys ks, e, d, r");
  for (const auto& item : j.items()) {
    const auto& key = item.key();
    if (key != "ks" && key != "e" && key != "d" && key != "r" && key != "image_size" && key != "wid")
      detail::bad_config(source, "unknown key \"" + key + "\" (expected ks, e, d, r)");
  }
  subnet_config<Space> c;
  detail::json_int_list(j, "ks", c.kernel, source);
  detail::json_int_list(j, "e", c.expand, source);
  detail::json_int_list(j, "d", c.depth, source);
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
