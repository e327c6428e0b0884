#pragma once
/// @file
/// The backward of y = depthwise(act(BN(x))), BN in training (batch statistics), in two passes
/// over x-sized tensors instead of four: the kernel behind autograd::batch_norm_depthwise.
///
/// One kernel after the other, the backward makes four passes over x-sized tensors (12.6 MB
/// each in W2's first unit): the weight gradient reads x; the input gradient writes g; BN's
/// backward reads x and g for its sums Σdz and Σdz·x̂ (dz = act'(z)·g), then both again to
/// write dx. Here one parallel pass over the input rows does, per row, while the row is in cache:
///  1. the weight gradient of every (output row, kernel row) pair that reads this input row;
///  2. the input gradient g of the row;
///  3. dz = act'(x·scale + shift)·g in g's place, and the row's share of BN's two sums;
/// and a second pass turns dz into dx = k1·dz + kx·x + k0 (BN's backward with its sums known).
/// The work is that of the separate kernels; only the traffic is less.

#include <algorithm>  // max, min
#include <cstddef>
#include <type_traits>  // bool_constant
#include "ofa/config.hpp"

#include <xsimd/xsimd.hpp>

#include "ofa/kernels/activation.hpp"
#include "ofa/kernels/batch_norm.hpp"
#include "ofa/kernels/depthwise.hpp"
#include "ofa/kernels/simd.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/tensor/pool.hpp"

namespace ofa::kernels {

/** @brief Gradients of y = depthwise(act(BN(x)), w), BN in training with the batch statistics
 *  `saved` (its first C channels), x NHWC of shape s, dy the gradient of y:
 *  d_w (dense k×k×C, overwritten; null: not wanted), dγ and dβ (added to; null: not wanted),
 *  and dx (x-sized, overwritten). With `want_dx` false, dx is scratch and the pass that forms
 *  x's gradient is skipped. Fast float version; same results as depthwise_backward_weight,
 *  depthwise_backward_input and batch_norm_backward in turn (tested against them). */
OFA_KERNEL_API void batch_norm_depthwise_backward(const conv_shape& s, const float* x, const float* dy,
                                                  kernel_view<const float> w, const float* gamma, const float* beta,
                                                  const batch_norm_saved<float>& saved, activation act, float* d_w,
                                                  float* dx, bool want_dx, float* dgamma, float* dbeta);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
struct bn_depthwise_backward_kernel {
  template <class Arch>
  void operator()(Arch arch, const conv_shape& s, const float* x, const float* dy, kernel_view<const float> w,
                  const float* gamma, const float* beta, const batch_norm_saved<float>& saved, activation act,
                  float* d_w, float* dx, bool want_dx, float* dgamma, float* dbeta) const {
    const auto c = static_cast<std::size_t>(s.channels);
    const std::size_t m = static_cast<std::size_t>(s.batch) * s.height * s.width;
    pooled_vector<float> scale(c), shift(c), nmi(c);
    batch_norm_scale_shift(c, gamma, beta, saved, scale.data(), shift.data());
    const float* inv = saved.inv_std.data();
    for (std::size_t j = 0; j < c; ++j) nmi[j] = -saved.mean[j] * inv[j];
    const input_transform pre{scale.data(), shift.data(), act};
    if (s.channels < static_cast<int>(xsimd::batch<float, Arch>::size)) {
      // Narrower than one vector (the row kernels need one): the kernels one after the other.
      if (d_w) depthwise_backward_weight_kernel{}(arch, s, x, dy, d_w, pre);
      depthwise_backward_input_kernel{}(arch, s, dy, w, dx);
      bn_backward_kernel{}(arch, m, c, x, dx, gamma, beta, saved, want_dx ? dx : nullptr, dgamma, dbeta, act);
      return;
    }
    const std::size_t taps = d_w ? static_cast<std::size_t>(s.kernel) * s.kernel * c : 0;
    pooled_vector<double> sums(taps + 2 * c, 0.0);  // the weight gradient, then Σdz and Σdz·x̂
    with_kernel_and_stride(s, [&](auto k, auto stride) {
      first_pass<Arch, decltype(k)::value, decltype(stride)::value>(s, x, dy, w, load_mapped(pre), act, scale.data(),
                                                                    shift.data(), inv, nmi.data(), d_w != nullptr, dx,
                                                                    sums.data());
    });
    for (std::size_t i = 0; i < taps; ++i) d_w[i] = static_cast<float>(sums[i]);
    const double* bn_sums = sums.data() + taps;
    add_affine_gradients(c, bn_sums, dgamma, dbeta);
    if (!want_dx) return;
    pooled_vector<float> k1(c), kx(c), k0(c);
    input_gradient_constants(m, c, gamma, saved, bn_sums, k1.data(), kx.data(), k0.data());
    // act' is already in dz: the second pass is BN's input gradient with no activation, in place.
    bn_kernels{}.input_gradient(arch, act_none{}, m, c, x, dx, scale.data(), shift.data(), k1.data(), kx.data(),
                                k0.data(), dx);
  }

