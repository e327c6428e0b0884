#pragma once
/// @file
/// static_net<Space>: a standalone subnet extracted from the supernet. It keeps
/// only the active weights, with kernel transforms applied and BN folded into
/// the preceding convolutions (so every conv has a bias), and runs inference
/// without the tape: this is what deployment and latency tables use.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ofa/autograd/tape.hpp"
#include "ofa/kernels/activation.hpp"
#include "ofa/kernels/batch_norm.hpp"
#include "ofa/kernels/conv2d.hpp"
#include "ofa/kernels/depthwise.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/kernels/pooling.hpp"
#include "ofa/nn/elastic_net.hpp"
#include "ofa/profiling.hpp"
#include "ofa/space/subnet_config.hpp"

namespace ofa::nn {

/** @brief One inference block: [expand 1×1 + bias + act] → k×k depthwise + bias + act →
 *  [SE] → project 1×1 + bias → [+ input]. Weights are dense at their active sizes. */
struct static_block {
  int in = 0, mid = 0, out = 0, kernel = 3, stride = 1, se_mid = 0;
  activation act = activation::relu;
  bool has_expand = false, residual = false;
  tensor<float> expand_w, expand_b;          // [mid][in], [mid]
  tensor<float> dw_w, dw_b;                  // [k][k][mid], [mid]
  tensor<float> se_rw, se_rb, se_ew, se_eb;  // [se][mid], [se], [mid][se], [mid]
  tensor<float> project_w, project_b;        // [out][mid], [out]
  // The 1×1 weights packed once for the GEMM micro-kernel (prepare()).
  kernels::packed_weights expand_p, se_rp, se_ep, project_p;
};

template <class Space>
class static_net {
 public:
  using config_type = subnet_config<Space>;

  /** @brief Extracts `config` from `supernet` (whose active config is left unchanged). */
  template <class T>
  static static_net extract(const elastic_net<Space, T>& supernet, const config_type& config);

  /** @brief Logits [N, classes] for NHWC images [N, H, W, 3]. */
  tensor<float> forward(const tensor<float>& images) const;

  const config_type& config() const noexcept { return config_; }
  std::int64_t parameter_count() const;

  /** @brief Packs every 1×1 weight for the GEMM micro-kernel; call after changing weights
   *  (extract() and loading do). */
  void prepare();

  /** @brief All tensors by name, for checkpoints. */
  std::vector<std::pair<std::string, tensor<float>*>> tensors();

  config_type config_;
  tensor<float> stem_w, stem_b;  // [C][k][k][3], [C]
  std::vector<static_block> blocks;
  tensor<float> final_w, final_b;  // [F][in], [F]
  tensor<float> mix_w;             // [M][F]
  tensor<float> classifier_w, classifier_b;
  kernels::packed_weights final_p, mix_p, classifier_p;
};

// ---------------------------------------------------------------------------
// implementation

namespace detail {
template <class T>
tensor<float> to_float(const T* data, const shape_type& shape) {
  tensor<float> t(shape);
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(data[i]);
  return t;
}
/// Rows [0, rows) × cols [0, cols) of a [*, ld] matrix.
template <class T>
tensor<float> slice(const tensor<T>& m, std::size_t rows, std::size_t cols) {
  const std::size_t ld = m.shape()[1];
  tensor<float> t(shape_type{rows, cols});
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) t.data()[r * cols + c] = static_cast<float>(m.data()[r * ld + c]);
  return t;
}
/// Folds BN (first `c` channels) into weight rows: w[o][:] *= γ/σ, b = β - μγ/σ.
/// `channel_stride`/`row_len` describe where output channel o's weights are.
template <class T>
tensor<float> fold(tensor<float>& w, const elastic_batch_norm<T>& bn, std::size_t c, bool channels_last) {
  tensor<float> bias(shape_type{c});
  for (std::size_t o = 0; o < c; ++o) {
    const double scale =
        double(bn.gamma.value().data()[o]) / std::sqrt(double(bn.running_var.data()[o]) + double(bn.eps));
    bias.data()[o] = static_cast<float>(double(bn.beta.value().data()[o]) - double(bn.running_mean.data()[o]) * scale);
    if (channels_last) {  // [k][k][c]: every tap's channel o
      for (std::size_t t = 0; t < w.size() / c; ++t)
        w.data()[t * c + o] = static_cast<float>(w.data()[t * c + o] * scale);
    } else {  // [c][row]
      const std::size_t row = w.size() / c;
      for (std::size_t i = 0; i < row; ++i) w.data()[o * row + i] = static_cast<float>(w.data()[o * row + i] * scale);
    }
  }
  return bias;
}

/// y[m][w.n] = act(x[m][w.k]·wᵀ + b): one GEMM with bias and activation fused into its stores.
inline void dense_layer(int m, const float* x, const kernels::packed_weights& w, const float* b, activation act,
                        float* y) {
  kernels::gemm_packed(m, x, w.k, w, 0.0f, y, w.n, b, act);
}
}  // namespace detail

