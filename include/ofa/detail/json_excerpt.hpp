#pragma once
/// @file
/// A short, bounded rendering of a JSON value for error messages. `dump()` recurses once per
/// nesting level, so a hostile file nested a few thousand arrays deep overflows the stack while
/// the message that rejects it is being written; this walks at most a few levels and cuts long text.

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace ofa::detail {

/** @brief `value` as JSON text, nested values past `depth` levels shown as `[...]`/`{...}`, and
 *  the whole cut to about `max_chars` characters. */
inline std::string json_excerpt(const nlohmann::json& value, int depth = 3, std::size_t max_chars = 80) {
  std::string out;
  const auto append = [&](auto&& self, const nlohmann::json& v, int level) -> void {
    if (out.size() > max_chars) return;
    if (v.is_array() || v.is_object()) {
      const bool array = v.is_array();
      if (level >= depth) {
        out += array ? "[...]" : "{...}";
        return;
      }
      out += array ? '[' : '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end() && out.size() <= max_chars; ++it) {
        if (!first) out += ", ";
        first = false;
        if (!array) out += nlohmann::json(it.key()).dump() + ": ";
        self(self, *it, level + 1);
      }
      out += array ? ']' : '}';
      return;
    }
    out += v.dump();  // a scalar: no recursion
  };
  append(append, value, 0);
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "...";
  return out;
}

}  // namespace ofa::detail
