#pragma once
/// @file
/// Random subnets as the reference search and trainer draw them: uniform
/// sampling (optionally restricted, as progressive shrinking restricts the
/// choices phase by phase), mutation and crossover. All driven by ofa::rng,
/// so the same seed gives the same configs on every machine.

#include <algorithm>  // find
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/random.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa {

/** @brief Restricts sampling to some values of each dimension (empty = all of the space).
 *  Progressive shrinking uses it: e.g. kernels {7} then {3,5,7}, depths {4} then {3,4}. */
struct sampling_constraint {
  std::vector<int> kernels;
  std::vector<int> expands;
  std::vector<int> depths;
  std::vector<int> resolutions;
};

/** @brief A uniformly random subnet. Order of draws as the reference: every slot's kernel,
 *  every slot's expand ratio, every unit's depth, then the resolution. */
template <class Space>
subnet_config<Space> sample_config(rng& engine, const sampling_constraint& constraint = {});

/** @brief The reference mutation: with probability `resolution_prob` a new resolution;
 *  each slot with probability `arch_prob` a new kernel and expand ratio; each unit with
 *  probability `arch_prob` a new depth. */
template <class Space>
subnet_config<Space> mutate_config(const subnet_config<Space>& parent, rng& engine, double arch_prob = 0.1,
                                   double resolution_prob = 0.5);

/** @brief The reference crossover: every field taken from either parent with equal odds. */
template <class Space>
subnet_config<Space> crossover_config(const subnet_config<Space>& a, const subnet_config<Space>& b, rng& engine);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// Allowed values of one dimension: the space's, filtered by a constraint list.
template <std::size_t N>
inline std::vector<int> allowed_values(const space::basic_choice_set<N>& space_values,
                                       const std::vector<int>& constraint, const char* what) {
  std::vector<int> out;
  // A dimension with one choice is fixed, not elastic: no phase of training constrains it (the
  // one-block last unit of ProxylessNAS keeps depth 1 while a phase trains depth 4 elsewhere).
  if (space_values.size == 1) return {space_values[0]};
  for (int v : space_values)
    if (constraint.empty() || std::find(constraint.begin(), constraint.end(), v) != constraint.end()) out.push_back(v);
  if (out.empty())
    throw config_error(std::string("ofa::sample_config: the constraint on ") + what + " allows none of " +
                       space_values.to_string() + "; include at least one of them");
  return out;
}

inline int pick(const std::vector<int>& values, rng& engine) {
  return values[static_cast<std::size_t>(engine.uniform_index(values.size()))];
}

template <std::size_t N>
inline int pick(const space::basic_choice_set<N>& values, rng& engine) {
  return values[static_cast<std::size_t>(engine.uniform_index(values.size))];
}
}  // namespace detail

template <class Space>
subnet_config<Space> sample_config(rng& engine, const sampling_constraint& constraint) {
  subnet_config<Space> c;
  for (const auto& u : Space::unit_table) {
    const auto kernels = detail::allowed_values(u.kernels, constraint.kernels, "kernel sizes");
    for (int i = 0; i < u.depths.max(); ++i)
      c.kernel[static_cast<std::size_t>(u.first_slot + i)] = detail::pick(kernels, engine);
  }
  for (const auto& u : Space::unit_table) {
    const auto expands = detail::allowed_values(u.expands, constraint.expands, "expand ratios");
    for (int i = 0; i < u.depths.max(); ++i)
      c.expand[static_cast<std::size_t>(u.first_slot + i)] = detail::pick(expands, engine);
  }
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto depths = detail::allowed_values(Space::unit_table[u].depths, constraint.depths, "depths");
    c.depth[u] = detail::pick(depths, engine);
  }
  const auto resolutions = detail::allowed_values(Space::resolution_set, constraint.resolutions, "resolutions");
  c.resolution = detail::pick(resolutions, engine);
  return c;
}

template <class Space>
subnet_config<Space> mutate_config(const subnet_config<Space>& parent, rng& engine, double arch_prob,
                                   double resolution_prob) {
  subnet_config<Space> c = parent;
  if (engine.bernoulli(resolution_prob)) c.resolution = detail::pick(Space::resolution_set, engine);
  for (const auto& u : Space::unit_table) {
    for (int i = 0; i < u.depths.max(); ++i) {
      if (engine.bernoulli(arch_prob)) {
        const auto slot = static_cast<std::size_t>(u.first_slot + i);
        c.kernel[slot] = detail::pick(u.kernels, engine);
        c.expand[slot] = detail::pick(u.expands, engine);
      }
    }
  }
  for (std::size_t u = 0; u < Space::unit_count; ++u)
    if (engine.bernoulli(arch_prob)) c.depth[u] = detail::pick(Space::unit_table[u].depths, engine);
  return c;
}

template <class Space>
subnet_config<Space> crossover_config(const subnet_config<Space>& a, const subnet_config<Space>& b, rng& engine) {
  subnet_config<Space> c = a;
  auto mix = [&](auto& out, const auto& x, const auto& y) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = engine.bernoulli(0.5) ? x[i] : y[i];
  };
  mix(c.kernel, a.kernel, b.kernel);
  mix(c.expand, a.expand, b.expand);
  mix(c.depth, a.depth, b.depth);
  c.resolution = engine.bernoulli(0.5) ? a.resolution : b.resolution;
  return c;
}

}  // namespace ofa
