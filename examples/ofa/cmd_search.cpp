// `ofa search`: the best subnet for each budget by the accuracy predictor and a cost model, measured
// where a supernet is given, against the best of random subnets and with re-ranking on request.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>  // make_shared: options outlive add_* for the callbacks
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <ofa/data/spec.hpp>
#include <ofa/io/svg_plot.hpp>
#include <ofa/io/write_atomically.hpp>
#include <ofa/nn/extract.hpp>
#include <ofa/nn/serialize.hpp>
#include <ofa/parallel/arena.hpp>
#include <ofa/search/accuracy_dataset.hpp>
#include <ofa/search/accuracy_predictor.hpp>
#include <ofa/search/evolution.hpp>
#include <ofa/search/latency_table.hpp>
#include <ofa/search/random_baseline.hpp>
#include <ofa/search/rerank.hpp>
#include <ofa/space/config_json.hpp>
#include <ofa/train/evaluation.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "outputs.hpp"
#include "processes.hpp"
#include "run_data.hpp"
#include "spaces.hpp"

namespace ofa_cli {
namespace {

namespace se = ofa::search;

struct search_options {
  std::string space = "cifar", predictor, latency_table, out, checkpoint, data;
  std::vector<std::string> constraints;
  std::vector<int> resolutions;
  bool extrapolate = false;
  int pareto = 0, population = 100, generations = 500, threads = 0, batch = 1, baseline = 0, rerank = 0;
  int finalist_difference = se::evolution_options{}.finalist_min_difference;
  std::size_t images = 0, calibration_images = 2000;
  std::uint64_t seed = 0;
  double uncertainty_penalty = 0;  // times an ensemble's spread, subtracted from the fitness
};

/// What --checkpoint adds to a search: each target (and random subnets under its budget)
/// recalibrated and measured on the test split, and each target's latency measured end to end.
template <class Space>
struct measurement {
  ofa::nn::elastic_net<Space> net{0};
  ofa::data::any_dataset train, test;
  std::map<int, std::vector<ofa::tensor<float>>> calibration;
  std::size_t calibration_images = 0, images = 0;

