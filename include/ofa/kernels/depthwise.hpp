#pragma once
/// @file
/// Depthwise k×k convolution, NHWC, "same" padding (k/2), stride 1 or 2, k in
/// {3, 5, 7}; the weight is a kernel_view (the centre of a max-size kernel, the
/// first C channels). Forward, input gradient and weight gradient.
///
/// FLOPs 2·N·OH·OW·C·k² each; traffic ≈ 4·(N·H·W·C + N·OH·OW·C) bytes, so at
/// k = 3 it is memory-bound and at k = 7 compute-bound. Vectorised across
/// channels; parallel over (image, output row).

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>

#include <oneapi/tbb/parallel_for.h>
#include <xsimd/xsimd.hpp>

#include "ofa/errors.hpp"
#include "ofa/kernels/simd.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/tensor/matrix_view.hpp"

namespace ofa::kernels {

/** @brief Geometry of one depthwise (or dense) convolution on NHWC tensors. */
struct conv_shape {
  int batch = 1, height = 1, width = 1, channels = 1;
  int kernel = 3, stride = 1;
  int out_height() const noexcept { return (height + 2 * (kernel / 2) - kernel) / stride + 1; }
  int out_width() const noexcept { return (width + 2 * (kernel / 2) - kernel) / stride + 1; }
  int pad() const noexcept { return kernel / 2; }
};

/** @brief out[n,oy,ox,c] = Σ in[n, oy·s-p+ky, ox·s-p+kx, c] · w[ky,kx,c]. Reference, any T. */
template <class T>
void depthwise_forward_reference(const conv_shape& s, const T* in, kernel_view<const T> w, T* out);
/** @brief d_in = depthwise transpose of d_out (overwrites d_in). Reference, any T. */
template <class T>
void depthwise_backward_input_reference(const conv_shape& s, const T* d_out, kernel_view<const T> w, T* d_in);
/** @brief d_w[ky,kx,c] (dense k×k×C) = Σ d_out · in (overwrites). Reference, any T. */
template <class T>
void depthwise_backward_weight_reference(const conv_shape& s, const T* in, const T* d_out, T* d_w);

/** @brief Fast float versions (xsimd, oneTBB); same contracts. */
void depthwise_forward(const conv_shape& s, const float* in, kernel_view<const float> w, float* out);
void depthwise_backward_input(const conv_shape& s, const float* d_out, kernel_view<const float> w, float* d_in);
void depthwise_backward_weight(const conv_shape& s, const float* in, const float* d_out, float* d_w);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
inline void check_depthwise(const conv_shape& s, int view_kernel, int view_channels) {
  if (s.kernel != 3 && s.kernel != 5 && s.kernel != 7)
    throw shape_error("ofa::kernels::depthwise: kernel size " + std::to_string(s.kernel) +
                      " is not supported (3, 5 or 7)");
  if (s.stride != 1 && s.stride != 2)
    throw shape_error("ofa::kernels::depthwise: stride " + std::to_string(s.stride) + " is not supported (1 or 2)");
  if (s.batch < 1 || s.height < 1 || s.width < 1 || s.channels < 1)
    throw shape_error("ofa::kernels::depthwise: empty input [" + std::to_string(s.batch) + ", " +
                      std::to_string(s.height) + ", " + std::to_string(s.width) + ", " + std::to_string(s.channels) + "]");
  if (view_kernel >= 0 && (view_kernel != s.kernel || view_channels != s.channels))
    throw shape_error("ofa::kernels::depthwise: weight is " + std::to_string(view_kernel) + "x" +
                      std::to_string(view_kernel) + "x" + std::to_string(view_channels) + " but the input needs " +
                      std::to_string(s.kernel) + "x" + std::to_string(s.kernel) + "x" + std::to_string(s.channels));
}
inline std::ptrdiff_t at(const conv_shape& s, int n, int y, int x, int h, int w) {
  return ((static_cast<std::ptrdiff_t>(n) * h + y) * w + x) * s.channels;
}
}  // namespace detail

template <class T>
void depthwise_forward_reference(const conv_shape& s, const T* in, kernel_view<const T> w, T* out) {
  detail::check_depthwise(s, w.kernel_size, w.channels);
  const int oh = s.out_height(), ow = s.out_width(), p = s.pad();
  for (int n = 0; n < s.batch; ++n)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int c = 0; c < s.channels; ++c) {
          T sum = T(0);
          for (int ky = 0; ky < s.kernel; ++ky)
            for (int kx = 0; kx < s.kernel; ++kx) {
              const int iy = oy * s.stride - p + ky, ix = ox * s.stride - p + kx;
              if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
              sum += in[detail::at(s, n, iy, ix, s.height, s.width) + c] * w.tap(ky, kx)[c];
            }
          out[detail::at(s, n, oy, ox, oh, ow) + c] = sum;
        }
}

