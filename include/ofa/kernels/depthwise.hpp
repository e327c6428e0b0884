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
#include <limits>
#include <string>
#include <type_traits>
#include <utility>  // integer_sequence
#include "ofa/config.hpp"

#include <xsimd/xsimd.hpp>

#include "ofa/errors.hpp"
#include "ofa/kernels/activation.hpp"  // the fused epilogue
#include "ofa/kernels/simd.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/parallel/loops.hpp"
#include "ofa/tensor/matrix_view.hpp"
#include "ofa/tensor/pool.hpp"

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

/** @brief A per-channel map the fast kernels apply to every input value as they load it:
 *  act(x·scale + shift), the batch norm (in training, with its batch statistics) and activation
 *  of the layer before. The convolution then reads BN's input, and BN's output is never written
 *  or read back (autograd::batch_norm_depthwise). Padding stays zero: it pads the mapped input.
 *  No scale: the identity. */
struct input_transform {
  const float* scale = nullptr;  ///< [C]
  const float* shift = nullptr;  ///< [C]
  activation act = activation::none;
};

/** @brief Fast float versions (xsimd, oneTBB); same contracts, on the input mapped by `pre`.
 *  The forward optionally adds a per-channel bias and applies an activation as it stores
 *  (inference with BN folded). */
OFA_KERNEL_API void depthwise_forward(const conv_shape& s, const float* in, kernel_view<const float> w, float* out,
                                      const float* bias = nullptr, activation act = activation::none,
                                      input_transform pre = {});
OFA_KERNEL_API void depthwise_backward_input(const conv_shape& s, const float* d_out, kernel_view<const float> w,
                                             float* d_in);
OFA_KERNEL_API void depthwise_backward_weight(const conv_shape& s, const float* in, const float* d_out, float* d_w,
                                              input_transform pre = {});

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
/// The k×k kernel turned 180°, dense [k][k][C]: with stride 1 and same padding, the input
/// gradient is the forward convolution of the output gradient with it.
inline pooled_vector<float> turned_kernel(kernel_view<const float> w, int k, int C) {
  pooled_vector<float> turned(static_cast<std::size_t>(k) * k * C);
  for (int ky = 0; ky < k; ++ky)
    for (int kx = 0; kx < k; ++kx)
      std::copy(w.tap(k - 1 - ky, k - 1 - kx), w.tap(k - 1 - ky, k - 1 - kx) + C,
                turned.data() + static_cast<std::ptrdiff_t>(ky * k + kx) * C);
  return turned;
}
/// The rows a kernel walking rows in order reads for the first time, touched in order
/// (touch_in_order): the kernels below walk them a channel vector at a time, a stride the
/// hardware prefetcher follows at half the rate of an in-order read.
/// * Input rows of one image (`image`) that output row oy's window adds to the window of
///   output row oy − 1: its last S rows.
template <int K, int S>
void touch_new_window_rows(const conv_shape& s, const float* image, int oy) {
  constexpr int P = K / 2;
  for (int iy = std::max(0, oy * S - P + K - S); iy < std::min(s.height, oy * S - P + K); ++iy)
    touch_in_order(image + at(s, 0, iy, 0, s.height, s.width), static_cast<std::ptrdiff_t>(s.width) * s.channels);
}
/// * The output-gradient row of one image (`d_out_image`) that input row iy is the first to read,
///   if any (a kernel walking input rows: the input gradient).
template <int K, int S>
void touch_first_read_gradient_row(const conv_shape& s, const float* d_out_image, int iy) {
  constexpr int P = K / 2;
  const int oh = s.out_height(), ow = s.out_width();
  if ((iy + P) % S == 0 && (iy + P) / S < oh)
    touch_in_order(d_out_image + at(s, 0, (iy + P) / S, 0, oh, ow), static_cast<std::ptrdiff_t>(ow) * s.channels);
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
/// Calls f(std::integral_constant<int, i>{}) for i = 0 .. N-1 (a compile-time index).
template <int N, class F>
[[gnu::always_inline]] inline void static_for(const F& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (f(std::integral_constant<int, I>{}), ...);
  }
  (std::make_integer_sequence<int, N>{});
}

