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
#include "ofa/kernels/activation.hpp"  // the fused epilogue
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

/** @brief Fast float versions (xsimd, oneTBB); same contracts. The forward optionally adds a
 *  per-channel bias and applies an activation as it stores (inference with BN folded). */
void depthwise_forward(const conv_shape& s, const float* in, kernel_view<const float> w, float* out,
                       const float* bias = nullptr, activation act = activation::none);
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
                      std::to_string(s.height) + ", " + std::to_string(s.width) + ", " + std::to_string(s.channels) +
                      "]");
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
  void operator()(Arch, const conv_shape& s, const float* in, kernel_view<const float> w, float* out, const float* bias,
                  activation act) const {
    using batch = xsimd::batch<float, Arch>;
    auto finish = [&](batch v, int c) {  // bias + activation, fused into the store
      if (bias) v += batch::load_unaligned(bias + c);
      return act == activation::relu ? relu_f(v) : act == activation::hswish ? hswish_f(v) : v;
    };
    auto finish_scalar = [&](float v, int c) {
      if (bias) v += bias[c];
      return act == activation::relu ? std::max(v, 0.0f) : act == activation::hswish ? v * hsig_s(v) : v;
    };
    constexpr int width = static_cast<int>(batch::size);
    const int oh = s.out_height(), ow = s.out_width(), p = s.pad(), C = s.channels;
    tbb::parallel_for(0, s.batch * oh, [&](int row) {
      const int n = row / oh, oy = row % oh;
      const int ky0 = std::max(0, p - oy * s.stride), ky1 = std::min(s.kernel, s.height + p - oy * s.stride);
      // Output pixels whose taps all lie inside the image in x: [interior0, interior1).
      const int interior0 = (p + s.stride - 1) / s.stride;
      const int interior1 = std::max(interior0, (s.width - s.kernel + p) / s.stride + 1);
      for (int ox = 0; ox < ow;) {
        if (ox >= interior0 && ox + 4 <= interior1 && C >= width) {
          // Four interior outputs at once: each weight load feeds four FMAs.
          float* o = out + at(s, n, oy, ox, oh, ow);
          const std::ptrdiff_t step = static_cast<std::ptrdiff_t>(s.stride) * C;
          for (int c0 = 0; c0 < C; c0 += width) {
            const int c = c0 + width <= C ? c0 : C - width;
            batch a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
            for (int ky = ky0; ky < ky1; ++ky) {
              const float* i0 = in + at(s, n, oy * s.stride - p + ky, ox * s.stride - p, s.height, s.width) + c;
              for (int kx = 0; kx < s.kernel; ++kx, i0 += C) {
                const batch wv = batch::load_unaligned(w.tap(ky, kx) + c);
                a0 = xsimd::fma(batch::load_unaligned(i0), wv, a0);
                a1 = xsimd::fma(batch::load_unaligned(i0 + step), wv, a1);
                a2 = xsimd::fma(batch::load_unaligned(i0 + 2 * step), wv, a2);
                a3 = xsimd::fma(batch::load_unaligned(i0 + 3 * step), wv, a3);
              }
            }
            finish(a0, c).store_unaligned(o + c);
            finish(a1, c).store_unaligned(o + C + c);
            finish(a2, c).store_unaligned(o + 2 * C + c);
            finish(a3, c).store_unaligned(o + 3 * C + c);
          }
          ox += 4;
          continue;
        }
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
          finish(acc, c).store_unaligned(o + c);
        }
        for (int c = C < width ? 0 : C; c < C; ++c) {  // only when C < width
          float acc = 0.0f;
          for (int ky = ky0; ky < ky1; ++ky)
            for (int kx = kx0; kx < kx1; ++kx)
              acc += in[at(s, n, oy * s.stride - p + ky, ox * s.stride - p + kx, s.height, s.width) + c] *
                     w.tap(ky, kx)[c];
          o[c] = finish_scalar(acc, c);
        }
        ++ox;
      }
    });
  }
};

