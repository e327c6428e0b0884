#pragma once
/// @file
/// The reference evolutionary search (EvolutionFinder): a population of
/// subnets that meet every constraint; each generation keeps the best quarter
/// as parents and refills the population with mutations (half of it) and
/// crossovers of random parents, each resampled until it meets the constraints;
/// fitness is the accuracy predictor's, one batch a generation.
///
/// Determinism: every random draw comes from one ofa::rng on the calling
/// thread, in the reference's order, and the predictor scores a batch row by
/// row, so a seed gives the same search on any number of threads.
/// Pareto mode runs one search per budget (budget k seeded from (seed, k)) and
/// keeps every scored candidate for the front.

#include <algorithm>  // all_of, find, sort, stable_sort
#include <cmath>      // lround
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>  // move
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/random.hpp"
#include "ofa/search/constraint.hpp"
#include "ofa/space/arch_encoding.hpp"
#include "ofa/space/sampling.hpp"

namespace ofa::search {

/** @brief The reference's defaults. */
struct evolution_options {
  int population = 100;
  int generations = 500;
  double parent_ratio = 0.25;
  double mutation_ratio = 0.5;
  double arch_mutate_prob = 0.1;
  double resolution_mutate_prob = 0.5;
  std::uint64_t seed = 0;
  /// Draws before giving up on finding a subnet that meets the constraints together.
  int max_resamples = 100000;
  /// The finalists a measured re-ranking chooses among: up to this many of the best predicted
  /// subnets of the whole run, each differing from every better one in at least
  /// `finalist_min_difference` choices (a block's kernel or expand, a unit's depth, the
  /// resolution). The last population alone has converged to near-copies of the best, and
  /// measuring near-copies spends the measurements on one subnet and its noise.
  int finalists = 20;
  int finalist_min_difference = 4;
  /// Search at these input resolutions only (empty: all of the space's): a deployment that runs at
  /// one size, or a latency table measured at some.
  std::vector<int> resolutions;
};

/** @brief A scored subnet with its costs. */
template <class Space>
struct candidate {
  subnet_config<Space> config;
  double accuracy = 0;  ///< predicted top-1 (a fraction)
  double macs = 0, params = 0, latency = 0;  ///< latency 0 without a table
};

template <class Space>
struct search_result {
  candidate<Space> best;
  std::vector<double> best_accuracy;  ///< the best predicted accuracy after each generation
  std::size_t scored = 0;             ///< predictor evaluations
  /// Up to options.finalists of the best predicted subnets of the run, apart from each other by
  /// options.finalist_min_difference choices, best predicted first (`best` is the first): the
  /// candidates a measured re-ranking chooses among, since the predictor's order within a few
  /// tenths of a point is partly its error.
  std::vector<candidate<Space>> finalists;
};

/** @brief Predicts top-1 of a batch of configs (an accuracy_predictor's predict, or any model). */
template <class Space>
using accuracy_model = std::function<std::vector<double>(std::span<const subnet_config<Space>>)>;

/** @brief One search under `constraints` (all at once). `archive`, if given, receives every
 *  scored candidate (for a Pareto front). Throws config_error when a constraint excludes every
 *  subnet, or when no subnet meeting all of them is found in max_resamples draws. */
template <class Space>
search_result<Space> evolutionary_search(const accuracy_model<Space>& predict, const cost_models<Space>& costs,
                                         const std::vector<constraint>& constraints,
                                         const evolution_options& options = {},
                                         std::vector<candidate<Space>>* archive = nullptr);

/** @brief Pareto mode: one search per budget of `budget_metric` (with `others` too). */
template <class Space>
struct pareto_result {
  std::vector<constraint> budgets;
  std::vector<search_result<Space>> per_budget;
  std::vector<candidate<Space>> front;  ///< non-dominated in (budget metric, accuracy), by cost
};

template <class Space>
pareto_result<Space> pareto_search(const accuracy_model<Space>& predict, const cost_models<Space>& costs,
                                   const std::vector<constraint>& budgets, const std::vector<constraint>& others = {},
                                   const evolution_options& options = {});

/** @brief Makes a ladder of targets (`targets[k]` the best found under `budgets[k]`, budgets
 *  growing) never worse with a larger budget: where the search under budget k found a less
 *  accurate subnet than under a smaller one whose target meets budget k too (evolution is random),
 *  that target is taken. Returns a note per budget, empty where nothing changed. */
template <class Space>
std::vector<std::string> never_worse_with_budget(std::vector<candidate<Space>>& targets,
                                                 const std::vector<constraint>& budgets,
                                                 const std::vector<constraint>& others,
                                                 const cost_models<Space>& costs);

/** @brief The candidates no other beats in both lower cost (`m`) and higher accuracy, by cost. */
template <class Space>
std::vector<candidate<Space>> pareto_front(std::vector<candidate<Space>> candidates, metric m);

/** @brief `count` budgets of `m` spaced evenly between the cheapest subnet's cost and the largest's. */
template <class Space>
std::vector<constraint> budget_ladder(const cost_models<Space>& costs, metric m, int count);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
template <class Space>
double cost_of(const candidate<Space>& c, metric m) {
  return m == metric::macs ? c.macs : m == metric::params ? c.params : c.latency;
}

template <class Space>
candidate<Space> costed(const cost_models<Space>& costs, const subnet_config<Space>& config) {
  candidate<Space> c;
  c.config = config;
  c.macs = costs.macs(config);
  c.params = costs.params(config);
  c.latency = costs.latency ? (*costs.latency)(config) : 0.0;
  return c;
}

template <class Space, class Draw>
subnet_config<Space> draw_valid(Draw&& draw, const cost_models<Space>& costs, const std::vector<constraint>& constraints,
                                int max_resamples, const char* what) {
  for (int i = 0; i < max_resamples; ++i) {
    auto c = draw();
    if (costs.satisfies(c, constraints)) return c;
  }
  std::string list;
  for (const auto& c : constraints) list += (list.empty() ? "" : ", ") + c.to_string();
  throw config_error(std::string("ofa::search::evolutionary_search: ") + what + " found no subnet meeting " + list +
                     " in " + std::to_string(max_resamples) +
                     " draws; the constraints together leave (almost) nothing: relax one of them");
}

/// In how many choices two subnets differ: their one-hot encodings differ in two entries per
/// changed choice (a block that depth cuts in one of them only: its kernel's and its expand's
/// entry, counted as one choice).
inline int choice_difference(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  int entries = 0;
  for (std::size_t i = 0; i < a.size(); ++i) entries += a[i] != b[i];
  return (entries + 1) / 2;
}

/// `best`, then the best predicted of `elite` that differ from every one taken before them in at
/// least options.finalist_min_difference choices, up to options.finalists in all.
template <class Space>
std::vector<candidate<Space>> spread_finalists(const candidate<Space>& best, std::vector<candidate<Space>> elite,
                                               const evolution_options& o) {
  std::stable_sort(elite.begin(), elite.end(),
                   [](const candidate<Space>& a, const candidate<Space>& b) { return a.accuracy > b.accuracy; });
  std::vector<candidate<Space>> finalists{best};
  std::vector<std::vector<std::uint8_t>> taken{encode_arch<Space, std::uint8_t>(best.config)};
  for (const auto& c : elite) {
    if (finalists.size() >= static_cast<std::size_t>(o.finalists)) break;
    auto code = encode_arch<Space, std::uint8_t>(c.config);
    if (std::all_of(taken.begin(), taken.end(),
                    [&](const auto& t) { return choice_difference(t, code) >= o.finalist_min_difference; })) {
      finalists.push_back(c);
      taken.push_back(std::move(code));
    }
  }
  return finalists;
}
}  // namespace detail

