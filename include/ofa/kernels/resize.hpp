#pragma once
/// @file
/// Bilinear resize of NHWC tensors with PyTorch's align_corners=False
/// convention (elastic resolution resizes each batch), and its adjoint.
/// ≈ 8 FLOPs per output element; memory-bound.

#include <algorithm>
#include <cstddef>

#include "ofa/parallel/arena.hpp"

namespace ofa::kernels {

namespace detail {
struct bilinear_tap {
  int i0, i1;
  double w1;  // weight of i1; i0 gets 1 - w1
};
inline bilinear_tap bilinear(int out_index, int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  double src = (out_index + 0.5) * scale - 0.5;
  if (src < 0) src = 0;
  int i0 = static_cast<int>(src);
  if (i0 > in_size - 1) i0 = in_size - 1;
  const int i1 = std::min(i0 + 1, in_size - 1);
  return {i0, i1, src - i0};
}
}  // namespace detail

/** @brief out[n, oh, ow, c] bilinearly sampled from in[n, h, w, c]. */
template <class T>
void resize_bilinear(std::size_t n, int h, int w, std::size_t c, const T* in, int oh, int ow, T* out) {
  parallel::for_chunks(n * static_cast<std::size_t>(oh), 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t row = b; row < e; ++row) {
      const std::size_t img = row / static_cast<std::size_t>(oh);
      const auto ty = detail::bilinear(static_cast<int>(row % static_cast<std::size_t>(oh)), h, oh);
      for (int ox = 0; ox < ow; ++ox) {
        const auto tx = detail::bilinear(ox, w, ow);
        const T* p00 = in + ((img * h + ty.i0) * w + tx.i0) * c;
        const T* p01 = in + ((img * h + ty.i0) * w + tx.i1) * c;
        const T* p10 = in + ((img * h + ty.i1) * w + tx.i0) * c;
        const T* p11 = in + ((img * h + ty.i1) * w + tx.i1) * c;
        const T wy = T(ty.w1), wx = T(tx.w1);
        T* o = out + (row * ow + ox) * c;
        for (std::size_t j = 0; j < c; ++j)
          o[j] = (T(1) - wy) * ((T(1) - wx) * p00[j] + wx * p01[j]) + wy * ((T(1) - wx) * p10[j] + wx * p11[j]);
      }
    }
  });
}

/** @brief The adjoint: d_in (overwritten) gathers d_out through the same weights. */
template <class T>
void resize_bilinear_backward(std::size_t n, int h, int w, std::size_t c, const T* d_out, int oh, int ow, T* d_in) {
  std::fill(d_in, d_in + n * h * w * c, T(0));
  parallel::for_chunks(n, 1, [&](std::size_t b, std::size_t e) {  // images are independent
    for (std::size_t img = b; img < e; ++img)
      for (int oy = 0; oy < oh; ++oy) {
        const auto ty = detail::bilinear(oy, h, oh);
        for (int ox = 0; ox < ow; ++ox) {
          const auto tx = detail::bilinear(ox, w, ow);
          const T wy = T(ty.w1), wx = T(tx.w1);
          const T* g = d_out + ((img * oh + oy) * ow + ox) * c;
          auto add = [&](int y, int x, T weight) {
            T* dst = d_in + ((img * h + y) * w + x) * c;
            for (std::size_t j = 0; j < c; ++j) dst[j] += weight * g[j];
          };
          add(ty.i0, tx.i0, (T(1) - wy) * (T(1) - wx));
          add(ty.i0, tx.i1, (T(1) - wy) * wx);
          add(ty.i1, tx.i0, wy * (T(1) - wx));
          add(ty.i1, tx.i1, wy * wx);
        }
      }
  });
}

}  // namespace ofa::kernels
