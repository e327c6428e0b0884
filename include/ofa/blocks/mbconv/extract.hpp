#pragma once
/// @file
/// Extraction of one MBConv block: the supernet block's active slices, the kernel transform of
/// the subnet's kernel size applied, BN folded into each convolution.

#include <cstddef>

#include "ofa/autograd/tape.hpp"
#include "ofa/blocks/mbconv/elastic_block.hpp"
#include "ofa/blocks/mbconv/static_block.hpp"
#include "ofa/nn/fold.hpp"

namespace ofa::nn {

/** @brief Fills `out` (shaped from plan `p`) from the supernet's block `b`, BN folded on
 *  `statistics` where given, else on the running statistics. Called under no_grad. */
template <class T>
void extract_block(const mbconv_block<T>& b, const block_plan& p, const bn_statistics<T>* statistics,
                   static_mbconv_block& out) {
  const auto mid = std::size_t(out.mid);
  if (out.has_expand) {
    detail::copy_slice(b.expand_conv->weight.value(), out.expand_w);
    detail::fold(*b.expand_bn, statistics, out.expand_w, out.expand_b, std::size_t(out.in), 1);
  }
  const int kernel = p.kernel;
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
}

}  // namespace ofa::nn