template <class T>
void depthwise_backward_input_reference(const conv_shape& s, const T* d_out, kernel_view<const T> w, T* d_in) {
  detail::check_depthwise(s, w.kernel_size, w.channels);
  const int oh = s.out_height(), ow = s.out_width(), p = s.pad();
  std::fill(d_in, d_in + static_cast<std::ptrdiff_t>(s.batch) * s.height * s.width * s.channels, T(0));
  for (int n = 0; n < s.batch; ++n)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int ky = 0; ky < s.kernel; ++ky)
          for (int kx = 0; kx < s.kernel; ++kx) {
            const int iy = oy * s.stride - p + ky, ix = ox * s.stride - p + kx;
            if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
            for (int c = 0; c < s.channels; ++c)
              d_in[detail::at(s, n, iy, ix, s.height, s.width) + c] +=
                  d_out[detail::at(s, n, oy, ox, oh, ow) + c] * w.tap(ky, kx)[c];
          }
}

template <class T>
void depthwise_backward_weight_reference(const conv_shape& s, const T* in, const T* d_out, T* d_w) {
  detail::check_depthwise(s, -1, -1);
  const int oh = s.out_height(), ow = s.out_width(), p = s.pad();
  std::fill(d_w, d_w + static_cast<std::ptrdiff_t>(s.kernel) * s.kernel * s.channels, T(0));
  for (int n = 0; n < s.batch; ++n)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int ky = 0; ky < s.kernel; ++ky)
          for (int kx = 0; kx < s.kernel; ++kx) {
            const int iy = oy * s.stride - p + ky, ix = ox * s.stride - p + kx;
            if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
            for (int c = 0; c < s.channels; ++c)
              d_w[(ky * s.kernel + kx) * s.channels + c] +=
                  d_out[detail::at(s, n, oy, ox, oh, ow) + c] * in[detail::at(s, n, iy, ix, s.height, s.width) + c];
          }
}

namespace detail {
struct depthwise_forward_kernel {
  template <class Arch>
  void operator()(Arch, const conv_shape& s, const float* in, kernel_view<const float> w, float* out) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size);
    const int oh = s.out_height(), ow = s.out_width(), p = s.pad(), C = s.channels;
    tbb::parallel_for(0, s.batch * oh, [&](int row) {
      const int n = row / oh, oy = row % oh;
      const int ky0 = std::max(0, p - oy * s.stride), ky1 = std::min(s.kernel, s.height + p - oy * s.stride);
      for (int ox = 0; ox < ow; ++ox) {
        const int kx0 = std::max(0, p - ox * s.stride), kx1 = std::min(s.kernel, s.width + p - ox * s.stride);
        float* o = out + at(s, n, oy, ox, oh, ow);
        // Channel vectors; when C is not a multiple of the width the last vector overlaps the
        // one before it (recomputing a few outputs with the same values) instead of a scalar tail.
        for (int c0 = 0; c0 < C; c0 += width) {
          const int c = c0 + width <= C ? c0 : C - width;
          if (c < 0) break;
          batch acc(0.0f);
          for (int ky = ky0; ky < ky1; ++ky) {
            const float* irow = in + at(s, n, oy * s.stride - p + ky, 0, s.height, s.width) + c;
            for (int kx = kx0; kx < kx1; ++kx)
              acc = xsimd::fma(batch::load_unaligned(irow + static_cast<std::ptrdiff_t>(ox * s.stride - p + kx) * C),
                               batch::load_unaligned(w.tap(ky, kx) + c), acc);
          }
          acc.store_unaligned(o + c);
        }
        for (int c = C < width ? 0 : C; c < C; ++c) {  // only when C < width
          float acc = 0.0f;
          for (int ky = ky0; ky < ky1; ++ky)
            for (int kx = kx0; kx < kx1; ++kx)
              acc += in[at(s, n, oy * s.stride - p + ky, ox * s.stride - p + kx, s.height, s.width) + c] * w.tap(ky, kx)[c];
          o[c] = acc;
        }
      }
    });
  }
};

