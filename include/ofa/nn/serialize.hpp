#pragma once
/// @file
/// Save and load an elastic supernet (weights, transforms and BN statistics)
/// and a static_net (its config travels in the metadata).

#include <string>
#include <vector>

#include "ofa/io/checkpoint.hpp"
#include "ofa/nn/elastic_net.hpp"
#include "ofa/nn/static_net.hpp"
#include "ofa/space/config_json.hpp"

namespace ofa::nn {

/** @brief Saves every parameter and buffer of `net`; `metadata` is free text (JSON). */
template <class Space>
void save(elastic_net<Space, float>& net, const std::string& path, const std::string& metadata = "{}") {
  auto s = net.state();
  std::vector<std::pair<std::string, const tensor<float>*>> t;
  for (auto& p : s.parameters) t.push_back({p.name, &p.value.value()});
  for (auto& b : s.buffers) t.push_back({b.name, b.value});
  io::save_checkpoint(path, io::checkpoint_kind::supernet, Space::signature(), metadata, t);
}

/** @brief Loads weights saved by save(); returns the metadata. Every tensor must be present
 *  with the right shape; nothing in `net` changes unless all of them are. */
template <class Space>
std::string load(elastic_net<Space, float>& net, const std::string& path) {
  auto c = io::load_checkpoint(path, io::checkpoint_kind::supernet, Space::signature());
  auto s = net.state();
  auto find = [&](const std::string& name, const tensor<float>& target) -> const tensor<float>& {
    auto it = c.tensors.find(name);
    if (it == c.tensors.end()) throw io_error("ofa: checkpoint '" + path + "' lacks tensor '" + name + "'");
    if (it->second.shape() != target.shape())
      throw io_error("ofa: checkpoint '" + path + "': tensor '" + name + "' has shape " +
                     shape_string(it->second.shape()) + ", the network needs " + shape_string(target.shape()));
    return it->second;
  };
  for (auto& p : s.parameters) find(p.name, p.value.value());  // verify all first
  for (auto& b : s.buffers) find(b.name, *b.value);
  for (auto& p : s.parameters) p.value.value() = find(p.name, p.value.value());
  for (auto& b : s.buffers) *b.value = find(b.name, *b.value);
  return c.metadata;
}

/** @brief Saves an extracted subnet with its config. */
template <class Space>
void save(static_net<Space>& net, const std::string& path) {
  std::vector<std::pair<std::string, const tensor<float>*>> t;
  for (auto& [name, tensor] : net.tensors()) t.push_back({name, tensor});
  io::save_checkpoint(path, io::checkpoint_kind::static_net, Space::signature(), to_json(net.config()).dump(), t);
}

/** @brief Loads a static_net saved by save(). */
template <class Space>
static_net<Space> load_static(const std::string& path) {
  auto c = io::load_checkpoint(path, io::checkpoint_kind::static_net, Space::signature());
  const auto config = parse_config<Space>(c.metadata, path);
  // Build the structure from the config (shapes), then take the stored tensors.
  elastic_net<Space, float> shape_donor(0, 0.0);
  auto net = static_net<Space>::extract(shape_donor, config);
  for (auto& [name, t] : net.tensors()) {
    auto it = c.tensors.find(name);
    if (it == c.tensors.end() || it->second.shape() != t->shape())
      throw io_error("ofa: checkpoint '" + path + "': tensor '" + name + "' is missing or has the wrong shape");
    *t = it->second;
  }
  net.prepare();
  return net;
}

}  // namespace ofa::nn
