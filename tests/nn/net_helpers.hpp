#pragma once
// Helpers for network tests: random BN statistics and transforms (so that
// folding and kernel transformation are exercised), random images.
#include <ofa/nn/elastic_net.hpp>

namespace test {
template <class Net>
void randomize_state(Net& net, std::uint64_t seed) {
  ofa::rng engine(seed);
  auto s = net.state();
  for (auto& b : s.buffers)
    for (auto& v : *b.value)
      v = b.name.find("running_var") != std::string::npos ? static_cast<float>(0.5 + engine.uniform01())
                                                          : static_cast<float>(0.2 * engine.normal());
  for (auto& p : s.parameters) {
    const bool bn = p.name.find(".bn.") != std::string::npos;
    const bool matrix = p.name.find("_matrix") != std::string::npos;
    if (!bn && !matrix && p.name.find("bias") == std::string::npos) continue;
    for (auto& v : p.value.value())
      v = bn && p.name.ends_with("weight") ? static_cast<float>(0.8 + 0.4 * engine.uniform01())
                                           : v + static_cast<float>(0.1 * engine.normal());
  }
}

/** Every parameter and buffer of a and b equal, bit for bit. */
template <class Net>
bool same_state(Net& a, Net& b) {
  auto sa = a.state(), sb = b.state();
  for (std::size_t i = 0; i < sa.parameters.size(); ++i)
    if (sa.parameters[i].value.value() != sb.parameters[i].value.value()) return false;
  for (std::size_t i = 0; i < sa.buffers.size(); ++i)
    if (*sa.buffers[i].value != *sb.buffers[i].value) return false;
  return true;
}

inline ofa::tensor<float> random_images(std::size_t n, std::size_t size, std::uint64_t seed) {
  ofa::rng engine(seed);
  ofa::tensor<float> t(ofa::shape_type{n, size, size, 3});
  for (auto& v : t) v = static_cast<float>(engine.normal());
  return t;
}
}  // namespace test