  measurement(const search_options& o, const std::string& data)
      : train(ofa::data::open_dataset(data, true, 0)), test(ofa::data::open_dataset(data, false, 0)),
        calibration_images(o.calibration_images), images(o.images) {
    check_class_count(train, Space::class_count, data);
    check_class_count(test, Space::class_count, data);
    ofa::nn::load(net, o.checkpoint);
  }
  /// Training images at resolution r, decoded once (recalibration takes any training images).
  const std::vector<ofa::tensor<float>>& calibration_at(int r) {
    auto& cal = calibration[r];
    if (cal.empty())
      cal = ofa::train::first_images(train, calibration_images, 100, r, ofa::data::default_augmentation<Space>(true),
                                     ofa::stream::calibration);
    return cal;
  }
  /// Each subnet measured once: budgets often share a target, or a best random subnet.
  double top1(const ofa::subnet_config<Space>& c) {
    const auto key = ofa::to_json(c.canonical()).dump();
    if (const auto known = top1_of.find(key); known != top1_of.end()) return known->second;
    return top1_of[key] = ofa::train::evaluate_subnet(net, c, calibration_at(c.resolution), test, images, 100,
                                                      ofa::data::default_augmentation<Space>(false))
                              .top1;
  }
  std::map<std::string, double> top1_of;  // canonical config (JSON) -> measured top-1
  /// On `threads` threads: the latency table's, so that prediction and measurement compare.
  double latency(const ofa::subnet_config<Space>& c, int batch, int threads) {
    const auto stats = net.recalibrate(c, calibration_at(c.resolution));
    const auto subnet = ofa::nn::extract(net, c, &stats);
    ofa::parallel::arena only(threads);
    return se::measure_latency(subnet, batch, 50, 5);
  }
};

template <class Space>
std::string cost_text(const se::candidate<Space>& c, bool latency) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%8s %8s", human(c.macs).c_str(), human(c.params).c_str());
  std::string s = buf;
  if (latency) {
    std::snprintf(buf, sizeof buf, " %8.3f ms", c.latency);
    s += buf;
  }
  return s;
}

/// The search's cost models: the MACs and parameter counts, the latency table's where one is given
/// (its threads are those the targets' latency is measured on), and the resolutions searched.
template <class Space>
struct search_costs {
  se::cost_models<Space> models;
  int latency_threads = 1;  // measured latency: on the table's threads, else one
};

template <class Space>
search_costs<Space> load_costs(const search_options& o) {
  search_costs<Space> loaded;
  auto& costs = loaded.models;
  for (int r : o.resolutions)
    if (!Space::resolution_set.contains(r))
      throw ofa::config_error("--resolutions: " + std::to_string(r) + " is not a resolution of the space (" +
                              Space::resolution_set.to_string() + ")");
  costs.resolutions = o.resolutions;
  if (!o.latency_table.empty()) {
    auto table = se::latency_table<Space>::load(o.latency_table);
    loaded.latency_threads = table.threads;
    if (const auto why = table.mismatch(table.threads, o.batch); !why.empty())
      std::fprintf(stderr, "ofa: warning: latency table %s: %s; its milliseconds may not be this deployment's\n",
                   o.latency_table.c_str(), why.c_str());
    costs.latency = table.table;
    if (!table.covers_space()) {  // search where the table knows the latency
      if (costs.resolutions.empty()) costs.resolutions = table.resolutions;
      for (int r : costs.resolutions)
        if (!table.covers(r))
          throw ofa::config_error("--resolutions: the latency table " + o.latency_table + " was measured at " +
                                  table.resolution_list() + " only, not at " + std::to_string(r) +
                                  "; measure it there (ofa latency-table --resolutions) or search at those");
    }
  }
  return loaded;
}

/// Fitness: the prediction, penalised beyond the labels the predictor learned from (unless
/// --extrapolate): the demo's search otherwise climbed to predictions 1 point above every label
/// and measured 3-5 points below the best of 10 random subnets.
/// With --uncertainty-penalty K, an ensemble's candidates also lose K times their members' spread.
template <class Space>
se::accuracy_model<Space> fitness_model(const search_options& o, const se::accuracy_predictor<Space>& predictor) {
  const auto& fitted = predictor.domain();
  if (o.uncertainty_penalty < 0) throw ofa::config_error("--uncertainty-penalty must be at least 0");
  if (o.uncertainty_penalty > 0 && predictor.ensemble_size() == 1)
    throw ofa::config_error(
        "--uncertainty-penalty needs an ensemble predictor's spread: fit one with "
        "ofa fit-predictor --ensemble 5");
  return [&o, &predictor, fitted](std::span<const ofa::subnet_config<Space>> cs) {
    auto [predicted, spread] = predictor.predict_with_spread(cs);
    for (std::size_t i = 0; i < predicted.size(); ++i) {
      if (!o.extrapolate) predicted[i] = fitted.penalised(predicted[i]);
      predicted[i] -= o.uncertainty_penalty * spread[i];
    }
    return predicted;
  };
}

/// The budgets searched: the first constraint, or with --pareto K budgets of its metric from the
/// cheapest subnet's cost up to its limit.
template <class Space>
std::vector<se::constraint> budgets_of(const search_options& o, const std::vector<se::constraint>& constraints,
                                       const se::cost_models<Space>& costs) {
  std::vector<se::constraint> budgets{constraints.front()};
  if (o.pareto > 0) {
    const double lo = costs.lower_bound(budgets[0].what), hi = budgets[0].limit;
    costs.check_feasible({budgets[0]});
    budgets.clear();
    for (int k = 1; k <= o.pareto; ++k) budgets.push_back({constraints[0].what, lo + (hi - lo) * k / o.pareto});
  }
  return budgets;
}

/// The run's held-out training images (its data.json's split), read on first use: --rerank and
/// --baseline choose on them, so that the test split the report measures on never takes part in a choice.
template <class Space>
class held_out_images {
 public:
  explicit held_out_images(const search_options& o) : o_(o) {}
  const se::evaluation_images& get(const char* option) {
    if (images_) return *images_;
    const auto recorded = read_data_identity(o_.checkpoint);
    if (recorded.is_null())
      throw ofa::config_error(std::string(option) + " measures on the run's held-out images, which DIR/data.json " +
                              "beside " + o_.checkpoint + " names; it is missing: give the checkpoint of an `ofa " +
                              "train` run");
    const std::string data = o_.data.empty() ? recorded.value("data", std::string()) : o_.data;
    const auto split = open_run_split(data, recorded.value("holdout", -1LL), "the run's data.json (its holdout)");
    images_ = se::prepare_evaluation_images<Space>(split.train, split.held_out, o_.calibration_images, 200,
                                                   ofa::stream::calibration);
    return *images_;
  }

