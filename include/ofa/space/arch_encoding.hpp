#pragma once
/// @file
/// The one-hot architecture encoding of the reference accuracy predictor
/// (MobileNetArchEncoder): resolution one-hot first, then a kernel one-hot
/// per block slot, then an expand one-hot per block slot; slots cut by depth
/// stay all-zero, which is how the predictor sees depth. ResNets as its
/// ResNetArchEncoder: resolution, the deep stem's skip (2), the stem's and
/// every unit's width index, then an expand one-hot per block slot.

#include <cstddef>
#include <vector>

#include "ofa/space/subnet_config.hpp"

namespace ofa {

namespace detail {
template <class Space>
inline constexpr bool is_resnet_v = Space::blocks == space::block_kind::bottleneck;
}  // namespace detail

/** @brief Length of the encoding of `Space`'s configs. */
template <class Space>
constexpr std::size_t arch_encoding_size() {
  std::size_t n = Space::resolution_set.size;
  if constexpr (detail::is_resnet_v<Space>) {  // ResNetArchEncoder: r, the stem's skip, the widths, the ratios
    n += 2 + Space::stem.mid_widths.size + Space::stem.widths.size;
    for (const auto& u : Space::unit_table) n += u.widths.size;
    for (const auto& u : Space::unit_table) n += static_cast<std::size_t>(u.depths.max()) * u.expands.size;
    return n;
  }
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
  if constexpr (detail::is_resnet_v<Space>) {
    out[offset + (config.stem_skip ? 0 : 1)] = T(1);  // the reference's d[0] > 0: the stem runs whole
    offset += 2;
    const auto one_hot = [&](std::size_t choices, int index) {
      out[offset + static_cast<std::size_t>(index)] = T(1);
      offset += choices;
    };
    one_hot(Space::stem.mid_widths.size, config.stem_width[0]);
    one_hot(Space::stem.widths.size, config.stem_width[1]);
    for (std::size_t u = 0; u < Space::unit_count; ++u) one_hot(Space::unit_table[u].widths.size, config.width[u]);
    for (std::size_t u = 0; u < Space::unit_count; ++u) {
      const auto& info = Space::unit_table[u];
      for (int i = 0; i < info.depths.max(); ++i, offset += info.expands.size)
        if (i < config.depth[u])
          out[offset + static_cast<std::size_t>(info.expands.index_of(config.expand[config.slot(u, i)]))] = T(1);
    }
    return;
  }
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
