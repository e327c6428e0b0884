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

#include "ofa/errors.hpp"
#include "ofa/kernels/activation.hpp"
#include "ofa/kernels/conv2d.hpp"
#include "ofa/kernels/depthwise.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/kernels/pooling.hpp"
#include "ofa/kernels/window_pooling.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/profiling.hpp"
#include "ofa/space/make_divisible.hpp"
#include "ofa/space/plan.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::nn {

/** @brief One inference block. An MBConv: [expand 1×1 + bias + act] → k×k depthwise + bias + act →
 *  [SE] → project 1×1 + bias → [+ input]. A bottleneck: expand_* is its first 1×1 (+ act), conv_* its
 *  k×k (stride, + act), project_* its last 1×1; then + the input or + shortcut 1×1 (of the average
 *  pooled input), and act. Weights are dense at their active sizes, BN folded in. */
struct static_block {
  space::block_kind kind = space::block_kind::mbconv;
  int in = 0, mid = 0, out = 0, kernel = 3, stride = 1, se_mid = 0;
  activation act = activation::relu;
  bool has_expand = false, residual = false, has_shortcut_conv = false;
  tensor<float> expand_w, expand_b;          // [mid][in], [mid]
  tensor<float> dw_w, dw_b;                  // [k][k][mid], [mid]
  tensor<float> conv_w, conv_b;              // a bottleneck's [mid][k][k][mid], [mid]
  tensor<float> se_rw, se_rb, se_ew, se_eb;  // [se][mid], [se], [mid][se], [mid]
  tensor<float> project_w, project_b;        // [out][mid], [out]
  tensor<float> shortcut_w, shortcut_b;      // a bottleneck's [out][in], [out]
  // The 1×1 weights packed once for the GEMM micro-kernel (prepare()).
  kernels::packed_weights expand_p, se_rp, se_ep, project_p, shortcut_p, conv_p;

  bool bottleneck() const noexcept { return kind == space::block_kind::bottleneck; }
};

/** @brief An NHWC activation between two stages: its own storage, or a view of the caller's images. */
struct feature_map {
  int n = 0, h = 0, w = 0, c = 0;
  pooled_vector<float> storage;
  const float* external = nullptr;

  const float* data() const { return external ? external : storage.data(); }
  std::size_t size() const { return static_cast<std::size_t>(n) * h * w * c; }
  /** @brief A view of NHWC images (no copy); they must outlive the view. */
  static feature_map view(const tensor<float>& images) {
    feature_map f;
    f.n = static_cast<int>(images.shape()[0]);
    f.h = static_cast<int>(images.shape()[1]);
    f.w = static_cast<int>(images.shape()[2]);
    f.c = static_cast<int>(images.shape()[3]);
    f.external = images.data();
    return f;
  }
  /** @brief Storage for a [n, h, w, c] result. */
  float* reset(int n_, int h_, int w_, int c_) {
    n = n_, h = h_, w = w_, c = c_;
    external = nullptr;
    storage.resize(size());
    return storage.data();
  }
};

template <class Space>
class static_net {
 public:
  using config_type = subnet_config<Space>;

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
  std::vector<static_block> blocks;
  tensor<float> final_w, final_b;  // [F][in], [F]
  tensor<float> mix_w;             // [M][F]; empty where the head has no feature mix
  tensor<float> classifier_w, classifier_b;
  kernels::packed_weights final_p, mix_p, classifier_p, stem_mid_p, stem_last_p;

 private:
  void run_stem(const feature_map& in, feature_map& out) const;
  void run_block(const static_block& blk, const feature_map& in, feature_map& out) const;
  void run_bottleneck(const static_block& blk, const feature_map& in, feature_map& out) const;
  void run_head(const feature_map& in, feature_map& out) const;
};

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// y[m][w.n] = act(x[m][w.k]·wᵀ + b): one GEMM with bias and activation fused into its stores.
inline void dense_layer(int m, const float* x, const kernels::packed_weights& w, const float* b, activation act,
                        float* y) {
  kernels::gemm_packed(m, x, w.k, w, 0.0f, y, w.n, b, act);
}
/// A 1×1 layer's product as its profile row names it: rows (pixels) × in → out channels.
inline std::string gemm_shape_text(int rows, int in, int out) {
  return std::to_string(rows) + "x" + std::to_string(in) + "->" + std::to_string(out);
}
inline tensor<float> zeros(std::initializer_list<std::size_t> shape) { return make_tensor<float>(shape_type(shape)); }

