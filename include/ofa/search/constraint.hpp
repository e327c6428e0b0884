#pragma once
/// @file
/// Efficiency constraints of the search ("macs<=40M", "latency<=5ms",
/// "params<=2M") and the cost models that check them: MACs and parameters are
/// exact layer tables; latency is a table measured on this CPU
/// (latency_table.hpp). Every cost is a sum over layers, so a check is ~20
/// lookups and the search can afford to resample candidates until they fit.

#include <algorithm>  // min
#include <cctype>
#include <cmath>
#include <cstdlib>  // strtod
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/search/layer_table.hpp"

namespace ofa::search {

enum class metric { macs, params, latency };

/** @brief "macs", "params", "latency". */
inline std::string to_string(metric m) {
  switch (m) {
    case metric::macs: return "macs";
    case metric::params: return "params";
    case metric::latency: return "latency";
  }
  return "?";
}

/** @brief A budget: `what` at most `limit` (MACs and parameters as counts, latency in ms). */
struct constraint {
  metric what = metric::macs;
  double limit = 0;

  /** @brief "macs<=40M" (suffixes K, M, G), "params<=2M", "latency<=5ms" (ms or us). */
  static constraint parse(const std::string& text);
  /** @brief "macs<=40M", "latency<=5ms": what parse() reads back. */
  std::string to_string() const;
};

/** @brief Every cost a constraint can name. Latency is absent until a table is given. */
template <class Space>
struct cost_models {
  layer_table<Space> macs = macs_table<Space>();
  layer_table<Space> params = params_table<Space>();
  std::optional<layer_table<Space>> latency;  ///< milliseconds
  /// The resolutions a search may use (empty: all of the space's): the lower bounds look only there.
  std::vector<int> resolutions;

