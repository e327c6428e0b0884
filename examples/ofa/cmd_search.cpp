// `ofa latency-table`, `ofa acc-dataset`, `ofa fit-predictor`, `ofa search` and `ofa export`:
// specialising a trained supernet for deployment targets without retraining.

#include <algorithm>  // shuffle, sort
#include <chrono>
#include <numeric>  // iota
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <memory>  // make_shared: options outlive add_* for the callbacks
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <ofa/data/spec.hpp>
#include <ofa/data/split.hpp>
#include <ofa/io/onnx_export.hpp>
#include <ofa/io/write_atomically.hpp>
#include <ofa/io/svg_plot.hpp>
#include <ofa/nn/extract.hpp>
#include <ofa/nn/serialize.hpp>
#include <ofa/parallel/arena.hpp>
#include <ofa/search/accuracy_dataset.hpp>
#include <ofa/search/accuracy_predictor.hpp>
#include <ofa/search/evolution.hpp>
#include <ofa/search/label_noise.hpp>
#include <ofa/search/latency_table.hpp>
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

/// "r32 d[4,3,2,4,3]": enough to tell subnets apart in a table (the full config goes to a file).
template <class Space>
std::string short_config(const ofa::subnet_config<Space>& c) {
  std::string s = "r" + std::to_string(c.resolution) + " d[";
  for (std::size_t u = 0; u < c.depth.size(); ++u) s += (u ? "," : "") + std::to_string(c.depth[u]);
  return s + "]";
}

void write_text(const std::string& path, const std::string& text) { ofa::io::write_atomically(path, text); }

// --- ofa latency-table ------------------------------------------------------------------------

struct latency_options {
  std::string space = "cifar", out, load, adapt, validate_csv;
  int adapt_networks = 10;
  int batch = 1, threads = 1, repeats = 30, networks = 400, validate = 0, passes = 10;
  std::uint64_t seed = 0;
  std::vector<int> resolutions;
};

