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

#include "ofa/errors.hpp"
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

/// Builds the graph: nodes and initializers, with names made unique by a counter.
class onnx_graph {
 public:
  using message = io::protobuf::message;

  std::string initializer(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<float>& v) {
    message t;
    for (auto d : dims) t.varint(1, static_cast<std::uint64_t>(d));
    t.varint(2, 1);  // FLOAT
    t.bytes(8, name);
    t.bytes(9, std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    initializers_.push_back(t);
    return name;
  }

  struct attribute {
    std::string name;
    std::vector<std::int64_t> ints;  // INTS when several or `list`, INT when one
    bool list = false;
    float f = 0;
    bool is_float = false;
  };

  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::vector<attribute>& attrs = {}, std::string output = {}) {
    if (output.empty()) output = op + "_" + std::to_string(counter_++);
    message n;
    for (const auto& i : inputs) n.bytes(1, i);
    n.bytes(2, output);
    n.bytes(3, output);
    n.bytes(4, op);
    for (const auto& a : attrs) {
      message m;
      m.bytes(1, a.name);
      if (a.is_float) {
        m.fixed_float(2, a.f);
        m.varint(20, 1);  // FLOAT
      } else if (a.list || a.ints.size() != 1) {
        for (auto v : a.ints) m.varint(8, static_cast<std::uint64_t>(v));
        m.varint(20, 7);  // INTS
      } else {
        m.varint(3, static_cast<std::uint64_t>(a.ints[0]));
        m.varint(20, 2);  // INT
      }
      n.nested(5, m);
    }
    nodes_.push_back(n);
    return output;
  }

  std::string activation_of(const std::string& x, activation act) {
    switch (act) {
      case activation::none:
        return x;
      case activation::relu:
        return node("Relu", {x});
      case activation::hswish:
        return node("Mul", {x, hsigmoid(x)});
      case activation::relu6:
        return node("Clip", {x, constant("relu6.min", 0.0f), constant("relu6.max", 6.0f)});
    }
    throw logic_error("ofa::exporters::export_onnx: unknown activation");
  }
  /// A scalar initializer, added on first use.
  std::string constant(const std::string& name, float value) {
    if (std::find(constants_.begin(), constants_.end(), name) == constants_.end()) {
      initializer(name, {}, {value});
      constants_.push_back(name);
    }
    return name;
  }
  std::string hsigmoid(const std::string& x) {
    // relu6(x + 3) / 6 = clamp(x / 6 + 1/2, 0, 1)
    attribute alpha{"alpha", {}, false, 1.0f / 6.0f, true}, beta{"beta", {}, false, 0.5f, true};
    return node("HardSigmoid", {x}, {alpha, beta});
  }

  std::string conv(const std::string& x, const std::string& w, const std::string& b, int kernel, int stride,
                   int group) {
    const std::int64_t p = kernel / 2;
    std::vector<attribute> attrs{{"kernel_shape", {kernel, kernel}, true},
                                 {"strides", {stride, stride}, true},
                                 {"pads", {p, p, p, p}, true},
                                 {"group", {group}}};
    std::vector<std::string> in{x, w};
    if (!b.empty()) in.push_back(b);
    return node("Conv", in, attrs);
  }

  static message value_info(const std::string& name, const std::vector<std::int64_t>& dims, bool symbolic_batch) {
    message shape;
    for (std::size_t i = 0; i < dims.size(); ++i) {
      message d;
      if (i == 0 && symbolic_batch)
        d.bytes(2, "N");
      else
        d.varint(1, static_cast<std::uint64_t>(dims[i]));
      shape.nested(1, d);
    }
    message tensor_type;
    tensor_type.varint(1, 1);  // FLOAT
    tensor_type.nested(2, shape);
    message type;
    type.nested(1, tensor_type);
    message v;
    v.bytes(1, name);
    v.nested(2, type);
    return v;
  }

