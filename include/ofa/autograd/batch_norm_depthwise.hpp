#pragma once
/// @file
/// A training batch norm with its activation and the depthwise convolution that consumes it,
/// as one op: y = depthwise(act(BN(x))), BN with batch statistics. The depthwise kernels
/// apply BN's affine map and the activation to every input value as they load it
/// (kernels::input_transform), so act(BN(x)), the widest tensor of an MBConv block, is never
/// written, read back or kept for the backward: the forward saves a pass over it, and the
/// step the memory it took. Same values and gradients as batch_norm(…, act) followed by
/// depthwise(…) (tested against the two).

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>

#include "ofa/autograd/ops.hpp"
#include "ofa/kernels/batch_norm_depthwise.hpp"

namespace ofa::autograd {

/** @brief depthwise(batch_norm(x, …, training = true, act), w, kernel, stride) in one op.
 *  BN's arrays may be max-size (the first C channels are used); w is [K][K][C_max], K >= kernel
 *  (its centre is used), as for depthwise(). */
template <class T>
variable<T> batch_norm_depthwise(const variable<T>& x, const variable<T>& gamma, const variable<T>& beta,
                                 tensor<T>& running_mean, tensor<T>& running_var, T momentum, T eps, activation act,
                                 const variable<T>& w, int kernel, int stride);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// act(x·scale + shift) into `out`: the reference path's BN output, which the fast path never forms.
template <class T>
void map_channels(std::size_t m, std::size_t c, const T* x, const T* scale, const T* shift, activation act, T* out) {
  kernels::detail::with_activation(act, [&](auto f) {
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t j = 0; j < c; ++j) out[r * c + j] = f.value(x[r * c + j] * scale[j] + shift[j]);
  });
}
}  // namespace detail

template <class T>
variable<T> batch_norm_depthwise(const variable<T>& x, const variable<T>& gamma, const variable<T>& beta,
                                 tensor<T>& running_mean, tensor<T>& running_var, T momentum, T eps, activation act,
                                 const variable<T>& w, int kernel, int stride) {
  const auto xs = detail::shape_of(x.value());
  const auto s = detail::nhwc_shape("batch_norm_depthwise", xs, kernel, stride);
  const auto c = static_cast<std::size_t>(s.channels), m = x.value().size() / c;
  const char* name = profiling::label("batch_norm_depthwise", [&] {
    return shape_string(xs) + " k" + std::to_string(kernel) + " s" + std::to_string(stride);
  });
  profiling::scope timing(name);
  if (gamma.value().size() < c || beta.value().size() < c || running_mean.size() < c || running_var.size() < c)
    detail::bad_shape("batch_norm_depthwise", "input has " + std::to_string(c) +
                                                  " channels, more than the BN layer's " +
                                                  std::to_string(gamma.value().size()));
  if (m < 2)
    detail::bad_shape("batch_norm_depthwise",
                      "training needs more than one value per channel, got " + std::to_string(m));
  const auto& ws = w.value().shape();
  if (w.value().dimension() != 3 || ws[0] != ws[1] || static_cast<int>(ws[0]) < kernel || ws[2] < c)
    detail::bad_shape("batch_norm_depthwise", "weight " + shape_string(ws) + " cannot serve kernel " +
                                                  std::to_string(kernel) + " on " + std::to_string(c) +
                                                  " channels (need [K][K][C], K >= k)");
  kernels::detail::check_depthwise(s, -1, -1);  // an unsupported k or stride throws before BN's running stats move
  const int full_k = static_cast<int>(ws[0]), max_c = static_cast<int>(ws[2]);
  auto view = kernel_view<const T>::centre(w.value().data(), full_k, max_c, kernel, s.channels);

  // BN's statistics, then BN as the affine map x·scale + shift it is for this batch.
  auto saved = std::make_shared<kernels::batch_norm_saved<T>>();
  const kernels::batch_norm_params<T> p{
      gamma.value().data(), beta.value().data(), running_mean.data(), running_var.data(), momentum, eps};
  if constexpr (std::is_same_v<T, float>)
    kernels::batch_norm_statistics(m, c, x.value().data(), p, *saved);
  else
    kernels::batch_norm_statistics_reference(m, c, x.value().data(), p, *saved);
  auto affine = std::make_shared<pooled_vector<T>>(2 * c);  // scale [c], then shift [c]
  kernels::batch_norm_scale_shift(c, gamma.value().data(), beta.value().data(), *saved, affine->data(),
                                  affine->data() + c);
  const T* scale = affine->data();
  const T* shift = affine->data() + c;

  tensor<T> y(
      shape_type{xs[0], static_cast<std::size_t>(s.out_height()), static_cast<std::size_t>(s.out_width()), xs[3]});
  if constexpr (std::is_same_v<T, float>) {
    kernels::depthwise_forward(s, x.value().data(), view, y.data(), nullptr, activation::none, {scale, shift, act});
  } else {
    pooled_vector<T> mapped(m * c);
    detail::map_channels(m, c, x.value().data(), scale, shift, act, mapped.data());
    kernels::depthwise_forward_reference(s, mapped.data(), view, y.data());
  }
  const bool on_tape = detail::wants_grad<T>({&x, &gamma, &beta, &w});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record(name, [x, gamma, beta, w, r, s, m, c, full_k, max_c, act, saved, affine]() mutable {
      const T* dy = r.grad().data();
      const T* scale = affine->data();
      const T* shift = affine->data() + c;
      auto view = kernel_view<const T>::centre(w.value().data(), full_k, max_c, s.kernel, s.channels);
      T* dgamma = gamma.requires_grad() ? gamma.grad().data() : nullptr;
      T* dbeta = beta.requires_grad() ? beta.grad().data() : nullptr;
      pooled_vector<T> dw(w.requires_grad() ? static_cast<std::size_t>(s.kernel) * s.kernel * c : 0);
      // All four gradients; g is x-sized, x's gradient when want_dx, else scratch.
      auto gradients = [&](T* g, bool want_dx) {
        T* d_w = dw.empty() ? nullptr : dw.data();
        if constexpr (std::is_same_v<T, float>) {
          // One kernel (kernels::batch_norm_depthwise_backward): two passes over x-sized tensors
          // where the kernels one after the other make four.
          kernels::batch_norm_depthwise_backward(s, x.value().data(), dy, view, gamma.value().data(),
                                                 beta.value().data(), *saved, act, d_w, g, want_dx, dgamma, dbeta);
        } else {
          // The reference path: act(BN(x)) formed, then the depthwise gradients, then BN's backward.
          if (d_w) {
            pooled_vector<T> mapped(m * c);
            detail::map_channels(m, c, x.value().data(), scale, shift, act, mapped.data());
            kernels::depthwise_backward_weight_reference(s, mapped.data(), dy, d_w);
          }
          kernels::depthwise_backward_input_reference(s, dy, view, g);
          kernels::batch_norm_backward_reference(m, c, x.value().data(), g, gamma.value().data(), beta.value().data(),
                                                 *saved, want_dx ? g : nullptr, dgamma, dbeta, act);
        }
      };
      if (x.requires_grad()) {
        detail::backprop_into(x, [&](T* g) { gradients(g, true); });
      } else if (dgamma || dbeta || !dw.empty()) {
        pooled_vector<T> g(m * c);
        gradients(g.data(), false);
      }
      if (!dw.empty()) detail::add_centre_gradient(w, full_k, max_c, s, dw.data());
    });
  return r;
}

}  // namespace ofa::autograd
