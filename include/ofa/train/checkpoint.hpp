#pragma once
/// @file
/// A training checkpoint: the supernet's weights and BN buffers, the optimizer's
/// state (tensors named "optimizer/<parameter>.<slot>") and the trainer_state (in the
/// metadata), in one atomically written file of the ofa checkpoint format. It is
/// also a plain supernet checkpoint: nn::load() reads its weights and ignores the rest.

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ofa/detail/json_number.hpp"
#include "ofa/io/checkpoint.hpp"
#include "ofa/nn/serialize.hpp"
#include "ofa/train/optimizer.hpp"
#include "ofa/train/trainer_state.hpp"

namespace ofa::train {

inline constexpr const char* optimizer_prefix = "optimizer/";

/** @brief Writes `net`, `opt`'s state and `state` to `path` (temporary file, then rename). */
template <class Space>
void save_checkpoint(const std::string& path, const nn::elastic_net<Space, float>& net, const optimizer& opt,
                     const trainer_state& state, nlohmann::json extra = nlohmann::json::object()) {
  auto s = const_cast<nn::elastic_net<Space, float>&>(net).state();  // read only
  const optimizer_state o = opt.state();
  std::vector<std::pair<std::string, const tensor<float>*>> tensors;
  for (auto& p : s.parameters) tensors.push_back({p.name, &p.value.value()});
  for (auto& b : s.buffers) tensors.push_back({b.name, b.value});
  std::vector<std::string> names;
  names.reserve(o.tensors.size());
  for (const auto& [name, t] : o.tensors) names.push_back(optimizer_prefix + name);
  std::size_t i = 0;
  for (const auto& [name, t] : o.tensors) tensors.push_back({names[i++], &t});
  extra["trainer_state"] = to_json(state);
  extra["optimizer_steps"] = o.steps;
  extra["optimizer_updated"] = o.updated;
  io::save_checkpoint(path, io::checkpoint_kind::supernet, Space::signature(), extra.dump(), tensors);
}

/** @brief Reads a checkpoint written by save_checkpoint into `net` and `opt`; returns the
 *  trainer_state. Everything is checked before anything changes. */
template <class Space>
trainer_state load_checkpoint(const std::string& path, nn::elastic_net<Space, float>& net, optimizer& opt,
                              nlohmann::json* extra = nullptr) {
  auto c = io::load_checkpoint(path, io::checkpoint_kind::supernet, Space::signature());
  nlohmann::json meta = nlohmann::json::parse(c.metadata, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("trainer_state"))
    throw io_error("ofa: '" + path +
                   "' holds a supernet but no training state (it was saved by nn::save); load it with "
                   "ofa::nn::load to use its weights, or resume from a training checkpoint");
  const trainer_state state = trainer_state_from_json(meta["trainer_state"], path);
  optimizer_state o;
  try {
    const auto steps = ofa::detail::json_whole<std::int64_t>(meta.value("optimizer_steps", nlohmann::json(0)));
    if (!steps) throw io_error("optimizer_steps is not a whole number");
    o.steps = *steps;
    o.updated = meta.value("optimizer_updated", std::vector<std::string>{});
  } catch (const std::exception& e) {  // nlohmann's type errors, and the one above
    throw io_error("ofa: checkpoint '" + path + "' has a damaged optimizer state (" + e.what() +
                   "); resume from another checkpoint");
  }
  const std::string prefix = optimizer_prefix;
  for (auto& [name, t] : c.tensors)
    if (name.rfind(prefix, 0) == 0) o.tensors.emplace(name.substr(prefix.size()), std::move(t));
  nn::verify_tensors(net, c, path);
  try {
    opt.load_state(o);  // checks every tensor before it changes anything
  } catch (const io_error& e) {
    throw io_error("ofa: checkpoint '" + path + "': " + e.what());
  }
  nn::load_into(net, c, path);
  net.dropout_stream().set_state(state.dropout);
  if (extra) *extra = std::move(meta);
  return state;
}

}  // namespace ofa::train
