#pragma once
// The spaces the `ofa` command knows by name, and how a name becomes a type.

#include <memory>
#include <string>
#include <type_traits>

#include <CLI/CLI.hpp>

#include <ofa/errors.hpp>
#include <ofa/spaces/cifar.hpp>
#include <ofa/spaces/mobilenet_v3.hpp>
#include <ofa/spaces/proxyless.hpp>
#include <ofa/spaces/resnet.hpp>

namespace ofa_cli {

inline constexpr const char* space_names = "mbv3, mbv3-w1.2, proxyless-w1.3, resnet50, cifar, cifar-resnet";

/// Calls f(std::type_identity<Space>{}) for the space called `name`.
template <class F>
decltype(auto) with_space(const std::string& name, F&& f) {
  if (name == "mbv3") return f(std::type_identity<ofa::spaces::mobilenet_v3>{});
  if (name == "mbv3-w1.2") return f(std::type_identity<ofa::spaces::mobilenet_v3_w12>{});
  if (name == "proxyless-w1.3") return f(std::type_identity<ofa::spaces::proxyless_w13>{});
  if (name == "resnet50") return f(std::type_identity<ofa::spaces::resnet50>{});
  if (name == "cifar") return f(std::type_identity<ofa::spaces::cifar>{});
  if (name == "cifar-resnet") return f(std::type_identity<ofa::spaces::cifar_resnet>{});
  throw ofa::config_error("unknown space '" + name + "'; use one of: " + space_names);
}

/// Sets `cmd` to run `run(std::type_identity<Space>{}, options)` for the space its options name.
template <class Options, class Run>
void dispatch(CLI::App* cmd, std::shared_ptr<Options> o, Run run) {
  cmd->callback([o, run] { with_space(o->space, [&]<class Space>(std::type_identity<Space> t) { run(t, *o); }); });
}

}  // namespace ofa_cli