template <class Space>
template <class T>
static_net<Space> static_net<Space>::extract(const elastic_net<Space, T>& net, const config_type& config) {
  config.validate();
  autograd::no_grad<T> off;
  static_net s;
  s.config_ = config;
  const auto& stem = Space::stem;
  s.stem_w = detail::to_float(net.stem_weight.value().data(), autograd::detail::shape_of(net.stem_weight.value()));
  s.stem_b = detail::fold(s.stem_w, net.stem_bn, std::size_t(stem.width), false);

  auto make_block = [&](const mbconv_block<T>& b, int kernel, int expand) {
    static_block out;
    out.in = b.in_channels;
    out.out = b.out_channels;
    out.mid = b.middle(expand);
    out.kernel = kernel;
    out.stride = b.stride;
    out.act = b.act;
    out.has_expand = b.expand_conv.has_value();
    out.residual = b.residual();
    const auto mid = std::size_t(out.mid);
    if (out.has_expand) {
      out.expand_w = detail::slice(b.expand_conv->weight.value(), mid, std::size_t(out.in));
      out.expand_b = detail::fold(out.expand_w, *b.expand_bn, mid, false);
    }
    const auto k = b.depth_conv.active_kernel(kernel, out.mid);  // [K'][K'][C'] with centre k, first mid channels
    const auto& kv = k.value();
    const auto kfull = kv.shape()[0], cmax = kv.shape()[2];
    out.dw_w = tensor<float>(shape_type{std::size_t(kernel), std::size_t(kernel), mid});
    const auto off = (kfull - std::size_t(kernel)) / 2;
    for (std::size_t ky = 0; ky < std::size_t(kernel); ++ky)
      for (std::size_t kx = 0; kx < std::size_t(kernel); ++kx)
        for (std::size_t c = 0; c < mid; ++c)
          out.dw_w.data()[(ky * kernel + kx) * mid + c] =
              static_cast<float>(kv.data()[((ky + off) * kfull + kx + off) * cmax + c]);
    out.dw_b = detail::fold(out.dw_w, b.depth_bn, mid, true);
    if (b.se) {
      out.se_mid = squeeze_excite_width(out.mid);
      const auto se = std::size_t(out.se_mid);
      out.se_rw = detail::slice(b.se->reduce_w.value(), se, mid);
      out.se_rb = detail::to_float(b.se->reduce_b.value().data(), {se});
      out.se_ew = detail::slice(b.se->expand_w.value(), mid, se);
      out.se_eb = detail::to_float(b.se->expand_b.value().data(), {mid});
    }
    out.project_w = detail::slice(b.project_conv.weight.value(), std::size_t(out.out), mid);
    out.project_b = detail::fold(out.project_w, b.project_bn, std::size_t(out.out), false);
    return out;
  };
  s.blocks.push_back(make_block(net.blocks_[0], Space::first_block.kernel_size, 1));
  for (std::size_t u = 0; u < Space::unit_count; ++u)
    for (int i = 0; i < config.depth[u]; ++i) {
      const auto slot = static_cast<std::size_t>(Space::unit_table[u].first_slot + i);
      s.blocks.push_back(make_block(net.blocks_[net.block_index(u, i)], config.kernel[slot], config.expand[slot]));
    }
  const auto last = std::size_t(Space::unit_table[Space::unit_count - 1].width);
  s.final_w = detail::slice(net.final_expand.weight.value(), std::size_t(Space::head.final_expand), last);
  s.final_b = detail::fold(s.final_w, net.final_expand_bn, std::size_t(Space::head.final_expand), false);
  s.mix_w = detail::slice(net.feature_mix.weight.value(), std::size_t(Space::head.feature_mix),
                          std::size_t(Space::head.final_expand));
  s.classifier_w =
      detail::to_float(net.classifier_w.value().data(), autograd::detail::shape_of(net.classifier_w.value()));
  s.classifier_b =
      detail::to_float(net.classifier_b.value().data(), autograd::detail::shape_of(net.classifier_b.value()));
  s.prepare();
  return s;
}