  message graph(const std::string& name, const message& input, const message& output) const {
    message g;
    for (const auto& n : nodes_) g.nested(1, n);
    g.bytes(2, name);
    for (const auto& t : initializers_) g.nested(5, t);
    g.nested(11, input);
    g.nested(12, output);
    return g;
  }

 private:
  std::vector<message> nodes_, initializers_;
  std::vector<std::string> constants_;
  int counter_ = 0;
};

inline std::vector<float> values(const tensor<float>& t) {
  return {t.data(), t.data() + t.size()};
}

/// A 1×1 weight [out][in] as a Conv weight [out, in, 1, 1] (same order of values).
inline std::vector<std::int64_t> pointwise_dims(const tensor<float>& w) {
  return {std::int64_t(w.shape()[0]), std::int64_t(w.shape()[1]), 1, 1};
}

/// A dense conv (weight [O][k][k][I], NHWC filters, bias [O]) as an ONNX Conv ([O][I][k][k]).
inline std::string dense_conv(onnx_graph& g, const std::string& x, const std::string& name, const tensor<float>& w,
                              const tensor<float>& b, int stride) {
  const auto& s = w.shape();
  const std::size_t o = s[0], k = s[1], in = s[3];
  std::vector<float> oihw(w.size());
  for (std::size_t f = 0; f < o; ++f)
    for (std::size_t y = 0; y < k; ++y)
      for (std::size_t xx = 0; xx < k; ++xx)
        for (std::size_t c = 0; c < in; ++c)
          oihw[((f * in + c) * k + y) * k + xx] = w.data()[((f * k + y) * k + xx) * in + c];
  return g.conv(
      x, g.initializer(name + ".weight", {std::int64_t(o), std::int64_t(in), std::int64_t(k), std::int64_t(k)}, oihw),
      g.initializer(name + ".bias", {std::int64_t(o)}, values(b)), int(k), stride, 1);
}

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

/// A bottleneck: 1×1, k×k (stride), 1×1, + the input or the pooled and projected input, activation.
inline std::string bottleneck(onnx_graph& g, const nn::static_block& b, const std::string& x, const std::string& p) {
  std::string h = g.conv(x, g.initializer(p + "conv1.weight", pointwise_dims(b.expand_w), values(b.expand_w)),
                         g.initializer(p + "conv1.bias", {b.mid}, values(b.expand_b)), 1, 1, 1);
  h = g.activation_of(h, b.act);
  h = g.activation_of(dense_conv(g, h, p + "conv2", b.conv_w, b.conv_b, b.stride), b.act);
  h = g.conv(h, g.initializer(p + "conv3.weight", pointwise_dims(b.project_w), values(b.project_w)),
             g.initializer(p + "conv3.bias", {b.out}, values(b.project_b)), 1, 1, 1);
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
  model.nested(7, g.graph("ofa_subnet", detail::onnx_graph::value_info("images", {1, 3, r, r}, true),
                          detail::onnx_graph::value_info("logits", {1, Space::class_count}, true)));
  model.nested(8, opset);
  return model.str();
}
}  // namespace detail