template <class Space>
void run_latency_table(const latency_options& o) {
  if (o.out.empty() == o.load.empty())
    throw ofa::config_error(
        "give --out FILE to measure a table (or, with --adapt OTHER, to carry one here), or "
        "--load FILE to check one (with --validate N)");
  if (!o.adapt.empty() && !o.load.empty())
    throw ofa::config_error("--adapt writes a table: give it with --out FILE, not --load");
  refuse_output_over_input("--validate-csv", o.validate_csv,
                           {{"--load", o.load}, {"--out", o.out}, {"--adapt", o.adapt}});
  refuse_output_over_input("--out", o.out, {{"--adapt", o.adapt}});
  se::latency_table<Space> table;
  if (!o.adapt.empty()) {
    const auto other = se::latency_table<Space>::load(o.adapt);
    se::latency_adapt_options ao;
    ao.networks = o.adapt_networks;
    ao.batch = o.batch;
    ao.threads = o.threads;
    ao.seed = o.seed + 2;
    const auto start = std::chrono::steady_clock::now();
    table = se::adapt_latency_table(other, ao, [](int done, int total) {
      std::printf("\radapting: network %d of %d", done, total);
      std::fflush(stdout);
    });
    table.save(o.out);
    const double a = table.scale / other.scale;
    std::printf(
        "\n%s (%d threads, batch %d) carried to this machine (%d threads, batch %d) from %d whole networks "
        "in %.1f s: here = %.3f x there + %.4f ms per GMAC %+.4f ms (rms miss %.1f%% on those networks%s)\n"
        "wrote %s\n",
        other.cpu.c_str(), other.threads, other.batch, table.threads, table.batch, ao.networks,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), a,
        1e9 * (table.per_mac_ms - other.per_mac_ms * a * other.batch / table.batch),
        table.table.overhead - other.table.overhead * a, 100 * table.adapted_from.fit_error,
        table.adapted_from.fit_error > 0.1 ? "; over 10%: this table does not carry well, measure one here" : "",
        o.out.c_str());
  } else if (!o.load.empty()) {
    table = se::latency_table<Space>::load(o.load);
    if (const auto why = table.mismatch(o.threads, o.batch); !why.empty())
      std::fprintf(stderr, "ofa: warning: %s; its figures are not this run's\n", why.c_str());
  } else {
    se::latency_options lo;
    lo.batch = o.batch;
    lo.threads = o.threads;
    lo.repeats = o.repeats;
    lo.networks = o.networks;
    lo.seed = o.seed;
    lo.resolutions = o.resolutions;
    const auto start = std::chrono::steady_clock::now();
    table = se::measure_latency_table<Space>(lo, [](int done, int total) {
      std::printf("\rmeasuring: network %d of %d", done, total);
      std::fflush(stdout);
    });
    table.save(o.out);
    std::size_t layers = 0;
    for (const auto& e : table.entries) layers += e.count > 0;
    std::printf("\n%zu layers measured in %.1f s on %s (%s), batch %d, %d threads, resolution%s %s\n", layers,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), table.cpu.c_str(),
                table.isa.c_str(), table.batch, table.threads, table.resolutions.size() > 1 ? "s" : "",
                table.covers_space() ? "all of the space's" : table.resolution_list().c_str());
    std::printf("whole networks = %.3f x the sum of their layers %+.4f ms (rms miss %.1f%%), the %s;\n"
                "  held out, the sum plus overhead misses by %.1f%% (median), the scale-and-offset fit by %.1f%%\n"
                "wrote %s\n",
                table.scale, table.table.overhead, 100 * table.fit_error,
                table.uses_fit() ? "scale-and-offset fit" : "sum plus overhead", 100 * table.held_out_sum,
                100 * table.held_out_fit, o.out.c_str());
  }
  std::printf("%-8s %12s\n", "subnet", "predicted");
  // The grid's subnets at the table's resolutions (at the largest one where it has none of the grid's).
  std::vector<std::string> printed;
  for (auto [name, c] : ofa::train::evaluation_grid<Space>()) {
    if (!table.covers(c.resolution)) {
      c.resolution = table.resolutions.back();
      name = name.substr(0, name.find('@')) + "@" + std::to_string(c.resolution);
    }
    if (std::find(printed.begin(), printed.end(), name) != printed.end()) continue;
    printed.push_back(name);
    std::printf("%-8s %9.3f ms\n", name.c_str(), table(c));
  }
  if (o.validate <= 0) return;
  // The check the table exists for: predicted against measured end to end, on random subnets.
  ofa::parallel::arena arena(o.threads);
  se::latency_check_options co;
  co.subnets = o.validate;
  co.batch = o.batch;
  co.rounds = o.passes;
  co.repeats = std::max(1, o.repeats / co.rounds);  // the table's runs a subnet, spread over the passes
  co.seed = o.seed + 1;
  const auto check = se::check_latency_table(table, co, [&](int done, int total) {
    std::printf("\rvalidating %d random subnets: pass %d of %d", o.validate, done, total);
    std::fflush(stdout);
  });
  std::printf("\n%d of %d random subnets (%.0f%%) within ±10%% of the table; median |error| %.1f%%, worst %.1f%%\n",
              check.within, o.validate, 100.0 * check.within / o.validate, 100 * check.median_error,
              100 * check.worst_error);
  std::printf("each subnet's two halves (even and odd passes) agree within ±10%% for %d of %d%s\n", check.repeatable,
              o.validate,
              check.repeatable < o.validate * 9 / 10
                  ? ": this machine's speed moves (a shared VM, other work, turbo), which bounds any table's agreement"
                  : "");
  std::printf(
      "order: Kendall's tau %.3f between the table and the measurements; the machine repeats its own order "
      "to %.3f (even passes against odd)%s\n",
      check.tau, check.halves_tau,
      check.tau >= check.halves_tau ? ": the table ranks as well as this machine can measure" : "");
  if (!o.validate_csv.empty()) {
    std::string csv = "predicted_ms,measured_ms,even_passes_ms,odd_passes_ms,macs,config\n";
    const auto macs = se::macs_table<Space>();
    for (std::size_t i = 0; i < check.configs.size(); ++i)
      csv += std::to_string(check.predicted[i]) + "," + std::to_string(check.measured[i]) + "," +
             std::to_string(check.first_half[i]) + "," + std::to_string(check.second_half[i]) + "," +
             std::to_string(macs(check.configs[i])) + ",\"" + ofa::to_json(check.configs[i]).dump() + "\"\n";
    write_text(o.validate_csv, csv);
    std::printf("wrote %s\n", o.validate_csv.c_str());
  }
}

// --- ofa acc-dataset --------------------------------------------------------------------------

/// A run's training data split as `ofa train` split it: the images it trained on and those it held out.
struct run_split {
  std::shared_ptr<const ofa::data::any_dataset> all;  // what the subsets index (they point at it)
  ofa::data::any_dataset train, held_out;
};

