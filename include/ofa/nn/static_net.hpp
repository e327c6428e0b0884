#pragma once
/// @file
/// static_net<Space>: a standalone subnet, as extracted from the supernet
/// (nn/extract.hpp) or loaded from a file. It keeps only the active weights, with
/// kernel transforms applied and BN folded into the preceding convolutions (so
/// every conv has a bias), and runs inference without the tape.
///
/// Its forward is a sequence of stages (the stem, each block, the head) that can
/// also be run and timed one by one: latency tables and export walk them. It is
/// made for one input resolution, the config's, and refuses images of another size.
/// This header does not include the training stack.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ofa/blocks/block_types.hpp"
#include "ofa/blocks/static_blocks.hpp"
#include "ofa/errors.hpp"
#include "ofa/kernels/activation.hpp"
#include "ofa/kernels/conv2d.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/kernels/pooling.hpp"
#include "ofa/kernels/window_pooling.hpp"
#include "ofa/nn/feature_map.hpp"
#include "ofa/nn/inference_layers.hpp"
#include "ofa/profiling.hpp"
#include "ofa/space/plan.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::nn {

template <class Space>
class static_net {
 public:
  using config_type = subnet_config<Space>;
  /// The inference block of the space's block kind (include/ofa/blocks/<kind>/static_block.hpp).
  using block_type = static_block_t<Space>;
  static_assert(inference_block<block_type>,
                "ofa::nn::static_net: the block kind's static block lacks what static_net calls (docs/spaces.md, "
                "Adding a block kind)");

  /** @brief The structure of `config` (every tensor shaped, zero): what extract() and
   *  load_static() fill. */
  explicit static_net(const config_type& config);

  /** @brief Logits [N, classes] for NHWC images [N, R, R, 3], R = config().resolution. */
  tensor<float> forward(const tensor<float>& images) const;

  /** @brief Stages in forward order: the stem, every block, the head. */
  std::size_t stage_count() const noexcept { return blocks.size() + 2; }
  /** @brief Runs stage `i` alone: `in` is stage i-1's output (stage 0: a view of the images). */
  void run_stage(std::size_t i, const feature_map& in, feature_map& out) const;
  /** @brief "stem", "blocks.3", "head". */
  std::string stage_name(std::size_t i) const {
    return i == 0 ? "stem" : i + 1 == stage_count() ? "head" : "blocks." + std::to_string(i - 1);
  }

  const config_type& config() const noexcept { return config_; }
  std::int64_t parameter_count() const;

  /** @brief Packs every 1×1 weight for the GEMM micro-kernel; call after changing weights
   *  (extract() and loading do). */
  void prepare();

  /** @brief All tensors by name, for checkpoints. */
  std::vector<std::pair<std::string, tensor<float>*>> tensors();

  config_type config_;
  stem_plan stem_;
  tensor<float> stem_w, stem_b;                                    // [C][k][k][3], [C]; a deep stem's first layer
  tensor<float> stem_mid_w, stem_mid_b, stem_last_w, stem_last_b;  // a deep stem's other layers
  std::vector<block_type> blocks;
  tensor<float> final_w, final_b;  // [F][in], [F]
  tensor<float> mix_w;             // [M][F]; empty where the head has no feature mix
  tensor<float> classifier_w, classifier_b;
  kernels::packed_weights final_p, mix_p, classifier_p, stem_mid_p, stem_last_p;

 private:
  void run_stem(const feature_map& in, feature_map& out) const;
  void run_head(const feature_map& in, feature_map& out) const;
};

// ---------------------------------------------------------------------------
// implementation

