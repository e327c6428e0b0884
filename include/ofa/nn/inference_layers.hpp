#pragma once
/// @file
/// The layers of inference blocks (static_net and every block kind's static block): a 1×1
/// layer as one GEMM on pre-packed weights with bias and activation in its stores, a dense k×k
/// convolution as im2col and that GEMM, and the text profiles label a product with.

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <string>

#include "ofa/kernels/conv2d.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/parallel/loops.hpp"
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

/// A dense k×k convolution as GEMMs with pre-packed weights: its input's k×k patches (im2col)
/// times the weight [O][k·k·I], bias and activation in the stores. The patches are made and
/// multiplied a block of output pixels at a time, each block on one thread: the whole patch
/// matrix is k² times the input (7 MB for a 3×3 over 56×56×64), written to memory and read back,
/// which cost as much as the product; a block of about 256 KB stays in the core's L2 between the
/// two.
inline void packed_conv(const kernels::conv_shape& s, const float* in, const kernels::packed_weights& w, const float* b,
                        activation act, float* y) {
  const std::size_t m = static_cast<std::size_t>(s.batch) * s.out_height() * s.out_width(),
                    k = static_cast<std::size_t>(w.k), n = static_cast<std::size_t>(w.n);
  // Blocks of about 256 KB of patches (at least 48 rows: whole register tiles), then the rows
  // spread evenly over that many blocks, so that no block is a sliver of one or two rows.
  constexpr std::size_t block_floats = 64 * 1024, min_rows = 48;
  const std::size_t target_rows = std::max(min_rows, block_floats / std::max<std::size_t>(k, 1)),
                    blocks = (m + target_rows - 1) / target_rows, rows = blocks == 0 ? 0 : (m + blocks - 1) / blocks;
  parallel::for_index(std::size_t(0), blocks, [&](std::size_t block) {
    const std::size_t first = block * rows, count = std::min(rows, m - first);
    pooled_vector<float> cols(count * k);
    kernels::im2col_pixels(s, in, first, count, cols.data());
    dense_layer(static_cast<int>(count), cols.data(), w, b, act, y + first * n);
  });
}
}  // namespace ofa::nn::detail
