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
void save(const elastic_net<Space, float>& net, const std::string& path, const std::string& metadata = "{}") {
  auto s = const_cast<elastic_net<Space, float>&>(net).state();  // read only
  std::vector<std::pair<std::string, const tensor<float>*>> t;
  for (auto& p : s.parameters) t.push_back({p.name, &p.value.value()});
  for (auto& b : s.buffers) t.push_back({b.name, b.value});
  io::save_checkpoint(path, io::checkpoint_kind::supernet, Space::signature(), metadata, t);
}

namespace detail {
template <class Space>
const tensor<float>& stored_tensor(const io::checkpoint& c, const std::string& path, const std::string& name,
                                   const tensor<float>& target) {
  auto it = c.tensors.find(name);
  if (it == c.tensors.end()) throw io_error("ofa: checkpoint '" + path + "' lacks tensor '" + name + "'");
  if (it->second.shape() != target.shape())
    throw io_error("ofa: checkpoint '" + path + "': tensor '" + name + "' has shape " +
                   shape_string(it->second.shape()) + ", the network needs " + shape_string(target.shape()));
  return it->second;
}
}  // namespace detail

/** @brief Throws ofa::io_error (naming `path` and the tensor) unless the loaded supernet
 *  checkpoint `c` has every parameter and buffer of `net` with the right shape. */
template <class Space>
void verify_tensors(elastic_net<Space, float>& net, const io::checkpoint& c, const std::string& path) {
  auto s = net.state();
  for (auto& p : s.parameters) detail::stored_tensor<Space>(c, path, p.name, p.value.value());
  for (auto& b : s.buffers) detail::stored_tensor<Space>(c, path, b.name, *b.value);
}

/** @brief Takes every parameter and buffer of `net` from the loaded checkpoint `c`; nothing in
 *  `net` changes unless all are there (verify_tensors). Tensors the network does not have (an
 *  optimizer's state) are left for their owner. */
template <class Space>
void load_into(elastic_net<Space, float>& net, const io::checkpoint& c, const std::string& path) {
  verify_tensors(net, c, path);
  auto s = net.state();
  for (auto& p : s.parameters) p.value.value() = detail::stored_tensor<Space>(c, path, p.name, p.value.value());
  for (auto& b : s.buffers) *b.value = detail::stored_tensor<Space>(c, path, b.name, *b.value);
}

/** @brief Loads weights saved by save(); returns the metadata. */
template <class Space>
std::string load(elastic_net<Space, float>& net, const std::string& path) {
  auto c = io::load_checkpoint(path, io::checkpoint_kind::supernet, Space::signature());
  load_into(net, c, path);
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
  static_net<Space> net(config);  // the structure (shapes) from the config, then the stored tensors
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
