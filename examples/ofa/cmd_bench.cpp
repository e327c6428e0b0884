// `ofa bench train|infer`: times a training step or static_net inference of one
// subnet, so users can size their servers. Warm-up, then the median of the
// repetitions; FLOPs are 2·MACs per image forward and 3× that for a training step.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <ofa/autograd/ops.hpp>
#include <ofa/kernels/fma_peak.hpp>
#include <ofa/nn/elastic_net.hpp>
#include <ofa/nn/extract.hpp>
#include <ofa/parallel/arena.hpp>
#include <ofa/train/evaluation.hpp>  // middle_config
#include <ofa/train/optimizer.hpp>
#include <ofa/profiling.hpp>
#include <ofa/space/config_json.hpp>
#include <ofa/space/profile.hpp>

#include "processes.hpp"
#include "spaces.hpp"

#include "commands.hpp"
namespace ofa_cli {

struct bench_options {
  std::string mode, space = "mbv3", config = "max";
  int batch = 16, resolution = 0, threads = 0, repetitions = 7, warmup = 2;
  double peak_per_core = 0;  // GFLOP/s of one core; 0: this CPU's, measured once and cached
  bool json = false, profile = false, profile_shapes = false;
};

/// Runs `step` `repetitions` more times with profiling on; returns the time by layer type.
template <class F>
std::vector<ofa::profiling::entry> profile_steps(int repetitions, bool by_shape, F&& step) {
  ofa::profiling::reset();
  ofa::profiling::enable(true, by_shape ? ofa::profiling::detail_level::shape : ofa::profiling::detail_level::type);
  for (int i = 0; i < repetitions; ++i) step();
  ofa::profiling::enable(false);
  auto rows = ofa::profiling::report();
  for (auto& r : rows) r.seconds /= repetitions;  // per step
  return rows;
}

inline const char* phase_name(ofa::profiling::phase p) {
  return p == ofa::profiling::phase::forward ? "forward" : "backward";
}

/// "max", "min", "mid" (every unit at its middle depth, kernel and expand) or a file.
template <class Space>
ofa::subnet_config<Space> bench_config(const std::string& value) {
  if (value == "mid") return ofa::train::middle_config<Space>(ofa::subnet_config<Space>::max().resolution);
  if (value == "max") return ofa::subnet_config<Space>::max();
  if (value == "min") return ofa::subnet_config<Space>::min();
  return ofa::load_config<Space>(value);
}

template <class F>
double median_seconds(int warmup, int repetitions, F&& step) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> times;
  for (int i = 0; i < repetitions; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

template <class Space>
void run_bench(const bench_options& o) {
  ofa::parallel::arena arena(o.threads);
  auto config = bench_config<Space>(o.config);
  if (o.resolution) config.resolution = o.resolution;
  config.validate();
  const auto r = static_cast<std::size_t>(config.resolution), n = static_cast<std::size_t>(o.batch);
  const auto macs = ofa::profile_subnet(config).macs;
  ofa::tensor<float> images(ofa::shape_type{n, r, r, 3});
  ofa::rng engine(1);
  for (auto& v : images) v = static_cast<float>(engine.normal());
  ofa::nn::elastic_net<Space> net(1);
  net.set_active(config);
  double seconds = 0, flops = 0;
  std::vector<ofa::profiling::entry> profile;
  if (o.mode == "train") {
    std::vector<int> labels(n);
    for (auto& l : labels) l = static_cast<int>(engine.uniform_index(Space::class_count));
    ofa::train::sgd optimizer(net.state());  // the reference's: momentum 0.9, Nesterov, weight decay 3e-5
    ofa::train::local_reduction reduction;
    const ofa::autograd::variable<float> input(images);
    auto step = [&] {
      optimizer.zero_grad();
      auto loss = ofa::autograd::cross_entropy(net.forward(input, ofa::nn::forward_mode::train), labels);
      ofa::autograd::backward(loss);
      ofa::profiling::scope timing("sgd_update");
      optimizer.reduce_gradients(reduction);
      optimizer.apply(0.01);
    };
    seconds = median_seconds(o.warmup, o.repetitions, step);
    if (o.profile) profile = profile_steps(o.repetitions, o.profile_shapes, step);
    flops = 3.0 * 2.0 * double(macs) * double(n);
  } else {
    const auto extracted = ofa::nn::extract(net, config);
    auto step = [&] { (void)extracted.forward(images); };
    seconds = median_seconds(o.warmup, o.repetitions, step);
    if (o.profile) profile = profile_steps(o.repetitions, o.profile_shapes, step);
    flops = 2.0 * double(macs) * double(n);
  }
  const int threads = ofa::parallel::arena::threads();
  const auto host = o.peak_per_core > 0 ? ofa::kernels::fma_peak{o.peak_per_core, "given"} : ofa::kernels::host_fma_peak();
  const double gflops = flops / seconds / 1e9, peak = host.gflops_per_core * threads;
  if (o.json) {
    nlohmann::json j{{"mode", o.mode},
                     {"space", o.space},
                     {"config", ofa::to_json(config)},
                     {"batch", o.batch},
                     {"resolution", config.resolution},
                     {"threads", threads},
                     {"macs_per_image", macs},
                     {"images_per_s", double(n) / seconds},
                     {"ms", seconds * 1e3},
                     {"gflops", gflops},
                     {"peak_gflops", peak},
                     {"peak_instructions", host.instructions},
                     {"peak_fraction", gflops / peak}};
    if (o.profile) {
      j["profile"] = nlohmann::json::array();
      for (const auto& row : profile)
        j["profile"].push_back({{"layer", row.name},
                                {"phase", phase_name(row.when)},
                                {"ms", row.seconds * 1e3},
                                {"calls_per_step", row.calls / o.repetitions}});
    }
    std::cout << j.dump() << "\n";
    return;
  }
  std::printf(
      "%s %s (%s) batch %d @%d, %d threads: %.1f images/s, %.2f ms per step, %.1f GFLOP/s = %.0f%% of %.0f GFLOP/s FMA "
      "peak\n",
      o.mode.c_str(), o.space.c_str(), o.config.c_str(), o.batch, config.resolution, threads, double(n) / seconds,
      seconds * 1e3, gflops, 100 * gflops / peak, peak);
  if (!o.profile) return;
  // Profiled steps run a little slower than timed ones (a clock read per op).
  double covered = 0;
  int width = 18;
  for (const auto& row : profile) {
    covered += row.seconds;
    width = std::max(width, static_cast<int>(row.name.size()));
  }
  std::printf("\n%-*s %-9s %10s %7s %7s\n", width, o.profile_shapes ? "layer type and shape" : "layer type", "phase",
              "ms/step", "share", "calls");
  for (const auto& row : profile)
    std::printf("%-*s %-9s %10.2f %6.1f%% %7lld\n", width, row.name.c_str(), phase_name(row.when), row.seconds * 1e3,
                100 * row.seconds / covered, static_cast<long long>(row.calls / o.repetitions));
  std::printf("%-*s %-9s %10.2f\n", width, "(all layers)", "", covered * 1e3);
}

inline void add_bench_mode(CLI::App& bench, const std::string& mode, const std::string& help) {
  auto* cmd = bench.add_subcommand(mode, help);
  auto o = std::make_shared<bench_options>();
  o->mode = mode;
  cmd->add_option("--space", o->space, std::string("Space name (") + space_names + ")");
  cmd->add_option("--config", o->config, "max, min, mid or a config JSON file");
  cmd->add_option("--batch", o->batch, "Images per step")->check(CLI::Range(1, 4096));
  cmd->add_option("--resolution", o->resolution, "Input side (default: the config's)");
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--repetitions", o->repetitions, "Timed repetitions (median reported)")->check(CLI::Range(1, 1000));
  cmd->add_option("--peak-per-core", o->peak_per_core,
                  "FP32 FMA peak of one core in GFLOP/s (default: measured on this CPU once, then cached)");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_flag("--profile", o->profile, "Also print the time per step by layer type and phase");
  cmd->add_flag("--profile-shapes", o->profile_shapes,
                "Like --profile, with one row per layer type and tensor shape (rows x channels, NHWC or kernel)");
  cmd->callback([o] {
    if (o->profile_shapes) o->profile = true;
    with_space(o->space, [&]<class Space>(std::type_identity<Space>) { run_bench<Space>(*o); });
  });
}

/// One sum over the processes of a buffer the size of the space's gradients (every parameter of the
/// supernet, as the optimizer packs them): what data-parallel training adds to each step.
template <class Space>
void run_bench_reduce(int repetitions, bool json, ofa::parallel::process_group& group) {
  const ofa::nn::elastic_net<Space> net(0);
  std::vector<float> gradients(std::size_t(net.parameter_count()), 1.0f);
  std::vector<double> ms;
  for (int i = 0; i < repetitions + 2; ++i) {
    std::array<double, 1> together{0};
    group.sum(together);  // start together
    const auto start = std::chrono::steady_clock::now();
    group.sum(gradients);
    if (i >= 2) ms.push_back(1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2], megabytes = 4e-6 * double(gradients.size());
  if (!group.is_writer()) return;
  if (json)
    std::printf("%s\n", nlohmann::json{{"floats", gradients.size()}, {"processes", group.size()}, {"median_ms", median},
                                       {"bus_gb_per_s", 2.0 * (group.size() - 1) / group.size() * megabytes / median}}
                            .dump()
                            .c_str());
  else
    std::printf("allreduce of %zu floats (%.1f MB) over %d processes: median %.2f ms\n", gradients.size(), megabytes,
                group.size(), median);
}

void add_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Time training, inference or data loading");
  bench->require_subcommand(1);
  add_bench_mode(*bench, "train", "Time a training step (forward, loss, backward, SGD) of one subnet");
  add_bench_mode(*bench, "infer", "Time static_net inference of one extracted subnet");
  add_data_bench(*bench);
  auto* reduce = bench->add_subcommand("reduce", "Time one sum of the space's gradient buffer over MPI processes "
                                                 "(run under mpirun -np N)");
  auto space = std::make_shared<std::string>("cifar");
  auto repetitions = std::make_shared<int>(25);
  auto json = std::make_shared<bool>(false);
  reduce->add_option("--space", *space, std::string("Space name (") + space_names + ")");
  reduce->add_option("--repetitions", *repetitions, "Timed sums (median reported)")->check(CLI::Range(1, 1000));
  reduce->add_flag("--json", *json, "Print JSON");
  reduce->callback([space, repetitions, json] {
    with_processes([&](ofa::parallel::process_group& group) {
      with_space(*space, [&]<class Space>(std::type_identity<Space>) { run_bench_reduce<Space>(*repetitions, *json, group); });
    });
  });
  auto* peak = bench->add_subcommand("peak", "Measure this CPU's FP32 FMA peak per core (and cache it for % of peak)");
  peak->callback([] {
    const auto p = ofa::kernels::measure_and_cache_fma_peak();
    std::printf("FMA peak: %.1f GFLOP/s per core (%s, best measured on this CPU)\n", p.gflops_per_core,
                p.instructions.c_str());
  });
}

}  // namespace ofa_cli
