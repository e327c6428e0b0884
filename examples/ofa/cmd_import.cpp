// `ofa import`: a supernet trained by the reference implementation (the published Once-for-All
// files, or one saved by its training code) as an ofa supernet file, read natively from the
// PyTorch file: no Python at run time. `ofa init`: an untrained supernet file, initialised as
// the reference initialises one (to time a space's subnets, or to run the walk without weights).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>  // make_shared: options outlive add_* for the callbacks
#include <string>

#include <CLI/CLI.hpp>

#include <ofa/io/pytorch.hpp>
#include <ofa/nn/import_pytorch.hpp>
#include <ofa/nn/serialize.hpp>
#include <ofa/search/import_pytorch_predictor.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "outputs.hpp"
#include "spaces.hpp"

namespace ofa_cli {
namespace {

struct import_options {
  std::string from = "pytorch", file, space = "mbv3", out;
  bool predictor = false;
};

template <class Space>
void run_import(const import_options& o) {
  if (o.from != "pytorch") throw ofa::config_error("--from '" + o.from + "' is not one ofa reads; use --from pytorch");
  refuse_output_over_input("--out", o.out, {{"the file", o.file}});
  const auto start = std::chrono::steady_clock::now();
  if (o.predictor) {
    const auto p = ofa::search::import_pytorch_predictor<Space>(ofa::io::read_pytorch_state_dict(o.file), o.file);
    p.save(o.out);
    std::printf("%s: accuracy predictor of %d hidden layers of %d units, mean accuracy %.2f%%\n", o.out.c_str(),
                p.layers(), p.hidden(), 100 * p.base_accuracy());
    return;
  }
  const ofa::io::pytorch_state_dict file(o.file);  // parsed and checked; values read by the import
  const double read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ofa::nn::elastic_net<Space> net(0);
  ofa::nn::import_pytorch(net, file);
  ofa::nn::save(net, o.out, R"({"imported_from": "pytorch"})");
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %zu tensors of %s, %s parameters, opened in %.2f s, imported and written in %.2f s\n", o.out.c_str(),
              file.entries().size(), o.file.c_str(), grouped(net.parameter_count()).c_str(), read_s, total_s);
}

struct init_options {
  std::string space = "mbv3", out;
  std::uint64_t seed = 0;
};

template <class Space>
void run_init(const init_options& o) {
  ofa::nn::elastic_net<Space> net(o.seed);
  ofa::nn::save(net, o.out, R"({"untrained": true})");
  std::printf("%s: an untrained %s supernet, %s parameters (seed %llu)\n", o.out.c_str(), o.space.c_str(),
              grouped(net.parameter_count()).c_str(), static_cast<unsigned long long>(o.seed));
}

}  // namespace

void add_import(CLI::App& app) {
  auto* init = app.add_subcommand("init", "Write an untrained supernet, initialised as the reference does");
  auto io = std::make_shared<init_options>();
  init->add_option("--space", io->space, std::string("Space name (") + space_names + ")");
  init->add_option("--out", io->out, "The ofa supernet file to write")->required();
  init->add_option("--seed", io->seed, "Seed of the initialisation");
  init->callback(
      [io] { with_space(io->space, [&]<class Space>(std::type_identity<Space>) { run_init<Space>(*io); }); });

  auto* cmd = app.add_subcommand("import", "Read a supernet saved by the reference implementation (PyTorch)");
  auto o = std::make_shared<import_options>();
  cmd->add_option("--from", o->from, "The file's framework: pytorch (torch.save, zip or legacy format)");
  cmd->add_option("file", o->file, "The state dict (e.g. ofa_mbv3_d234_e346_k357_w1.0)")->required();
  cmd->add_option("--space", o->space, std::string("The space it was trained as (") + space_names + ")");
  cmd->add_option("--out", o->out, "The ofa supernet (or, with --predictor, predictor) file to write")->required();
  cmd->add_flag("--predictor", o->predictor,
                "The file is an accuracy predictor (the tutorial's Sequential or the nas module's layout)");
  cmd->callback([o] { with_space(o->space, [&]<class Space>(std::type_identity<Space>) { run_import<Space>(*o); }); });
}

}  // namespace ofa_cli