/// Calls f(i) for i = 0 .. N-1 in a loop the compiler unrolls completely: after unrolling every
/// index is a constant, so register arrays stay in registers and tap conditions fold away —
/// the code of static_for with one instantiation of f instead of N (which kept sanitizer builds
/// of the kernels compiling for minutes).
template <int N, class F>
[[gnu::always_inline]] inline void unrolled_for(const F& f) {
#if defined(__SANITIZE_ADDRESS__)  // checked, not timed: a plain loop compiles in seconds
  for (int i = 0; i < N; ++i) f(i);
#else
#pragma GCC unroll 64
  for (int i = 0; i < N; ++i) f(i);
#endif
}

/// The input_transform as a compile-time policy: `load_as_is` (no code at all) or `load_mapped`.
/// channel<Batch>(c) loads the constants of one channel vector once, and the returned functor
/// maps each input vector loaded for it; scalar(v, c) maps one value. One mapped policy covers
/// every activation, act(z) = min(max(z·clamp(a·z + b, 0, 1), floor), ceiling):
///   none: a = 0, b = 1, floor = −∞;  ReLU: a = 0, b = 1, floor = 0;  ReLU6: as ReLU, ceiling = 6;
///   h-swish: a = 1/6, b = 1/2, floor = −∞ (z·relu6(z+3)/6); the ceiling is +∞ but for ReLU6.
/// A policy per activation compiled the forward and weight-gradient kernels three more times per
/// instruction set (a kernel test file took 50 s instead of 27).
struct load_as_is {
  template <class Batch>
  struct mapper {
    [[gnu::always_inline]] Batch operator()(Batch v) const { return v; }
  };
  template <class Batch>
  mapper<Batch> channel(int) const {
    return {};
  }
  float scalar(float v, int) const { return v; }
};
struct load_mapped {
  const float* scale;
  const float* shift;
  float slope, offset, floor, ceiling;
  explicit load_mapped(const input_transform& t)
      : scale(t.scale),
        shift(t.shift),
        slope(t.act == activation::hswish ? 1.0f / 6.0f : 0.0f),
        offset(t.act == activation::hswish ? 0.5f : 1.0f),
        floor(t.act == activation::relu || t.act == activation::relu6 ? 0.0f : -std::numeric_limits<float>::infinity()),
        ceiling(t.act == activation::relu6 ? 6.0f : std::numeric_limits<float>::infinity()) {}
  template <class Batch>
  struct mapper {
    Batch scale, shift, slope, offset, floor, ceiling;
    [[gnu::always_inline]] Batch operator()(Batch v) const {
      const Batch z = xsimd::fma(v, scale, shift);
      const Batch gate = xsimd::min(xsimd::max(xsimd::fma(z, slope, offset), Batch(0.0f)), Batch(1.0f));
      return xsimd::min(xsimd::max(z * gate, floor), ceiling);
    }
  };
  template <class Batch>
  mapper<Batch> channel(int c) const {
    return {Batch::load_unaligned(scale + c),
            Batch::load_unaligned(shift + c),
            Batch(slope),
            Batch(offset),
            Batch(floor),
            Batch(ceiling)};
  }
  float scalar(float v, int c) const {
    const float z = v * scale[c] + shift[c];
    return std::min(std::max(z * std::min(std::max(z * slope + offset, 0.0f), 1.0f), floor), ceiling);
  }
};
/// Calls f(policy) for `pre`.
template <class F>
void with_input_transform(const input_transform& pre, const F& f) {
  if (!pre.scale) return f(load_as_is{});
  f(load_mapped(pre));
}

