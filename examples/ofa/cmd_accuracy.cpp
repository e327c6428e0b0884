// `ofa acc-dataset` and `ofa fit-predictor`: random subnets measured on held-out images, and the
// accuracy predictor fitted to them.

#include <algorithm>
#include <chrono>
#include <cmath>
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
#include <ofa/data/split.hpp>
#include <ofa/io/write_atomically.hpp>
#include <ofa/nn/serialize.hpp>
#include <ofa/parallel/arena.hpp>
#include <ofa/search/accuracy_dataset.hpp>
#include <ofa/search/accuracy_predictor.hpp>
#include <ofa/search/label_noise.hpp>
#include <ofa/space/config_json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "outputs.hpp"
#include "processes.hpp"
#include "run_data.hpp"
#include "spaces.hpp"

namespace ofa_cli {
namespace {

namespace se = ofa::search;

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
  if (data.empty())
    throw ofa::config_error("give the training data with --data SPEC (no data.json beside the checkpoint)");
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
    std::printf(
        "ofa acc-dataset: %zu subnets of %s, measured on %zu held-out training images, %d threads x %d "
        "processes\n",
        o.subnets, o.checkpoint.c_str(), n, ofa::parallel::arena::threads(), group.size());
  const auto records = se::build_accuracy_dataset(
      net, train, held_out, o.out, ao,
      [&](const se::accuracy_record<Space>& r, std::size_t done, std::size_t total) {
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
  int hidden = 400, layers = 3, epochs = 300, threads = 0, ensemble = 1;
  double test_fraction = 0.2, lr = 1e-3, weight_decay = se::predictor_fit_options{}.weight_decay;
  std::uint64_t seed = 0;
  bool json = false;
};

template <class Space>
void run_fit_predictor(const fit_options& o) {
  ofa::parallel::arena arena(o.threads);
  if (o.out.empty()) throw ofa::config_error("give the predictor's file with --out FILE");
  refuse_output_over_input("--out", o.out, {{"--dataset", o.dataset}});
  if (!(o.test_fraction >= 0 && o.test_fraction < 1)) throw ofa::config_error("--test-fraction must be in [0, 1)");
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
  fo.ensemble = o.ensemble;
  const auto start = std::chrono::steady_clock::now();
  const double train_rmse = p.fit(train_c, train_y, fo);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json report{
      {"train", train_c.size()}, {"train_rmse", train_rmse}, {"seconds", seconds}, {"test", test_c.size()}};
  if (!test_c.empty()) {
    const auto [predicted, spread] = p.predict_with_spread(test_c);
    report["test_rmse"] = se::rmse(predicted, test_y);
    report["test_kendall_tau"] = test_c.size() >= 2 ? se::kendall_tau(predicted, test_y) : 0.0;
    if (o.ensemble > 1 && test_c.size() >= 2) {  // does the spread say where the mean misses?
      std::vector<double> miss;
      for (std::size_t i = 0; i < predicted.size(); ++i) miss.push_back(std::abs(predicted[i] - test_y[i]));
      report["test_mean_spread"] = std::accumulate(spread.begin(), spread.end(), 0.0) / double(spread.size());
      report["test_spread_miss_tau"] = se::kendall_tau(spread, miss);
    }
    p.set_held_out_rmse(report["test_rmse"].get<double>());  // the search's uncertainty of each prediction
  }
  const auto noise = se::measure_label_noise<Space>(records);
  report["label_noise"] = {
      {"spread", noise.spread},
      {"noise", noise.noise},
      {"split_half_noise", noise.split_half_noise >= 0 ? nlohmann::json(noise.split_half_noise) : nlohmann::json()},
      {"best_rmse", noise.best_rmse},
      {"best_tau", noise.best_tau}};
  p.save(o.out);
  if (o.json) {
    std::printf("%s\n", report.dump().c_str());
    return;
  }
  std::printf("fitted%s on %zu subnets in %.1f s: RMSE %.3f%% (train)\n",
              o.ensemble > 1 ? (" " + std::to_string(o.ensemble) + " MLPs").c_str() : "", train_c.size(), seconds,
              100 * train_rmse);
  if (!test_c.empty())
    std::printf("held-out %zu subnets: RMSE %.3f%%, Kendall's tau %.3f\n", test_c.size(),
                100 * report["test_rmse"].get<double>(), report["test_kendall_tau"].get<double>());
  if (report.contains("test_mean_spread"))
    std::printf("  the members' spread there: %.3f%% on average; Kendall's tau between spread and miss %.3f\n",
                100 * report["test_mean_spread"].get<double>(), report["test_spread_miss_tau"].get<double>());
  std::printf("labels: top-1 spread %.2f%% (sd), measurement noise %.2f%% (binomial, %zu images a subnet)\n",
              100 * noise.spread, 100 * noise.noise, records.front().images);
  if (noise.split_half_noise >= 0)
    std::printf("  of which %.2f%% is each subnet's own (split halves; the rest all subnets share)\n",
                100 * noise.split_half_noise);
  std::printf("  a perfect predictor would score about RMSE %.2f%%, tau %.2f against them\n", 100 * noise.best_rmse,
              noise.best_tau);
  if (noise.mostly_noise())
    std::printf(
        "  the labels are mostly noise: measure on more held-out images (ofa train --holdout N, then\n"
        "  ofa acc-dataset) or train the supernet longer, so that its subnets differ by more than the noise\n");
  std::printf("wrote %s\n", o.out.c_str());
}

// --- ofa search -------------------------------------------------------------------------------

}  // namespace

void add_accuracy(CLI::App& app) {
  const std::string space_help = std::string("Space name (") + space_names + ")";
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
    cmd->add_option("--ensemble", o->ensemble,
                    "MLPs to fit (each other than the first on a bootstrap resample): their spread is each "
                    "prediction's uncertainty")
        ->check(CLI::Range(1, ofa::search::max_ensemble));
    cmd->add_option("--lr", o->lr, "Adam's learning rate");
    cmd->add_option("--weight-decay", o->weight_decay, "Adam's L2 weight decay (more for a small data set)");
    cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_option("--seed", o->seed, "Seed of the split and the initialisation");
    cmd->add_flag("--json", o->json, "Print JSON");
    dispatch(cmd, o, []<class Space>(std::type_identity<Space>, const fit_options& x) { run_fit_predictor<Space>(x); });
  }
}

}  // namespace ofa_cli