template <class Space>
void static_net<Space>::prepare() {
  auto pack = [](const tensor<float>& w) {
    return kernels::pack_weights(w.data(), static_cast<int>(w.shape()[1]), static_cast<int>(w.shape()[0]),
                                 static_cast<int>(w.shape()[1]));
  };
  for (auto& b : blocks) {
    if (b.has_expand) b.expand_p = pack(b.expand_w);
    if (b.se_mid > 0) {
      b.se_rp = pack(b.se_rw);
      b.se_ep = pack(b.se_ew);
    }
    b.project_p = pack(b.project_w);
  }
  final_p = pack(final_w);
  mix_p = pack(mix_w);
  classifier_p = pack(classifier_w);
}

template <class Space>
tensor<float> static_net<Space>::forward(const tensor<float>& images) const {
  const auto& shape = images.shape();
  if (images.dimension() != 4 || shape[3] != 3)
    throw shape_error("ofa::static_net::forward: images must be [N, H, W, 3], got " + shape_string(shape));
  const int n = static_cast<int>(shape[0]);
  int h = static_cast<int>(shape[1]), w = static_cast<int>(shape[2]);
  const auto& stem = Space::stem;
  kernels::conv_shape cs{n, h, w, 3, stem.kernel_size, stem.stride};
  h = cs.out_height();
  w = cs.out_width();
  pooled_vector<float> x(static_cast<std::size_t>(n) * h * w * stem.width);
  std::optional<profiling::scope> timing(std::in_place, "stem");
  kernels::conv2d_forward(cs, stem.width, images.data(), stem_w.data(), x.data());
  const int m0 = n * h * w;
  parallel::for_chunks(static_cast<std::size_t>(m0), 64, [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) {
      float* row = x.data() + r * std::size_t(stem.width);
      for (int j = 0; j < stem.width; ++j) row[j] += stem_b.data()[j];
      kernels::activation_forward(stem.act, std::size_t(stem.width), row, row);
    }
  });
  pooled_vector<float> mid_buf, dw_buf, out_buf;
  for (const auto& blk : blocks) {
    const int m = n * h * w;
    const float* mid_in = x.data();
    if (blk.has_expand) {
      timing.emplace("expand_1x1");
      mid_buf.resize(static_cast<std::size_t>(m) * blk.mid);
      detail::dense_layer(m, x.data(), blk.expand_p, blk.expand_b.data(), blk.act, mid_buf.data());
      mid_in = mid_buf.data();
    }
    kernels::conv_shape ds{n, h, w, blk.mid, blk.kernel, blk.stride};
    const int oh = ds.out_height(), ow = ds.out_width(), om = n * oh * ow;
    dw_buf.resize(static_cast<std::size_t>(om) * blk.mid);
    timing.emplace("depthwise");
    kernels::depthwise_forward(
        ds, mid_in, kernel_view<const float>{blk.dw_w.data(), blk.kernel, blk.mid, blk.kernel * blk.mid, blk.mid},
        dw_buf.data(), blk.dw_b.data(), blk.act);
    if (blk.se_mid > 0) {
      timing.emplace("squeeze_excite");
      pooled_vector<float> pooled(static_cast<std::size_t>(n) * blk.mid),
          hidden(static_cast<std::size_t>(n) * blk.se_mid), gate(static_cast<std::size_t>(n) * blk.mid);
      kernels::global_avg_pool(std::size_t(n), std::size_t(oh) * ow, std::size_t(blk.mid), dw_buf.data(),
                               pooled.data());
      detail::dense_layer(n, pooled.data(), blk.se_rp, blk.se_rb.data(), activation::relu, hidden.data());
      detail::dense_layer(n, hidden.data(), blk.se_ep, blk.se_eb.data(), activation::none, gate.data());
      kernels::hsigmoid_forward(gate.size(), gate.data(), gate.data());
      kernels::channel_scale(std::size_t(n), std::size_t(oh) * ow, std::size_t(blk.mid), dw_buf.data(), gate.data(),
                             dw_buf.data());
    }
    out_buf.resize(static_cast<std::size_t>(om) * blk.out);
    timing.emplace("project_1x1");
    detail::dense_layer(om, dw_buf.data(), blk.project_p, blk.project_b.data(), activation::none, out_buf.data());
    timing.emplace("residual_add");
    if (blk.residual)
      for (std::size_t i = 0; i < out_buf.size(); ++i) out_buf[i] += x[i];
    std::swap(x, out_buf);
    h = oh;
    w = ow;
  }
  const int m = n * h * w, fe = Space::head.final_expand, fm = Space::head.feature_mix;
  timing.emplace("head");
  pooled_vector<float> head(static_cast<std::size_t>(m) * fe), pooled(static_cast<std::size_t>(n) * fe),
      mixed(static_cast<std::size_t>(n) * fm);
  detail::dense_layer(m, x.data(), final_p, final_b.data(), activation::hswish, head.data());
  kernels::global_avg_pool(std::size_t(n), std::size_t(h) * w, std::size_t(fe), head.data(), pooled.data());
  detail::dense_layer(n, pooled.data(), mix_p, nullptr, activation::hswish, mixed.data());
  tensor<float> logits(shape_type{std::size_t(n), std::size_t(Space::class_count)});
  detail::dense_layer(n, mixed.data(), classifier_p, classifier_b.data(), activation::none, logits.data());
  return logits;
}