struct depthwise_backward_input_kernel {
  // Gather form: each input pixel sums the outputs it fed, so rows are independent (no races).
  // The (tap, output) pairs that reach a pixel are listed once per pixel, not per channel vector.
  template <class Arch>
  void operator()(Arch, const conv_shape& s, const float* d_out, kernel_view<const float> w, float* d_in) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size);
    const int oh = s.out_height(), ow = s.out_width(), p = s.pad(), C = s.channels;
    tbb::parallel_for(0, s.batch * s.height, [&](int row) {
      const int n = row / s.height, iy = row % s.height;
      int ys[7], oys[7], ny = 0;
      for (int ky = 0; ky < s.kernel; ++ky) {
        const int ty = iy + p - ky;
        if (ty < 0 || ty % s.stride || ty / s.stride >= oh) continue;
        ys[ny] = ky;
        oys[ny++] = ty / s.stride;
      }
      for (int ix = 0; ix < s.width; ++ix) {
        const float* wt[49];
        const float* go[49];
        int taps = 0;
        for (int a = 0; a < ny; ++a)
          for (int kx = 0; kx < s.kernel; ++kx) {
            const int tx = ix + p - kx;
            if (tx < 0 || tx % s.stride || tx / s.stride >= ow) continue;
            wt[taps] = w.tap(ys[a], kx);
            go[taps++] = d_out + at(s, n, oys[a], tx / s.stride, oh, ow);
          }
        float* o = d_in + at(s, n, iy, ix, s.height, s.width);
        for (int c0 = 0; c0 < C; c0 += width) {  // overlapping last vector, as in the forward
          const int c = c0 + width <= C ? c0 : C - width;
          if (c < 0) break;
          batch acc(0.0f);
          for (int t = 0; t < taps; ++t)
            acc = xsimd::fma(batch::load_unaligned(go[t] + c), batch::load_unaligned(wt[t] + c), acc);
          acc.store_unaligned(o + c);
        }
        for (int c = C < width ? 0 : C; c < C; ++c) {  // only when C < width
          float acc = 0.0f;
          for (int t = 0; t < taps; ++t) acc += go[t][c] * wt[t][c];
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
    const int oh = s.out_height(), ow = s.out_width(), p = s.pad(), C = s.channels;
    const int k = s.kernel;
    const std::size_t taps = static_cast<std::size_t>(k) * k * C;
    std::fill(d_w, d_w + taps, 0.0f);
    // Fixed chunks of output rows, summed in order: deterministic for any thread count.
    parallel::deterministic_sum<float>(
        // 8 chunks at most: each needs its own k·k·C partial, zeroed and summed.
        static_cast<std::size_t>(s.batch) * oh,
        std::max<std::size_t>(1, (static_cast<std::size_t>(s.batch) * oh + 7) / 8), taps, d_w,
        [&](std::size_t begin, std::size_t end, float* acc) {
          for (std::size_t row = begin; row < end; ++row) {
            const int n = static_cast<int>(row) / oh, oy = static_cast<int>(row) % oh;
            for (int ky = 0; ky < k; ++ky) {
              const int iy = oy * s.stride - p + ky;
              if (iy < 0 || iy >= s.height) continue;
              const float* g_row = d_out + at(s, n, oy, 0, oh, ow);
              const float* x_row = in + at(s, n, iy, 0, s.height, s.width);
              for (int kx = 0; kx < k; ++kx) {
                // outputs whose input column ox·s - p + kx lies inside the image
                const int ox0 = std::max(0, (p - kx + s.stride - 1) / s.stride);
                const int ox1 = std::min(ow, (s.width - 1 + p - kx) / s.stride + 1);
                if (ox0 >= ox1) continue;
                float* a = acc + (ky * k + kx) * C;
                const std::ptrdiff_t x_step = static_cast<std::ptrdiff_t>(s.stride) * C;
                const float* x0 = x_row + static_cast<std::ptrdiff_t>(ox0 * s.stride - p + kx) * C;
                const float* g0 = g_row + static_cast<std::ptrdiff_t>(ox0) * C;
                int c = 0;
                for (; c + width <= C; c += width) {  // the sum over ox stays in a register
                  batch sum = batch::load_unaligned(a + c);
                  const float* g = g0 + c;
                  const float* x = x0 + c;
                  for (int ox = ox0; ox < ox1; ++ox, g += C, x += x_step)
                    sum = xsimd::fma(batch::load_unaligned(g), batch::load_unaligned(x), sum);
                  sum.store_unaligned(a + c);
                }
                for (; c < C; ++c) {
                  float sum = a[c];
                  const float* g = g0 + c;
                  const float* x = x0 + c;
                  for (int ox = ox0; ox < ox1; ++ox, g += C, x += x_step) sum += *g * *x;
                  a[c] = sum;
                }
              }
            }
          }
        });
  }
};
}  // namespace detail

inline void depthwise_forward(const conv_shape& s, const float* in, kernel_view<const float> w, float* out,
                              const float* bias, activation act) {
  detail::check_depthwise(s, w.kernel_size, w.channels);
  dispatch(detail::depthwise_forward_kernel{}, s, in, w, out, bias, act);
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