/// Outputs per register block: 8 with 32 vector registers (AVX-512), 4 with 16. Sanitizer
/// builds use 2: the same code paths (whole, partial and guarded blocks), but fully unrolled
/// instrumented blocks of 8 took GCC over ten minutes per test file.
template <int Width>
constexpr int row_block() {
#if defined(__SANITIZE_ADDRESS__)
  return 2;
#else
  return Width >= 16 ? 8 : 4;
#endif
}

/// Calls f(kernel, stride) with both as integral constants: one instantiation per geometry,
/// so the tap loops unroll completely.
template <class F>
void with_kernel_and_stride(const conv_shape& s, const F& f) {
  using one = std::integral_constant<int, 1>;
  using two = std::integral_constant<int, 2>;
  switch (s.kernel * 10 + s.stride) {
    case 31:
      return f(std::integral_constant<int, 3>{}, one{});
    case 32:
      return f(std::integral_constant<int, 3>{}, two{});
    case 51:
      return f(std::integral_constant<int, 5>{}, one{});
    case 52:
      return f(std::integral_constant<int, 5>{}, two{});
    case 71:
      return f(std::integral_constant<int, 7>{}, one{});
    default:
      return f(std::integral_constant<int, 7>{}, two{});  // validated: 7, 2
  }
}

/// R consecutive outputs of one row, one channel vector, for a compile-time kernel K and
/// stride S. Each input vector is loaded once and feeds every output whose window holds it
/// (register blocking along x): ·S + K input loads and K weight loads per ky for R·K
/// FMAs, instead of one load per FMA. `Guard`: some taps fall outside the image in x
/// (they read as zero); rows outside it in y are skipped through [ky0, ky1).
template <class Arch, int K, int S, int R, bool Guard>
struct depthwise_row_block {
  using batch = xsimd::batch<float, Arch>;
  template <class Pre, class Finish>
  [[gnu::always_inline]] static void run(const conv_shape& s, const float* image, int oy, int ox0, int c,
                                         kernel_view<const float> w, int ky0, int ky1, float* out, int valid,
                                         const Pre& pre, const Finish& finish) {
    constexpr int P = K / 2, T = (R - 1) * S + K;
    const int C = s.channels, x0 = ox0 * S - P;
    const auto map = pre.template channel<batch>(c);
    batch acc[R];
    unrolled_for<R>([&](int j) { acc[j] = batch(0.0f); });
    for (int ky = ky0; ky < ky1; ++ky) {
      const float* irow = image + static_cast<std::ptrdiff_t>(oy * S - P + ky) * s.width * C + c;
      batch wv[K];
      unrolled_for<K>([&](int kx) { wv[kx] = batch::load_unaligned(w.tap(ky, kx) + c); });
      unrolled_for<T>([&](int t) {
        const int ix = x0 + t;
        batch xv = Guard && (ix < 0 || ix >= s.width)
                       ? batch(0.0f)  // padding: zero after the map too
                       : map(batch::load_unaligned(irow + static_cast<std::ptrdiff_t>(ix) * C));
        unrolled_for<R>([&](int j) {
          const int kx = t - j * S;
          if (kx >= 0 && kx < K) acc[j] = xsimd::fma(xv, wv[kx], acc[j]);
        });
      });
    }
    unrolled_for<R>([&](int j) {
      if (j < valid) finish(acc[j], c).store_unaligned(out + static_cast<std::ptrdiff_t>(ox0 + j) * C + c);
    });
  }
};

struct depthwise_forward_kernel {
  template <class Arch>
  void operator()(Arch arch, const conv_shape& s, const float* in, kernel_view<const float> w, float* out,
                  const float* bias, activation act, const input_transform& pre) const {
    with_input_transform(pre, [&](auto load) {
      with_kernel_and_stride(s, [&](auto k, auto stride) {
        run<Arch, decltype(k)::value, decltype(stride)::value>(arch, s, in, w, out, bias, act, load);
      });
    });
  }

