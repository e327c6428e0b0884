// `ofa train`, `ofa eval` and `ofa plot`: progressive shrinking (or a baseline) on a data
// set, evaluation of trained subnets after BN recalibration, and the run's curves.

#include <algorithm>  // clamp, max_element
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>  // make_shared: options outlive add_* for the callbacks
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <ofa/data/spec.hpp>
#include <ofa/data/split.hpp>
#include <ofa/nn/serialize.hpp>
#include <ofa/parallel/arena.hpp>
#include <ofa/space/config_json.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/train/evaluation.hpp>
#include <ofa/train/plot_log.hpp>
#include <ofa/train/trainer.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "outputs.hpp"
#include "processes.hpp"
#include "run_data.hpp"
#include "spaces.hpp"

namespace ofa_cli {
namespace {

struct train_options {
  std::string space = "cifar", data = "synthetic", out, schedule = "ps", config;
  double epochs_scale = 1.0, checkpoint_minutes = 10;
  int batch = 64, threads = 0;
  std::uint64_t seed = 0;
  std::int64_t checkpoint_steps = 0;
  std::size_t eval_images = 2000, recalibration_images = 2000;
  long long holdout = -1;  // -1: a tenth of the training set, at most 10,000
  std::vector<int> resolutions;
  bool resume = false, quiet = false, no_epoch_eval = false, skip_corrupt = false;
  int accumulate = 1;
};

template <class Space>
ofa::subnet_config<Space> config_value(const std::string& value) {
  if (value == "max") return ofa::subnet_config<Space>::max();
  if (value == "min") return ofa::subnet_config<Space>::min();
  if (value == "mid") return ofa::train::middle_config<Space>(ofa::subnet_config<Space>::max().resolution);
  return ofa::load_config<Space>(value);
}

template <class Space>
ofa::train::schedule<Space> schedule_of(const train_options& o) {
  namespace tr = ofa::train;
  if (o.schedule == "standalone") {
    if (o.config.empty())
      throw ofa::config_error("--schedule standalone trains one subnet: give it with --config max|min|mid|FILE");
    return tr::standalone<Space>(config_value<Space>(o.config), o.epochs_scale);
  }
  if (!o.config.empty()) throw ofa::config_error("--config is for --schedule standalone only");
  if (o.schedule == "ps") return tr::progressive_shrinking<Space>(o.epochs_scale);
  if (o.schedule == "no-ps") return tr::no_progressive_shrinking<Space>(o.epochs_scale);
  if (o.schedule == "sandwich") return tr::sandwich<Space>(o.epochs_scale);
  if (o.epochs_scale != 1.0) throw ofa::config_error("--epochs-scale applies to the built-in schedules, not to a file");
  return tr::load_schedule<Space>(o.schedule);
}

template <class Space>
int run_train(const train_options& o, ofa::parallel::process_group& group) {
  ofa::parallel::arena arena(o.threads);
  const bool writer = group.is_writer();
  if (o.out.empty()) throw ofa::config_error("give the run's directory with --out DIR");
  if (!(o.epochs_scale > 0) || !std::isfinite(o.epochs_scale))
    throw ofa::config_error("--epochs-scale must be a positive number");
  // Everything a user can get wrong is checked before any work starts.
  auto plan = schedule_of<Space>(o);
  const auto all_train = ofa::data::open_dataset(o.data, true, o.seed),
             test = ofa::data::open_dataset(o.data, false, o.seed);
  // The held-out part of the training set is never trained on: the accuracy data set of the
  // search is measured on it (ofa acc-dataset reads the split from DIR/data.json).
  const auto holdout = held_out_count(o.holdout, all_train.size());
  const auto split = ofa::data::make_split(all_train.size(), holdout, holdout_split_seed);
  const ofa::data::any_dataset train(ofa::data::subset<ofa::data::any_dataset>(all_train, split.train));
  const nlohmann::json data_identity{{"data", o.data}, {"holdout", holdout}, {"split_seed", holdout_split_seed}};
  // The lock first, so that the check for an earlier run and the run itself are one step for
  // any other `ofa train` on this folder.
  // Process 0 alone writes, so it alone locks and looks (the others would see its new files).
  std::filesystem::create_directories(o.out);
  std::optional<folder_lock> lock;
  if (writer) lock.emplace(o.out);
  namespace fs = std::filesystem;
  if (writer && o.resume && !fs::exists(fs::path(o.out) / "checkpoint.ofa"))
    throw ofa::io_error("cannot resume: '" + o.out + "/checkpoint.ofa' does not exist; start without --resume");
  if (writer && !o.resume) {
    for (const char* f : {"checkpoint.ofa", "final.ofa"})
      if (fs::exists(fs::path(o.out) / f))
        throw ofa::config_error("'" + o.out + "' already holds a run (its " + f +
                                "); continue it with --resume, or use another --out");
    // A run killed before its first checkpoint left only its log: it starts again from the beginning.
    fs::remove(fs::path(o.out) / "log.jsonl");
  }
  ofa::train::trainer_options to;
  to.out_dir = o.out;
  to.batch_size = o.batch;
  to.seed = o.seed;
  to.checkpoint_minutes = o.checkpoint_minutes;
  to.checkpoint_steps = o.checkpoint_steps;
  to.eval_images = o.eval_images;
  to.recalibration_images = o.recalibration_images;
  to.evaluate_epochs = !o.no_epoch_eval;
  to.resolutions = o.resolutions;
  to.quiet = o.quiet;
  to.skip_corrupt = o.skip_corrupt;
  to.train_aug = ofa::data::default_augmentation<Space>(true);
  to.data_identity = data_identity;
  to.group = &group;
  to.accumulate = o.accumulate;
  if (writer && !o.resume) write_data_identity(o.out, data_identity);
  ofa::nn::elastic_net<Space> net(o.seed);
  ofa::train::trainer<Space, ofa::data::any_dataset> t(net, plan, train, &test, to);
  t.install_signal_handlers();
  if (!o.quiet && writer)
    std::printf(
        "ofa train: %s on %s (%zu training, %zu held out, %zu test images), %zu phases, %d epochs, batch %d, %d "
        "threads%s\n",
        plan.name.c_str(), o.data.c_str(), train.size(), holdout, test.size(), plan.phases.size(), plan.total_epochs(),
        o.batch, ofa::parallel::arena::threads(),
        group.size() > 1 ? (" a process, " + std::to_string(group.size()) + " processes").c_str() : "");
  const auto outcome = t.run(o.resume);
  if (outcome == ofa::train::run_outcome::finished && writer) {
    const auto plots = ofa::train::plot_training_log(o.out + "/log.jsonl", o.out + "/");
    if (!o.quiet) {
      std::printf("\n%-10s %8s %8s\n", "subnet", "top-1", "loss");
      for (const auto& e : t.last_evaluation())
        std::printf("%-10s %7.2f%% %8.4f\n", e.name.c_str(), 100 * e.top1, e.loss);
      std::printf("curves: %s, %s\n", plots[0].c_str(), plots[1].c_str());
    }
  }
  return 0;
}

struct eval_options {
  std::string space = "cifar", checkpoint, model, config, data = "synthetic";
  bool grid = false, ladder = false, json = false;
  int batch = 0, threads = 0;  // batch 0: by the resolution (eval_batch)
  std::size_t recalibration_images = 2000, images = 0;
  std::uint64_t seed = 0;
};

/// Images per evaluation batch: as asked, or (0) 100 up to 64 pixels and fewer above, so that a
/// batch's activations stay near those of 100 images of 64² (at 224: 8 images, about 250 MB
/// instead of the 1.7 GB a batch of 100 took).
int eval_batch(int requested, int resolution) {
  if (requested > 0) return requested;
  return std::clamp(100 * 64 * 64 / (resolution * resolution), 1, 100);
}

/// An exported subnet (ofa export --format ofa) on the test split: top-1 and loss as deployed.
template <class Space>
void run_eval_model(const eval_options& o) {
  const auto test = ofa::data::open_dataset(o.data, false, o.seed);
  check_class_count(test, Space::class_count, o.data);
  const auto net = ofa::nn::load_static<Space>(o.model);
  ofa::data::loader_options lo;
  lo.batch_size = static_cast<std::size_t>(eval_batch(o.batch, net.config().resolution));
  lo.resolutions = {net.config().resolution};
  lo.shuffle = false;
  lo.drop_last = false;
  lo.aug = ofa::data::default_augmentation<Space>(false);
  ofa::data::loader<ofa::data::any_dataset> loader(test, lo);
  ofa::train::accuracy_meter meter;
  const auto start = std::chrono::steady_clock::now();
  auto cursor = loader.epoch(0);
  while (meter.images < (o.images ? o.images : test.size()))
    if (auto b = cursor.next()) {
      if (o.images && meter.images + b->labels.size() > o.images) b->labels.resize(o.images - meter.images);
      meter.add(net.forward(b->images), b->labels);
    } else {
      break;
    }
  const std::size_t images = meter.images;
  const double loss = meter.loss_sum;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double top1 = meter.top1();
  if (o.json) {
    std::printf("%s\n", nlohmann::json{{"model", o.model}, {"top1", top1}, {"loss", images ? loss / double(images) : 0.0},
                                       {"images", images}, {"images_per_s", double(images) / seconds}}
                            .dump()
                            .c_str());
    return;
  }
  std::printf("%-24s %6s %8s %8s %8s %10s\n", "model", "res", "top-1", "loss", "images", "images/s");
  std::printf("%-24s %6d %7.2f%% %8.4f %8zu %10.0f\n", std::filesystem::path(o.model).filename().c_str(),
              net.config().resolution, 100 * top1, images ? loss / double(images) : 0.0, images,
              double(images) / seconds);
}

template <class Space>
void run_eval(const eval_options& o) {
  ofa::parallel::arena arena(o.threads);
  if (!o.model.empty()) {
    if (!o.checkpoint.empty() || o.grid || o.ladder || !o.config.empty())
      throw ofa::config_error(
          "--model evaluates an exported subnet alone: drop --checkpoint, --config, --grid and --ladder");
    return run_eval_model<Space>(o);
  }
  if (o.checkpoint.empty()) throw ofa::config_error("give a supernet with --checkpoint FILE, or a subnet with --model FILE");
  if (int(o.grid) + int(o.ladder) + int(!o.config.empty()) != 1)
    throw ofa::config_error("give one of --config CFG, --grid or --ladder");
  std::vector<std::pair<std::string, ofa::subnet_config<Space>>> subnets;
  if (o.grid)
    subnets = ofa::train::evaluation_grid<Space>();
  else if (o.ladder)
    subnets = ofa::train::size_ladder<Space>(Space::resolution_set.max());
  else
    subnets.emplace_back(o.config, config_value<Space>(o.config));
  const auto train = ofa::data::open_dataset(o.data, true, o.seed),
             test = ofa::data::open_dataset(o.data, false, o.seed);
  check_class_count(train, Space::class_count, o.data);
  check_class_count(test, Space::class_count, o.data);
  ofa::nn::elastic_net<Space> net(0);
  ofa::nn::load(net, o.checkpoint);
  const auto train_aug = ofa::data::default_augmentation<Space>(true),
             eval_aug = ofa::data::default_augmentation<Space>(false);
  nlohmann::json out = nlohmann::json::array();
  if (!o.json) std::printf("%-24s %6s %8s %8s %8s %8s\n", "subnet", "res", "MACs", "top-1", "loss", "images");
  for (const auto& [name, config] : subnets) {
    const int batch = eval_batch(o.batch, config.resolution);
    const auto calibration = ofa::train::first_images(train, o.recalibration_images, batch, config.resolution,
                                                      train_aug, o.seed ^ ofa::stream::calibration);
    const auto e = ofa::train::evaluate_subnet(net, config, calibration, test, o.images, batch, eval_aug);
    const auto macs = ofa::profile_subnet(config).macs;
    out.push_back({{"subnet", name},
                   {"config", ofa::to_json(config)},
                   {"macs", macs},
                   {"top1", e.top1},
                   {"loss", e.loss},
                   {"images", e.images}});
    if (!o.json)
      std::printf("%-24s %6d %8s %7.2f%% %8.4f %8zu\n", name.c_str(), config.resolution, human(double(macs)).c_str(),
                  100 * e.top1, e.loss, e.images);
  }
  if (o.json) std::printf("%s\n", out.dump().c_str());
}

/// One series per NAME=FILE (a JSON array from `ofa eval --json`): top-1 against MACs.
void save_accuracy_plot(const std::vector<std::string>& results, const std::string& svg) {
  ofa::io::plot plot;
  plot.title = "top-1 against MACs, after BN recalibration";
  plot.x_label = "MACs (M)";
  plot.y_label = "top-1 (%)";
  for (const auto& r : results) {
    const auto eq = r.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == r.size())
      throw ofa::config_error("--accuracy '" + r + "': write NAME=FILE, FILE the output of `ofa eval --json`");
    const std::string name = r.substr(0, eq), file = r.substr(eq + 1);
    std::ifstream in(file);
    if (!in) throw ofa::io_error("--accuracy " + name + ": cannot read " + file + " (make it with ofa eval --json > FILE)");
    nlohmann::json rows;
    try {
      rows = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw ofa::data_error("--accuracy " + name + ": " + file + " is not `ofa eval --json` output: " + e.what());
    }
    if (!rows.is_array() || rows.empty())
      throw ofa::data_error("--accuracy " + name + ": " + file +
                            " is not `ofa eval --json` output (a list of subnets); make it with ofa eval --json > FILE");
    ofa::io::plot_series series{name, {}, {}, false};
    std::vector<std::pair<double, double>> points;
    for (const auto& row : rows) {
      if (!row.is_object() || !row.contains("macs") || !row.contains("top1"))
        throw ofa::data_error("--accuracy " + name + ": " + file +
                                " has a row without macs and top1; remake it with this version's ofa eval --json");
      points.emplace_back(1e-6 * row["macs"].get<double>(), 100 * row["top1"].get<double>());
    }
    std::sort(points.begin(), points.end());
    for (const auto& [x, y] : points) {
      series.x.push_back(x);
      series.y.push_back(y);
    }
    series.points = points.size() == 1;  // a standalone subnet is one point, not a line
    plot.series.push_back(std::move(series));
  }
  ofa::io::save_svg(plot, svg);
}

}  // namespace

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a once-for-all network (progressive shrinking, or a baseline)");
  auto o = std::make_shared<train_options>();
  cmd->add_option("--space", o->space, std::string("Space name (") + space_names + ")");
  cmd->add_option("--data", o->data, "synthetic[:N], cifar10-bin:DIR, idx:DIR or folder:DIR");
  cmd->add_option("--out", o->out, "Directory for checkpoints, the log and the curves")->required();
  cmd->add_option("--schedule", o->schedule, "ps (default), no-ps, sandwich, standalone, or a schedule JSON file");
  cmd->add_option("--config", o->config, "The subnet of --schedule standalone: max, min, mid or a config file");
  cmd->add_option("--epochs-scale", o->epochs_scale, "Stretch (>1) or shrink (<1) every phase of a built-in schedule");
  cmd->add_option("--batch", o->batch, "Images per step")->check(CLI::Range(2, 4096));
  cmd->add_option("--holdout", o->holdout,
                  "Training images held out for the search's accuracy data set (default: a tenth, at most 10,000)");
  cmd->add_option("--resolutions", o->resolutions, "Training resolutions, one drawn per batch (default: the space's)");
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--seed", o->seed, "Seed of every random draw");
  cmd->add_option("--checkpoint-minutes", o->checkpoint_minutes, "Also checkpoint this often (and after every epoch)");
  cmd->add_option("--checkpoint-steps", o->checkpoint_steps, "Also checkpoint every N steps");
  cmd->add_option("--eval-images", o->eval_images, "Test images per subnet after each epoch (all after each phase)");
  cmd->add_option("--recalibration-images", o->recalibration_images, "Training images for BN recalibration");
  cmd->add_flag("--no-epoch-eval", o->no_epoch_eval, "Evaluate the grid only at the end of each phase");
  cmd->add_flag("--resume", o->resume, "Continue the run in --out from its checkpoint");
  cmd->add_flag("--quiet", o->quiet, "No progress output (the log is still written)");
  cmd->add_option("--accumulate", o->accumulate,
                  "Micro-batches a step: the batch in K pieces, gradients averaged (the mathematics of K processes)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--skip-corrupt", o->skip_corrupt, "Skip training images that cannot be decoded (default: stop)");
  cmd->callback([o] {
    with_processes([&](ofa::parallel::process_group& group) {
      with_space(o->space, [&]<class Space>(std::type_identity<Space>) { run_train<Space>(*o, group); });
    });
  });

  auto* ev = app.add_subcommand("eval", "Top-1 and loss of trained subnets, after BN recalibration");
  auto e = std::make_shared<eval_options>();
  ev->add_option("--space", e->space, std::string("Space name (") + space_names + ")");
  ev->add_option("--checkpoint", e->checkpoint, "A supernet checkpoint (final.ofa or checkpoint.ofa of a run)");
  ev->add_option("--model", e->model, "An exported subnet (ofa export --format ofa), run as deployed");
  ev->add_option("--config", e->config, "max, min, mid or a config file");
  ev->add_flag("--grid", e->grid, "min, mid and max at the smallest and largest resolution");
  ev->add_flag("--ladder", e->ladder, "Subnets from the smallest to the largest, one size step apart (largest resolution)");
  ev->add_option("--data", e->data, "synthetic[:N], cifar10-bin:DIR, idx:DIR or folder:DIR (its test split)");
  ev->add_option("--batch", e->batch,
                 "Images per batch (default: 100 up to 64 pixels, fewer for larger images: 8 at 224)")
      ->check(CLI::Range(0, 4096));
  ev->add_option("--images", e->images, "Test images (default: all)");
  ev->add_option("--recalibration-images", e->recalibration_images, "Training images for BN recalibration");
  ev->add_option("--threads", e->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  ev->add_flag("--json", e->json, "Print JSON");
  ev->callback([e] { with_space(e->space, [&]<class Space>(std::type_identity<Space>) { run_eval<Space>(*e); }); });

  auto* pl = app.add_subcommand("plot", "SVG curves of a run, or top-1 against MACs of several `ofa eval --json` results");
  auto log = std::make_shared<std::string>();
  auto prefix = std::make_shared<std::string>();
  auto results = std::make_shared<std::vector<std::string>>();
  pl->add_option("--log", *log, "A run's DIR/log.jsonl: top-1 and loss of every evaluated subnet over time");
  pl->add_option("--accuracy", *results,
                 "NAME=FILE, repeatable: the output of `ofa eval --json` (e.g. --ladder) of one method, "
                 "plotted as top-1 against MACs");
  pl->add_option("--out", *prefix, "Prefix of the SVG files (--log; default: beside the log), or the SVG (--accuracy)");
  pl->callback([log, prefix, results] {
    if (log->empty() == results->empty())
      throw ofa::config_error("give either --log DIR/log.jsonl or --accuracy NAME=FILE ... --out FILE.svg");
    if (!log->empty()) {
      const std::string p = prefix->empty() ? std::filesystem::path(*log).parent_path().string() + "/" : *prefix;
      for (const auto& f : ofa::train::plot_training_log(*log, p)) std::printf("wrote %s\n", f.c_str());
      return;
    }
    if (prefix->empty()) throw ofa::config_error("--accuracy needs --out FILE.svg");
    save_accuracy_plot(*results, *prefix);
    std::printf("wrote %s\n", prefix->c_str());
  });
}

}  // namespace ofa_cli
