#pragma once
/// @file
/// Which classes implement a block kind. Each kind's folder (include/ofa/blocks/<kind>/)
/// specialises these for its space::block_kind: its training block (elastic, on the tape) in
/// elastic_block.hpp, its inference block (static_net's, BN folded) in static_block.hpp. The
/// networks take their blocks from here; the registries beside this header
/// (elastic_blocks.hpp, static_blocks.hpp, onnx_blocks.hpp) include every kind's folder.

#include "ofa/space/parts.hpp"

namespace ofa::nn {

template <space::block_kind Kind>
inline constexpr bool kind_without_block_types = false;

/** @brief `type`: the elastic block of `Kind` (scalar T). */
template <space::block_kind Kind, class T>
struct elastic_block_type {
  static_assert(kind_without_block_types<Kind>,
                "ofa: this block kind has no training block: specialise elastic_block_type in its folder's "
                "elastic_block.hpp and include that header in ofa/blocks/elastic_blocks.hpp");
};
/** @brief `type`: the inference block of `Kind`. */
template <space::block_kind Kind>
struct static_block_type {
  static_assert(kind_without_block_types<Kind>,
                "ofa: this block kind has no inference block: specialise static_block_type in its folder's "
                "static_block.hpp and include that header in ofa/blocks/static_blocks.hpp");
};

/** @brief The supernet block of `Space`'s kind. */
template <class Space, class T>
using elastic_block_t = typename elastic_block_type<Space::blocks, T>::type;
/** @brief The static_net block of `Space`'s kind. */
template <class Space>
using static_block_t = typename static_block_type<Space::blocks>::type;

}  // namespace ofa::nn