/// A dense k×k convolution as one GEMM with pre-packed weights: its input's k×k patches (im2col)
/// times the weight [O][k·k·I], bias and activation in the stores.
inline void packed_conv(const kernels::conv_shape& s, const float* in, const kernels::packed_weights& w, const float* b,
                        activation act, float* y) {
  const int m = s.batch * s.out_height() * s.out_width();
  pooled_vector<float> cols(static_cast<std::size_t>(m) * static_cast<std::size_t>(w.k));
  kernels::im2col(s, in, cols.data());
  dense_layer(m, cols.data(), w, b, act, y);
}
}  // namespace detail

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
  for (const auto& p : plan.blocks) {
    static_block b;
    b.kind = p.kind;
    b.in = p.in_channels;
    b.mid = p.mid_channels;
    b.out = p.out_channels;
    b.kernel = p.kernel;
    b.stride = p.stride;
    b.act = p.act;
    b.has_expand = p.has_expand;
    b.residual = p.residual();
    if (b.bottleneck()) {
      b.expand_w = z(b.mid, b.in);
      b.expand_b = z(b.mid);
      b.conv_w = z(b.mid, b.kernel, b.kernel, b.mid);
      b.conv_b = z(b.mid);
      b.project_w = z(b.out, b.mid);
      b.project_b = z(b.out);
      b.has_shortcut_conv = p.has_shortcut_conv;
      if (b.has_shortcut_conv) {
        b.shortcut_w = z(b.out, b.in);
        b.shortcut_b = z(b.out);
      }
      blocks.push_back(std::move(b));
      continue;
    }
    if (b.has_expand) {
      b.expand_w = z(b.mid, b.in);
      b.expand_b = z(b.mid);
    }
    b.dw_w = z(b.kernel, b.kernel, b.mid);
    b.dw_b = z(b.mid);
    if (p.has_se()) {
      b.se_mid = p.se_channels;
      b.se_rw = z(b.se_mid, b.mid);
      b.se_rb = z(b.se_mid);
      b.se_ew = z(b.mid, b.se_mid);
      b.se_eb = z(b.mid);
    }
    b.project_w = z(b.out, b.mid);
    b.project_b = z(b.out);
    blocks.push_back(std::move(b));
  }
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
  auto pack = [](const tensor<float>& w) {  // [out][in], or a dense conv's [out][k][k][in] as [out][k·k·in]
    const int out = static_cast<int>(w.shape()[0]), in = static_cast<int>(w.size() / w.shape()[0]);
    return kernels::pack_weights(w.data(), in, out, in);
  };
  if (stem_.deep) {
    if (!stem_.skip) stem_mid_p = pack(stem_mid_w);
    stem_last_p = pack(stem_last_w);
  }
  for (auto& b : blocks) {
    if (b.has_expand) b.expand_p = pack(b.expand_w);
    if (b.se_mid > 0) {
      b.se_rp = pack(b.se_rw);
      b.se_ep = pack(b.se_ew);
    }
    b.project_p = pack(b.project_w);
    if (b.has_shortcut_conv) b.shortcut_p = pack(b.shortcut_w);
    if (b.bottleneck()) b.conv_p = pack(b.conv_w);
  }
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
    run_block(blocks[i - 1], in, out);
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
void static_net<Space>::run_bottleneck(const static_block& blk, const feature_map& in, feature_map& out) const {
  const int n = in.n, h = in.h, w = in.w, m = n * h * w;
  std::optional<profiling::scope> timing;
  timing.emplace("bottleneck_1x1");
  pooled_vector<float> reduced(static_cast<std::size_t>(m) * blk.mid);
  detail::dense_layer(m, in.data(), blk.expand_p, blk.expand_b.data(), blk.act, reduced.data());
  const kernels::conv_shape cs{n, h, w, blk.mid, blk.kernel, blk.stride};
  const int oh = cs.out_height(), ow = cs.out_width(), om = n * oh * ow;
  pooled_vector<float> middle(static_cast<std::size_t>(om) * blk.mid);
  timing.emplace("bottleneck_3x3");
  detail::packed_conv(cs, reduced.data(), blk.conv_p, blk.conv_b.data(), blk.act, middle.data());
  // The shortcut first, into the output; the last 1×1 then adds onto it (beta 1) with its bias and
  // the block's activation in the same stores: no separate add and activation passes.
  float* y = out.reset(n, oh, ow, blk.out);
  timing.emplace("shortcut");
  if (blk.has_shortcut_conv) {
    const float* shortcut_in = in.data();
    pooled_vector<float> pooled;
    if (blk.stride > 1) {
      const auto pool = kernels::pool_shape::average_pool(n, h, w, blk.in, blk.stride);
      pooled.resize(static_cast<std::size_t>(om) * blk.in);
      kernels::average_pool2d(pool, in.data(), pooled.data());
      shortcut_in = pooled.data();
    }
    detail::dense_layer(om, shortcut_in, blk.shortcut_p, blk.shortcut_b.data(), activation::none, y);
  } else {
    std::copy_n(in.data(), out.size(), y);
  }
  timing.emplace("bottleneck_1x1");
  kernels::gemm_packed(om, middle.data(), blk.mid, blk.project_p, 1.0f, y, blk.out, blk.project_b.data(), blk.act);
}