/// `what` names the input that chose an empty held-out split, for the message.
inline run_split open_run_split(const std::string& data, long long holdout, const std::string& what) {
  const auto all = std::make_shared<const ofa::data::any_dataset>(ofa::data::open_dataset(data, true, 0));
  const auto n = held_out_count(holdout, all->size());
  if (n == 0)
    throw ofa::config_error(what + " leaves no held-out training images to measure on; train with --holdout N "
                            "(ofa train) so that subnets can be measured on images the supernet never saw");
  const auto split = ofa::data::make_split(all->size(), n, holdout_split_seed);
  return {all, ofa::data::any_dataset(ofa::data::subset<ofa::data::any_dataset>(*all, split.train)),
          ofa::data::any_dataset(ofa::data::subset<ofa::data::any_dataset>(*all, split.validation))};
}

struct dataset_options {
  std::string space = "cifar", checkpoint, data, out;
  std::size_t subnets = 1000, calibration_images = 2000;
  long long holdout = -1;
  int batch = 200, threads = 0;
  std::uint64_t seed = 0;
};

template <class Space>
void run_acc_dataset(const dataset_options& o, ofa::parallel::process_group& group) {
  ofa::parallel::arena arena(o.threads);
  const bool writer = group.is_writer();
  if (o.out.empty()) throw ofa::config_error("give the data set's file with --out FILE.jsonl");
  refuse_output_over_input("--out", o.out, {{"--checkpoint", o.checkpoint}});
  // The split: the one the run recorded beside its checkpoint, unless given here.
  const auto recorded = read_data_identity(o.checkpoint);
  std::string data = o.data;
  long long holdout = o.holdout;
  if (!recorded.is_null()) {
    if (data.empty()) data = recorded.value("data", std::string());
    if (holdout < 0) holdout = recorded.value("holdout", -1LL);
    if (writer && (data != recorded.value("data", std::string()) || holdout != recorded.value("holdout", -1LL)))
      std::fprintf(stderr,
                   "ofa: warning: the run trained on %s holding out %lld images; measuring on %s holding out %lld "
                   "(the held-out images may have been trained on)\n",
                   recorded.value("data", std::string()).c_str(), recorded.value("holdout", -1LL), data.c_str(),
                   holdout);
  }
  if (data.empty()) throw ofa::config_error("give the training data with --data SPEC (no data.json beside the checkpoint)");
  ofa::nn::elastic_net<Space> net(0);
  ofa::nn::load(net, o.checkpoint);
  const auto split = open_run_split(data, holdout, "--holdout 0");
  check_class_count(*split.all, Space::class_count, data);
  const auto& train = split.train;
  const auto& held_out = split.held_out;
  const std::size_t n = held_out.size();
  se::accuracy_dataset_options ao;
  ao.subnets = o.subnets;
  ao.seed = o.seed;
  ao.calibration_images = o.calibration_images;
  ao.batch_size = o.batch;
  const auto start = std::chrono::steady_clock::now();
  std::size_t first_done = 0;
  if (writer)
    std::printf("ofa acc-dataset: %zu subnets of %s, measured on %zu held-out training images, %d threads x %d "
                "processes\n",
                o.subnets, o.checkpoint.c_str(), n, ofa::parallel::arena::threads(), group.size());
  const auto records = se::build_accuracy_dataset(
      net, train, held_out, o.out, ao, [&](const se::accuracy_record<Space>& r, std::size_t done, std::size_t total) {
        if (first_done == 0) first_done = done;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double rate = double(done - first_done + 1) / s;
        std::printf("subnet %zu/%zu: %6.2f%% %-20s %5.1f s  ETA %.0f min\n", done, total, 100 * r.top1,
                    short_config(r.config).c_str(), r.seconds, double(total - done) / rate / 60);
        std::fflush(stdout);
      },
      &group);
  if (!writer) return;
  double lo = 1, hi = 0;
  for (const auto& r : records) lo = std::min(lo, r.top1), hi = std::max(hi, r.top1);
  std::printf("%zu records in %s, top-1 from %.2f%% to %.2f%%\n", records.size(), o.out.c_str(), 100 * lo, 100 * hi);
}

// --- ofa fit-predictor ------------------------------------------------------------------------