struct depthwise_backward_input_kernel {
  // Gather form: each input pixel sums the outputs it fed, so rows are independent (no races).
  template <class Arch>
  void operator()(Arch, const conv_shape& s, const float* d_out, kernel_view<const float> w, float* d_in) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size);
    const int oh = s.out_height(), ow = s.out_width(), p = s.pad(), C = s.channels;
    tbb::parallel_for(0, s.batch * s.height, [&](int row) {
      const int n = row / s.height, iy = row % s.height;
      for (int ix = 0; ix < s.width; ++ix) {
        float* o = d_in + at(s, n, iy, ix, s.height, s.width);
        for (int c0 = 0; c0 < C; c0 += width) {  // overlapping last vector, as in the forward
          const int c = c0 + width <= C ? c0 : C - width;
          if (c < 0) break;
          batch acc(0.0f);
          for (int ky = 0; ky < s.kernel; ++ky) {
            const int ty = iy + p - ky;
            if (ty < 0 || ty % s.stride) continue;
            const int oy = ty / s.stride;
            if (oy >= oh) continue;
            for (int kx = 0; kx < s.kernel; ++kx) {
              const int tx = ix + p - kx;
              if (tx < 0 || tx % s.stride) continue;
              const int ox = tx / s.stride;
              if (ox >= ow) continue;
              acc = xsimd::fma(batch::load_unaligned(d_out + at(s, n, oy, ox, oh, ow) + c),
                               batch::load_unaligned(w.tap(ky, kx) + c), acc);
            }
          }
          acc.store_unaligned(o + c);
        }
        for (int c = C < width ? 0 : C; c < C; ++c) {  // only when C < width
          float acc = 0.0f;
          for (int ky = 0; ky < s.kernel; ++ky) {
            const int ty = iy + p - ky;
            if (ty < 0 || ty % s.stride || ty / s.stride >= oh) continue;
            for (int kx = 0; kx < s.kernel; ++kx) {
              const int tx = ix + p - kx;
              if (tx < 0 || tx % s.stride || tx / s.stride >= ow) continue;
              acc += d_out[at(s, n, ty / s.stride, tx / s.stride, oh, ow) + c] * w.tap(ky, kx)[c];
            }
          }
          o[c] = acc;
        }
      }
    });
  }
};

struct depthwise_backward_weight_kernel {
  template <class Arch>
  void operator()(Arch, const conv_shape& s, const float* in, const float* d_out, float* d_w) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size);
    const int oh = s.out_height(), ow = s.out_width(), p = s.pad(), C = s.channels, vec_end = C / width * width;
    const int k = s.kernel;
    const std::size_t taps = static_cast<std::size_t>(k) * k * C;
    std::fill(d_w, d_w + taps, 0.0f);
    // Fixed chunks of output rows, summed in order: deterministic for any thread count.
    parallel::deterministic_sum<float>(
        static_cast<std::size_t>(s.batch) * oh, std::max<std::size_t>(4, (static_cast<std::size_t>(s.batch) * oh + 63) / 64), taps, d_w, [&](std::size_t begin, std::size_t end, float* acc) {
          for (std::size_t row = begin; row < end; ++row) {
            const int n = static_cast<int>(row) / oh, oy = static_cast<int>(row) % oh;
            for (int ky = 0; ky < k; ++ky) {
              const int iy = oy * s.stride - p + ky;
              if (iy < 0 || iy >= s.height) continue;
              for (int ox = 0; ox < ow; ++ox) {
                const float* g = d_out + at(s, n, oy, ox, oh, ow);
                for (int kx = 0; kx < k; ++kx) {
                  const int ix = ox * s.stride - p + kx;
                  if (ix < 0 || ix >= s.width) continue;
                  const float* x = in + at(s, n, iy, ix, s.height, s.width);
                  float* a = acc + (ky * k + kx) * C;
                  for (int c = 0; c < vec_end; c += width)
                    xsimd::fma(batch::load_unaligned(g + c), batch::load_unaligned(x + c), batch::load_unaligned(a + c))
                        .store_unaligned(a + c);
                  for (int c = vec_end; c < C; ++c) a[c] += g[c] * x[c];
                }
              }
            }
          }
        });
  }
};
}  // namespace detail

inline void depthwise_forward(const conv_shape& s, const float* in, kernel_view<const float> w, float* out) {
  detail::check_depthwise(s, w.kernel_size, w.channels);
  dispatch(detail::depthwise_forward_kernel{}, s, in, w, out);
}
inline void depthwise_backward_input(const conv_shape& s, const float* d_out, kernel_view<const float> w, float* d_in) {
  detail::check_depthwise(s, w.kernel_size, w.channels);
  dispatch(detail::depthwise_backward_input_kernel{}, s, d_out, w, d_in);
}
inline void depthwise_backward_weight(const conv_shape& s, const float* in, const float* d_out, float* d_w) {
  detail::check_depthwise(s, -1, -1);
  dispatch(detail::depthwise_backward_weight_kernel{}, s, in, d_out, d_w);
}

}  // namespace ofa::kernels
