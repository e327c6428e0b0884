#pragma once
/// @file
/// ONNX for one MBConv block: [expand Conv + act], depthwise Conv (group = channels) + act,
/// [squeeze-excite: GlobalAveragePool → Conv → Relu → Conv → HardSigmoid → Mul], project Conv,
/// [residual Add]. Weights permuted from static_net's NHWC layouts.

#include <string>
#include <vector>

#include "ofa/blocks/mbconv/static_block.hpp"
#include "ofa/exporters/onnx_graph.hpp"

namespace ofa::exporters {

/** @brief Adds block `b` on `x` to `g`, its initializers named `prefix` + layer; returns its output. */
inline std::string emit_onnx(onnx_graph& g, const nn::static_mbconv_block& b, const std::string& x,
                             const std::string& prefix) {
  const std::string& p = prefix;
  std::string y = x;
  if (b.has_expand) {
    y = g.conv(y, g.initializer(p + "expand.weight", pointwise_dims(b.expand_w), values(b.expand_w)),
               g.initializer(p + "expand.bias", {b.mid}, values(b.expand_b)), 1, 1, 1);
    y = g.activation_of(y, b.act);
  }
  // Depthwise: [k][k][mid] -> [mid][1][k][k].
  std::vector<float> dw(b.dw_w.size());
  for (int ky = 0; ky < b.kernel; ++ky)
    for (int kx = 0; kx < b.kernel; ++kx)
      for (int c = 0; c < b.mid; ++c)
        dw[(std::size_t(c) * b.kernel + ky) * b.kernel + kx] =
            b.dw_w.data()[(std::size_t(ky) * b.kernel + kx) * b.mid + c];
  y = g.conv(y, g.initializer(p + "depthwise.weight", {b.mid, 1, b.kernel, b.kernel}, dw),
             g.initializer(p + "depthwise.bias", {b.mid}, values(b.dw_b)), b.kernel, b.stride, b.mid);
  y = g.activation_of(y, b.act);
  if (b.se_mid > 0) {
    std::string s = g.node("GlobalAveragePool", {y});
    s = g.conv(s, g.initializer(p + "se.reduce.weight", pointwise_dims(b.se_rw), values(b.se_rw)),
               g.initializer(p + "se.reduce.bias", {b.se_mid}, values(b.se_rb)), 1, 1, 1);
    s = g.node("Relu", {s});
    s = g.conv(s, g.initializer(p + "se.expand.weight", pointwise_dims(b.se_ew), values(b.se_ew)),
               g.initializer(p + "se.expand.bias", {b.mid}, values(b.se_eb)), 1, 1, 1);
    y = g.node("Mul", {y, g.hsigmoid(s)});
  }
  y = g.conv(y, g.initializer(p + "project.weight", pointwise_dims(b.project_w), values(b.project_w)),
             g.initializer(p + "project.bias", {b.out}, values(b.project_b)), 1, 1, 1);
  return b.residual ? g.node("Add", {y, x}) : y;
}

}  // namespace ofa::exporters
