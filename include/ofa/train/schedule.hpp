#pragma once
/// @file
/// Training as data: a schedule is a list of phases, each with its epochs, learning
/// rate, warm-up, subnets per step, the kernel / depth / expand choices it samples
/// from, whether the middle channels are re-organised first, and how much it
/// distils. Progressive shrinking (the reference's order) is one schedule; the
/// ablation's baselines are others; a JSON file can give any.

#include <algorithm>
#include <cmath>  // lround, isfinite
#include <cstdint>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ofa/detail/json_excerpt.hpp"
#include "ofa/detail/json_number.hpp"
#include "ofa/errors.hpp"
#include "ofa/space/config_json.hpp"
#include "ofa/space/sampling.hpp"
#include "ofa/space/shrinking_order.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa::train {

/** @brief How a phase draws the subnets of a step.
 *  - random: `subnets_per_step` random subnets within the phase's choices (the reference);
 *  - sandwich: the largest, the smallest and `subnets_per_step` - 2 random ones, the others
 *    distilling from the largest's logits of the same step (BigNAS, AttentiveNAS);
 *  - fixed: one given subnet (the full network, or a standalone baseline). */
enum class sampling_rule { random, sandwich, fixed };

/** @brief One phase of a schedule. Empty choice lists mean every choice of the space. */
template <class Space>
struct phase {
  std::string name;
  int epochs = 1;
  double base_lr = 0.05;
  double warmup_epochs = 0;
  int subnets_per_step = 1;  ///< the reference's dynamic batch size
  sampling_rule rule = sampling_rule::random;
  std::vector<int> kernels, depths, expands;
  std::vector<int> widths;                    ///< width multiplier indices (ResNets)
  std::optional<subnet_config<Space>> fixed;  ///< rule == fixed
  std::optional<int> reorganize_stage;        ///< re-organise middle channels (expand phases) first
  double kd_ratio = 0;                        ///< distillation from the teacher (or, sandwich, the largest)

  /** @brief The sampling constraint of the phase (all resolutions: the batch decides). */
  sampling_constraint constraint() const { return {kernels, expands, depths, {}, widths}; }
};

/** @brief A whole schedule. */
template <class Space>
struct schedule {
  std::string name;
  std::vector<phase<Space>> phases;
  /** @brief Whether any phase distils from the teacher (the full network after phase 0). */
  bool needs_teacher() const {
    return std::any_of(phases.begin(), phases.end(),
                       [](const auto& p) { return p.kd_ratio > 0 && p.rule != sampling_rule::sandwich; });
  }
  int total_epochs() const {
    int n = 0;
    for (const auto& p : phases) n += p.epochs;
    return n;
  }
};

/** @brief The reference's order, at CIFAR scale: the full network (K7 E6 D4), then the block
 *  kind's steps (space/shrinking_order.hpp). MBConv: kernel {3,5,7}, depth {3,4} then {2,3,4},
 *  expand {4,6} then {3,4,6} (re-organising the channels before each), subnets per step 1, 1, 2,
 *  2, 4, 4; bottlenecks: depth, expand, then width, as the reference orders them. Distillation
 *  from the full network with kd_ratio 1.
 *  `epochs_scale` stretches or shrinks every phase (at least one epoch each). */
template <class Space>
schedule<Space> progressive_shrinking(double epochs_scale = 1.0);
/** @brief Every dimension elastic from the first epoch, at progressive shrinking's total epochs. */
template <class Space>
schedule<Space> no_progressive_shrinking(double epochs_scale = 1.0);
/** @brief The sandwich rule at the same total: largest, smallest and two random subnets a step. */
template <class Space>
schedule<Space> sandwich(double epochs_scale = 1.0);
/** @brief One fixed subnet trained alone, at the same total epochs. */
template <class Space>
schedule<Space> standalone(const subnet_config<Space>& config, double epochs_scale = 1.0);

/** @brief A schedule from JSON text (`source` names it in messages):
 *  {"name": "...", "phases": [{"name": "kernel", "epochs": 4, "lr": 0.03, "warmup_epochs": 1,
 *   "subnets_per_step": 1, "rule": "random|sandwich|fixed", "kernels": [3, 5, 7], "depths": [4],
 *   "expands": [6], "widths": [2], "config": "max" | "min" | {...arch dict...}, "reorganize_stage": 0,
 *   "kd_ratio": 1.0}, ...]}. A ResNet's depths are the reference's d (blocks above each unit's
 *  smallest depth) and its widths multiplier indices.
 *  Unknown keys, values outside the space and impossible numbers throw ofa::config_error. */