 private:
  const search_options& o_;
  std::optional<se::evaluation_images> images_;
};

/// With --rerank K: each budget's target is the best measured on the held-out images of the
/// predictor's first K finalists (`reranked` gets what was measured).
template <class Space>
void rerank_targets(const search_options& o, const se::pareto_result<Space>& result, measurement<Space>& measured,
                    held_out_images<Space>& held_out, std::vector<se::candidate<Space>>& targets,
                    std::vector<nlohmann::json>& reranked) {
  const auto& images = held_out.get("--rerank");
  const std::size_t budget_count = targets.size();
  for (std::size_t k = 0; k < budget_count; ++k) {
    const auto& finalists = result.per_budget[k].finalists;
    const auto r =
        se::rerank(measured.net, std::span<const se::candidate<Space>>(finalists), std::size_t(o.rerank), images);
    for (std::size_t i = 0; i < r.measured.size(); ++i)
      reranked[k].push_back({{"config", ofa::to_json(r.finalists[i].config)},
                             {"predicted_top1", r.finalists[i].accuracy},
                             {"held_out_top1", r.measured[i].top1}});
    targets[k] = r.finalists[r.best];
    targets[k].accuracy = r.measured[r.best].top1;  // as measured: what orders the budgets' targets (report)
    std::fprintf(stderr, "  budget %zu of %zu: %zu finalists measured on %zu held-out images, chose #%zu (%.2f%%)\n",
                 k + 1, budget_count, r.measured.size(), r.measured.front().images, r.best + 1,
                 100 * r.measured[r.best].top1);
  }
}

/// The best of N random subnets under each budget, chosen as the targets are chosen: on the run's
/// held-out images, then measured on the test split like them. (Chosen on the test split itself,
/// the best of N noisy measurements reads high: by about 1.5 points for 10 subnets on 2,000 images.)
template <class Space>
std::vector<se::random_baseline<Space>> random_baselines(const search_options& o, const se::cost_models<Space>& costs,
                                                         const std::vector<se::constraint>& budgets,
                                                         const std::vector<se::constraint>& others,
                                                         measurement<Space>& measured,
                                                         held_out_images<Space>& held_out) {
  const auto& images = held_out.get("--baseline");
  return se::random_baselines<Space>(
      costs, budgets, others, o.baseline, o.seed + 77, costs.resolutions,
      [&](const ofa::subnet_config<Space>& c) { return se::measure_subnet(measured.net, c, images).top1; },
      [&](int done, std::size_t k) {
        if (done % 10 == 0)
          std::fprintf(stderr, "  random subnets measured: %d (budget %zu of %zu)\n", done, k + 1, budgets.size());
      });
}

/// The table of targets (and its JSON rows): each budget's subnet, costs, predicted top-1 with the
/// predictor's error and spread, and where a supernet was given, measured top-1 and latency beside
/// the best random subnet.
template <class Space>
nlohmann::json report(const search_options& o, const se::accuracy_predictor<Space>& predictor,
                      const search_costs<Space>& costs, const std::vector<se::constraint>& budgets,
                      const std::vector<se::constraint>& others, const se::pareto_result<Space>& result,
                      std::vector<se::candidate<Space>>& targets, const std::vector<nlohmann::json>& reranked,
                      measurement<Space>* measured, const std::vector<se::random_baseline<Space>>& baselines) {
  const bool latency = costs.models.latency.has_value();
  const int latency_threads = costs.latency_threads;
  // A larger budget never ends with a worse subnet than a smaller one, and the report says why:
  // worse as predicted, or with --rerank as measured on the held-out images.
  auto notes = se::never_worse_with_budget(targets, budgets, others, costs.models);
  if (o.rerank > 0)
    for (auto& note : notes)
      if (!note.empty()) note += " (its finalists measured below it on the held-out images)";
  const auto& domain = predictor.domain();
  // ±: the predictor's held-out error; sd: an ensemble's spread for each target. The spread alone
  // understates the miss: members fitted to the same noisy labels agree on the same wrong answer
  // (the demo's targets: sd 0.01 points, held-out RMSE 1.1, missed by 1-3 points).
  const bool ensemble = predictor.ensemble_size() > 1, uncertain = std::isfinite(domain.held_out_rmse);
  std::vector<double> spreads(targets.size(), 0.0);
  for (std::size_t k = 0; k < targets.size(); ++k) {  // as predicted, not as penalised
    const auto p = predictor.predict_with_spread(std::span(&targets[k].config, 1));
    targets[k].accuracy = p.top1[0];
    spreads[k] = p.spread[0];
  }
  std::printf("%-16s %-18s %8s %8s%s %8s%s%s%s\n", "budget", "subnet", "MACs", "params", latency ? "    latency" : "",
              "top-1", uncertain ? "     ±" : "", ensemble ? "    sd" : "", measured ? "  measured  latency" : "");
  bool any_extrapolated = false;
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t k = 0; k < budgets.size(); ++k) {
    const auto& best = targets[k];
    nlohmann::json row{{"budget", budgets[k].to_string()},
                       {"config", ofa::to_json(best.config)},
                       {"macs", best.macs},
                       {"params", best.params},
                       {"predicted_latency_ms", latency ? nlohmann::json(best.latency) : nlohmann::json()},
                       {"predicted_top1", best.accuracy}};
    if (o.rerank > 0) row["rerank"] = reranked[k];
    const bool extrapolated = domain.extrapolates(best.accuracy);
    any_extrapolated |= extrapolated;
    row["extrapolated"] = extrapolated;
    if (uncertain) row["predictor_rmse"] = domain.held_out_rmse;
    if (ensemble) row["predicted_spread"] = spreads[k];
    if (!notes[k].empty()) row["note"] = notes[k];
    std::printf("%-16s %-18s %s %7.2f%%%s", budgets[k].to_string().c_str(), short_config(best.config).c_str(),
                cost_text(best, latency).c_str(), 100 * best.accuracy, extrapolated ? "*" : " ");
    if (uncertain) std::printf(" %5.2f", 100 * domain.held_out_rmse);
    if (ensemble) std::printf(" %5.2f", 100 * spreads[k]);
    if (measured) {
      row["measured_top1"] = measured->top1(best.config);
      row["measured_latency_ms"] = measured->latency(best.config, o.batch, latency_threads);
      std::printf(" %8.2f%% %7.3f ms", 100 * row["measured_top1"].get<double>(),
                  row["measured_latency_ms"].get<double>());
    }
    std::printf("\n");
    if (!notes[k].empty()) std::printf("%-16s %s\n", "", notes[k].c_str());
    if (o.rerank > 0 && !(best.config == result.per_budget[k].best.config)) {
      // What re-ranking changed: the predictor's own choice, measured the same way.
      const auto& own = result.per_budget[k].best;
      const double top1 = measured->top1(own.config);
      row["predictor_choice"] = {{"config", ofa::to_json(own.config)}, {"predicted_top1", own.accuracy},
                                 {"measured_top1", top1}};
      std::printf("%-16s the predictor's own choice, %s: %.2f%% predicted, %.2f%% measured\n", "",
                  short_config(own.config).c_str(), 100 * own.accuracy, 100 * top1);
    }
    if (!baselines.empty()) {
      const double test_top1 = measured->top1(baselines[k].best);
      row["best_random_top1"] = test_top1;
      row["best_random_held_out_top1"] = baselines[k].best_top1;
      row["best_random_config"] = ofa::to_json(baselines[k].best);
      row["random_subnets"] = o.baseline;
      std::printf(
          "%-16s best of %d random subnets under the budget (chosen on held-out images, %.2f%% there): "
          "%.2f%%\n",
          "", o.baseline, 100 * baselines[k].best_top1, 100 * test_top1);
    }
    out.push_back(row);
  }
  if (uncertain)
    std::printf("±: the predictor's error on the subnets held out when it was fitted (RMSE, points of top-1)\n");
  if (ensemble)
    std::printf(
        "sd: how far the predictor's %d members part on that subnet (points of top-1); they share the labels'"
        " noise, so it understates the miss\n",
        predictor.ensemble_size());
  if (any_extrapolated)
    std::printf(
        "*: beyond the top-1 of every subnet the predictor learned from (%.2f%% to %.2f%%): an "
        "extrapolation, where predictors err most; measure it (--checkpoint) before trusting it\n",
        100 * domain.lowest, 100 * domain.highest);
  return out;
}

