#pragma once
/// @file
/// ONNX for one bottleneck: 1×1 Conv + act, k×k Conv (stride) + act, 1×1 Conv, + the input or
/// the shortcut (AveragePool where it strides, then a 1×1 Conv), activation.

#include <string>

#include "ofa/blocks/bottleneck/static_block.hpp"
#include "ofa/exporters/onnx_graph.hpp"

namespace ofa::exporters {

/** @brief Adds block `b` on `x` to `g`, its initializers named `prefix` + layer; returns its output. */
inline std::string emit_onnx(onnx_graph& g, const nn::static_bottleneck_block& b, const std::string& x,
                             const std::string& prefix) {
  const std::string& p = prefix;
  std::string h = g.conv(x, g.initializer(p + "conv1.weight", pointwise_dims(b.reduce_w), values(b.reduce_w)),
                         g.initializer(p + "conv1.bias", {b.mid}, values(b.reduce_b)), 1, 1, 1);
  h = g.activation_of(h, b.act);
  h = g.activation_of(dense_conv(g, h, p + "conv2", b.conv_w, b.conv_b, b.stride), b.act);
  h = g.conv(h, g.initializer(p + "conv3.weight", pointwise_dims(b.expand_w), values(b.expand_w)),
             g.initializer(p + "conv3.bias", {b.out}, values(b.expand_b)), 1, 1, 1);
  std::string shortcut = x;
  if (b.has_shortcut_conv) {
    if (b.stride > 1)  // PyTorch's AvgPool2d(s, s, ceil_mode=True): windows past the edge average what they hold
      shortcut = g.node("AveragePool", {shortcut},
                        {{"kernel_shape", {b.stride, b.stride}, true},
                         {"strides", {b.stride, b.stride}, true},
                         {"ceil_mode", {1}},
                         {"count_include_pad", {0}}});
    shortcut =
        g.conv(shortcut, g.initializer(p + "downsample.weight", pointwise_dims(b.shortcut_w), values(b.shortcut_w)),
               g.initializer(p + "downsample.bias", {b.out}, values(b.shortcut_b)), 1, 1, 1);
  }
  return g.activation_of(g.node("Add", {h, shortcut}), b.act);
}

}  // namespace ofa::exporters