template <class Space>
schedule<Space> parse_schedule(const std::string& text, const std::string& source);
/** @brief parse_schedule of a file; a missing file throws ofa::io_error. */
template <class Space>
schedule<Space> load_schedule(const std::string& path);
template <class Space>
nlohmann::json to_json(const schedule<Space>& s);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// A dimension's values over all units; a ResNet's depths as the reference's d (blocks above each
/// unit's smallest depth), its widths as multiplier indices.
template <class Space, class Member>
std::vector<int> space_values(Member member) {
  std::set<int> all;
  for (const auto& u : Space::unit_table) {
    const bool relative = u.relative_depths() && member == &space::unit_info::depths;
    const bool indices = member == &space::unit_info::widths;
    const auto& values = u.*member;
    for (std::size_t i = 0; i < values.size; ++i)
      all.insert(indices ? int(i) : relative ? values[i] - values.min() : values[i]);
  }
  return {all.begin(), all.end()};
}
template <class Space>
std::vector<int> largest_two(const std::vector<int>& all) {
  return all.size() <= 2 ? all : std::vector<int>(all.end() - 2, all.end());
}
/// Epochs of one phase at most: beyond any real run, and small enough that a schedule's total
/// (at most max_phases of them) fits an int.
inline constexpr std::int64_t max_phase_epochs = 1'000'000;
inline constexpr std::size_t max_phases = 1000;
/// Subnets drawn per step at most: each is a forward and backward of the batch.
inline constexpr int max_subnets_per_step = 1024;

inline int scaled(int epochs, double factor) {
  if (!std::isfinite(factor) || !(factor > 0) || double(epochs) * factor > double(max_phase_epochs))
    throw config_error("ofa: --epochs-scale " + std::to_string(factor) + " must be a positive number that leaves " +
                       "every phase at most " + std::to_string(max_phase_epochs) + " epochs");
  return std::max(1, static_cast<int>(std::lround(double(epochs) * factor)));
}
}  // namespace detail

template <class Space>
schedule<Space> progressive_shrinking(double f) {
  using space::elastic_dimension;
  using space::unit_info;
  const auto kernels = detail::space_values<Space>(&unit_info::kernels);
  const auto depths = detail::space_values<Space>(&unit_info::depths);
  const auto expands = detail::space_values<Space>(&unit_info::expands);
  const auto widths = detail::space_values<Space>(&unit_info::widths);
  schedule<Space> s;
  s.name = "ps";
  // How far each dimension is open: 0 at its largest choice, 1 its largest two, 2 all of it.
  int open[4] = {0, 0, 0, 0};
  const auto choices = [&](elastic_dimension d, const std::vector<int>& all) {
    const int o = open[int(d)];
    return o == 0 ? std::vector<int>{all.back()} : o == 1 ? detail::largest_two<Space>(all) : all;
  };
  const auto add = [&](const char* name, int epochs, double lr, double warmup, int subnets, double kd) {
    phase<Space> p;
    p.name = name;
    p.epochs = detail::scaled(epochs, f);
    p.base_lr = lr;
    p.warmup_epochs = std::min<double>(warmup, p.epochs - 1);
    p.subnets_per_step = subnets;
    p.kernels = choices(elastic_dimension::kernel, kernels);
    p.depths = choices(elastic_dimension::depth, depths);
    p.expands = choices(elastic_dimension::expand, expands);
    // Widths only where they are elastic; empty (every choice) once open, as a schedule file says it.
    if (widths.size() > 1 && open[int(elastic_dimension::width)] < 2)
      p.widths = choices(elastic_dimension::width, widths);
    p.kd_ratio = kd;
    s.phases.push_back(std::move(p));
    return &s.phases.back();
  };
  // The full network first (epochs and rates for about 100 minutes on two cores, docs/training.md):
  // it gets most of the budget, since every subnet inherits its weights and it teaches them.
  auto* full = add("full", 16, 0.05, 1, 1, 0.0);
  full->widths.clear();
  full->rule = sampling_rule::fixed;
  full->fixed = subnet_config<Space>::max();
  // Then the block kind's order (space/shrinking_order.hpp), distilling from the full network.
  for (const auto& step : space::shrinking_order(Space::blocks)) {
    open[int(step.opens)] = step.largest_two ? 1 : 2;
    auto* p = add(step.name, step.epochs, step.lr, step.warmup_epochs, step.subnets_per_step, 1.0);
    if (step.reorganize_stage >= 0) p->reorganize_stage = step.reorganize_stage;
  }
  return s;
}