/// search.json, a target-K.json per budget, and the front as pareto.csv and pareto.svg in --out.
template <class Space>
void write_outputs(const search_options& o, const se::pareto_result<Space>& result,
                   const std::vector<se::constraint>& budgets, const std::vector<se::candidate<Space>>& targets,
                   const nlohmann::json& out) {
  std::filesystem::create_directories(o.out);
  const auto dir = std::filesystem::path(o.out);
  write_text((dir / "search.json").string(), out.dump(1) + "\n");
  for (std::size_t k = 0; k < budgets.size(); ++k)
    write_text((dir / ("target-" + std::to_string(k + 1) + ".json")).string(),
               ofa::to_json(targets[k].config).dump() + "\n");
  // The front, as CSV and as a plot of predicted top-1 against the budget's metric.
  const auto m = budgets.front().what;
  std::string csv = "macs,params,latency_ms,predicted_top1,config\n";
  ofa::io::plot plot;
  plot.title = "Pareto front: predicted top-1 against " + se::to_string(m);
  plot.x_label = m == se::metric::latency ? "latency (ms)" : se::to_string(m) + " (M)";
  plot.y_label = "predicted top-1 (%)";
  ofa::io::plot_series front{"front", {}, {}, false}, chosen{"best per budget", {}, {}, true};
  const double scale = m == se::metric::latency ? 1.0 : 1e-6;
  const auto cost_of = [&](const auto& c) {  // the budget's metric, in the plot's unit
    return scale * (m == se::metric::macs ? c.macs : m == se::metric::params ? c.params : c.latency);
  };
  for (const auto& c : result.front) {
    csv += std::to_string(c.macs) + "," + std::to_string(c.params) + "," + std::to_string(c.latency) + "," +
           std::to_string(c.accuracy) + "," + csv_field(ofa::to_json(c.config).dump()) + "\n";
    front.x.push_back(cost_of(c));
    front.y.push_back(100 * c.accuracy);
  }
  // Where the targets were measured: their true top-1 (at the predicted cost, so the plot does not
  // depend on one latency measurement) and the best random subnet of each budget (at the budget).
  ofa::io::plot_series true_top1{"measured", {}, {}, true},
      random{"best random", {}, {}, true};
  for (std::size_t k = 0; k < budgets.size(); ++k) {
    const auto& c = targets[k];
    const double x = cost_of(c);
    chosen.x.push_back(x);
    chosen.y.push_back(100 * c.accuracy);
    if (out[k].contains("measured_top1")) {
      true_top1.x.push_back(x);
      true_top1.y.push_back(100 * out[k]["measured_top1"].get<double>());
    }
    if (out[k].contains("best_random_top1")) {
      random.x.push_back(scale * budgets[k].limit);
      random.y.push_back(100 * out[k]["best_random_top1"].get<double>());
    }
  }
  plot.series = {front, chosen};
  if (!true_top1.x.empty()) {
    plot.title = "Pareto front: top-1 against " + se::to_string(m) + ", predicted and measured (test split)";
    plot.y_label = "top-1 (%)";
    plot.series.push_back(true_top1);
  }
  if (!random.x.empty()) plot.series.push_back(random);
  write_text((dir / "pareto.csv").string(), csv);
  ofa::io::save_svg(plot, (dir / "pareto.svg").string());
  std::printf("wrote %s/{search.json, target-*.json, pareto.csv, pareto.svg}\n", o.out.c_str());
}