template <class Space>
std::string onnx_model(const nn::static_net<Space>& net) {
  using detail::values;
  detail::onnx_graph g;
  const auto& stem = Space::stem;
  const int r = net.config().resolution;
  if constexpr (Space::stem.deep()) {
    std::string x = detail::deep_stem(g, net);
    for (std::size_t bi = 0; bi < net.blocks.size(); ++bi)
      x = detail::bottleneck(g, net.blocks[bi], x, "blocks." + std::to_string(bi) + ".");
    return detail::finish_model<Space>(g, g.node("Flatten", {g.node("GlobalAveragePool", {x})}), net, r);
  }

  // Stem: [C][k][k][3] (NHWC filters) -> [C][3][k][k].
  const int k0 = stem.kernel_size, c0 = stem.width;
  std::vector<float> stem_w(net.stem_w.size());
  for (int o = 0; o < c0; ++o)
    for (int y = 0; y < k0; ++y)
      for (int x = 0; x < k0; ++x)
        for (int i = 0; i < 3; ++i)
          stem_w[((std::size_t(o) * 3 + i) * k0 + y) * k0 + x] =
              net.stem_w.data()[((std::size_t(o) * k0 + y) * k0 + x) * 3 + i];
  std::string x = g.conv("images", g.initializer("stem.weight", {c0, 3, k0, k0}, stem_w),
                         g.initializer("stem.bias", {c0}, values(net.stem_b)), k0, stem.stride, 1);
  x = g.activation_of(x, stem.act);

  for (std::size_t bi = 0; bi < net.blocks.size(); ++bi) {
    const auto& b = net.blocks[bi];
    const std::string p = "blocks." + std::to_string(bi) + ".";
    const std::string input = x;
    if (b.has_expand) {
      x = g.conv(x, g.initializer(p + "expand.weight", detail::pointwise_dims(b.expand_w), values(b.expand_w)),
                 g.initializer(p + "expand.bias", {b.mid}, values(b.expand_b)), 1, 1, 1);
      x = g.activation_of(x, b.act);
    }
    // Depthwise: [k][k][mid] -> [mid][1][k][k].
    std::vector<float> dw(b.dw_w.size());
    for (int y = 0; y < b.kernel; ++y)
      for (int xx = 0; xx < b.kernel; ++xx)
        for (int c = 0; c < b.mid; ++c)
          dw[(std::size_t(c) * b.kernel + y) * b.kernel + xx] =
              b.dw_w.data()[(std::size_t(y) * b.kernel + xx) * b.mid + c];
    x = g.conv(x, g.initializer(p + "depthwise.weight", {b.mid, 1, b.kernel, b.kernel}, dw),
               g.initializer(p + "depthwise.bias", {b.mid}, values(b.dw_b)), b.kernel, b.stride, b.mid);
    x = g.activation_of(x, b.act);
    if (b.se_mid > 0) {
      std::string s = g.node("GlobalAveragePool", {x});
      s = g.conv(s, g.initializer(p + "se.reduce.weight", detail::pointwise_dims(b.se_rw), values(b.se_rw)),
                 g.initializer(p + "se.reduce.bias", {b.se_mid}, values(b.se_rb)), 1, 1, 1);
      s = g.node("Relu", {s});
      s = g.conv(s, g.initializer(p + "se.expand.weight", detail::pointwise_dims(b.se_ew), values(b.se_ew)),
                 g.initializer(p + "se.expand.bias", {b.mid}, values(b.se_eb)), 1, 1, 1);
      x = g.node("Mul", {x, g.hsigmoid(s)});
    }
    x = g.conv(x, g.initializer(p + "project.weight", detail::pointwise_dims(b.project_w), values(b.project_w)),
               g.initializer(p + "project.bias", {b.out}, values(b.project_b)), 1, 1, 1);
    if (b.residual) x = g.node("Add", {x, input});
  }

  const auto& head = Space::head;
  x = g.conv(x, g.initializer("head.final_expand.weight", detail::pointwise_dims(net.final_w), values(net.final_w)),
             g.initializer("head.final_expand.bias", {head.final_expand}, values(net.final_b)), 1, 1, 1);
  x = g.activation_of(x, head.act);
  x = g.node("GlobalAveragePool", {x});
  if (head.has_feature_mix()) {
    x = g.conv(x, g.initializer("head.feature_mix.weight", detail::pointwise_dims(net.mix_w), values(net.mix_w)), "", 1,
               1, 1);
    x = g.activation_of(x, head.act);
  }
  return detail::finish_model<Space>(g, g.node("Flatten", {x}), net, r);
}

template <class Space>
void export_onnx(const nn::static_net<Space>& net, const std::string& path) {
  io::write_atomically(path, onnx_model(net));
}

}  // namespace ofa::exporters