template <class Space>
schedule<Space> no_progressive_shrinking(double f) {
  schedule<Space> s;
  s.name = "no-ps";
  phase<Space> p;
  p.name = "all-elastic";
  p.epochs = progressive_shrinking<Space>(f).total_epochs();
  p.base_lr = 0.05;  // the full network's: the baselines train every subnet from scratch too
  p.warmup_epochs = 1;
  p.subnets_per_step = 4;
  s.phases.push_back(p);
  return s;
}

template <class Space>
schedule<Space> sandwich(double f) {
  schedule<Space> s = no_progressive_shrinking<Space>(f);
  s.name = "sandwich";
  s.phases[0].name = "sandwich";
  s.phases[0].rule = sampling_rule::sandwich;
  s.phases[0].kd_ratio = 1.0;
  return s;
}

template <class Space>
schedule<Space> standalone(const subnet_config<Space>& config, double f) {
  config.validate();
  schedule<Space> s = no_progressive_shrinking<Space>(f);
  s.name = "standalone";
  s.phases[0].name = "standalone";
  s.phases[0].rule = sampling_rule::fixed;
  s.phases[0].fixed = config;
  s.phases[0].subnets_per_step = 1;
  return s;
}

template <class Space>
nlohmann::json to_json(const schedule<Space>& s) {
  nlohmann::json phases = nlohmann::json::array();
  for (const auto& p : s.phases) {
    nlohmann::json j{{"name", p.name},
                     {"epochs", p.epochs},
                     {"lr", p.base_lr},
                     {"warmup_epochs", p.warmup_epochs},
                     {"subnets_per_step", p.subnets_per_step},
                     {"rule", p.rule == sampling_rule::random     ? "random"
                              : p.rule == sampling_rule::sandwich ? "sandwich"
                                                                  : "fixed"},
                     {"kernels", p.kernels},
                     {"depths", p.depths},
                     {"expands", p.expands},
                     {"kd_ratio", p.kd_ratio}};
    if (!p.widths.empty()) j["widths"] = p.widths;
    if (p.fixed) j["config"] = ofa::to_json(*p.fixed);
    if (p.reorganize_stage) j["reorganize_stage"] = *p.reorganize_stage;
    phases.push_back(std::move(j));
  }
  return {{"name", s.name}, {"phases", phases}};
}

