#pragma once
/// @file
/// Every block kind's inference block (static_net's): one include per kind's folder, and what
/// static_net asks of each.

#include <concepts>
#include <string>
#include <utility>
#include <vector>

#include "ofa/blocks/bottleneck/static_block.hpp"
#include "ofa/blocks/mbconv/static_block.hpp"
#include "ofa/nn/feature_map.hpp"
#include "ofa/space/plan.hpp"

namespace ofa::nn {

/** @brief An inference block: shaped from a block plan, packed once its weights are in, run on
 *  NHWC feature maps, its tensors named for checkpoints. */
template <class B>
concept inference_block = std::constructible_from<B, const block_plan&> &&
    requires(B b, const B& cb, const feature_map& in, feature_map& out,
             std::vector<std::pair<std::string, tensor<float>*>>& named) {
  b.prepare();
  cb.run(in, out);
  b.name_tensors(std::string(), named);
};

}  // namespace ofa::nn
