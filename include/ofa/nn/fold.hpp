#pragma once
/// @file
/// What extraction does to every layer: copy the active slice of a max-size weight, and fold
/// BN (on a subnet's recalibrated statistics, or the running ones) into the convolution before
/// it. Every block kind's extract_block is made of these.

#include <cstddef>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/kernels/batch_norm.hpp"
#include "ofa/nn/bn_statistics.hpp"
#include "ofa/nn/elastic_layers.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::nn {

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
    throw logic_error(
        "ofa::nn::extract: the BN statistics were measured on a narrower subnet than this config; "
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
  const kernels::batch_norm_params<float> p{gamma.data(), beta.data(), m.data(),
                                            v.data(),     0.0f,        static_cast<float>(bn.eps)};
  kernels::fold_batch_norm(c, w.size() / c, w.data(), channel_stride, tap_stride, p, bias.data());
}
/// A dense conv's active slice (the autograd op's, a plain copy under no_grad) with its BN folded in.
template <class T>
void extract_conv(const elastic_conv<T>& layer, const elastic_batch_norm<T>& bn, const bn_statistics<T>* statistics,
                  tensor<float>& w, tensor<float>& b) {
  copy_prefix(autograd::conv_weight_slice(layer.weight, int(w.shape()[0]), int(w.shape()[3])).value(), w);
  fold(bn, statistics, w, b, w.size() / w.shape()[0], 1);
}
}  // namespace detail

}  // namespace ofa::nn
