#pragma once
/// @file
/// The one-hot architecture encoding of the reference accuracy predictor
/// (MobileNetArchEncoder): resolution one-hot first, then a kernel one-hot
/// per block slot, then an expand one-hot per block slot; slots cut by depth
/// stay all-zero, which is how the predictor sees depth.

#include <cstddef>
#include <vector>

#include "ofa/space/subnet_config.hpp"

namespace ofa {

/** @brief Length of the encoding of `Space`'s configs. */
template <class Space>
constexpr std::size_t arch_encoding_size() {
  std::size_t n = Space::resolution_set.size;
  for (const auto& u : Space::unit_table) n += static_cast<std::size_t>(u.depths.max()) * u.kernels.size;
  for (const auto& u : Space::unit_table) n += static_cast<std::size_t>(u.depths.max()) * u.expands.size;
  return n;
}

/** @brief Writes the encoding of `config` into `out` (arch_encoding_size<Space>() floats). */
template <class Space, class T>
void encode_arch(const subnet_config<Space>& config, T* out) {
  std::size_t offset = 0;
  const std::size_t n = arch_encoding_size<Space>();
  for (std::size_t i = 0; i < n; ++i) out[i] = T(0);
  out[static_cast<std::size_t>(Space::resolution_set.index_of(config.resolution))] = T(1);
  offset = Space::resolution_set.size;
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    for (int i = 0; i < info.depths.max(); ++i, offset += info.kernels.size) {
      const auto slot = static_cast<std::size_t>(info.first_slot + i);
      if (i < config.depth[u])
        out[offset + static_cast<std::size_t>(info.kernels.index_of(config.kernel[slot]))] = T(1);
    }
  }
  for (std::size_t u = 0; u < Space::unit_count; ++u) {
    const auto& info = Space::unit_table[u];
    for (int i = 0; i < info.depths.max(); ++i, offset += info.expands.size) {
      const auto slot = static_cast<std::size_t>(info.first_slot + i);
      if (i < config.depth[u])
        out[offset + static_cast<std::size_t>(info.expands.index_of(config.expand[slot]))] = T(1);
    }
  }
}

/** @brief The encoding of a validated `config` as a vector. */
template <class Space, class T = float>
std::vector<T> encode_arch(const subnet_config<Space>& config) {
  std::vector<T> out(arch_encoding_size<Space>());
  encode_arch(config, out.data());
  return out;
}

}  // namespace ofa
