// `ofa info`, `ofa profile` and `ofa sample`: the architecture space.

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>  // make_shared: options outlive add_* for the callbacks
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <ofa/nn/elastic_net.hpp>
#include <ofa/random.hpp>
#include <ofa/space/config_json.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/space/sampling.hpp>

#include "format.hpp"
#include "spaces.hpp"

#include "commands.hpp"
namespace ofa_cli {

/// "max", "min" or a JSON file.
template <class Space>
ofa::subnet_config<Space> config_argument(const std::string& value) {
  if (value == "max") return ofa::subnet_config<Space>::max();
  if (value == "min") return ofa::subnet_config<Space>::min();
  return ofa::load_config<Space>(value);
}

template <class Space>
nlohmann::json cost_json(const ofa::subnet_profile& p) {
  return {{"macs", p.macs}, {"params", p.params}, {"resolution", p.resolution}};
}

void add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Describe a space: subnet count, resolutions, sizes");
  auto space = std::make_shared<std::string>("mbv3");
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--space", *space, std::string("Space name (") + space_names + ")");
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([space, json] {
    with_space(*space, [&]<class Space>(std::type_identity<Space>) {
      const int r = Space::resolution_set.max();
      const auto largest = ofa::profile_subnet(ofa::subnet_config<Space>::max(), r);
      const auto smallest = ofa::profile_subnet(ofa::subnet_config<Space>::min(), r);
      const auto supernet = ofa::supernet_param_count<Space>();
      // Count the real weights too: building the supernet must give exactly the analytic figure.
      const auto real = ofa::nn::elastic_net<Space>(0).parameter_count();
      if (real != supernet)
        throw ofa::logic_error("supernet has " + std::to_string(real) + " weights but the analytic count is " +
                               std::to_string(supernet) + " (a bug: please report it)");
      if (*json) {
        nlohmann::json j;
        j["space"] = *space;
        j["subnets"] = ofa::to_decimal(Space::subnet_count);
        j["architectures"] = ofa::to_decimal(Space::architecture_count);
        j["resolutions"] = std::vector<int>(Space::resolution_set.begin(), Space::resolution_set.end());
        j["supernet_params"] = real;
        j["supernet_params_analytic"] = supernet;
        j["units"] = Space::unit_count;
        j["block_slots"] = Space::block_slots;
        j["classes"] = Space::class_count;
        j["largest"] = cost_json<Space>(largest);
        j["smallest"] = cost_json<Space>(smallest);
        j["signature"] = Space::signature();
        std::cout << j.dump(2) << "\n";
        return;
      }
      std::cout << "space          " << *space << "\n"
                << "subnets        " << grouped(ofa::to_decimal(Space::subnet_count)) << "  ("
                << grouped(ofa::to_decimal(Space::architecture_count)) << " architectures x "
                << Space::resolution_set.size << " resolutions)\n"
                << "resolutions    " << Space::resolution_set.to_string() << "\n"
                << "units          " << Space::unit_count << " (" << Space::block_slots << " block slots), "
                << Space::class_count << " classes\n"
                << "supernet       " << grouped(real) << " parameters (weights built and counted; = analytic count)\n"
                << "largest @" << r << "  " << human(double(largest.macs)) << "MACs, " << human(double(largest.params))
                << "params\n"
                << "smallest @" << r << " " << human(double(smallest.macs)) << "MACs, "
                << human(double(smallest.params)) << "params\n";
    });
  });
}

void add_profile(CLI::App& app) {
  auto* cmd = app.add_subcommand("profile", "MACs and parameters of one subnet");
  struct options {
    std::string space = "mbv3", config = "max";
    int resolution = 0;
    bool layers = false, json = false;
  };
  auto o = std::make_shared<options>();
  cmd->add_option("--space", o->space, std::string("Space name (") + space_names + ")");
  cmd->add_option("--config", o->config, "A config JSON file, or max, or min")->required();
  cmd->add_option("--resolution", o->resolution, "Input resolution (default: the config's)");
  cmd->add_flag("--layers", o->layers, "Per-layer breakdown");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] {
    with_space(o->space, [&]<class Space>(std::type_identity<Space>) {
      const auto config = config_argument<Space>(o->config);
      const auto p = ofa::profile_subnet(config, o->resolution);
      if (o->json) {
        nlohmann::json j = cost_json<Space>(p);
        j["config"] = ofa::to_json(config);
        if (o->layers) {
          j["layers"] = nlohmann::json::array();
          for (const auto& l : p.layers)
            j["layers"].push_back({{"name", l.name},
                                   {"kind", l.kind},
                                   {"in_channels", l.in_channels},
                                   {"out_channels", l.out_channels},
                                   {"kernel_size", l.kernel_size},
                                   {"stride", l.stride},
                                   {"in_size", l.in_size},
                                   {"out_size", l.out_size},
                                   {"macs", l.macs},
                                   {"params", l.params}});
        }
        std::cout << j.dump(2) << "\n";
        return;
      }
      if (o->layers) {
        std::printf("%-32s %-10s %5s %5s %2s %2s %5s %14s %10s\n", "layer", "kind", "in", "out", "k", "s", "size",
                    "MACs", "params");
        for (const auto& l : p.layers)
          std::printf("%-32s %-10s %5d %5d %2d %2d %5d %14s %10s\n", l.name.c_str(), l.kind.c_str(), l.in_channels,
                      l.out_channels, l.kernel_size, l.stride, l.out_size, grouped(l.macs).c_str(),
                      grouped(l.params).c_str());
      }
      std::cout << "resolution " << p.resolution << ": " << grouped(p.macs) << " MACs (" << human(double(p.macs))
                << "), " << grouped(p.params) << " parameters (" << human(double(p.params)) << ")\n";
    });
  });
}

void add_sample(CLI::App& app) {
  auto* cmd = app.add_subcommand("sample", "Random subnet configs, one JSON per line");
  struct options {
    std::string space = "mbv3";
    int count = 1;
    std::uint64_t seed = 0;
  };
  auto o = std::make_shared<options>();
  cmd->add_option("--space", o->space, std::string("Space name (") + space_names + ")");
  cmd->add_option("--count", o->count, "How many configs")->check(CLI::Range(1, 100000000));
  cmd->add_option("--seed", o->seed, "Random seed (same seed, same configs)");
  cmd->callback([o] {
    with_space(o->space, [&]<class Space>(std::type_identity<Space>) {
      ofa::rng engine(o->seed);
      for (int i = 0; i < o->count; ++i) std::cout << ofa::to_json(ofa::sample_config<Space>(engine)).dump() << "\n";
    });
  });
}

}  // namespace ofa_cli