template <class Space>
void static_net<Space>::run_block(const static_block& blk, const feature_map& in, feature_map& out) const {
  if (blk.bottleneck()) return run_bottleneck(blk, in, out);
  const int n = in.n, h = in.h, w = in.w, m = n * h * w;
  std::optional<profiling::scope> timing;
  pooled_vector<float> mid_buf;
  const float* mid_in = in.data();
  if (blk.has_expand) {
    timing.emplace(profiling::label("expand_1x1", [&] { return detail::gemm_shape_text(m, blk.in, blk.mid); }));
    mid_buf.resize(static_cast<std::size_t>(m) * blk.mid);
    detail::dense_layer(m, in.data(), blk.expand_p, blk.expand_b.data(), blk.act, mid_buf.data());
    mid_in = mid_buf.data();
  }
  kernels::conv_shape ds{n, h, w, blk.mid, blk.kernel, blk.stride};
  const int oh = ds.out_height(), ow = ds.out_width(), om = n * oh * ow;
  pooled_vector<float> dw_buf(static_cast<std::size_t>(om) * blk.mid);
  timing.emplace(profiling::label("depthwise", [&] {
    return std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(blk.mid) + " k" +
           std::to_string(blk.kernel) + " s" + std::to_string(blk.stride);
  }));
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
  float* y = out.reset(n, oh, ow, blk.out);
  timing.emplace(profiling::label("project_1x1", [&] { return detail::gemm_shape_text(om, blk.mid, blk.out); }));
  detail::dense_layer(om, dw_buf.data(), blk.project_p, blk.project_b.data(), activation::none, y);
  if (blk.residual) {
    timing.emplace("residual_add");
    const float* x = in.data();
    for (std::size_t i = 0; i < out.size(); ++i) y[i] += x[i];
  }
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
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    auto& b = blocks[i];
    const std::string p = "blocks." + std::to_string(i) + ".";
    if (b.bottleneck()) {
      t.push_back({p + "conv1.weight", &b.expand_w});
      t.push_back({p + "conv1.bias", &b.expand_b});
      t.push_back({p + "conv2.weight", &b.conv_w});
      t.push_back({p + "conv2.bias", &b.conv_b});
      t.push_back({p + "conv3.weight", &b.project_w});
      t.push_back({p + "conv3.bias", &b.project_b});
      if (b.has_shortcut_conv) {
        t.push_back({p + "downsample.weight", &b.shortcut_w});
        t.push_back({p + "downsample.bias", &b.shortcut_b});
      }
      continue;
    }
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
