#pragma once
/// @file
/// Export of an extracted subnet (static_net) to ONNX, opset 13, written with
/// ofa's own protobuf writer (io/protobuf.hpp): the model is a handful of
/// message types, and writing them directly keeps ofa free of libprotobuf and
/// its version skew for users who only want a file. The graph is the
/// static_net's, layer for layer, with BN already folded into the convolutions:
/// Conv (+ HardSigmoid·Mul for h-swish, Relu), depthwise Conv (group = channels),
/// squeeze-excite as GlobalAveragePool → Conv → Relu → Conv → HardSigmoid → Mul,
/// residual Add, and the head's GlobalAveragePool → Conv → Flatten → Gemm.
///
/// The input is NCHW, "images" [N, 3, R, R] (N symbolic), as ONNX models are
/// fed; static_net takes NHWC, so the weights are permuted here. The output is
/// "logits" [N, classes].

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ofa/blocks/onnx_blocks.hpp"
#include "ofa/errors.hpp"
#include "ofa/exporters/onnx_graph.hpp"
#include "ofa/io/protobuf.hpp"  // the exporters sit above nn/ and io/: they read networks, write files
#include "ofa/io/write_atomically.hpp"
#include "ofa/nn/static_net.hpp"
#include "ofa/version.hpp"

namespace ofa::exporters {

inline constexpr int onnx_opset = 13;

/** @brief The ONNX model of `net` as bytes. */
template <class Space>
std::string onnx_model(const nn::static_net<Space>& net);

/** @brief Writes onnx_model(net) to `path` (atomically: a temporary file, then rename). */
template <class Space>
void export_onnx(const nn::static_net<Space>& net, const std::string& path);

// ---------------------------------------------------------------------------
// implementation

namespace detail {

/// A ResNet's deep stem: conv, [conv + input], conv, each with its activation, then max pooling.
template <class Space>
std::string deep_stem(onnx_graph& g, const nn::static_net<Space>& net) {
  const auto& s = net.stem_;
  std::string x = g.activation_of(dense_conv(g, "images", "input_stem.0", net.stem_w, net.stem_b, s.stride), s.act);
  if (!s.skip)
    x = g.node("Add", {g.activation_of(dense_conv(g, x, "input_stem.1", net.stem_mid_w, net.stem_mid_b, 1), s.act), x});
  x = g.activation_of(dense_conv(g, x, "input_stem.2", net.stem_last_w, net.stem_last_b, 1), s.act);
  if (s.pool_window == 0) return x;
  const std::int64_t p = s.pool_window / 2;
  return g.node("MaxPool", {x},
                {{"kernel_shape", {s.pool_window, s.pool_window}, true},
                 {"strides", {s.pool_stride, s.pool_stride}, true},
                 {"pads", {p, p, p, p}, true}});
}

/// The stem: a conv stem and its activation, or a deep stem.
template <class Space>
std::string stem(onnx_graph& g, const nn::static_net<Space>& net) {
  if constexpr (Space::stem.deep())
    return deep_stem(g, net);
  else
    return g.activation_of(dense_conv(g, "images", "stem", net.stem_w, net.stem_b, Space::stem.stride), Space::stem.act);
}

/// The classifier on `features` [N, C], and the model around the graph.
template <class Space>
std::string finish_model(onnx_graph& g, const std::string& features, const nn::static_net<Space>& net, int r) {
  const auto inputs = static_cast<std::int64_t>(net.classifier_w.shape()[1]);
  g.node("Gemm",
         {features, g.initializer("classifier.weight", {Space::class_count, inputs}, values(net.classifier_w)),
          g.initializer("classifier.bias", {Space::class_count}, values(net.classifier_b))},
         {{"transB", {1}}}, "logits");

  io::protobuf::message opset;
  opset.bytes(1, "");
  opset.varint(2, onnx_opset);
  io::protobuf::message model;
  model.varint(1, 7);  // IR version 7: opset 13's
  model.bytes(2, "ofa");
  model.bytes(3, OFA_VERSION_STRING);
  model.nested(7, g.graph("ofa_subnet", onnx_graph::value_info("images", {1, 3, r, r}, true),
                          onnx_graph::value_info("logits", {1, Space::class_count}, true)));
  model.nested(8, opset);
  return model.str();
}
}  // namespace detail

template <class Space>
std::string onnx_model(const nn::static_net<Space>& net) {
  onnx_graph g;
  const int r = net.config().resolution;
  std::string x = detail::stem(g, net);
  for (std::size_t bi = 0; bi < net.blocks.size(); ++bi)
    x = emit_onnx(g, net.blocks[bi], x, "blocks." + std::to_string(bi) + ".");
  const auto& head = Space::head;
  if constexpr (Space::head.has_final_expand()) {
    x = g.conv(x, g.initializer("head.final_expand.weight", pointwise_dims(net.final_w), values(net.final_w)),
               g.initializer("head.final_expand.bias", {head.final_expand}, values(net.final_b)), 1, 1, 1);
    x = g.activation_of(x, head.act);
  }
  x = g.node("GlobalAveragePool", {x});
  if constexpr (Space::head.has_feature_mix()) {
    x = g.conv(x, g.initializer("head.feature_mix.weight", pointwise_dims(net.mix_w), values(net.mix_w)), "", 1, 1, 1);
    x = g.activation_of(x, head.act);
  }
  return detail::finish_model<Space>(g, g.node("Flatten", {x}), net, r);
}

template <class Space>
void export_onnx(const nn::static_net<Space>& net, const std::string& path) {
  io::write_atomically(path, onnx_model(net));
}

}  // namespace ofa::exporters