template <class Space>
schedule<Space> parse_schedule(const std::string& text, const std::string& source) {
  const auto fail = [&](const std::string& what) -> config_error {
    return config_error("ofa: schedule '" + source + "': " + what);
  };
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw fail("not a JSON object; see docs/training.md for the format");
  for (const auto& [key, value] : j.items())
    if (key != "name" && key != "phases") throw fail("unknown key '" + key + "' (allowed: name, phases)");
  if (!j.contains("phases") || !j["phases"].is_array() || j["phases"].empty())
    throw fail("'phases' must be a non-empty list");
  if (j["phases"].size() > detail::max_phases)
    throw fail("has " + std::to_string(j["phases"].size()) + " phases; at most " + std::to_string(detail::max_phases));
  schedule<Space> s;
  s.name = j.value("name", std::string("custom"));
  using space::unit_info;
  const auto all_kernels = detail::space_values<Space>(&unit_info::kernels);
  const auto all_depths = detail::space_values<Space>(&unit_info::depths);
  const auto all_expands = detail::space_values<Space>(&unit_info::expands);
  const auto all_widths = detail::space_values<Space>(&unit_info::widths);
  static const std::set<std::string> keys{"name",   "epochs",           "lr",      "warmup_epochs", "subnets_per_step",
                                          "rule",   "kernels",          "depths",  "expands",       "widths",
                                          "config", "reorganize_stage", "kd_ratio"};
  for (std::size_t i = 0; i < j["phases"].size(); ++i) {
    const auto& pj = j["phases"][i];
    const std::string where = "phase " + std::to_string(i);
    if (!pj.is_object()) throw fail(where + " is not an object");
    for (const auto& [key, value] : pj.items())
      if (!keys.count(key)) throw fail(where + ": unknown key '" + key + "'");
    phase<Space> p;
    try {
      p.name = pj.value("name", "phase-" + std::to_string(i));
      if (pj.contains("epochs")) {
        const auto& e = pj["epochs"];
        if (!e.is_number_integer() || e.get<std::int64_t>() < 1 || e.get<std::int64_t>() > detail::max_phase_epochs)
          throw fail(where + ": epochs must be a whole number from 1 to " + std::to_string(detail::max_phase_epochs) +
                     ", got " + ofa::detail::json_excerpt(e));
        p.epochs = static_cast<int>(e.get<std::int64_t>());
      }
      p.base_lr = pj.value("lr", 0.05);
      p.warmup_epochs = pj.value("warmup_epochs", 0.0);
      if (pj.contains("subnets_per_step")) {
        const auto& n = pj["subnets_per_step"];
        if (!n.is_number_integer() || n.get<std::int64_t>() < 1 ||
            n.get<std::int64_t>() > detail::max_subnets_per_step)
          throw fail(where + ": subnets_per_step must be a whole number from 1 to " +
                     std::to_string(detail::max_subnets_per_step) + ", got " + ofa::detail::json_excerpt(n));
        p.subnets_per_step = static_cast<int>(n.get<std::int64_t>());
      }
      p.kd_ratio = pj.value("kd_ratio", 0.0);
      const std::string rule = pj.value("rule", std::string("random"));
      if (rule == "random")
        p.rule = sampling_rule::random;
      else if (rule == "sandwich")
        p.rule = sampling_rule::sandwich;
      else if (rule == "fixed")
        p.rule = sampling_rule::fixed;
      else
        throw fail(where + ": rule '" + rule + "' is not one of random, sandwich, fixed");
      auto list = [&](const char* key, const std::vector<int>& allowed) {
        std::vector<int> v;
        if (pj.contains(key)) {
          if (!pj[key].is_array()) throw fail(where + ": " + key + " must be a list of whole numbers");
          for (const auto& x : pj[key]) {
            const auto w = ofa::detail::json_whole<int>(x);
            if (!w) throw fail(where + ": " + key + " must be a list of whole numbers, got " + ofa::detail::json_excerpt(x));
            v.push_back(*w);
          }
        }
        for (int x : v)
          if (std::find(allowed.begin(), allowed.end(), x) == allowed.end()) {
            std::string options;
            for (int a : allowed) options += (options.empty() ? "" : ", ") + std::to_string(a);
            throw fail(where + ": " + key + " value " + std::to_string(x) + " is not in the space (" + options + ")");
          }
        return v;
      };
      p.kernels = list("kernels", all_kernels);
      p.depths = list("depths", all_depths);
      p.expands = list("expands", all_expands);
      p.widths = list("widths", all_widths);
      if (pj.contains("reorganize_stage")) {
        const auto w = ofa::detail::json_whole<int>(pj["reorganize_stage"]);
        if (!w) throw fail(where + ": reorganize_stage must be a whole number");
        p.reorganize_stage = *w;
      }
      if (pj.contains("config")) {
        const auto& c = pj["config"];
        if (c.is_string() && c.get<std::string>() == "max")
          p.fixed = subnet_config<Space>::max();
        else if (c.is_string() && c.get<std::string>() == "min")
          p.fixed = subnet_config<Space>::min();
        else if (c.is_string())
          throw fail(where + ": config '" + c.get<std::string>() + "' must be \"max\", \"min\" or an arch dict");
        else
          p.fixed = config_from_json<Space>(c, source + ", " + where);
      }
    } catch (const nlohmann::json::exception& e) {
      throw fail(where + ": a value has the wrong type (" + std::string(e.what()) + ")");
    }
    if (p.epochs < 1) throw fail(where + ": epochs must be at least 1");
    if (!(p.base_lr > 0) || !std::isfinite(p.base_lr)) throw fail(where + ": lr must be a positive number");
    if (!(p.warmup_epochs >= 0 && p.warmup_epochs < p.epochs))
      throw fail(where + ": warmup_epochs must be in [0, epochs)");
    if (p.subnets_per_step < 1) throw fail(where + ": subnets_per_step must be at least 1");
    if (p.rule == sampling_rule::sandwich && p.subnets_per_step < 2)
      throw fail(where + ": the sandwich rule needs subnets_per_step >= 2 (largest and smallest)");
    if (p.rule == sampling_rule::fixed && !p.fixed) throw fail(where + ": rule 'fixed' needs a 'config'");
    if (!(p.kd_ratio >= 0) || !std::isfinite(p.kd_ratio)) throw fail(where + ": kd_ratio must be a number >= 0");
    if (p.reorganize_stage && (*p.reorganize_stage < 0 || *p.reorganize_stage >= int(all_expands.size())))
      throw fail(where + ": reorganize_stage must be in [0, " + std::to_string(all_expands.size()) + ")");
    s.phases.push_back(std::move(p));
  }
  if (s.needs_teacher() && !(s.phases[0].rule == sampling_rule::fixed && s.phases[0].kd_ratio == 0))
    throw fail("phases distil from the teacher, so phase 0 must train it: rule 'fixed' with kd_ratio 0");
  return s;
}

template <class Space>
schedule<Space> load_schedule(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw io_error("ofa: cannot open schedule file '" + path + "'; check the path");
  std::stringstream text;
  text << in.rdbuf();
  return parse_schedule<Space>(text.str(), path);
}

}  // namespace ofa::train