template <class Space>
std::vector<std::pair<std::string, tensor<float>*>> static_net<Space>::tensors() {
  std::vector<std::pair<std::string, tensor<float>*>> t{{"first_conv.weight", &stem_w}, {"first_conv.bias", &stem_b}};
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    auto& b = blocks[i];
    const std::string p = "blocks." + std::to_string(i) + ".";
    if (b.has_expand) {
      t.push_back({p + "inverted_bottleneck.weight", &b.expand_w});
      t.push_back({p + "inverted_bottleneck.bias", &b.expand_b});
    }
    t.push_back({p + "depth_conv.weight", &b.dw_w});
    t.push_back({p + "depth_conv.bias", &b.dw_b});
    if (b.se_mid > 0) {
      t.push_back({p + "se.reduce.weight", &b.se_rw});
      t.push_back({p + "se.reduce.bias", &b.se_rb});
      t.push_back({p + "se.expand.weight", &b.se_ew});
      t.push_back({p + "se.expand.bias", &b.se_eb});
    }
    t.push_back({p + "point_linear.weight", &b.project_w});
    t.push_back({p + "point_linear.bias", &b.project_b});
  }
  t.push_back({"final_expand_layer.weight", &final_w});
  t.push_back({"final_expand_layer.bias", &final_b});
  t.push_back({"feature_mix_layer.weight", &mix_w});
  t.push_back({"classifier.weight", &classifier_w});
  t.push_back({"classifier.bias", &classifier_b});
  return t;
}

template <class Space>
std::int64_t static_net<Space>::parameter_count() const {
  std::size_t n = stem_w.size() + stem_b.size() + final_w.size() + final_b.size() + mix_w.size() + classifier_w.size() +
                  classifier_b.size();
  for (const auto& b : blocks)
    for (const auto* t : {&b.expand_w, &b.expand_b, &b.dw_w, &b.dw_b, &b.se_rw, &b.se_rb, &b.se_ew, &b.se_eb,
                          &b.project_w, &b.project_b})
      n += t->size();  // absent parts (no expand, no SE) are empty tensors
  return static_cast<std::int64_t>(n);
}

}  // namespace ofa::nn