struct fit_options {
  std::string space = "cifar", dataset, out;
  int hidden = 400, layers = 3, epochs = 300, threads = 0;
  double test_fraction = 0.2, lr = 1e-3, weight_decay = se::predictor_fit_options{}.weight_decay;
  std::uint64_t seed = 0;
  bool json = false;
};

template <class Space>
void run_fit_predictor(const fit_options& o) {
  ofa::parallel::arena arena(o.threads);
  if (o.out.empty()) throw ofa::config_error("give the predictor's file with --out FILE");
  refuse_output_over_input("--out", o.out, {{"--dataset", o.dataset}});
  if (!(o.test_fraction >= 0 && o.test_fraction < 1))
    throw ofa::config_error("--test-fraction must be in [0, 1)");
  const auto records = se::load_accuracy_dataset<Space>(o.dataset);
  if (records.size() < 10)
    throw ofa::config_error("'" + o.dataset + "' holds " + std::to_string(records.size()) +
                            " records; build at least 10 (hundreds for a useful predictor) with ofa acc-dataset");
  std::vector<std::size_t> order(records.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  ofa::rng engine(o.seed);
  ofa::shuffle(order.begin(), order.end(), engine);
  const auto test_n = static_cast<std::size_t>(double(records.size()) * o.test_fraction);
  std::vector<ofa::subnet_config<Space>> train_c, test_c;
  std::vector<double> train_y, test_y;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto& r = records[order[i]];
    (i < test_n ? test_c : train_c).push_back(r.config);
    (i < test_n ? test_y : train_y).push_back(r.top1);
  }
  se::accuracy_predictor<Space> p(o.hidden, o.layers, o.seed);
  se::predictor_fit_options fo;
  fo.epochs = o.epochs;
  fo.lr = o.lr;
  fo.weight_decay = o.weight_decay;
  fo.seed = o.seed;
  const auto start = std::chrono::steady_clock::now();
  const double train_rmse = p.fit(train_c, train_y, fo);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json report{{"train", train_c.size()}, {"train_rmse", train_rmse}, {"seconds", seconds},
                        {"test", test_c.size()}};
  if (!test_c.empty()) {
    const auto predicted = p.predict(test_c);
    report["test_rmse"] = se::rmse(predicted, test_y);
    report["test_kendall_tau"] = test_c.size() >= 2 ? se::kendall_tau(predicted, test_y) : 0.0;
    p.set_held_out_rmse(report["test_rmse"].get<double>());  // the search's uncertainty of each prediction
  }
  const auto noise = se::measure_label_noise<Space>(records);
  report["label_noise"] = {{"spread", noise.spread},       {"noise", noise.noise},
                           {"split_half_noise", noise.split_half_noise >= 0 ? nlohmann::json(noise.split_half_noise)
                                                                             : nlohmann::json()},
                           {"best_rmse", noise.best_rmse}, {"best_tau", noise.best_tau}};
  p.save(o.out);
  if (o.json) {
    std::printf("%s\n", report.dump().c_str());
    return;
  }
  std::printf("fitted on %zu subnets in %.1f s: RMSE %.3f%% (train)\n", train_c.size(), seconds, 100 * train_rmse);
  if (!test_c.empty())
    std::printf("held-out %zu subnets: RMSE %.3f%%, Kendall's tau %.3f\n", test_c.size(),
                100 * report["test_rmse"].get<double>(), report["test_kendall_tau"].get<double>());
  std::printf("labels: top-1 spread %.2f%% (sd), measurement noise %.2f%% (binomial, %zu images a subnet)\n",
              100 * noise.spread, 100 * noise.noise, records.front().images);
  if (noise.split_half_noise >= 0)
    std::printf("  of which %.2f%% is each subnet's own (split halves; the rest all subnets share)\n",
                100 * noise.split_half_noise);
  std::printf("  a perfect predictor would score about RMSE %.2f%%, tau %.2f against them\n", 100 * noise.best_rmse,
              noise.best_tau);
  if (noise.mostly_noise())
    std::printf("  the labels are mostly noise: measure on more held-out images (ofa train --holdout N, then\n"
                "  ofa acc-dataset) or train the supernet longer, so that its subnets differ by more than the noise\n");
  std::printf("wrote %s\n", o.out.c_str());
}

// --- ofa search -------------------------------------------------------------------------------

