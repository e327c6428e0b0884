#pragma once
/// @file
/// Dense k×k convolution on NHWC tensors (the stem: 3 input channels, 3×3,
/// stride 2), general kernel and stride, "same" padding. Lowered to im2col +
/// GEMM: the column matrix is [N·OH·OW, k·k·Cin] and the weight [Cout][k][k][Cin].
/// FLOPs 2·N·OH·OW·Cout·k²·Cin.

#include <algorithm>
#include <cstddef>
#include <vector>

#include "ofa/kernels/depthwise.hpp"  // conv_shape
#include "ofa/kernels/gemm.hpp"
#include "ofa/parallel/arena.hpp"

#include "ofa/tensor/pool.hpp"

namespace ofa::kernels {

/** @brief cols[(n,oy,ox), (ky,kx,ci)] = in[n, oy·s-p+ky, ox·s-p+kx, ci], zero outside. */
template <class T>
void im2col(const conv_shape& s, const T* in, T* cols) {
  const int oh = s.out_height(), ow = s.out_width(), p = s.pad(), k = s.kernel, C = s.channels;
  const std::size_t row_len = static_cast<std::size_t>(k) * k * C;
  parallel::for_chunks(static_cast<std::size_t>(s.batch) * oh, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t row = b; row < e; ++row) {
      const int n = static_cast<int>(row) / oh, oy = static_cast<int>(row) % oh;
      for (int ox = 0; ox < ow; ++ox) {
        T* out = cols + (row * ow + ox) * row_len;
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx) {
            const int iy = oy * s.stride - p + ky, ix = ox * s.stride - p + kx;
            T* dst = out + (ky * k + kx) * C;
            if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) {
              std::fill(dst, dst + C, T(0));
            } else {
              const T* src = in + ((static_cast<std::size_t>(n) * s.height + iy) * s.width + ix) * C;
              std::copy(src, src + C, dst);
            }
          }
      }
    }
  });
}

/** @brief The adjoint of im2col: d_in (overwritten) sums the column entries that read each pixel. */
template <class T>
void col2im(const conv_shape& s, const T* cols, T* d_in) {
  const int oh = s.out_height(), ow = s.out_width(), p = s.pad(), k = s.kernel, C = s.channels;
  const std::size_t row_len = static_cast<std::size_t>(k) * k * C;
  std::fill(d_in, d_in + static_cast<std::size_t>(s.batch) * s.height * s.width * C, T(0));
  // Images are independent: parallel over n, sequential (race-free) inside.
  parallel::for_chunks(static_cast<std::size_t>(s.batch), 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t n = b; n < e; ++n)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox) {
          const T* src = cols + ((n * oh + oy) * ow + ox) * row_len;
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const int iy = oy * s.stride - p + ky, ix = ox * s.stride - p + kx;
              if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
              T* dst = d_in + ((n * s.height + iy) * s.width + ix) * C;
              const T* col = src + (ky * k + kx) * C;
              for (int c = 0; c < C; ++c) dst[c] += col[c];
            }
        }
  });
}

/** @brief out[N,OH,OW,Cout] = conv(in, weight[Cout][k][k][Cin]). */
template <class T>
void conv2d_forward(const conv_shape& s, int out_channels, const T* in, const T* weight, T* out) {
  const int m = s.batch * s.out_height() * s.out_width(), kk = s.kernel * s.kernel * s.channels;
  pooled_vector<T> cols(static_cast<std::size_t>(m) * kk);
  im2col(s, in, cols.data());
  gemm_any<T>(trans::no, trans::yes, m, out_channels, kk, T(1), cols.data(), kk, weight, kk, T(0), out, out_channels);
}

/** @brief d_weight += dYᵀ·cols when d_weight is not null; d_in = col2im(dY·W) when d_in is not null. */
template <class T>
void conv2d_backward(const conv_shape& s, int out_channels, const T* in, const T* weight, const T* d_out, T* d_in,
                     T* d_weight) {
  const int m = s.batch * s.out_height() * s.out_width(), kk = s.kernel * s.kernel * s.channels;
  pooled_vector<T> cols(static_cast<std::size_t>(m) * kk);
  if (d_weight) {
    im2col(s, in, cols.data());
    gemm_any<T>(trans::yes, trans::no, out_channels, kk, m, T(1), d_out, out_channels, cols.data(), kk, T(1), d_weight,
                kk);
  }
  if (d_in) {
    gemm_any<T>(trans::no, trans::no, m, kk, out_channels, T(1), d_out, out_channels, weight, kk, T(0), cols.data(),
                kk);
    col2im(s, cols.data(), d_in);
  }
}

}  // namespace ofa::kernels
