// `ofa export`: a subnet extracted from the supernet (BN recalibrated) as an ofa static_net or ONNX.

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
#include <ofa/exporters/onnx.hpp>
#include <ofa/nn/extract.hpp>
#include <ofa/nn/serialize.hpp>
#include <ofa/parallel/arena.hpp>
#include <ofa/space/config_json.hpp>
#include <ofa/space/profile.hpp>
#include <ofa/train/evaluation.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "outputs.hpp"
#include "processes.hpp"
#include "run_data.hpp"
#include "spaces.hpp"

namespace ofa_cli {
namespace {

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
    throw ofa::config_error(
        "give training images for BN recalibration with --data SPEC (no data.json beside the "
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
    ofa::exporters::export_onnx(subnet, o.out);
  std::printf("%s: %s subnet %s, %s MACs, %s parameters, BN recalibrated on %zu images\n", o.out.c_str(),
              o.format.c_str(), short_config(config).c_str(), human(double(ofa::profile_subnet(config).macs)).c_str(),
              human(double(subnet.parameter_count())).c_str(), o.calibration_images);
}

}  // namespace

void add_export(CLI::App& app) {
  const std::string space_help = std::string("Space name (") + space_names + ")";
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
