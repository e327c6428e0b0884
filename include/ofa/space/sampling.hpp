#pragma once
/// @file
/// Random subnets as the reference search and trainer draw them: uniform
/// sampling (optionally restricted, as progressive shrinking restricts the
/// choices phase by phase), mutation and crossover. All driven by ofa::rng,
/// so the same seed gives the same configs on every machine.

#include <algorithm>  // find
#include <string>
#include <utility>  // move
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/random.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa {

/** @brief Restricts sampling to some values of each dimension (empty = all of the space).
 *  Progressive shrinking uses it: e.g. kernels {7} then {3,5,7}, depths {4} then {3,4}. In a
 *  ResNet (bottleneck units, whose base depths differ) depths count as the reference's d does:
 *  blocks above each unit's smallest depth, {2} then {1,2} then {0,1,2}. */
struct sampling_constraint {
  std::vector<int> kernels;
  std::vector<int> expands;
  std::vector<int> depths;
  std::vector<int> resolutions;
  std::vector<int> widths;  ///< width multiplier indices (0 the narrowest) of units and stems that have several

  /** @brief Every architecture, at these resolutions only. */
  static sampling_constraint at_resolutions(std::vector<int> allowed) {
    sampling_constraint c;
    c.resolutions = std::move(allowed);
    return c;
  }
};

/** @brief A uniformly random subnet. Order of draws as the reference: every slot's kernel,
 *  every slot's expand ratio, every unit's depth, then (ResNets) the deep stem's skip and widths and
 *  every unit's width, then the resolution. A deep stem skips its middle layer only where the
 *  constraint allows the units' smallest depths, as the reference's phases do. */
template <class Space>
subnet_config<Space> sample_config(rng& engine, const sampling_constraint& constraint = {});

/** @brief The reference mutation: with probability `resolution_prob` a new resolution;
 *  each slot with probability `arch_prob` a new kernel and expand ratio; each unit with
 *  probability `arch_prob` a new depth (and, where it has several, a new width); a deep stem's
 *  skip and each of its widths with probability `arch_prob`. */
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

/// The indices 0..count-1 the constraint allows (count > 1).
inline std::vector<int> allowed_indices(std::size_t count, const std::vector<int>& constraint) {
  std::vector<int> out;
  for (int i = 0; i < int(count); ++i)
    if (constraint.empty() || std::find(constraint.begin(), constraint.end(), i) != constraint.end()) out.push_back(i);
  if (out.empty())
    throw config_error("ofa::sample_config: the constraint on width multiplier indices allows none of 0.." +
                       std::to_string(count - 1) + "; include at least one of them");
  return out;
}

/// The depths of unit `u` a constraint allows; a bottleneck unit reads it as blocks above its smallest depth.
inline std::vector<int> allowed_depths(const space::unit_info& u, const std::vector<int>& constraint) {
  if (!u.bottleneck() || constraint.empty() || u.depths.size == 1)
    return allowed_values(u.depths, constraint, "depths");
  std::vector<int> absolute;
  for (int d : constraint) absolute.push_back(u.depths.min() + d);
  return allowed_values(u.depths, absolute, "depths (blocks above the unit's smallest depth)");
}

inline int pick(const std::vector<int>& values, rng& engine) {
  return values[static_cast<std::size_t>(engine.uniform_index(values.size()))];
}

template <std::size_t N>
inline int pick(const space::basic_choice_set<N>& values, rng& engine) {
  return values[static_cast<std::size_t>(engine.uniform_index(values.size))];
}
/// The choices only ResNets have; a space without them draws nothing here, so that a MobileNet's
/// stream of draws is what it was before they came.
template <class Space>
void sample_widths(subnet_config<Space>& c, rng& engine, const sampling_constraint& constraint) {
  const auto& stem = Space::stem;
  if constexpr (Space::stem.deep()) {
    // The stem's middle layer may be left out where the phase allows every unit its smallest depth.
    bool smallest_allowed = true, elastic = false;
    for (const auto& u : Space::unit_table) {
      smallest_allowed = smallest_allowed && allowed_depths(u, constraint.depths)[0] == u.depths.min();
      elastic = elastic || u.depths.size > 1;
    }
    c.stem_skip = smallest_allowed && elastic && engine.bernoulli(0.5);
  }
  auto width = [&](std::size_t count) {
    return count > 1 ? pick(allowed_indices(count, constraint.widths), engine) : 0;
  };
  if (stem.deep()) c.stem_width = {width(stem.mid_widths.size), width(stem.widths.size)};
  for (std::size_t u = 0; u < Space::unit_count; ++u) c.width[u] = width(Space::unit_table[u].widths.size);
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
    const auto depths = detail::allowed_depths(Space::unit_table[u], constraint.depths);
    c.depth[u] = detail::pick(depths, engine);
  }
  detail::sample_widths<Space>(c, engine, constraint);
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
  if constexpr (Space::stem.deep()) {  // ResNets: the stem's choices and the widths mutate as a depth does
    if (engine.bernoulli(arch_prob)) c.stem_skip = engine.bernoulli(0.5);
    for (std::size_t i = 0; i < 2; ++i)
      if (engine.bernoulli(arch_prob))
        c.stem_width[i] = int(engine.uniform_index(i == 0 ? Space::stem.mid_widths.size : Space::stem.widths.size));
  }
  for (std::size_t u = 0; u < Space::unit_count; ++u)
    if (const auto n = Space::unit_table[u].widths.size; n > 1 && engine.bernoulli(arch_prob))
      c.width[u] = int(engine.uniform_index(n));
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
  if constexpr (Space::stem.deep()) {
    c.stem_skip = engine.bernoulli(0.5) ? a.stem_skip : b.stem_skip;
    mix(c.stem_width, a.stem_width, b.stem_width);
  }
  bool several_widths = false;
  for (const auto& u : Space::unit_table) several_widths = several_widths || u.widths.size > 1;
  if (several_widths) mix(c.width, a.width, b.width);
  return c;
}

}  // namespace ofa