  template <class Arch, int K, int S, class Pre>
  static void run(Arch, const conv_shape& s, const float* in, kernel_view<const float> w, float* out, const float* bias,
                  activation act, const Pre& pre) {
    parallel::for_index(0, s.batch * s.out_height(), [&](int row) {
      const int oh = s.out_height();
      output_row<Arch, K, S>(s, in, w, out + at(s, row / oh, row % oh, 0, oh, s.out_width()), bias, act, pre, row);
    });
  }

  /// Output row `row` (image row / out_height, row row % out_height) into out_row.
  template <class Arch, int K, int S, class Pre>
  static void output_row(const conv_shape& s, const float* in, kernel_view<const float> w, float* out_row,
                         const float* bias, activation act, const Pre& pre, int row) {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size);
    // 32 vector registers (AVX-512) hold 8 accumulators + K weights + an input; 16 hold 4.
    constexpr int R = row_block<width>();
    auto finish = [&](batch v, int c) {  // bias + activation, fused into the store
      if (bias) v += batch::load_unaligned(bias + c);
      return apply_activation(act, v);
    };
    const int oh = s.out_height(), ow = s.out_width(), C = s.channels;
    constexpr int P = K / 2;
    const int n = row / oh, oy = row % oh;
    const int ky0 = std::max(0, P - oy * S), ky1 = std::min(K, s.height + P - oy * S);
    const float* image = in + at(s, n, 0, 0, s.height, s.width);
    touch_new_window_rows<K, S>(s, image, oy);
    prepare_to_write(out_row, static_cast<std::ptrdiff_t>(ow) * C);
    if (C < width) {  // narrower than one vector: scalar
      for (int ox = 0; ox < ow; ++ox)
        for (int c = 0; c < C; ++c) {
          float acc = 0.0f;
          for (int ky = ky0; ky < ky1; ++ky)
            for (int kx = 0; kx < K; ++kx) {
              const int ix = ox * S - P + kx;
              if (ix >= 0 && ix < s.width)
                acc += pre.scalar(image[at(s, 0, oy * S - P + ky, ix, s.height, s.width) + c], c) * w.tap(ky, kx)[c];
            }
          if (bias) acc += bias[c];
          out_row[static_cast<std::ptrdiff_t>(ox) * C + c] = apply_activation(act, acc);
        }
      return;
    }
    // Channel vectors; when C is not a multiple of the width the last vector overlaps the
    // one before it (recomputing a few outputs with the same values) instead of a scalar tail.
    // One channel vector across the row: its K input rows stay in L1 between blocks.
    for (int c0 = 0; c0 < C; c0 += width) {
      const int c = c0 + width <= C ? c0 : C - width;
      for (int ox0 = 0; ox0 < ow; ox0 += R) {
        const int valid = std::min(R, ow - ox0);
        const bool guard = ox0 * S - P < 0 || (ox0 + R - 1) * S - P + K > s.width;
        if (guard)
          depthwise_row_block<Arch, K, S, R, true>::run(s, image, oy, ox0, c, w, ky0, ky1, out_row, valid, pre, finish);
        else
          depthwise_row_block<Arch, K, S, R, false>::run(s, image, oy, ox0, c, w, ky0, ky1, out_row, valid, pre,
                                                         finish);
      }
    }
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
    parallel::for_index(0, s.batch * s.height, [&](int row) {
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

/// The stride-2 input gradient, one column parity at a time. Input column ix = 2u + Phi receives
/// the taps kx ≡ Phi + P (mod 2), kx = kx0 + 2q, from output column u + Off - q: for a fixed
/// parity and input row it is a stride-1 correlation over u with Q taps, register-blocked like
/// the forward (R columns u, each output-gradient vector loaded once).
template <class Arch, int K, int Phi, int R, bool Guard>
struct depthwise_stride2_input_block {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int P = K / 2, kx0 = (Phi + P) % 2, Q = (K - kx0 + 1) / 2, Off = (Phi + P - kx0) / 2;
  /// acc[j] += Σ_q g_row[u0 + j + Off - q] · w_row[kx0 + 2q] over columns [u0, u0 + R).
  [[gnu::always_inline]] static void add_row(const float* g_row, const float* w_row, int tap_stride, int ow, int C,
                                             int u0, batch (&acc)[R]) {
    batch wv[Q];
    unrolled_for<Q>([&](int q) { wv[q] = batch::load_unaligned(w_row + (kx0 + 2 * q) * tap_stride); });
    // output columns u0 + Off - (Q-1) ... u0 + R - 1 + Off, each loaded once
    unrolled_for<R + Q - 1>([&](int t) {
      const int ox = u0 + Off - (Q - 1) + t;
      const batch gv = Guard && (ox < 0 || ox >= ow)
                           ? batch(0.0f)
                           : batch::load_unaligned(g_row + static_cast<std::ptrdiff_t>(ox) * C);
      unrolled_for<R>([&](int j) {
        const int q = j + Q - 1 - t;  // t = j + (Q-1) - q
        if (q >= 0 && q < Q) acc[j] = xsimd::fma(gv, wv[q], acc[j]);
      });
    });
  }
};

struct depthwise_stride2_input_kernel {
  template <class Arch>
  void operator()(Arch arch, const conv_shape& s, const float* d_out, kernel_view<const float> w, float* d_in) const {
    if (s.channels < static_cast<int>(xsimd::batch<float, Arch>::size))  // narrower than a vector
      return depthwise_backward_input_kernel{}(arch, s, d_out, w, d_in);
    with_kernel_and_stride(s, [&](auto k, auto) { run<Arch, decltype(k)::value>(s, d_out, w, d_in); });
  }

  template <class Arch, int K>
  static void run(const conv_shape& s, const float* d_out, kernel_view<const float> w, float* d_in) {
    parallel::for_index(0, s.batch * s.height, [&](int row) {
      input_row<Arch, K>(s, d_out, w, d_in + at(s, row / s.height, row % s.height, 0, s.height, s.width), row);
    });
  }

  /// Input row `row` (image row / height, row row % height) into out_row; C >= the vector width.
  template <class Arch, int K>
  static void input_row(const conv_shape& s, const float* d_out, kernel_view<const float> w, float* out_row, int row) {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size), P = K / 2;
    constexpr int R = row_block<width>();
    const int oh = s.out_height(), ow = s.out_width(), C = s.channels;
    const int n = row / s.height, iy = row % s.height;
    touch_first_read_gradient_row<K, 2>(s, d_out + at(s, n, 0, 0, oh, ow), iy);
    prepare_to_write(out_row, static_cast<std::ptrdiff_t>(s.width) * C);
    static_for<2>([&](auto phi) {
      using block = depthwise_stride2_input_block<Arch, K, decltype(phi)::value, R, true>;
      using fast = depthwise_stride2_input_block<Arch, K, decltype(phi)::value, R, false>;
      const int columns = (s.width - phi + 1) / 2;  // u with 2u + phi < width
      for (int u0 = 0; u0 < columns; u0 += R) {
        const bool guard = u0 + block::Off - (block::Q - 1) < 0 || u0 + R - 1 + block::Off >= ow;
        for (int c0 = 0; c0 < C; c0 += width) {
          // Channel vectors, the last overlapping the one before when C is not a multiple.
          const int c = c0 + width <= C ? c0 : C - width;
          batch acc[R];
          unrolled_for<R>([&](int j) { acc[j] = batch(0.0f); });
          for (int ky = (iy + P) % 2; ky < K; ky += 2) {  // rows of taps that reach input row iy
            const int oy = (iy + P - ky) / 2;
            if (oy < 0 || oy >= oh) continue;
            const float* g_row = d_out + at(s, n, oy, 0, oh, ow) + c;
            if (guard)
              block::add_row(g_row, w.tap(ky, 0) + c, w.tap_stride, ow, C, u0, acc);
            else
              fast::add_row(g_row, w.tap(ky, 0) + c, w.tap_stride, ow, C, u0, acc);
          }
          unrolled_for<R>([&](int j) {
            const int ix = 2 * (u0 + j) + phi;
            if (ix < s.width) acc[j].store_unaligned(out_row + static_cast<std::ptrdiff_t>(ix) * C + c);
          });
        }
      }
    });
  }
};

/// The weight gradient of R consecutive outputs of one row for one ky and channel vector:
/// acc[kx] += Σ_j dy[ox0 + j] · x[(ox0 + j)·S - P + kx]. Like the forward, each input vector is
/// loaded once for every (j, kx) pair that uses it. Outputs j >= valid contribute nothing.
template <class Arch, int K, int S, int R, bool Guard>
struct depthwise_weight_block {
  using batch = xsimd::batch<float, Arch>;
  template <class Map>
  [[gnu::always_inline]] static void run(const float* x_row, const float* g_row, int width, int C, int ox0, int valid,
                                         const Map& map, batch (&acc)[K]) {
    constexpr int P = K / 2, T = (R - 1) * S + K;
    const int x0 = ox0 * S - P;
    batch g[R];
    unrolled_for<R>([&](int j) {
      g[j] =
          Guard && j >= valid ? batch(0.0f) : batch::load_unaligned(g_row + static_cast<std::ptrdiff_t>(ox0 + j) * C);
    });
    unrolled_for<T>([&](int t) {
      const int ix = x0 + t;
      const batch xv = Guard && (ix < 0 || ix >= width)
                           ? batch(0.0f)  // padding: zero after the map too
                           : map(batch::load_unaligned(x_row + static_cast<std::ptrdiff_t>(ix) * C));
      unrolled_for<R>([&](int j) {
        const int kx = t - j * S;
        if (kx >= 0 && kx < K) acc[kx] = xsimd::fma(g[j], xv, acc[kx]);
      });
    });
  }
};

struct depthwise_backward_weight_kernel {
  template <class Arch>
  void operator()(Arch arch, const conv_shape& s, const float* in, const float* d_out, float* d_w,
                  const input_transform& pre) const {
    with_input_transform(pre, [&](auto load) {
      with_kernel_and_stride(s, [&](auto k, auto stride) {
        run<Arch, decltype(k)::value, decltype(stride)::value>(arch, s, in, d_out, d_w, load);
      });
    });
  }

  template <class Arch, int K, int S, class Pre>
  static void run(Arch, const conv_shape& s, const float* in, const float* d_out, float* d_w, const Pre& pre) {
    constexpr int P = K / 2;
    const int oh = s.out_height(), ow = s.out_width(), C = s.channels;
    const std::size_t taps = static_cast<std::size_t>(K) * K * C;
    std::fill(d_w, d_w + taps, 0.0f);
    // Fixed chunks of output rows, summed in order: deterministic for any thread count.
    parallel::deterministic_sum<float>(
        // 8 chunks at most: each needs its own k·k·C partial, zeroed and summed.
        static_cast<std::size_t>(s.batch) * oh,
        std::max<std::size_t>(1, (static_cast<std::size_t>(s.batch) * oh + 7) / 8), taps, d_w,
        [&](std::size_t begin, std::size_t end, float* partial) {
          for (std::size_t row = begin; row < end; ++row) {
            const int n = static_cast<int>(row) / oh, oy = static_cast<int>(row) % oh;
            const float* g_row = d_out + at(s, n, oy, 0, oh, ow);
            touch_in_order(g_row, static_cast<std::ptrdiff_t>(ow) * C);  // walked as the input rows are
            touch_new_window_rows<K, S>(s, in + at(s, n, 0, 0, s.height, s.width), oy);
            for (int ky = 0; ky < K; ++ky) {
              const int iy = oy * S - P + ky;
              if (iy < 0 || iy >= s.height) continue;
              const float* x_row = in + at(s, n, iy, 0, s.height, s.width);
              add_row_pair<Arch, K, S>(s, x_row, g_row, pre, partial + static_cast<std::ptrdiff_t>(ky) * K * C);
            }
          }
        });
  }

  /// Adds one (output row, kernel row) pair's contributions into a[kx·C + c], the gradient of
  /// kernel row ky: a[kx, c] += Σ_ox g_row[ox, c] · pre(x_row[ox·S − P + kx, c]). Acc: float
  /// (the weight gradient's partials) or double (the fused batch norm + depthwise backward's).
  template <class Arch, int K, int S, class Pre, class Acc>
  static void add_row_pair(const conv_shape& s, const float* x_row, const float* g_row, const Pre& pre, Acc* a) {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size), P = K / 2;
    constexpr int R = row_block<width>();  // registers: K accumulators + R gradients + an input
    const int ow = s.out_width(), C = s.channels;
    if (C < width) {  // narrower than one vector: scalar
      for (int ox = 0; ox < ow; ++ox)
        for (int kx = 0; kx < K; ++kx) {
          const int ix = ox * S - P + kx;
          if (ix < 0 || ix >= s.width) continue;
          for (int c = 0; c < C; ++c)
            a[kx * C + c] += g_row[static_cast<std::ptrdiff_t>(ox) * C + c] *
                             pre.scalar(x_row[static_cast<std::ptrdiff_t>(ix) * C + c], c);
        }
      return;
    }
    // Channel vectors, the last one overlapping when C is not a multiple of the width:
    // its overlapped lanes are already final, so it adds only to the lanes it owns.
    for (int c0 = 0; c0 < C; c0 += width) {
      const int c = c0 + width <= C ? c0 : C - width;
      const auto map = pre.template channel<batch>(c);
      batch acc[K];
      unrolled_for<K>([&](int kx) { acc[kx] = batch(0.0f); });
      for (int ox0 = 0; ox0 < ow; ox0 += R) {
        const int valid = std::min(R, ow - ox0);
        if (ox0 * S - P < 0 || (ox0 + R - 1) * S - P + K > s.width || valid < R)
          depthwise_weight_block<Arch, K, S, R, true>::run(x_row + c, g_row + c, s.width, C, ox0, valid, map, acc);
        else
          depthwise_weight_block<Arch, K, S, R, false>::run(x_row + c, g_row + c, s.width, C, ox0, valid, map, acc);
      }
      alignas(64) float lanes[width];
      unrolled_for<K>([&](int kx) {
        acc[kx].store_aligned(lanes);
        for (int l = c0 - c; l < width; ++l) a[kx * C + c + l] += lanes[l];
      });
    }
  }
};
}  // namespace detail

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void depthwise_forward(const conv_shape& s, const float* in, kernel_view<const float> w, float* out,
                                      const float* bias, activation act, input_transform pre) {
  detail::check_depthwise(s, w.kernel_size, w.channels);
  dispatch(detail::depthwise_forward_kernel{}, s, in, w, out, bias, act, pre);
}
#endif
#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void depthwise_backward_input(const conv_shape& s, const float* d_out, kernel_view<const float> w,
                                             float* d_in) {
  detail::check_depthwise(s, w.kernel_size, w.channels);
  if (s.stride == 1) {
    // With stride 1 and same padding the input gradient is the forward convolution of d_out
    // with the kernel turned 180°: the register-blocked forward serves both.
    const int k = s.kernel, C = s.channels;
    const auto turned = detail::turned_kernel(w, k, C);
    dispatch(detail::depthwise_forward_kernel{}, s, d_out, kernel_view<const float>{turned.data(), k, C, k * C, C},
             d_in, static_cast<const float*>(nullptr), activation::none, input_transform{});
    return;
  }
  dispatch(detail::depthwise_stride2_input_kernel{}, s, d_out, w, d_in);
}
#endif
#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void depthwise_backward_weight(const conv_shape& s, const float* in, const float* d_out, float* d_w,
                                              input_transform pre) {
  detail::check_depthwise(s, -1, -1);
  dispatch(detail::depthwise_backward_weight_kernel{}, s, in, d_out, d_w, pre);
}
#endif

}  // namespace ofa::kernels
