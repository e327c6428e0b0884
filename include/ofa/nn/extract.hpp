#pragma once
/// @file
/// extract(): a subnet of the supernet as a standalone static_net, without
/// retraining: the active slices of every weight, kernel transforms applied, BN
/// folded into the convolutions, on the running statistics or on statistics
/// recalibrated for this subnet (elastic_net::recalibrate).

#include <cstddef>

#include "ofa/autograd/tape.hpp"
#include "ofa/kernels/batch_norm.hpp"
#include "ofa/nn/bn_statistics.hpp"
#include "ofa/nn/elastic_net.hpp"
#include "ofa/nn/static_net.hpp"

namespace ofa::nn {

/** @brief `config` of `supernet` as a static_net; BN folded on `statistics` where given (they
 *  must be `config`'s, from supernet.recalibrate), else on the running statistics. The supernet
 *  is not changed. */
template <class Space, class T>
static_net<Space> extract(const elastic_net<Space, T>& supernet, const subnet_config<Space>& config,
                          const bn_statistics<T>* statistics = nullptr);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// Rows [0, rows) × cols [0, cols) of a [*, ld] matrix into `out` (already shaped).
template <class T>
void copy_slice(const tensor<T>& m, tensor<float>& out) {
  const std::size_t ld = m.shape()[1], rows = out.shape()[0], cols = out.shape()[1];
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) out.data()[r * cols + c] = static_cast<float>(m.data()[r * ld + c]);
}
template <class T>
void copy_prefix(const tensor<T>& from, tensor<float>& out) {
  for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = static_cast<float>(from.data()[i]);
}

/// BN's statistics for folding: the recalibrated ones of its layer where given, else the running ones.
template <class T>
void fold(const elastic_batch_norm<T>& bn, const bn_statistics<T>* statistics, tensor<float>& w, tensor<float>& bias,
          std::size_t channel_stride, std::size_t tap_stride) {
  const std::size_t c = bias.size();
  const auto* given = statistics ? statistics->find(bn.index) : nullptr;
  if (given && given->channels < c)
    throw logic_error("ofa::nn::extract: the BN statistics were measured on a narrower subnet than this config; "
                      "recalibrate the config being extracted");
  const T* mean = given ? given->mean.data() : bn.running_mean.data();
  const T* var = given ? given->var.data() : bn.running_var.data();
  std::vector<float> gamma(c), beta(c), m(c), v(c);
  for (std::size_t j = 0; j < c; ++j) {
    gamma[j] = static_cast<float>(bn.gamma.value().data()[j]);
    beta[j] = static_cast<float>(bn.beta.value().data()[j]);
    m[j] = static_cast<float>(mean[j]);
    v[j] = static_cast<float>(var[j]);
  }
  const kernels::batch_norm_params<float> p{gamma.data(), beta.data(), m.data(), v.data(), 0.0f,
                                            static_cast<float>(bn.eps)};
  kernels::fold_batch_norm(c, w.size() / c, w.data(), channel_stride, tap_stride, p, bias.data());
}
}  // namespace detail

namespace detail {
/// A ResNet's layers: each conv's active slice with its BN folded in.
template <class Space, class T>
void extract_resnet(const elastic_net<Space, T>& net, const subnet_config<Space>& config,
                    const bn_statistics<T>* statistics, static_net<Space>& s) {
  const auto rows = [](const tensor<float>& w) { return w.size() / w.shape()[0]; };
  const auto conv = [&](const elastic_conv<T>& layer, const elastic_batch_norm<T>& bn, tensor<float>& w,
                        tensor<float>& b) {
    // The autograd op's slice (the caller's no_grad: a plain copy), converted to float.
    copy_prefix(autograd::conv_weight_slice(layer.weight, int(w.shape()[0]), int(w.shape()[3])).value(), w);
    fold(bn, statistics, w, b, rows(w), 1);
  };
  const auto pointwise = [&](const elastic_pointwise<T>& layer, const elastic_batch_norm<T>& bn, tensor<float>& w,
                             tensor<float>& b) {
    copy_slice(layer.weight.value(), w);
    fold(bn, statistics, w, b, rows(w), 1);
  };
  const auto& stem = *net.deep_stem_;
  conv(stem.first, stem.first_bn, s.stem_w, s.stem_b);
  if (!s.stem_.skip) conv(stem.middle, stem.middle_bn, s.stem_mid_w, s.stem_mid_b);
  conv(stem.last, stem.last_bn, s.stem_last_w, s.stem_last_b);
  const auto plan = plan_network(config);
  for (std::size_t i = 0; i < plan.blocks.size(); ++i) {
    const auto& b = net.bottlenecks_[std::size_t(plan.blocks[i].slot)];
    auto& out = s.blocks[i];
    pointwise(b.reduce, b.reduce_bn, out.expand_w, out.expand_b);
    conv(b.conv, b.conv_bn, out.conv_w, out.conv_b);
    pointwise(b.expand, b.expand_bn, out.project_w, out.project_b);
    if (out.has_shortcut_conv) pointwise(*b.shortcut, *b.shortcut_bn, out.shortcut_w, out.shortcut_b);
  }
  copy_slice(net.classifier_w.value(), s.classifier_w);
  copy_prefix(net.classifier_b.value(), s.classifier_b);
  s.prepare();
}
}  // namespace detail

