#pragma once
/// @file
/// Dense k×k convolution on NHWC tensors (the stem: 3 input channels, 3×3,
/// stride 2), general kernel and stride, "same" padding. A convolution with few
/// input taps (k·k·Cin <= 64, the stem) runs directly, vectorised over output
/// channels; others are lowered to im2col + GEMM: the column matrix is
/// [N·OH·OW, k·k·Cin] and the weight [Cout][k][k][Cin].
/// FLOPs 2·N·OH·OW·Cout·k²·Cin.

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>
#include "ofa/config.hpp"

#include <xsimd/xsimd.hpp>

#include "ofa/kernels/depthwise.hpp"  // conv_shape
#include "ofa/kernels/gemm.hpp"
#include "ofa/kernels/simd.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/parallel/loops.hpp"

#include "ofa/tensor/pool.hpp"

namespace ofa::kernels {

/** @brief Rows [first, first + count) of im2col's matrix (output pixels in (n, oy, ox) order), on
 *  the calling thread: cols[i, (ky,kx,ci)] = in[n, oy·s-p+ky, ox·s-p+kx, ci], zero outside. */
template <class T>
void im2col_pixels(const conv_shape& s, const T* in, std::size_t first, std::size_t count, T* cols) {
  const int oh = s.out_height(), ow = s.out_width(), p = s.pad(), k = s.kernel, C = s.channels;
  const std::size_t row_len = static_cast<std::size_t>(k) * k * C;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t pixel = first + i;
    const int ox = static_cast<int>(pixel % ow), oy = static_cast<int>(pixel / ow % oh),
              n = static_cast<int>(pixel / ow / oh);
    T* out = cols + i * row_len;
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

/** @brief cols[(n,oy,ox), (ky,kx,ci)] = in[n, oy·s-p+ky, ox·s-p+kx, ci], zero outside. */
template <class T>
void im2col(const conv_shape& s, const T* in, T* cols) {
  const std::size_t ow = static_cast<std::size_t>(s.out_width()),
                    row_len = static_cast<std::size_t>(s.kernel) * s.kernel * s.channels;
  parallel::for_chunks(static_cast<std::size_t>(s.batch) * s.out_height(), 1, [&](std::size_t b, std::size_t e) {
    im2col_pixels(s, in, b * ow, (e - b) * ow, cols + b * ow * row_len);
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

namespace detail {
/// The direct kernels work on blocks of this many output pixels of one row.
inline constexpr int direct_conv_block = 8;
/// Floats of input one block reads in one row of taps: (block − 1)·stride + k pixels.
inline int direct_conv_block_input(const conv_shape& s) {
  return ((direct_conv_block - 1) * s.stride + s.kernel) * s.channels;
}
/// The most of them a block at the image's edge copies, zero-padded, to its stack.
inline constexpr int direct_conv_max_block_input = 1024;

/// A stem-like convolution (few input taps, at least one vector of output channels) runs
/// directly: im2col would copy k·k·Cin floats per pixel for a GEMM with K = 27, N = 16.
template <class Arch>
bool direct_conv_fits(const conv_shape& s, int out_channels) {
  return s.kernel * s.kernel * s.channels <= 64 && direct_conv_block_input(s) <= direct_conv_max_block_input &&
         out_channels >= static_cast<int>(xsimd::batch<float, Arch>::size);
}

/// The input a block of output pixels starting at ox0 reads in input row iy: a pointer into the
/// image when the block's taps all lie inside it, else a copy in `local` with zeros for the
/// padding, so that the row's ends run the same code as its middle (pixel by pixel with
/// checked taps, they took a third of the stem's time).
inline const float* direct_conv_block_row(const conv_shape& s, const float* in, int n, int iy, int ox0, bool inside,
                                          float* local) {
  const int C = s.channels, x0 = ox0 * s.stride - s.pad();
  const float* row = in + (static_cast<std::ptrdiff_t>(n) * s.height + iy) * s.width * C;
  if (inside) return row + static_cast<std::ptrdiff_t>(x0) * C;
  const int pixels = direct_conv_block_input(s) / C;
  for (int q = 0; q < pixels; ++q) {
    const int ix = x0 + q;
    for (int ci = 0; ci < C; ++ci) local[q * C + ci] = ix >= 0 && ix < s.width ? row[ix * C + ci] : 0.0f;
  }
  return local;
}

/// Calls f(step): as std::integral_constant<int, 6> for the stem's pixel step (stride 2 · 3
/// channels), so that `j * step` folds to a constant, else as the runtime int.
template <class F>
void with_pixel_step(int step, const F& f) {
  if (step == 6)
    f(std::integral_constant<int, 6>{});
  else
    f(step);
}

/// The weight [Cout][tap] transposed to [tap][Cout]: one vector of output channels per tap.
inline pooled_vector<float> taps_by_channel(const float* weight, int out_channels, int taps) {
  pooled_vector<float> t(static_cast<std::size_t>(taps) * out_channels);
  for (int o = 0; o < out_channels; ++o)
    for (int i = 0; i < taps; ++i) t[static_cast<std::size_t>(i) * out_channels + o] = weight[o * taps + i];
  return t;
}

struct direct_conv_forward_kernel {
  template <class Arch>
  bool operator()(Arch, const conv_shape& s, int out_channels, const float* in, const float* weight, float* out,
                  const float* bias, activation act) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size);
    if (!direct_conv_fits<Arch>(s, out_channels)) return false;
    const int oh = s.out_height(), ow = s.out_width(), taps = s.kernel * s.kernel * s.channels;
    const auto wt = taps_by_channel(weight, out_channels, taps);
    constexpr int block = direct_conv_block;  // output pixels per register block: 8 independent FMA chains
    const int p = s.pad(), k = s.kernel, C = s.channels;
    // The input step between neighbouring output pixels, stride·Cin: a constant for the stem
    // (2·3), so that the block's broadcasts address one register plus fixed offsets (as a
    // runtime value, eight index registers spilled).
    with_pixel_step(s.stride * C, [&](auto step) {
      parallel::for_index(0, s.batch * oh, [&](int row) {
        const int n = row / oh, oy = row % oh;
        float* out_row = out + static_cast<std::ptrdiff_t>(row) * ow * out_channels;
        alignas(64) float local[direct_conv_max_block_input];
        for (int ox0 = 0; ox0 < ow; ox0 += block) {
          // Inside: every tap of the block in the image (then all `block` pixels are outputs).
          const bool inside = ox0 * s.stride - p >= 0 && (ox0 + block - 1) * s.stride - p + k <= s.width;
          const int valid = std::min(block, ow - ox0);
          for (int c0 = 0; c0 < out_channels; c0 += width) {
            // Channel vectors; the last overlaps the one before when Cout is not a multiple of the width.
            const int c = c0 + width <= out_channels ? c0 : out_channels - width;
            batch acc[block];
            for (auto& a : acc) a = batch(0.0f);
            for (int ky = 0; ky < k; ++ky) {
              const int iy = oy * s.stride - p + ky;
              if (iy < 0 || iy >= s.height) continue;
              const float* px = direct_conv_block_row(s, in, n, iy, ox0, inside, local);
              for (int t = 0; t < k * C; ++t) {  // (kx, ci) of this row of taps
                const batch wv =
                    batch::load_unaligned(wt.data() + static_cast<std::ptrdiff_t>(ky * k * C + t) * out_channels + c);
                for (int j = 0; j < block; ++j) acc[j] = xsimd::fma(batch(px[j * step + t]), wv, acc[j]);
              }
            }
            const batch b = bias ? batch::load_unaligned(bias + c) : batch(0.0f);  // fused into the store
            for (int j = 0; j < valid; ++j)
              apply_activation(act, acc[j] + b)
                  .store_unaligned(out_row + static_cast<std::ptrdiff_t>(ox0 + j) * out_channels + c);
          }
        }
      });
    });
    return true;
  }
};

struct direct_conv_weight_gradient_kernel {
  /// d_weight[Cout][tap] += Σ_pixels dY[pixel][Cout]·in[pixel's tap]; fixed row chunks added in order.
  template <class Arch>
  bool operator()(Arch, const conv_shape& s, int out_channels, const float* in, const float* d_out,
                  float* d_weight) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size);
    if (!direct_conv_fits<Arch>(s, out_channels)) return false;
    const int oh = s.out_height(), ow = s.out_width(), taps = s.kernel * s.kernel * s.channels;
    const std::size_t rows = static_cast<std::size_t>(s.batch) * oh,
                      size = static_cast<std::size_t>(taps) * out_channels;
    pooled_vector<float> sum(size, 0.0f);     // [tap][Cout]
    constexpr int block = direct_conv_block;  // output pixels per register block
    const int p = s.pad(), k = s.kernel, C = s.channels;
    // When Cout is not a multiple of the width, the last vector overlaps the one before it; its
    // overlapping lanes must add zero. The lanes it owns, computed once:
    const auto owned = lane_at_least<batch>(out_channels % width == 0 ? 0 : width - out_channels % width);
    auto add_rows = [&](std::size_t begin, std::size_t end, float* acc, auto step) {
      for (std::size_t row = begin; row < end; ++row) {
        const int n = static_cast<int>(row) / oh, oy = static_cast<int>(row) % oh;
        const float* g_row = d_out + row * ow * out_channels;
        alignas(64) float local[direct_conv_max_block_input];
        for (int ox0 = 0; ox0 < ow; ox0 += block) {
          const bool inside = ox0 * s.stride - p >= 0 && (ox0 + block - 1) * s.stride - p + k <= s.width;
          const int valid = std::min(block, ow - ox0);
          for (int c0 = 0; c0 < out_channels; c0 += width) {
            const int c = c0 + width <= out_channels ? c0 : out_channels - width;
            auto gradient = [&](int ox) {
              const batch gv = batch::load_unaligned(g_row + static_cast<std::ptrdiff_t>(ox) * out_channels + c);
              return c == c0 ? gv : xsimd::select(owned, gv, batch(0.0f));
            };
            batch g[block];  // pixels past the row's end add nothing
            for (int j = 0; j < block; ++j) g[j] = j < valid ? gradient(ox0 + j) : batch(0.0f);
            for (int ky = 0; ky < k; ++ky) {
              const int iy = oy * s.stride - p + ky;
              if (iy < 0 || iy >= s.height) continue;
              const float* px = direct_conv_block_row(s, in, n, iy, ox0, inside, local);
              for (int t = 0; t < k * C; ++t) {  // taps are independent chains: they overlap in flight
                float* a = acc + static_cast<std::ptrdiff_t>(ky * k * C + t) * out_channels + c;
                batch sum = batch::load_unaligned(a);
                for (int j = 0; j < block; ++j) sum = xsimd::fma(batch(px[j * step + t]), g[j], sum);
                sum.store_unaligned(a);
              }
            }
          }
        }
      }
    };
    with_pixel_step(s.stride * C, [&](auto step) {  // a constant step, as in the forward
      parallel::deterministic_sum<float>(
          rows, std::max<std::size_t>(1, (rows + 15) / 16), size, sum.data(),
          [&](std::size_t begin, std::size_t end, float* acc) { add_rows(begin, end, acc, step); });
    });
    for (int o = 0; o < out_channels; ++o)
      for (int t = 0; t < taps; ++t) d_weight[o * taps + t] += sum[static_cast<std::size_t>(t) * out_channels + o];
    return true;
  }

  /// The mask of lanes >= first.
  template <class B>
  static auto lane_at_least(int first) {
    alignas(64) float index[B::size];
    for (std::size_t l = 0; l < B::size; ++l) index[l] = static_cast<float>(l);
    return B::load_aligned(index) >= B(static_cast<float>(first));
  }
};
}  // namespace detail

/** @brief The direct float kernels for few input taps (the stem), bias and activation fused into
 *  the stores; false where the shape is not theirs. */
OFA_KERNEL_API bool conv2d_direct_forward(const conv_shape& s, int out_channels, const float* in, const float* weight,
                                          float* out, const float* bias = nullptr, activation act = activation::none);
/** @brief d_weight += the direct kernel's weight gradient; false where the shape is not its. */
OFA_KERNEL_API bool conv2d_direct_weight_gradient(const conv_shape& s, int out_channels, const float* in,
                                                  const float* d_out, float* d_weight);

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API bool conv2d_direct_forward(const conv_shape& s, int out_channels, const float* in, const float* weight,
                                          float* out, const float* bias, activation act) {
  return dispatch(detail::direct_conv_forward_kernel{}, s, out_channels, in, weight, out, bias, act);
}
#endif
#if OFA_KERNELS_DEFINE
OFA_KERNEL_API bool conv2d_direct_weight_gradient(const conv_shape& s, int out_channels, const float* in,
                                                  const float* d_out, float* d_weight) {
  return dispatch(detail::direct_conv_weight_gradient_kernel{}, s, out_channels, in, d_out, d_weight);
}
#endif

/** @brief out[N,OH,OW,Cout] = act(conv(in, weight[Cout][k][k][Cin]) + bias); bias may be null. */
template <class T>
void conv2d_forward(const conv_shape& s, int out_channels, const T* in, const T* weight, T* out,
                    const T* bias = nullptr, activation act = activation::none) {
  if constexpr (std::is_same_v<T, float>)
    if (conv2d_direct_forward(s, out_channels, in, weight, out, bias, act)) return;
  const int m = s.batch * s.out_height() * s.out_width(), kk = s.kernel * s.kernel * s.channels;
  pooled_vector<T> cols(static_cast<std::size_t>(m) * kk);
  im2col(s, in, cols.data());
  gemm_any<T>(trans::no, trans::yes, m, out_channels, kk, T(1), cols.data(), kk, weight, kk, T(0), out, out_channels);
  if (!bias && act == activation::none) return;
  for (std::ptrdiff_t r = 0; r < m; ++r)
    for (int o = 0; o < out_channels; ++o) {
      T& v = out[r * out_channels + o];
      v = detail::apply_activation(act, bias ? v + bias[o] : v);
    }
}

/** @brief d_weight += dYᵀ·cols when d_weight is not null; d_in = col2im(dY·W) when d_in is not null. */
template <class T>
void conv2d_backward(const conv_shape& s, int out_channels, const T* in, const T* weight, const T* d_out, T* d_in,
                     T* d_weight) {
  const int m = s.batch * s.out_height() * s.out_width(), kk = s.kernel * s.kernel * s.channels;
  if constexpr (std::is_same_v<T, float>)
    if (d_weight && conv2d_direct_weight_gradient(s, out_channels, in, d_out, d_weight)) d_weight = nullptr;  // done
  pooled_vector<T> cols(d_weight || d_in ? static_cast<std::size_t>(m) * kk : 0);
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