template <class Space>
search_result<Space> evolutionary_search(const accuracy_model<Space>& predict, const cost_models<Space>& costs,
                                         const std::vector<constraint>& constraints, const evolution_options& o,
                                         std::vector<candidate<Space>>* archive) {
  if (o.population < 2 || o.generations < 0 || !(o.parent_ratio > 0 && o.parent_ratio <= 1) ||
      !(o.mutation_ratio >= 0 && o.mutation_ratio <= 1))
    throw config_error(
        "ofa::search::evolutionary_search: population must be at least 2, generations at least 0, parent_ratio in "
        "(0, 1] and mutation_ratio in [0, 1] (the reference: 100, 500, 0.25, 0.5)");
  if (o.finalists < 1 || o.finalist_min_difference < 1)
    throw config_error("ofa::search::evolutionary_search: finalists and finalist_min_difference must be at least 1 (" +
                       std::to_string(o.finalists) + " and " + std::to_string(o.finalist_min_difference) +
                       " given; 1 keeps any distinct subnets)");
  costs.check_feasible(constraints);
  const auto mutations = static_cast<std::size_t>(std::lround(o.mutation_ratio * o.population));
  const auto parents_size = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(o.parent_ratio * o.population)));
  const auto population_size = static_cast<std::size_t>(o.population);
  rng engine(o.seed);

  search_result<Space> result;
  std::vector<candidate<Space>> population, children;
  std::vector<candidate<Space>> elite;  // every generation's parents: where the finalists come from
  std::vector<subnet_config<Space>> configs;
  auto score = [&](std::vector<candidate<Space>>& batch) {
    configs.clear();
    for (const auto& c : batch) configs.push_back(c.config);
    const auto acc = predict(configs);
    if (acc.size() != batch.size())
      throw logic_error("ofa::search::evolutionary_search: the accuracy model returned " + std::to_string(acc.size()) +
                        " values for " + std::to_string(batch.size()) + " configs");
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].accuracy = acc[i];
    result.scored += batch.size();
    if (archive) archive->insert(archive->end(), batch.begin(), batch.end());
  };

  for (std::size_t i = 0; i < population_size; ++i)
    children.push_back(detail::costed(
        costs, detail::draw_valid<Space>(
                   [&] { return sample_config<Space>(engine, sampling_constraint::at_resolutions(o.resolutions)); },
                   costs, constraints, o.max_resamples, "random sampling")));
  score(children);
  population = children;
  result.best.accuracy = -1;
  auto by_accuracy = [](const candidate<Space>& a, const candidate<Space>& b) { return a.accuracy > b.accuracy; };
  for (int g = 0; g < o.generations; ++g) {
    std::stable_sort(population.begin(), population.end(), by_accuracy);
    population.resize(std::min(parents_size, population.size()));
    if (population.front().accuracy > result.best.accuracy) result.best = population.front();
    elite.insert(elite.end(), population.begin(), population.end());
    result.best_accuracy.push_back(result.best.accuracy);
    children.clear();
    const std::size_t parents = population.size();
    for (std::size_t i = 0; i < mutations; ++i) {
      const auto& parent = population[engine.uniform_index(parents)].config;
      children.push_back(detail::costed(
          costs, detail::draw_valid<Space>(
                     [&] {
                       auto c = mutate_config(parent, engine, o.arch_mutate_prob, o.resolution_mutate_prob);
                       if (!o.resolutions.empty() &&
                           std::find(o.resolutions.begin(), o.resolutions.end(), c.resolution) == o.resolutions.end())
                         c.resolution = o.resolutions[engine.uniform_index(o.resolutions.size())];
                       return c;
                     },
                     costs, constraints, o.max_resamples, "mutation")));
    }
    for (std::size_t i = mutations; i < population_size; ++i) {
      const auto& a = population[engine.uniform_index(parents)].config;
      const auto& b = population[engine.uniform_index(parents)].config;
      children.push_back(detail::costed(
          costs, detail::draw_valid<Space>([&] { return crossover_config(a, b, engine); }, costs, constraints,
                                           o.max_resamples, "crossover")));
    }
    score(children);
    population.insert(population.end(), children.begin(), children.end());
  }
  std::stable_sort(population.begin(), population.end(), by_accuracy);
  if (population.front().accuracy > result.best.accuracy) result.best = population.front();
  elite.insert(elite.end(), population.begin(), population.end());
  result.finalists = detail::spread_finalists(result.best, std::move(elite), o);
  return result;
}

