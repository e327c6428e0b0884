#pragma once
/// @file
/// The baseline every search should be compared with: the best of N random subnets under the
/// same budget, measured the same way. A search that does not beat it has learned nothing the
/// budget alone did not give.

#include <algorithm>  // max
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/random.hpp"
#include "ofa/search/constraint.hpp"
#include "ofa/space/config_json.hpp"
#include "ofa/space/sampling.hpp"

namespace ofa::search {

/** @brief One budget's random baseline. */
template <class Space>
struct random_baseline {
  subnet_config<Space> best;  ///< the best measured of the budget's sample
  double best_top1 = 0;       ///< its measured top-1
  std::vector<double> top1;   ///< every sampled subnet's, in draw order
  std::size_t draws = 0;      ///< draws of the shared stream looked at to find the sample
};

/** @brief For each budget, `count` random subnets that meet it (and `others`), each measured by
 *  `measure(config) -> top-1`, and the best of them.
 *
 *  Every budget takes the first `count` draws of one stream (from `seed`, at `resolutions`, all of
 *  the space's when empty) that meet it: each budget has a sample of its own, and a subnet in several
 *  budgets' samples is measured once. `progress(measured_so_far, budget_index)` is called after each
 *  measurement. Throws ofa::config_error when a budget is so tight that fewer than `count` of
 *  `max_draws_per_subnet · count` draws meet it. */
template <class Space, class Measure, class Progress>
std::vector<random_baseline<Space>> random_baselines(const cost_models<Space>& costs,
                                                     const std::vector<constraint>& budgets,
                                                     const std::vector<constraint>& others, int count,
                                                     std::uint64_t seed, const std::vector<int>& resolutions,
                                                     Measure&& measure, Progress&& progress,
                                                     std::size_t max_draws_per_subnet = 1000) {
  if (count < 1) throw config_error("ofa::search::random_baselines: the sample size must be at least 1");
  rng engine(seed);
  struct draw {
    subnet_config<Space> config;
    double top1 = -1;  // < 0: not measured yet
  };
  std::vector<draw> draws;
  std::vector<random_baseline<Space>> out(budgets.size());
  int measured = 0;
  for (std::size_t k = 0; k < budgets.size(); ++k) {
    auto limits = others;
    limits.push_back(budgets[k]);
    auto& b = out[k];
    const std::size_t max_draws = max_draws_per_subnet * static_cast<std::size_t>(count);
    for (std::size_t position = 0; b.top1.size() < static_cast<std::size_t>(count); ++position) {
      if (position == max_draws)
        throw config_error("ofa::search::random_baselines: only " + std::to_string(b.top1.size()) + " of " +
                           std::to_string(max_draws) + " random subnets meet the budget " + budgets[k].to_string() +
                           "; loosen it or ask for fewer random subnets");
      if (position == draws.size())
        draws.push_back({sample_config<Space>(engine, sampling_constraint::at_resolutions(resolutions)), -1});
      auto& d = draws[position];
      b.draws = position + 1;
      if (!costs.satisfies(d.config, limits)) continue;
      if (d.top1 < 0) {
        d.top1 = measure(d.config);
        progress(++measured, k);
      }
      if (b.top1.empty() || d.top1 > b.best_top1) {
        b.best = d.config;
        b.best_top1 = d.top1;
      }
      b.top1.push_back(d.top1);
    }
  }
  return out;
}

}  // namespace ofa::search