template <class Space>
static_net<Space>::static_net(const config_type& config) : config_(config) {
  const auto plan = plan_network(config_);
  const auto z = [](auto... d) { return detail::zeros({static_cast<std::size_t>(d)...}); };
  stem_ = plan.stem;
  stem_w = z(stem_.first_width(), stem_.kernel, stem_.kernel, 3);
  stem_b = z(stem_.first_width());
  if (stem_.deep) {
    if (!stem_.skip) {
      stem_mid_w = z(stem_.mid_width, 3, 3, stem_.mid_width);
      stem_mid_b = z(stem_.mid_width);
    }
    stem_last_w = z(stem_.width, 3, 3, stem_.mid_width);
    stem_last_b = z(stem_.width);
  }
  blocks.reserve(plan.blocks.size());
  for (const auto& p : plan.blocks) blocks.emplace_back(p);
  const auto& head = plan.head;
  if (head.has_final_expand()) {
    final_w = z(head.final_expand, head.in_channels);
    final_b = z(head.final_expand);
  }
  if (head.has_feature_mix()) mix_w = z(head.feature_mix, head.final_expand);
  classifier_w = z(head.classes, head.classifier_inputs());
  classifier_b = z(head.classes);
  prepare();
}

template <class Space>
void static_net<Space>::prepare() {
  using detail::pack;
  if (stem_.deep) {
    if (!stem_.skip) stem_mid_p = pack(stem_mid_w);
    stem_last_p = pack(stem_last_w);
  }
  for (auto& b : blocks) b.prepare();
  if (Space::head.has_final_expand()) final_p = pack(final_w);
  if (Space::head.has_feature_mix()) mix_p = pack(mix_w);
  classifier_p = pack(classifier_w);
}

template <class Space>
tensor<float> static_net<Space>::forward(const tensor<float>& images) const {
  const auto& shape = images.shape();
  if (images.dimension() != 4 || shape[3] != 3)
    throw shape_error("ofa::static_net::forward: images must be [N, H, W, 3], got " + shape_string(shape));
  const auto r = static_cast<std::size_t>(config_.resolution);
  if (shape[1] != r || shape[2] != r)
    throw shape_error("ofa::static_net::forward: this subnet was extracted for " + std::to_string(r) + "x" +
                      std::to_string(r) + " images (its BN statistics and cost are those of that size), got " +
                      std::to_string(shape[1]) + "x" + std::to_string(shape[2]) +
                      "; resize the images, or extract the subnet at their resolution");
  feature_map a = feature_map::view(images), b;
  for (std::size_t i = 0; i < stage_count(); ++i) {
    run_stage(i, a, b);
    std::swap(a, b);
  }
  tensor<float> logits(shape_type{std::size_t(a.n), std::size_t(a.c)});
  std::copy_n(a.data(), a.size(), logits.data());
  return logits;
}

template <class Space>
void static_net<Space>::run_stage(std::size_t i, const feature_map& in, feature_map& out) const {
  if (i >= stage_count())
    throw logic_error("ofa::static_net::run_stage: stage " + std::to_string(i) + " of " +
                      std::to_string(stage_count()));
  if (i == 0)
    run_stem(in, out);
  else if (i + 1 == stage_count())
    run_head(in, out);
  else
    blocks[i - 1].run(in, out);
}

template <class Space>
void static_net<Space>::run_stem(const feature_map& in, feature_map& out) const {
  profiling::scope timing("stem");
  kernels::conv_shape cs{in.n, in.h, in.w, 3, stem_.kernel, stem_.stride};
  const int first = stem_.first_width();
  if (!stem_.deep) {
    float* x = out.reset(in.n, cs.out_height(), cs.out_width(), first);
    kernels::conv2d_forward(cs, first, in.data(), stem_w.data(), x, stem_b.data(), stem_.act);
    return;
  }
  const int n = in.n, h = cs.out_height(), w = cs.out_width(), mid = stem_.mid_width;
  pooled_vector<float> a(static_cast<std::size_t>(n) * h * w * mid), b;
  kernels::conv2d_forward(cs, mid, in.data(), stem_w.data(), a.data(), stem_b.data(), stem_.act);
  const kernels::conv_shape same{n, h, w, mid, 3, 1};
  if (!stem_.skip) {  // the residual middle layer: a + act(conv(a))
    b.resize(a.size());
    detail::packed_conv(same, a.data(), stem_mid_p, stem_mid_b.data(), stem_.act, b.data());
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  }
  if (stem_.pool_window == 0) {
    detail::packed_conv(same, a.data(), stem_last_p, stem_last_b.data(), stem_.act, out.reset(n, h, w, stem_.width));
    return;
  }
  b.resize(static_cast<std::size_t>(n) * h * w * stem_.width);
  detail::packed_conv(same, a.data(), stem_last_p, stem_last_b.data(), stem_.act, b.data());
  const auto pool = kernels::pool_shape::max_pool(n, h, w, stem_.width, stem_.pool_window, stem_.pool_stride);
  kernels::max_pool2d(pool, b.data(), out.reset(n, pool.out_height(), pool.out_width(), stem_.width));
}