  /// The pass over the input rows: the weight gradient (when `weight`) into sums[0, K·K·C),
  /// dz into dz, Σdz and Σdz·x̂ into the next 2·C sums. Fixed chunks of rows, their partials
  /// added in order: the same result on any thread count.
  template <class Arch, int K, int S>
  static void first_pass(const conv_shape& s, const float* x, const float* dy, kernel_view<const float> w,
                         const load_mapped& map, activation act, const float* scale, const float* shift,
                         const float* inv, const float* nmi, bool weight, float* dz, double* sums) {
    constexpr int P = K / 2;
    const int oh = s.out_height(), ow = s.out_width(), C = s.channels;
    const std::size_t taps = weight ? static_cast<std::size_t>(K) * K * C : 0;
    // Stride 1: the input gradient is the forward convolution of dy with the kernel turned 180°.
    const auto turned_weights = S == 1 ? turned_kernel(w, K, C) : pooled_vector<float>{};
    const kernel_view<const float> turned{turned_weights.data(), K, C, K * C, C};
    const std::size_t rows = static_cast<std::size_t>(s.batch) * s.height;
    // 16 chunks at most: each has its own k·k·C + 2·C partial, zeroed and summed.
    parallel::deterministic_sum<double>(
        rows, std::max<std::size_t>(1, (rows + 15) / 16), taps + 2 * static_cast<std::size_t>(C), sums,
        [&](std::size_t begin, std::size_t end, double* partial) {
          for (std::size_t r = begin; r < end; ++r) {
            const int row = static_cast<int>(r), n = row / s.height, iy = row % s.height;
            const float* x_row = x + at(s, n, iy, 0, s.height, s.width);
            float* dz_row = dz + at(s, n, iy, 0, s.height, s.width);
            // The input gradient first: its row kernel touches, in order, the dy row this input row
            // is the first to read, which the weight gradient then walks a channel vector at a
            // time (as it walks x's row, touched here), and prepares dz's row.
            touch_in_order(x_row, static_cast<std::ptrdiff_t>(s.width) * C);
            if constexpr (S == 1)
              depthwise_forward_kernel::output_row<Arch, K, 1>(s, dy, turned, dz_row, nullptr, activation::none,
                                                               load_as_is{}, row);
            else
              depthwise_stride2_input_kernel::input_row<Arch, K>(s, dy, w, dz_row, row);
            if (weight)
              for (int ky = 0; ky < K; ++ky) {  // the output rows whose kernel row ky reads this row
                const int t = iy + P - ky;
                if (t < 0 || t % S != 0 || t / S >= oh) continue;
                depthwise_backward_weight_kernel::add_row_pair<Arch, K, S>(
                    s, x_row, dy + at(s, n, t / S, 0, oh, ow), map, partial + static_cast<std::ptrdiff_t>(ky) * K * C);
              }
            // The activation chosen per row, not per pass: one instantiation of this pass per geometry,
            // not three (the kernel test file compiled in 60 s with three).
            with_activation(act, [&](auto f) {
              row_sums<Arch, decltype(f)>(s.width, C, x_row, dz_row, scale, shift, inv, nmi, partial + taps);
            });
          }
        });
  }

  /// For one row of `pixels` pixels: g becomes dz = act'(x·scale + shift)·g, and Σdz, Σdz·x̂
  /// (x̂ = x·inv + nmi) are added into sums[0, C) and sums[C, 2C). A channel vector at a time
  /// down the row (its sums in registers); the last, partial one through masked loads and
  /// stores, whose lanes past C read as zero and so add nothing.
  template <class Arch, class Act>
  static void row_sums(int pixels, int C, const float* x_row, float* g_row, const float* scale, const float* shift,
                       const float* inv, const float* nmi, double* sums) {
    using batch = xsimd::batch<float, Arch>;
    constexpr int width = static_cast<int>(batch::size);
    for (int c0 = 0; c0 < C; c0 += width) {
      const int count = std::min(width, C - c0);
      // One loop per case, so that the inner loop has no branch on it.
      auto down_the_row = [&]<bool Whole>(std::bool_constant<Whole>) {
        auto load = [&](const float* p) { return Whole ? batch::load_unaligned(p) : load_first<Arch>(p, count); };
        const batch sc = load(scale + c0), sh = load(shift + c0), iv = load(inv + c0), nm = load(nmi + c0);
        batch s(0.0f), q(0.0f);
        for (int p = 0; p < pixels; ++p) {
          const std::ptrdiff_t i = static_cast<std::ptrdiff_t>(p) * C + c0;
          const batch xv = load(x_row + i);
          const batch d = Act::derivative(xsimd::fma(xv, sc, sh), load(g_row + i));
          if constexpr (Whole)
            d.store_unaligned(g_row + i);
          else
            store_first<Arch>(d, g_row + i, count);
          s += d;
          q = xsimd::fma(d, xsimd::fma(xv, iv, nm), q);
        }
        alignas(64) float lanes[2 * width];
        s.store_aligned(lanes);
        q.store_aligned(lanes + width);
        for (int l = 0; l < count; ++l) {
          sums[c0 + l] += double(lanes[l]);
          sums[C + c0 + l] += double(lanes[width + l]);
        }
      };
      if (count == width)
        down_the_row(std::true_type{});
      else
        down_the_row(std::false_type{});
    }
  }
};
}  // namespace detail

#if OFA_KERNELS_DEFINE
OFA_KERNEL_API void batch_norm_depthwise_backward(const conv_shape& s, const float* x, const float* dy,
                                                  kernel_view<const float> w, const float* gamma, const float* beta,
                                                  const batch_norm_saved<float>& saved, activation act, float* d_w,
                                                  float* dx, bool want_dx, float* dgamma, float* dbeta) {
  detail::check_depthwise(s, w.kernel_size, w.channels);
  dispatch(detail::bn_depthwise_backward_kernel{}, s, x, dy, w, gamma, beta, saved, act, d_w, dx, want_dx, dgamma,
           dbeta);
}
#endif

}  // namespace ofa::kernels
