#pragma once
/// @file
/// extract(): a subnet of the supernet as a standalone static_net, without
/// retraining: the active slices of every weight, kernel transforms applied, BN
/// folded into the convolutions, on the running statistics or on statistics
/// recalibrated for this subnet (elastic_net::recalibrate). The stem and head here;
/// each block by its kind's extract_block (include/ofa/blocks/<kind>/extract.hpp).

#include <cstddef>

#include "ofa/autograd/tape.hpp"
#include "ofa/blocks/elastic_blocks.hpp"
#include "ofa/nn/bn_statistics.hpp"
#include "ofa/nn/elastic_net.hpp"
#include "ofa/nn/fold.hpp"
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

template <class Space, class T>
static_net<Space> extract(const elastic_net<Space, T>& net, const subnet_config<Space>& config,
                          const bn_statistics<T>* statistics) {
  config.validate();
  if (statistics && statistics->layer_count() != net.batch_norm_count())
    throw logic_error("ofa::nn::extract: the BN statistics belong to a network of another space");
  autograd::no_grad<T> off;
  static_net<Space> s(config);
  if constexpr (Space::stem.deep()) {
    const auto& stem = *net.deep_stem_;
    detail::extract_conv(stem.first, stem.first_bn, statistics, s.stem_w, s.stem_b);
    if (!s.stem_.skip) detail::extract_conv(stem.middle, stem.middle_bn, statistics, s.stem_mid_w, s.stem_mid_b);
    detail::extract_conv(stem.last, stem.last_bn, statistics, s.stem_last_w, s.stem_last_b);
  } else {
    detail::copy_prefix(net.stem_weight.value(), s.stem_w);
    detail::fold(net.stem_bn, statistics, s.stem_w, s.stem_b, s.stem_w.size() / s.stem_w.shape()[0], 1);
  }
  const auto plan = plan_network(config);  // static_net's blocks are the plan's, in order
  for (std::size_t i = 0; i < plan.blocks.size(); ++i)
    extract_block(net.blocks_[plan.blocks[i].supernet_index()], plan.blocks[i], statistics, s.blocks[i]);
  if constexpr (Space::head.has_final_expand()) {
    detail::copy_slice(net.final_expand.weight.value(), s.final_w);
    detail::fold(net.final_expand_bn, statistics, s.final_w, s.final_b, s.final_w.size() / s.final_w.shape()[0], 1);
  }
  if (net.feature_mix) detail::copy_slice(net.feature_mix->weight.value(), s.mix_w);
  detail::copy_slice(net.classifier_w.value(), s.classifier_w);
  detail::copy_prefix(net.classifier_b.value(), s.classifier_b);
  s.prepare();
  return s;
}

}  // namespace ofa::nn
