#pragma once
/// @file
/// The inference side of the MBConv block kind: static_net's block, dense at its active sizes,
/// BN folded into every convolution. [expand 1×1 + bias + act] → k×k depthwise (stride) + bias +
/// act → [SE] → project 1×1 + bias → [+ input]. Shaped from the block's plan, filled by
/// extraction (extract.hpp here), run stage by stage, named as the reference names its layers.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ofa/blocks/block_types.hpp"
#include "ofa/kernels/activation.hpp"
#include "ofa/kernels/depthwise.hpp"
#include "ofa/kernels/pooling.hpp"
#include "ofa/nn/feature_map.hpp"
#include "ofa/nn/inference_layers.hpp"
#include "ofa/profiling.hpp"
#include "ofa/space/plan.hpp"

namespace ofa::nn {

/** @brief One inference MBConv block. Weights are dense at their active sizes, BN folded in. */
struct static_mbconv_block {
  int in = 0, mid = 0, out = 0, kernel = 3, stride = 1, se_mid = 0;
  activation act = activation::relu;
  bool has_expand = false, residual = false;
  tensor<float> expand_w, expand_b;          // [mid][in], [mid]
  tensor<float> dw_w, dw_b;                  // [k][k][mid], [mid]
  tensor<float> se_rw, se_rb, se_ew, se_eb;  // [se][mid], [se], [mid][se], [mid]
  tensor<float> project_w, project_b;        // [out][mid], [out]
  // The 1×1 weights packed once for the GEMM micro-kernel (prepare()).
  kernels::packed_weights expand_p, se_rp, se_ep, project_p;

  static_mbconv_block() = default;
  /** @brief The block of plan `p`, every tensor shaped and zero. */
  explicit static_mbconv_block(const block_plan& p);
  /** @brief Packs the 1×1 weights; call after changing them. */
  void prepare();
  /** @brief The block on `in` into `out`. */
  void run(const feature_map& in, feature_map& out) const;
  /** @brief The block's tensors, each named `prefix` + the reference's layer name. */
  void name_tensors(const std::string& prefix, std::vector<std::pair<std::string, tensor<float>*>>& t);
};

template <>
struct static_block_type<space::block_kind::mbconv> {
  using type = static_mbconv_block;
};

// ---------------------------------------------------------------------------
// implementation

inline static_mbconv_block::static_mbconv_block(const block_plan& p)
    : in(p.in_channels),
      mid(p.mid_channels),
      out(p.out_channels),
      kernel(p.kernel),
      stride(p.stride),
      act(p.act),
      has_expand(p.has_expand),
      residual(p.residual()) {
  const auto z = [](auto... d) { return detail::zeros({static_cast<std::size_t>(d)...}); };
  if (has_expand) {
    expand_w = z(mid, in);
    expand_b = z(mid);
  }
  dw_w = z(kernel, kernel, mid);
  dw_b = z(mid);
  if (p.has_se()) {
    se_mid = p.se_channels;
    se_rw = z(se_mid, mid);
    se_rb = z(se_mid);
    se_ew = z(mid, se_mid);
    se_eb = z(mid);
  }
  project_w = z(out, mid);
  project_b = z(out);
}

inline void static_mbconv_block::prepare() {
  if (has_expand) expand_p = detail::pack(expand_w);
  if (se_mid > 0) {
    se_rp = detail::pack(se_rw);
    se_ep = detail::pack(se_ew);
  }
  project_p = detail::pack(project_w);
}

inline void static_mbconv_block::run(const feature_map& x, feature_map& y) const {
  const int n = x.n, h = x.h, w = x.w, m = n * h * w;
  std::optional<profiling::scope> timing;
  pooled_vector<float> mid_buf;
  const float* mid_in = x.data();
  if (has_expand) {
    timing.emplace(profiling::label("expand_1x1", [&] { return detail::gemm_shape_text(m, in, mid); }));
    mid_buf.resize(static_cast<std::size_t>(m) * mid);
    detail::dense_layer(m, x.data(), expand_p, expand_b.data(), act, mid_buf.data());
    mid_in = mid_buf.data();
  }
  kernels::conv_shape ds{n, h, w, mid, kernel, stride};
  const int oh = ds.out_height(), ow = ds.out_width(), om = n * oh * ow;
  pooled_vector<float> dw_buf(static_cast<std::size_t>(om) * mid);
  timing.emplace(profiling::label("depthwise", [&] {
    return std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(mid) + " k" + std::to_string(kernel) +
           " s" + std::to_string(stride);
  }));
  kernels::depthwise_forward(ds, mid_in, kernel_view<const float>{dw_w.data(), kernel, mid, kernel * mid, mid},
                             dw_buf.data(), dw_b.data(), act);
  if (se_mid > 0) {
    timing.emplace("squeeze_excite");
    pooled_vector<float> pooled(static_cast<std::size_t>(n) * mid), hidden(static_cast<std::size_t>(n) * se_mid),
        gate(static_cast<std::size_t>(n) * mid);
    kernels::global_avg_pool(std::size_t(n), std::size_t(oh) * ow, std::size_t(mid), dw_buf.data(), pooled.data());
    detail::dense_layer(n, pooled.data(), se_rp, se_rb.data(), activation::relu, hidden.data());
    detail::dense_layer(n, hidden.data(), se_ep, se_eb.data(), activation::none, gate.data());
    kernels::hsigmoid_forward(gate.size(), gate.data(), gate.data());
    kernels::channel_scale(std::size_t(n), std::size_t(oh) * ow, std::size_t(mid), dw_buf.data(), gate.data(),
                           dw_buf.data());
  }
  float* result = y.reset(n, oh, ow, out);
  timing.emplace(profiling::label("project_1x1", [&] { return detail::gemm_shape_text(om, mid, out); }));
  detail::dense_layer(om, dw_buf.data(), project_p, project_b.data(), activation::none, result);
  if (residual) {
    timing.emplace("residual_add");
    const float* input = x.data();
    for (std::size_t i = 0; i < y.size(); ++i) result[i] += input[i];
  }
}

inline void static_mbconv_block::name_tensors(const std::string& p,
                                              std::vector<std::pair<std::string, tensor<float>*>>& t) {
  if (has_expand) {
    t.push_back({p + "inverted_bottleneck.weight", &expand_w});
    t.push_back({p + "inverted_bottleneck.bias", &expand_b});
  }
  t.push_back({p + "depth_conv.weight", &dw_w});
  t.push_back({p + "depth_conv.bias", &dw_b});
  if (se_mid > 0) {
    t.push_back({p + "se.reduce.weight", &se_rw});
    t.push_back({p + "se.reduce.bias", &se_rb});
    t.push_back({p + "se.expand.weight", &se_ew});
    t.push_back({p + "se.expand.bias", &se_eb});
  }
  t.push_back({p + "point_linear.weight", &project_w});
  t.push_back({p + "point_linear.bias", &project_b});
}

}  // namespace ofa::nn