template <class Space>
std::vector<candidate<Space>> pareto_front(std::vector<candidate<Space>> all, metric m) {
  std::stable_sort(all.begin(), all.end(), [m](const candidate<Space>& a, const candidate<Space>& b) {
    const double ca = detail::cost_of(a, m), cb = detail::cost_of(b, m);
    return ca != cb ? ca < cb : a.accuracy > b.accuracy;
  });
  std::vector<candidate<Space>> front;
  for (const auto& c : all)
    if (front.empty() || c.accuracy > front.back().accuracy) front.push_back(c);
  return front;
}

template <class Space>
pareto_result<Space> pareto_search(const accuracy_model<Space>& predict, const cost_models<Space>& costs,
                                   const std::vector<constraint>& budgets, const std::vector<constraint>& others,
                                   const evolution_options& options) {
  if (budgets.empty()) throw config_error("ofa::search::pareto_search: give at least one budget");
  pareto_result<Space> r;
  r.budgets = budgets;
  std::vector<candidate<Space>> archive;
  for (std::size_t k = 0; k < budgets.size(); ++k) {
    auto all = others;
    all.push_back(budgets[k]);
    auto o = options;
    o.seed = rng::derive(options.seed, k)();
    r.per_budget.push_back(evolutionary_search(predict, costs, all, o, &archive));
  }
  r.front = pareto_front(std::move(archive), budgets.front().what);
  return r;
}

template <class Space>
std::vector<constraint> budget_ladder(const cost_models<Space>& costs, metric m, int count) {
  if (count < 1) throw config_error("ofa::search::budget_ladder: count must be at least 1");
  const double lo = costs.lower_bound(m), hi = costs(m, subnet_config<Space>::max());
  std::vector<constraint> out;
  for (int i = 1; i <= count; ++i) out.push_back({m, lo + (hi - lo) * double(i) / double(count)});
  return out;
}

template <class Space>
std::vector<std::string> never_worse_with_budget(std::vector<candidate<Space>>& targets,
                                                 const std::vector<constraint>& budgets,
                                                 const std::vector<constraint>& others,
                                                 const cost_models<Space>& costs) {
  if (targets.size() != budgets.size())
    throw logic_error("ofa::search::never_worse_with_budget: " + std::to_string(targets.size()) + " targets for " +
                      std::to_string(budgets.size()) + " budgets");
  std::vector<std::string> notes(budgets.size());
  for (std::size_t k = 1; k < budgets.size(); ++k) {
    auto limits = others;
    limits.push_back(budgets[k]);
    if (targets[k - 1].accuracy > targets[k].accuracy && costs.satisfies(targets[k - 1].config, limits)) {
      targets[k] = targets[k - 1];
      notes[k] = "the search under " + budgets[k].to_string() + " found nothing better than under " +
                 budgets[k - 1].to_string() + ": that target is taken";
    }
  }
  return notes;
}

}  // namespace ofa::search