template <class Space>
void static_net<Space>::run_head(const feature_map& in, feature_map& out) const {
  const auto& spec = Space::head;
  const int n = in.n, m = n * in.h * in.w, fm = spec.feature_mix;
  const int fe = spec.has_final_expand() ? spec.final_expand : in.c;  // what the pooling reads
  profiling::scope timing("head");
  pooled_vector<float> head, pooled(static_cast<std::size_t>(n) * fe), mixed;
  const float* pool_in = in.data();
  if (spec.has_final_expand()) {
    head.resize(static_cast<std::size_t>(m) * fe);
    detail::dense_layer(m, in.data(), final_p, final_b.data(), spec.act, head.data());
    pool_in = head.data();
  }
  kernels::global_avg_pool(std::size_t(n), std::size_t(in.h) * in.w, std::size_t(fe), pool_in, pooled.data());
  const float* features = pooled.data();
  if (spec.has_feature_mix()) {
    mixed.resize(static_cast<std::size_t>(n) * fm);
    detail::dense_layer(n, pooled.data(), mix_p, nullptr, spec.act, mixed.data());
    features = mixed.data();
  }
  float* logits = out.reset(n, 1, 1, Space::class_count);
  detail::dense_layer(n, features, classifier_p, classifier_b.data(), activation::none, logits);
}

template <class Space>
std::vector<std::pair<std::string, tensor<float>*>> static_net<Space>::tensors() {
  std::vector<std::pair<std::string, tensor<float>*>> t;
  if (stem_.deep) {
    t = {{"input_stem.0.weight", &stem_w}, {"input_stem.0.bias", &stem_b}};
    if (!stem_.skip) {
      t.push_back({"input_stem.1.weight", &stem_mid_w});
      t.push_back({"input_stem.1.bias", &stem_mid_b});
    }
    t.push_back({"input_stem.2.weight", &stem_last_w});
    t.push_back({"input_stem.2.bias", &stem_last_b});
  } else {
    t = {{"first_conv.weight", &stem_w}, {"first_conv.bias", &stem_b}};
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) blocks[i].name_tensors("blocks." + std::to_string(i) + ".", t);
  if (Space::head.has_final_expand()) {
    t.push_back({"final_expand_layer.weight", &final_w});
    t.push_back({"final_expand_layer.bias", &final_b});
  }
  if (Space::head.has_feature_mix()) t.push_back({"feature_mix_layer.weight", &mix_w});
  t.push_back({"classifier.weight", &classifier_w});
  t.push_back({"classifier.bias", &classifier_b});
  return t;
}

template <class Space>
std::int64_t static_net<Space>::parameter_count() const {
  // Over tensors(), which lists only the parts a block has: an absent part's default tensor is
  // 0-dimensional, and a 0-dimensional tensor holds one element.
  std::size_t n = 0;
  for (const auto& [name, t] : const_cast<static_net&>(*this).tensors()) n += t->size();
  return static_cast<std::int64_t>(n);
}

}  // namespace ofa::nn