template <class Space>
void run_search(const search_options& o) {
  ofa::parallel::arena arena(o.threads);
  if (o.constraints.empty()) throw ofa::config_error("give at least one --constraint, e.g. 'macs<=40M'");
  std::vector<se::constraint> constraints;
  for (const auto& c : o.constraints) constraints.push_back(se::constraint::parse(c));
  const auto predictor = se::accuracy_predictor<Space>::load(o.predictor);
  const auto costs = load_costs<Space>(o);
  se::evolution_options eo;
  eo.population = o.population;
  eo.generations = o.generations;
  eo.seed = o.seed;
  eo.resolutions = costs.models.resolutions;
  eo.finalists = std::max(eo.finalists, o.rerank);
  eo.finalist_min_difference = o.finalist_difference;
  const auto budgets = budgets_of<Space>(o, constraints, costs.models);
  const std::vector<se::constraint> others(constraints.begin() + 1, constraints.end());
  const auto start = std::chrono::steady_clock::now();
  const auto result = se::pareto_search(fitness_model(o, predictor), costs.models, budgets, others, eo);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::optional<measurement<Space>> measured;
  if (!o.checkpoint.empty()) {
    std::string data = o.data.empty() ? read_data_identity(o.checkpoint).value("data", std::string()) : o.data;
    if (data.empty()) throw ofa::config_error("give the data set to measure on with --data SPEC");
    measured.emplace(o, data);
  } else if (o.baseline > 0) {
    throw ofa::config_error("--baseline measures random subnets: give the supernet with --checkpoint FILE");
  }
  // Each budget's target: the predictor's best, or with --rerank the best measured of its finalists.
  std::vector<se::candidate<Space>> targets;
  for (const auto& r : result.per_budget) targets.push_back(r.best);
  std::vector<nlohmann::json> reranked(budgets.size());
  held_out_images<Space> held_out(o);
  if (o.rerank > 0) {
    if (!measured) throw ofa::config_error("--rerank measures subnets: give the supernet with --checkpoint FILE");
    rerank_targets(o, result, *measured, held_out, targets, reranked);
  }
  std::vector<se::random_baseline<Space>> baselines;
  if (measured && o.baseline > 0) baselines = random_baselines(o, costs.models, budgets, others, *measured, held_out);
  const auto out = report(o, predictor, costs, budgets, others, result, targets, reranked,
                          measured ? &*measured : nullptr, baselines);
  std::size_t scored = 0;
  for (const auto& r : result.per_budget) scored += r.scored;
  std::printf("%zu subnets scored in %.2f s (%d generations of %d, %d threads)\n", scored, seconds, o.generations,
              o.population, ofa::parallel::arena::threads());
  if (!o.out.empty()) write_outputs(o, result, budgets, targets, out);
}

}  // namespace

