#pragma once
/// @file
/// The layers of inference blocks (static_net and every block kind's static block): a 1×1
/// layer as one GEMM on pre-packed weights with bias and activation in its stores, a dense k×k
/// convolution as im2col and that GEMM, and the text profiles label a product with.

#include <cstddef>
#include <initializer_list>
#include <string>

#include "ofa/kernels/conv2d.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/tensor/pool.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::nn::detail {

/// y[m][w.n] = act(x[m][w.k]·wᵀ + b): one GEMM with bias and activation fused into its stores.
inline void dense_layer(int m, const float* x, const kernels::packed_weights& w, const float* b, activation act,
                        float* y) {
  kernels::gemm_packed(m, x, w.k, w, 0.0f, y, w.n, b, act);
}
/// A 1×1 layer's product as its profile row names it: rows (pixels) × in → out channels.
inline std::string gemm_shape_text(int rows, int in, int out) {
  return std::to_string(rows) + "x" + std::to_string(in) + "->" + std::to_string(out);
}
inline tensor<float> zeros(std::initializer_list<std::size_t> shape) {
  return make_tensor<float>(shape_type(shape));
}
/// A weight [out][in], or a dense conv's [out][k][k][in] as [out][k·k·in], packed for dense_layer.
inline kernels::packed_weights pack(const tensor<float>& w) {
  const int out = static_cast<int>(w.shape()[0]), in = static_cast<int>(w.size() / w.shape()[0]);
  return kernels::pack_weights(w.data(), in, out, in);
}

/// A dense k×k convolution as one GEMM with pre-packed weights: its input's k×k patches (im2col)
/// times the weight [O][k·k·I], bias and activation in the stores.
inline void packed_conv(const kernels::conv_shape& s, const float* in, const kernels::packed_weights& w, const float* b,
                        activation act, float* y) {
  const int m = s.batch * s.out_height() * s.out_width();
  pooled_vector<float> cols(static_cast<std::size_t>(m) * static_cast<std::size_t>(w.k));
  kernels::im2col(s, in, cols.data());
  dense_layer(m, cols.data(), w, b, act, y);
}

}  // namespace ofa::nn::detail