template <class Space, class T>
static_net<Space> extract(const elastic_net<Space, T>& net, const subnet_config<Space>& config,
                          const bn_statistics<T>* statistics) {
  config.validate();
  if (statistics && statistics->layer_count() != net.batch_norm_count())
    throw logic_error("ofa::nn::extract: the BN statistics belong to a network of another space");
  autograd::no_grad<T> off;
  static_net<Space> s(config);
  const auto rows = [](const tensor<float>& w) { return w.size() / w.shape()[0]; };
  if constexpr (elastic_net<Space, T>::resnet) {
    detail::extract_resnet(net, config, statistics, s);
    return s;
  } else {
    detail::copy_prefix(net.stem_weight.value(), s.stem_w);
    detail::fold(net.stem_bn, statistics, s.stem_w, s.stem_b, rows(s.stem_w), 1);

    auto fill_block = [&](const mbconv_block<T>& b, int kernel, static_block& out) {
      const auto mid = std::size_t(out.mid);
      if (out.has_expand) {
        detail::copy_slice(b.expand_conv->weight.value(), out.expand_w);
        detail::fold(*b.expand_bn, statistics, out.expand_w, out.expand_b, std::size_t(out.in), 1);
      }
      const auto k = b.depth_conv.active_kernel(kernel, out.mid);  // [K'][K'][C'] with centre k, first mid channels
      const auto& kv = k.value();
      const auto kfull = kv.shape()[0], cmax = kv.shape()[2];
      const auto off = (kfull - std::size_t(kernel)) / 2;
      for (std::size_t ky = 0; ky < std::size_t(kernel); ++ky)
        for (std::size_t kx = 0; kx < std::size_t(kernel); ++kx)
          for (std::size_t c = 0; c < mid; ++c)
            out.dw_w.data()[(ky * kernel + kx) * mid + c] =
                static_cast<float>(kv.data()[((ky + off) * kfull + kx + off) * cmax + c]);
      detail::fold(b.depth_bn, statistics, out.dw_w, out.dw_b, 1, mid);
      if (b.se) {
        detail::copy_slice(b.se->reduce_w.value(), out.se_rw);
        detail::copy_prefix(b.se->reduce_b.value(), out.se_rb);
        detail::copy_slice(b.se->expand_w.value(), out.se_ew);
        detail::copy_prefix(b.se->expand_b.value(), out.se_eb);
      }
      detail::copy_slice(b.project_conv.weight.value(), out.project_w);
      detail::fold(b.project_bn, statistics, out.project_w, out.project_b, mid, 1);
    };
    const auto plan = plan_network(config);  // static_net's blocks are the plan's, in order
    for (std::size_t i = 0; i < plan.blocks.size(); ++i)
      fill_block(net.blocks_[plan.blocks[i].supernet_index()], plan.blocks[i].kernel, s.blocks[i]);
    detail::copy_slice(net.final_expand.weight.value(), s.final_w);
    detail::fold(net.final_expand_bn, statistics, s.final_w, s.final_b, rows(s.final_w), 1);
    if (net.feature_mix) detail::copy_slice(net.feature_mix->weight.value(), s.mix_w);
    detail::copy_prefix(net.classifier_w.value(), s.classifier_w);
    detail::copy_prefix(net.classifier_b.value(), s.classifier_b);
    s.prepare();
    return s;
  }
}

}  // namespace ofa::nn
