#pragma once
/// @file
/// Pooling over windows on NHWC tensors, as the ResNets use it: max pooling k×k with
/// stride s and padding k/2 (the deep stem's 3×3, stride 2), and average pooling over
/// s×s windows with stride s and no padding, rounding the output up (the shortcut of a
/// downsampling bottleneck: PyTorch's AvgPool2d(s, s, ceil_mode=True), whose windows
/// past the edge average the pixels they hold). Channels are innermost, so every
/// window is a sum or maximum of whole channel rows.

#include <algorithm>
#include <cstddef>
#include <limits>

#include "ofa/parallel/loops.hpp"

namespace ofa::kernels {

/** @brief Shape of a pooling: input [n, h, w, c], square window, stride and padding. */
struct pool_shape {
  int n = 0, h = 0, w = 0, c = 0;
  int window = 1, stride = 1, padding = 0;
  bool ceil = false;  ///< round the output size up (windows may pass the far edge)

  int out_height() const noexcept { return out_size(h); }
  int out_width() const noexcept { return out_size(w); }
  int out_size(int in) const noexcept {
    const int span = in + 2 * padding - window;
    return (ceil ? (span + stride - 1) / stride : span / stride) + 1;
  }
  /** @brief max pooling k×k, stride s, padding k/2 (PyTorch's MaxPool2d(k, s, k // 2)). */
  static pool_shape max_pool(int n, int h, int w, int c, int k, int s) { return {n, h, w, c, k, s, k / 2, false}; }
  /** @brief average pooling s×s, stride s, output rounded up (AvgPool2d(s, s, 0, ceil_mode=True)). */
  static pool_shape average_pool(int n, int h, int w, int c, int s) { return {n, h, w, c, s, s, 0, true}; }
};

namespace detail {
/// The window of output position o along one side: [begin, end) of the input, clipped to it.
inline void window_span(int o, int in, const pool_shape& s, int& begin, int& end) {
  begin = std::max(o * s.stride - s.padding, 0);
  end = std::min(o * s.stride - s.padding + s.window, in);
}

/// Calls f(image, output index, y0, y1, x0, x1) for every output pixel, the window clipped to the
/// input. Forward passes write one output each and run over output rows in parallel; backward
/// passes add into overlapping windows and run one image per task (`by_image`).
template <class F>
void for_each_window(const pool_shape& s, bool by_image, const F& f) {
  const int oh = s.out_height(), ow = s.out_width();
  const auto rows = [&](std::size_t first_row, std::size_t end_row) {
    for (std::size_t row = first_row; row < end_row; ++row) {
      const auto n = row / static_cast<std::size_t>(oh);
      int y0, y1;
      window_span(static_cast<int>(row % static_cast<std::size_t>(oh)), s.h, s, y0, y1);
      for (int ox = 0; ox < ow; ++ox) {
        int x0, x1;
        window_span(ox, s.w, s, x0, x1);
        f(n, row * static_cast<std::size_t>(ow) + static_cast<std::size_t>(ox), y0, y1, x0, x1);
      }
    }
  };
  if (by_image)
    parallel::for_index(std::size_t{0}, static_cast<std::size_t>(s.n), [&](std::size_t n) {
      rows(n * static_cast<std::size_t>(oh), (n + 1) * static_cast<std::size_t>(oh));
    });
  else
    parallel::for_chunks(static_cast<std::size_t>(s.n) * static_cast<std::size_t>(oh), 4, rows);
}

/// The pixel (iy, ix) of image n, channel row.
inline std::size_t pixel(const pool_shape& s, std::size_t n, int iy, int ix) {
  return ((n * static_cast<std::size_t>(s.h) + static_cast<std::size_t>(iy)) * static_cast<std::size_t>(s.w) +
          static_cast<std::size_t>(ix)) *
         static_cast<std::size_t>(s.c);
}
}  // namespace detail

/** @brief y[n, oy, ox, c] = max of x over the window (padding never wins). */
template <class T>
void max_pool2d(const pool_shape& s, const T* x, T* y) {
  const auto c = static_cast<std::size_t>(s.c);
  detail::for_each_window(s, false, [&](std::size_t n, std::size_t o, int y0, int y1, int x0, int x1) {
    T* out = y + o * c;
    std::fill(out, out + c, -std::numeric_limits<T>::infinity());
    for (int iy = y0; iy < y1; ++iy)
      for (int ix = x0; ix < x1; ++ix) {
        const T* in = x + detail::pixel(s, n, iy, ix);
        for (std::size_t j = 0; j < c; ++j) out[j] = std::max(out[j], in[j]);
      }
  });
}

/** @brief dx += dy routed to the first maximum of each window in scan order (as PyTorch),
 *  found again from x and y; dx must hold the gradient so far (zeros for a fresh one). */
template <class T>
void max_pool2d_backward(const pool_shape& s, const T* x, const T* y, const T* dy, T* dx) {
  const auto c = static_cast<std::size_t>(s.c);
  detail::for_each_window(s, true, [&](std::size_t n, std::size_t o, int y0, int y1, int x0, int x1) {
    for (std::size_t j = 0; j < c; ++j) {
      bool found = false;
      for (int iy = y0; iy < y1 && !found; ++iy)
        for (int ix = x0; ix < x1 && !found; ++ix) {
          const std::size_t i = detail::pixel(s, n, iy, ix) + j;
          if (x[i] == y[o * c + j]) {
            dx[i] += dy[o * c + j];
            found = true;
          }
        }
    }
  });
}

/** @brief y[n, oy, ox, c] = mean of x over the window's pixels inside the input. */
template <class T>
void average_pool2d(const pool_shape& s, const T* x, T* y) {
  const auto c = static_cast<std::size_t>(s.c);
  detail::for_each_window(s, false, [&](std::size_t n, std::size_t o, int y0, int y1, int x0, int x1) {
    T* out = y + o * c;
    std::fill(out, out + c, T(0));
    for (int iy = y0; iy < y1; ++iy)
      for (int ix = x0; ix < x1; ++ix) {
        const T* in = x + detail::pixel(s, n, iy, ix);
        for (std::size_t j = 0; j < c; ++j) out[j] += in[j];
      }
    const T inv = T(1) / T((y1 - y0) * (x1 - x0));
    for (std::size_t j = 0; j < c; ++j) out[j] *= inv;
  });
}

/** @brief dx += dy spread evenly over each window's pixels inside the input. */
template <class T>
void average_pool2d_backward(const pool_shape& s, const T* dy, T* dx) {
  const auto c = static_cast<std::size_t>(s.c);
  detail::for_each_window(s, true, [&](std::size_t n, std::size_t o, int y0, int y1, int x0, int x1) {
    const T* g = dy + o * c;
    const T inv = T(1) / T((y1 - y0) * (x1 - x0));
    for (int iy = y0; iy < y1; ++iy)
      for (int ix = x0; ix < x1; ++ix) {
        T* d = dx + detail::pixel(s, n, iy, ix);
        for (std::size_t j = 0; j < c; ++j) d[j] += g[j] * inv;
      }
  });
}

}  // namespace ofa::kernels
