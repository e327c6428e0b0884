// `ofa latency-table`: this CPU's latency of every distinct layer of a space, checked against
// whole networks, or carried here from a table measured elsewhere.

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

#include <ofa/io/svg_plot.hpp>
#include <ofa/io/write_atomically.hpp>
#include <ofa/nn/extract.hpp>
#include <ofa/parallel/arena.hpp>
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
    if (table.resolution_fits.empty())
      std::printf("whole networks = %.3f x the sum of their layers %+.4f ms (rms miss %.1f%%), the %s;\n", table.scale,
                  table.table.overhead, 100 * table.fit_error, table.model_name().c_str());
    else {
      std::printf(
          "whole networks = a scale x the sum of their layers + an offset for each resolution (rms miss %.1f%%):",
          100 * table.fit_error);
      for (const auto& f : table.resolution_fits) std::printf(" r%d %.3f %+.4f ms;", f.resolution, f.scale, f.offset);
      std::printf("\n");
    }
    std::printf("  held out, the sum plus overhead misses by %.1f%% (median), the scale-and-offset fit by %.1f%%",
                100 * table.held_out_sum, 100 * table.held_out_fit);
    if (table.held_out_per_resolution > 0)
      std::printf(", a fit per resolution by %.1f%%", 100 * table.held_out_per_resolution);
    std::printf("\nwrote %s\n", o.out.c_str());
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
             std::to_string(macs(check.configs[i])) + "," + csv_field(ofa::to_json(check.configs[i]).dump()) + "\n";
    write_text(o.validate_csv, csv);
    std::printf("wrote %s\n", o.validate_csv.c_str());
  }
}

// --- ofa acc-dataset --------------------------------------------------------------------------

}  // namespace

void add_latency_table(CLI::App& app) {
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
    dispatch(cmd, o,
             []<class Space>(std::type_identity<Space>, const latency_options& x) { run_latency_table<Space>(x); });
  }
}

}  // namespace ofa_cli