struct search_options {
  std::string space = "cifar", predictor, latency_table, out, checkpoint, data;
  std::vector<std::string> constraints;
  std::vector<int> resolutions;
  bool extrapolate = false;
  int pareto = 0, population = 100, generations = 500, threads = 0, batch = 1, baseline = 0, rerank = 0;
  std::size_t images = 0, calibration_images = 2000;
  std::uint64_t seed = 0;
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
  double top1(const ofa::subnet_config<Space>& c) {
    return ofa::train::evaluate_subnet(net, c, calibration_at(c.resolution), test, images, 100,
                                       ofa::data::default_augmentation<Space>(false))
        .top1;
  }
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

template <class Space>
void run_search(const search_options& o) {
  ofa::parallel::arena arena(o.threads);
  if (o.constraints.empty()) throw ofa::config_error("give at least one --constraint, e.g. 'macs<=40M'");
  std::vector<se::constraint> constraints;
  for (const auto& c : o.constraints) constraints.push_back(se::constraint::parse(c));
  const auto predictor = se::accuracy_predictor<Space>::load(o.predictor);
  se::cost_models<Space> costs;
  for (int r : o.resolutions)
    if (!Space::resolution_set.contains(r))
      throw ofa::config_error("--resolutions: " + std::to_string(r) + " is not a resolution of the space (" +
                              Space::resolution_set.to_string() + ")");
  costs.resolutions = o.resolutions;
  int latency_threads = 1;  // measured latency: on the table's threads, else one
  if (!o.latency_table.empty()) {
    auto table = se::latency_table<Space>::load(o.latency_table);
    latency_threads = table.threads;
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
  const bool latency = costs.latency.has_value();
  se::evolution_options eo;
  eo.population = o.population;
  eo.generations = o.generations;
  eo.seed = o.seed;
  eo.resolutions = costs.resolutions;
  // Fitness: the prediction, penalised beyond the labels the predictor learned from (unless
  // --extrapolate): the demo's search otherwise climbed to predictions 1 point above every label
  // and measured 3-5 points below the best of 10 random subnets.
  const auto& fitted = predictor.domain();
  const se::accuracy_model<Space> model = [&](std::span<const ofa::subnet_config<Space>> cs) {
    auto predicted = predictor.predict(cs);
    if (!o.extrapolate)
      for (auto& p : predicted) p = fitted.penalised(p);
    return predicted;
  };
  std::vector<se::constraint> budgets{constraints.front()};
  std::vector<se::constraint> others(constraints.begin() + 1, constraints.end());
  if (o.pareto > 0) {
    // K budgets of the first constraint's metric, from the cheapest subnet's cost up to its limit.
    const double lo = costs.lower_bound(budgets[0].what), hi = budgets[0].limit;
    costs.check_feasible({budgets[0]});
    budgets.clear();
    for (int k = 1; k <= o.pareto; ++k) budgets.push_back({constraints[0].what, lo + (hi - lo) * k / o.pareto});
  }
  const auto start = std::chrono::steady_clock::now();
  const auto result = se::pareto_search(model, costs, budgets, others, eo);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::optional<measurement<Space>> measured;
  if (!o.checkpoint.empty()) {
    std::string data = o.data.empty() ? read_data_identity(o.checkpoint).value("data", std::string()) : o.data;
    if (data.empty()) throw ofa::config_error("give the data set to measure on with --data SPEC");
    measured.emplace(o, data);
  } else if (o.baseline > 0) {
    throw ofa::config_error("--baseline measures random subnets: give the supernet with --checkpoint FILE");
  }
  // Each budget's target: the predictor's best, or with --rerank the best measured on the run's
  // held-out training images of the predictor's first K finalists.
  std::vector<se::candidate<Space>> targets;
  for (const auto& r : result.per_budget) targets.push_back(r.best);
  std::vector<nlohmann::json> reranked(budgets.size());
  if (o.rerank > 0) {
    if (!measured) throw ofa::config_error("--rerank measures subnets: give the supernet with --checkpoint FILE");
    const auto recorded = read_data_identity(o.checkpoint);
    if (recorded.is_null())
      throw ofa::config_error("--rerank measures on the run's held-out images, which DIR/data.json beside " +
                              o.checkpoint + " names; it is missing: give the checkpoint of an `ofa train` run");
    const std::string data = o.data.empty() ? recorded.value("data", std::string()) : o.data;
    const auto split = open_run_split(data, recorded.value("holdout", -1LL), "the run's data.json (its holdout)");
    const auto images = se::prepare_evaluation_images<Space>(split.train, split.held_out, o.calibration_images, 200,
                                                             ofa::stream::calibration);
    for (std::size_t k = 0; k < budgets.size(); ++k) {
      const auto& finalists = result.per_budget[k].finalists;
      std::vector<ofa::subnet_config<Space>> configs;
      for (std::size_t i = 0; i < finalists.size() && configs.size() < std::size_t(o.rerank); ++i)
        configs.push_back(finalists[i].config);
      const auto records = se::measure_subnets(measured->net, std::span<const ofa::subnet_config<Space>>(configs),
                                               images);
      std::size_t pick = 0;
      for (std::size_t i = 0; i < records.size(); ++i) {
        reranked[k].push_back({{"config", ofa::to_json(configs[i])},
                               {"predicted_top1", finalists[i].accuracy},
                               {"held_out_top1", records[i].top1}});
        if (records[i].top1 > records[pick].top1) pick = i;
      }
      targets[k] = finalists[pick];
      std::fprintf(stderr, "  budget %zu of %zu: %zu finalists measured on %zu held-out images, chose #%zu (%.2f%%)\n",
                   k + 1, budgets.size(), records.size(), records.front().images, pick + 1, 100 * records[pick].top1);
    }
  }

  // A larger budget never ends with a worse subnet than a smaller one, and the report says why.
  // (Re-ranked targets are chosen by measurement, which the predicted accuracy does not order.)
  const auto notes = o.rerank == 0 ? se::never_worse_with_budget(targets, budgets, others, costs)
                                   : std::vector<std::string>(budgets.size());
  const auto& domain = predictor.domain();
  const bool uncertain = std::isfinite(domain.held_out_rmse);
  for (auto& t : targets) t.accuracy = predictor.predict(t.config);  // as predicted, not as penalised
  std::printf("%-16s %-18s %8s %8s%s %8s%s%s\n", "budget", "subnet", "MACs", "params", latency ? "    latency" : "",
              "top-1", uncertain ? "     ±" : "", measured ? "  measured  latency" : "");
  bool any_extrapolated = false;
  nlohmann::json out = nlohmann::json::array();
  ofa::rng baseline_engine(o.seed + 77);
  std::vector<std::pair<ofa::subnet_config<Space>, double>> baseline_draws;  // top-1 < 0: not measured yet
  int baseline_measured = 0;
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
    if (!notes[k].empty()) row["note"] = notes[k];
    std::printf("%-16s %-18s %s %7.2f%%%s", budgets[k].to_string().c_str(), short_config(best.config).c_str(),
                cost_text(best, latency).c_str(), 100 * best.accuracy, extrapolated ? "*" : " ");
    if (uncertain) std::printf(" %5.2f", 100 * domain.held_out_rmse);
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
    if (measured && o.baseline > 0) {
      // The best of N random subnets under the same budget, measured the same way.
      // Every budget takes the first N draws of one shared stream that meet it: for each budget a
      // sample of its own, and a subnet in several budgets' samples is measured once.
      auto limits = others;
      limits.push_back(budgets[k]);
      double best_random = 0;
      std::size_t position = 0;
      for (int i = 0; i < o.baseline; ++position) {
        if (position == baseline_draws.size())
          baseline_draws.push_back({ofa::sample_config<Space>(baseline_engine, {{}, {}, {}, costs.resolutions}), -1});
        auto& [c, top1] = baseline_draws[position];
        if (!costs.satisfies(c, limits)) continue;
        if (top1 < 0) {
          top1 = measured->top1(c);
          if (++baseline_measured % 10 == 0)
            std::fprintf(stderr, "  random subnets measured: %d (budget %zu of %zu)\n", baseline_measured, k + 1,
                         budgets.size());
        }
        best_random = std::max(best_random, top1);
        ++i;
      }
      row["best_random_top1"] = best_random;
      row["random_subnets"] = o.baseline;
      std::printf("%-16s best of %d random subnets under the budget: %.2f%%\n", "", o.baseline, 100 * best_random);
    }
    out.push_back(row);
  }
  if (uncertain)
    std::printf("±: the predictor's error on the subnets held out when it was fitted (RMSE, points of top-1)\n");
  if (any_extrapolated)
    std::printf(
        "*: beyond the top-1 of every subnet the predictor learned from (%.2f%% to %.2f%%): an "
        "extrapolation, where predictors err most; measure it (--checkpoint) before trusting it\n",
        100 * domain.lowest, 100 * domain.highest);
  std::size_t scored = 0;
  for (const auto& r : result.per_budget) scored += r.scored;
  std::printf("%zu subnets scored in %.2f s (%d generations of %d, %d threads)\n", scored, seconds, o.generations,
              o.population, ofa::parallel::arena::threads());
  if (o.out.empty()) return;
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
           std::to_string(c.accuracy) + ",\"" + ofa::to_json(c.config).dump() + "\"\n";
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

// --- ofa export -------------------------------------------------------------------------------

struct export_options {
  std::string space = "cifar", checkpoint, config, data, format = "ofa", out;
  std::size_t calibration_images = 2000;
  int batch = 100, threads = 0;
  std::uint64_t seed = 0;
};

template <class Space>
void run_export(const export_options& o) {
  ofa::parallel::arena arena(o.threads);
  if (o.out.empty()) throw ofa::config_error("give the output file with --out FILE");
  refuse_output_over_input("--out", o.out, {{"--checkpoint", o.checkpoint}, {"--config", o.config}});
  if (o.format != "ofa" && o.format != "onnx")
    throw ofa::config_error("--format '" + o.format + "' is not one of ofa, onnx");
  const auto config = o.config == "max"   ? ofa::subnet_config<Space>::max()
                      : o.config == "min" ? ofa::subnet_config<Space>::min()
                                          : ofa::load_config<Space>(o.config);
  std::string data = o.data;
  if (data.empty()) data = read_data_identity(o.checkpoint).value("data", std::string());
  if (data.empty())
    throw ofa::config_error("give training images for BN recalibration with --data SPEC (no data.json beside the "
                            "checkpoint)");
  ofa::nn::elastic_net<Space> net(0);
  ofa::nn::load(net, o.checkpoint);
  const auto train = ofa::data::open_dataset(data, true, 0);
  const auto aug = ofa::data::default_augmentation<Space>(true);
  const auto calibration = ofa::train::first_images(train, o.calibration_images, o.batch, config.resolution, aug,
                                                    o.seed ^ ofa::stream::calibration);
  const auto stats = net.recalibrate(config, calibration);
  auto subnet = ofa::nn::extract(net, config, &stats);
  if (o.format == "ofa")
    ofa::nn::save(subnet, o.out);
  else
    ofa::io::export_onnx(subnet, o.out);
  std::printf("%s: %s subnet %s, %s MACs, %s parameters, BN recalibrated on %zu images\n", o.out.c_str(),
              o.format.c_str(), short_config(config).c_str(), human(double(ofa::profile_subnet(config).macs)).c_str(),
              human(double(subnet.parameter_count())).c_str(), o.calibration_images);
}

template <class Options, class Run>
void dispatch(CLI::App* cmd, std::shared_ptr<Options> o, Run run) {
  cmd->callback([o, run] { with_space(o->space, [&]<class Space>(std::type_identity<Space> t) { run(t, *o); }); });
}

}  // namespace

void add_search(CLI::App& app) {
  const std::string space_help = std::string("Space name (") + space_names + ")";
  {
    auto* cmd = app.add_subcommand("latency-table", "Measure every distinct layer's latency on this CPU");
    auto o = std::make_shared<latency_options>();
    cmd->add_option("--space", o->space, space_help);
    cmd->add_option("--out", o->out, "The table to write (JSON)");
    cmd->add_option("--load", o->load, "Check an existing table instead of measuring one");
    cmd->add_option("--batch", o->batch, "Images per inference")->check(CLI::Range(1, 4096));
    cmd->add_option("--threads", o->threads, "Threads of the measured inference")->check(CLI::Range(1, 1024));
    cmd->add_option("--repeats", o->repeats, "Timed runs per network")->check(CLI::Range(1, 100000));
    cmd->add_option("--networks", o->networks, "Random subnets whose layers are timed")->check(CLI::Range(0, 100000));
    cmd->add_option("--validate", o->validate, "Also compare with N random subnets measured end to end");
    cmd->add_option("--passes", o->passes, "Passes over the --validate subnets (each times every subnet)")
        ->check(CLI::Range(2, 1000));
    cmd->add_option("--validate-csv", o->validate_csv, "Write each checked subnet's predicted and measured ms (CSV)");
    cmd->add_option("--seed", o->seed, "Seed of the random weights and subnets");
    cmd->add_option("--resolutions", o->resolutions,
                    "Measure at these input resolutions only, e.g. --resolutions 224 (default: all of the space's)")
        ->delimiter(',');
    cmd->add_option("--adapt", o->adapt,
                    "Carry a table measured on another CPU, thread count or batch here from a few whole-network "
                    "timings (write it with --out)");
    cmd->add_option("--adapt-networks", o->adapt_networks, "Whole networks timed for --adapt")
        ->check(CLI::Range(2, 10000));
    dispatch(cmd, o, []<class Space>(std::type_identity<Space>, const latency_options& x) { run_latency_table<Space>(x); });
  }
  {
    auto* cmd = app.add_subcommand("acc-dataset", "Measure random subnets' top-1 on held-out training images");
    auto o = std::make_shared<dataset_options>();
    cmd->add_option("--space", o->space, space_help);
    cmd->add_option("--checkpoint", o->checkpoint, "The trained supernet (DIR/final.ofa)")->required();
    cmd->add_option("--data", o->data, "Training data (default: the run's, from DIR/data.json)");
    cmd->add_option("--holdout", o->holdout, "Held-out training images (default: the run's)");
    cmd->add_option("--out", o->out, "The data set (JSON lines; an existing file is continued)")->required();
    cmd->add_option("--subnets", o->subnets, "Subnets to measure");
    cmd->add_option("--calibration-images", o->calibration_images, "Training images for BN recalibration");
    cmd->add_option("--batch", o->batch, "Images per batch")->check(CLI::Range(1, 4096));
    cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_option("--seed", o->seed, "Seed of the sampled subnets");
    dispatch(cmd, o, []<class Space>(std::type_identity<Space>, const dataset_options& x) {
      with_processes([&](ofa::parallel::process_group& group) { run_acc_dataset<Space>(x, group); });
    });
  }
  {
    auto* cmd = app.add_subcommand("fit-predictor", "Train the accuracy predictor on an accuracy data set");
    auto o = std::make_shared<fit_options>();
    cmd->add_option("--space", o->space, space_help);
    cmd->add_option("--dataset", o->dataset, "The accuracy data set (from ofa acc-dataset)")->required();
    cmd->add_option("--out", o->out, "The predictor to write")->required();
    cmd->add_option("--test-fraction", o->test_fraction, "Held out for RMSE and Kendall's tau");
    cmd->add_option("--hidden", o->hidden, "Units per hidden layer");
    cmd->add_option("--layers", o->layers, "Hidden layers");
    cmd->add_option("--epochs", o->epochs, "Training epochs");
    cmd->add_option("--lr", o->lr, "Adam's learning rate");
    cmd->add_option("--weight-decay", o->weight_decay, "Adam's L2 weight decay (more for a small data set)");
    cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_option("--seed", o->seed, "Seed of the split and the initialisation");
    cmd->add_flag("--json", o->json, "Print JSON");
    dispatch(cmd, o, []<class Space>(std::type_identity<Space>, const fit_options& x) { run_fit_predictor<Space>(x); });
  }
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
    cmd->add_option("--baseline", o->baseline, "Also measure N random subnets under each budget, report the best");
    cmd->add_option("--rerank", o->rerank,
                    "Measure each budget's K best predicted subnets on the run's held-out training images and "
                    "take the best measured (needs --checkpoint)");
    dispatch(cmd, o, []<class Space>(std::type_identity<Space>, const search_options& x) { run_search<Space>(x); });
  }
  {
    auto* cmd = app.add_subcommand("export", "Extract a subnet (BN recalibrated) as an ofa static_net or ONNX");
    auto o = std::make_shared<export_options>();
    cmd->add_option("--space", o->space, space_help);
    cmd->add_option("--checkpoint", o->checkpoint, "The trained supernet (DIR/final.ofa)")->required();
    cmd->add_option("--config", o->config, "max, min or a config file (e.g. a search's target-1.json)")->required();
    cmd->add_option("--data", o->data, "Training images for BN recalibration (default: the run's)");
    cmd->add_option("--format", o->format, "ofa (a static_net checkpoint) or onnx");
    cmd->add_option("--out", o->out, "The file to write")->required();
    cmd->add_option("--calibration-images", o->calibration_images, "Training images for BN recalibration");
    cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
    dispatch(cmd, o, []<class Space>(std::type_identity<Space>, const export_options& x) { run_export<Space>(x); });
  }
}

}  // namespace ofa_cli