void add_search(CLI::App& app) {
  const std::string space_help = std::string("Space name (") + space_names + ")";
  {
    auto* cmd = app.add_subcommand("search", "Find the best subnet under efficiency constraints");
    auto o = std::make_shared<search_options>();
    cmd->add_option("--space", o->space, space_help);
    cmd->add_option("--predictor", o->predictor, "The accuracy predictor (from ofa fit-predictor)")->required();
    cmd->add_option("--constraint", o->constraints, "'macs<=40M', 'params<=2M' or 'latency<=5ms' (repeatable)");
    cmd->add_option("--latency-table", o->latency_table, "This CPU's latency table (for latency constraints)");
    cmd->add_option("--batch", o->batch, "Deployment batch size (checked against the latency table)");
    cmd->add_option("--resolutions", o->resolutions,
                    "Search at these input resolutions only, e.g. --resolutions 224 (default: all of the space's, or "
                    "the latency table's)")
        ->delimiter(',');
    cmd->add_option("--pareto", o->pareto, "K budgets of the first constraint, up to its limit");
    cmd->add_flag("--extrapolate", o->extrapolate,
                  "Take predictions beyond the predictor's data at face value (by default the search counts each "
                  "point above its best label as a point below it)");
    cmd->add_option("--uncertainty-penalty", o->uncertainty_penalty,
                    "Subtract K times an ensemble predictor's spread from each candidate's fitness (default 0)");
    cmd->add_option("--population", o->population, "Population size");
    cmd->add_option("--generations", o->generations, "Generations");
    cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_option("--seed", o->seed, "Seed of the search");
    cmd->add_option("--out", o->out, "Folder for search.json, target-K.json, pareto.csv and pareto.svg");
    cmd->add_option("--checkpoint", o->checkpoint,
                    "The supernet: measure each target's top-1 (test split, after BN recalibration) and latency");
    cmd->add_option("--data", o->data, "Data set of --checkpoint (default: the run's, from DIR/data.json)");
    cmd->add_option("--images", o->images, "Test images per measured subnet (default: all)");
    cmd->add_option("--calibration-images", o->calibration_images, "Training images for BN recalibration");
    cmd->add_option("--baseline", o->baseline,
                    "Also draw N random subnets under each budget, choose the best on the run's held-out training "
                    "images and measure it as the targets are measured (needs --checkpoint)");
    cmd->add_option("--rerank", o->rerank,
                    "Measure each budget's K best predicted subnets on the run's held-out training images and "
                    "take the best measured (needs --checkpoint)");
    cmd->add_option("--finalist-difference", o->finalist_difference,
                    "The subnets --rerank measures differ from each other in at least N choices (a kernel, an "
                    "expand, a depth, the resolution; 1: any distinct subnets)")
        ->check(CLI::Range(1, 1000));
    dispatch(cmd, o, []<class Space>(std::type_identity<Space>, const search_options& x) { run_search<Space>(x); });
  }
}

}  // namespace ofa_cli
