#pragma once
/// @file
/// Extraction of one bottleneck: each convolution's active slice with its BN folded in.

#include <cstddef>

#include "ofa/autograd/ops.hpp"
#include "ofa/blocks/bottleneck/elastic_block.hpp"
#include "ofa/blocks/bottleneck/static_block.hpp"
#include "ofa/nn/fold.hpp"

namespace ofa::nn {

/** @brief Fills `out` (shaped from plan `p`) from the supernet's block `b`, BN folded on
 *  `statistics` where given, else on the running statistics. Called under no_grad. */
template <class T>
void extract_block(const bottleneck_block<T>& b, const block_plan&, const bn_statistics<T>* statistics,
                   static_bottleneck_block& out) {
  const auto pointwise = [&](const elastic_pointwise<T>& layer, const elastic_batch_norm<T>& bn, tensor<float>& w,
                             tensor<float>& bias) {
    detail::copy_slice(layer.weight.value(), w);
    detail::fold(bn, statistics, w, bias, w.size() / w.shape()[0], 1);
  };
  pointwise(b.reduce, b.reduce_bn, out.reduce_w, out.reduce_b);
  detail::extract_conv(b.conv, b.conv_bn, statistics, out.conv_w, out.conv_b);
  pointwise(b.expand, b.expand_bn, out.expand_w, out.expand_b);
  if (out.has_shortcut_conv) pointwise(*b.shortcut, *b.shortcut_bn, out.shortcut_w, out.shortcut_b);
}

}  // namespace ofa::nn