  const layer_table<Space>& table(metric m) const;
  double operator()(metric m, const subnet_config<Space>& config) const { return table(m)(config); }
  bool satisfies(const subnet_config<Space>& config, const std::vector<constraint>& constraints) const {
    for (const auto& c : constraints)
      if (table(c.what)(config) > c.limit) return false;
    return true;
  }
  /** @brief The least `m` any subnet of the space has at the allowed resolutions (exact: costs
   *  add up over layers). */
  double lower_bound(metric m) const;
  /** @brief Throws config_error when a constraint alone excludes every subnet, naming the cheapest. */
  void check_feasible(const std::vector<constraint>& constraints) const;
};

// ---------------------------------------------------------------------------
// implementation

namespace detail {
inline std::string format_amount(double v) {
  char buf[32];
  if (v >= 1e9)
    std::snprintf(buf, sizeof buf, "%.4gG", v / 1e9);
  else if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.4gM", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(buf, sizeof buf, "%.4gK", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace detail

inline constraint constraint::parse(const std::string& text) {
  auto fail = [&](const std::string& why) {
    return config_error("ofa::search::constraint: '" + text + "' " + why +
                        "; write e.g. 'macs<=40M', 'params<=2M' or 'latency<=5ms'");
  };
  const auto op = text.find("<=");
  if (op == std::string::npos) throw fail("has no '<='");
  std::string name = text.substr(0, op), value = text.substr(op + 2);
  auto trim = [](std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    return s;
  };
  name = trim(name);
  value = trim(value);
  constraint c;
  if (name == "macs" || name == "flops")
    c.what = metric::macs;
  else if (name == "params")
    c.what = metric::params;
  else if (name == "latency")
    c.what = metric::latency;
  else
    throw fail("names '" + name + "', not macs, params or latency");
  char* end = nullptr;
  const double number = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || !(number > 0) || !std::isfinite(number)) throw fail("has no positive limit");
  const std::string unit = trim(end);
  double scale = 1;
  if (c.what == metric::latency) {
    if (unit == "ms" || unit.empty())
      scale = 1;
    else if (unit == "us")
      scale = 1e-3;
    else if (unit == "s")
      scale = 1e3;
    else
      throw fail("has latency unit '" + unit + "' (allowed: ms, us, s)");
  } else {
    if (unit.empty())
      scale = 1;
    else if (unit == "K" || unit == "k")
      scale = 1e3;
    else if (unit == "M")
      scale = 1e6;
    else if (unit == "G")
      scale = 1e9;
    else
      throw fail("has unit '" + unit + "' (allowed: K, M, G)");
  }
  c.limit = number * scale;
  return c;
}

inline std::string constraint::to_string() const {
  if (what == metric::latency) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%gms", limit);
    return "latency<=" + std::string(buf);
  }
  return search::to_string(what) + "<=" + detail::format_amount(limit);
}

template <class Space>
const layer_table<Space>& cost_models<Space>::table(metric m) const {
  switch (m) {
    case metric::macs: return macs;
    case metric::params: return params;
    case metric::latency:
      if (!latency)
        throw config_error(
            "ofa::search: a latency constraint needs a latency table of this CPU; measure one with "
            "'ofa latency-table' (or search::measure_latency_table) and pass it");
      return *latency;
  }
  throw logic_error("ofa::search::cost_models: unknown metric");
}

template <class Space>
double cost_models<Space>::lower_bound(metric m) const {
  const auto& t = table(m);
  const auto& layers = t.layers;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t ri = 0; ri < Space::resolution_set.size; ++ri) {
    if (!resolutions.empty() &&
        std::find(resolutions.begin(), resolutions.end(), Space::resolution_set[ri]) == resolutions.end())
      continue;
    // The cheapest stem, by the width index it hands on (a deep stem: over its skip and middle width).
    const auto& stem = Space::stem;
    const std::size_t stem_widths = stem.widths.size;
    std::vector<double> reaching(stem_widths, std::numeric_limits<double>::infinity());  // by the width handed on
    for (int skip = 0; skip < (stem.deep() ? 2 : 1); ++skip)
      for (int mid = 0; mid < (stem.deep() ? int(stem.mid_widths.size) : 1); ++mid)
        for (std::size_t w = 0; w < stem_widths; ++w)
          reaching[w] = std::min(reaching[w], t.values[layers.stem(ri, skip == 1, mid, int(w))]);
    if (Space::first_block.present()) {
      const double stem_best = *std::min_element(reaching.begin(), reaching.end());
      reaching.assign(1, stem_best + t.values[layers.first_block(ri)]);
    }
    // Unit by unit, the cheapest way to arrive at each width: a unit's first block depends on the
    // width it receives, so the widths chain (a shortest path over width indices).
    for (std::size_t u = 0; u < Space::unit_count; ++u) {
      const auto& info = Space::unit_table[u];
      auto cheapest = [&](bool first, int in, int w) {
        double c = std::numeric_limits<double>::infinity();
        for (std::size_t k = 0; k < info.kernels.size; ++k)
          for (std::size_t e = 0; e < info.expands.size; ++e)
            c = std::min(c, t.values[layers.block(ri, u, first, k, e, in, w)]);
        return c;
      };
      std::vector<double> next(info.widths.size, std::numeric_limits<double>::infinity());
      for (std::size_t w = 0; w < info.widths.size; ++w) {
        const double later = cheapest(false, int(w), int(w));
        for (std::size_t in = 0; in < reaching.size(); ++in) {
          const double first = reaching[in] + cheapest(true, int(in), int(w));
          for (int d : info.depths) next[w] = std::min(next[w], first + later * (d - 1));
        }
      }
      reaching = std::move(next);
    }
    double sum = std::numeric_limits<double>::infinity();
    for (std::size_t w = 0; w < reaching.size(); ++w)
      sum = std::min(sum, reaching[w] + t.values[layers.head(ri, Space::head.has_final_expand() ? 0 : int(w))]);
    sum += t.overhead;
    best = std::min(best, sum);
  }
  return best;
}

template <class Space>
void cost_models<Space>::check_feasible(const std::vector<constraint>& constraints) const {
  for (const auto& c : constraints) {
    const double least = lower_bound(c.what);
    if (least > c.limit) {
      constraint cheapest{c.what, least};
      throw config_error("ofa::search: no subnet of the space meets '" + c.to_string() + "': the cheapest has " +
                         cheapest.to_string().substr(cheapest.to_string().find("<=") + 2) +
                         "; raise the budget to at least that");
    }
  }
}

}  // namespace ofa::search
