#pragma once
/// @file
/// The ONNX graph builder the exporter and every block kind's emitter (blocks/<kind>/onnx.hpp)
/// write with: nodes and initializers with names made unique by a counter, activations as
/// ONNX operators, dense and pointwise convolutions from static_net's NHWC weights.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/io/protobuf.hpp"
#include "ofa/space/activation.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::exporters {

/** @brief Builds an ONNX graph: nodes and initializers, with names made unique by a counter. */
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

}  // namespace ofa::exporters
