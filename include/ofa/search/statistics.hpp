#pragma once
/// @file
/// How well one list of numbers follows another: root-mean-square error and Kendall's rank
/// correlation. The accuracy predictor is judged by both, the latency table by the second.

#include <cmath>
#include <span>
#include <string>

#include "ofa/errors.hpp"

namespace ofa::search {

/** @brief Root-mean-square error of `predicted` against `measured` (same units). */
double rmse(std::span<const double> predicted, std::span<const double> measured);
/** @brief Kendall's tau-b rank correlation (ties counted as neither order). */
double kendall_tau(std::span<const double> a, std::span<const double> b);

// ---------------------------------------------------------------------------
// implementation

inline double rmse(std::span<const double> p, std::span<const double> m) {
  if (p.size() != m.size() || p.empty())
    throw logic_error("ofa::search::rmse: " + std::to_string(p.size()) + " predictions for " +
                      std::to_string(m.size()) + " measurements; pass equal, non-empty lists");
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i) s += (p[i] - m[i]) * (p[i] - m[i]);
  return std::sqrt(s / double(p.size()));
}

inline double kendall_tau(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size() || a.size() < 2)
    throw logic_error("ofa::search::kendall_tau: needs two equal lists of at least 2 values, got " +
                      std::to_string(a.size()) + " and " + std::to_string(b.size()));
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = i + 1; j < a.size(); ++j) {
      const double x = a[i] - a[j], y = b[i] - b[j];
      if (x == 0 && y == 0) continue;
      if (x == 0) {
        ++ties_a;
      } else if (y == 0) {
        ++ties_b;
      } else {
        (x * y > 0 ? concordant : discordant) += 1;
      }
    }
  const double denom = std::sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  return denom > 0 ? (concordant - discordant) / denom : 0.0;
}

}  // namespace ofa::search
