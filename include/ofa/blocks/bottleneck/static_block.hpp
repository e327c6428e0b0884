#pragma once
/// @file
/// The inference side of the ResNet bottleneck block kind: static_net's block, dense at its
/// active sizes, BN folded into every convolution. 1×1 + act → k×k (stride) + act → 1×1, then +
/// the input or + the shortcut 1×1 of the average-pooled input, and act. Shaped from the block's
/// plan, filled by extraction (extract.hpp here), named as the reference names its layers.

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ofa/blocks/block_types.hpp"
#include "ofa/kernels/window_pooling.hpp"
#include "ofa/nn/feature_map.hpp"
#include "ofa/nn/inference_layers.hpp"
#include "ofa/profiling.hpp"
#include "ofa/space/plan.hpp"

namespace ofa::nn {

/** @brief One inference bottleneck. Weights are dense at their active sizes, BN folded in. */
struct static_bottleneck_block {
  int in = 0, mid = 0, out = 0, kernel = 3, stride = 1;
  activation act = activation::relu;
  bool has_shortcut_conv = false;
  tensor<float> reduce_w, reduce_b;      // [mid][in], [mid]
  tensor<float> conv_w, conv_b;          // [mid][k][k][mid], [mid]
  tensor<float> expand_w, expand_b;      // [out][mid], [out]
  tensor<float> shortcut_w, shortcut_b;  // [out][in], [out] where the shortcut has a 1×1
  // The weights packed once for the GEMM micro-kernel (prepare()).
  kernels::packed_weights reduce_p, conv_p, expand_p, shortcut_p;

  static_bottleneck_block() = default;
  /** @brief The block of plan `p`, every tensor shaped and zero. */
  explicit static_bottleneck_block(const block_plan& p);
  /** @brief Packs the weights; call after changing them. */
  void prepare();
  /** @brief The block on `in` into `out`. */
  void run(const feature_map& in, feature_map& out) const;
  /** @brief The block's tensors, each named `prefix` + the reference's layer name. */
  void name_tensors(const std::string& prefix, std::vector<std::pair<std::string, tensor<float>*>>& t);
};

template <>
struct static_block_type<space::block_kind::bottleneck> {
  using type = static_bottleneck_block;
};

// ---------------------------------------------------------------------------
// implementation

inline static_bottleneck_block::static_bottleneck_block(const block_plan& p)
    : in(p.in_channels),
      mid(p.mid_channels),
      out(p.out_channels),
      kernel(p.kernel),
      stride(p.stride),
      act(p.act),
      has_shortcut_conv(p.has_shortcut_conv) {
  const auto z = [](auto... d) { return detail::zeros({static_cast<std::size_t>(d)...}); };
  reduce_w = z(mid, in);
  reduce_b = z(mid);
  conv_w = z(mid, kernel, kernel, mid);
  conv_b = z(mid);
  expand_w = z(out, mid);
  expand_b = z(out);
  if (has_shortcut_conv) {
    shortcut_w = z(out, in);
    shortcut_b = z(out);
  }
}

inline void static_bottleneck_block::prepare() {
  reduce_p = detail::pack(reduce_w);
  conv_p = detail::pack(conv_w);
  expand_p = detail::pack(expand_w);
  if (has_shortcut_conv) shortcut_p = detail::pack(shortcut_w);
}

inline void static_bottleneck_block::run(const feature_map& x, feature_map& y) const {
  const int n = x.n, h = x.h, w = x.w, m = n * h * w;
  std::optional<profiling::scope> timing;
  timing.emplace(profiling::label("bottleneck_1x1", [&] { return detail::gemm_shape_text(m, in, mid); }));
  pooled_vector<float> reduced(static_cast<std::size_t>(m) * mid);
  detail::dense_layer(m, x.data(), reduce_p, reduce_b.data(), act, reduced.data());
  const kernels::conv_shape cs{n, h, w, mid, kernel, stride};
  const int oh = cs.out_height(), ow = cs.out_width(), om = n * oh * ow;
  pooled_vector<float> middle(static_cast<std::size_t>(om) * mid);
  timing.emplace(profiling::label("bottleneck_3x3", [&] {
    return std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(mid) + " k" + std::to_string(kernel) +
           " s" + std::to_string(stride) + "->" + std::to_string(mid);
  }));
  detail::packed_conv(cs, reduced.data(), conv_p, conv_b.data(), act, middle.data());
  // The shortcut first, into the output; the last 1×1 then adds onto it (beta 1) with its bias and
  // the block's activation in the same stores: no separate add and activation passes.
  float* result = y.reset(n, oh, ow, out);
  timing.emplace("shortcut");
  if (has_shortcut_conv) {
    const float* shortcut_in = x.data();
    pooled_vector<float> pooled;
    if (stride > 1) {
      const auto pool = kernels::pool_shape::average_pool(n, h, w, in, stride);
      pooled.resize(static_cast<std::size_t>(om) * in);
      kernels::average_pool2d(pool, x.data(), pooled.data());
      shortcut_in = pooled.data();
    }
    detail::dense_layer(om, shortcut_in, shortcut_p, shortcut_b.data(), activation::none, result);
  } else {
    std::copy_n(x.data(), y.size(), result);
  }
  timing.emplace(profiling::label("bottleneck_1x1", [&] { return detail::gemm_shape_text(om, mid, out); }));
  kernels::gemm_packed(om, middle.data(), mid, expand_p, 1.0f, result, out, expand_b.data(), act);
}

inline void static_bottleneck_block::name_tensors(const std::string& p,
                                                  std::vector<std::pair<std::string, tensor<float>*>>& t) {
  t.push_back({p + "conv1.weight", &reduce_w});
  t.push_back({p + "conv1.bias", &reduce_b});
  t.push_back({p + "conv2.weight", &conv_w});
  t.push_back({p + "conv2.bias", &conv_b});
  t.push_back({p + "conv3.weight", &expand_w});
  t.push_back({p + "conv3.bias", &expand_b});
  if (has_shortcut_conv) {
    t.push_back({p + "downsample.weight", &shortcut_w});
    t.push_back({p + "downsample.bias", &shortcut_b});
  }
}

}  // namespace ofa::nn
