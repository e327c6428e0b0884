#pragma once
/// @file
/// Differentiable operations on variables. Each computes its value with the
/// kernels (the SIMD ones for float, the scalar references for double, which
/// is what gradcheck runs), and, when recording and some input wants a
/// gradient, records a backward closure that accumulates into the inputs.
/// Weights may be max-size: pointwise/linear take the active (out, in) and
/// depthwise the active kernel size, and use slices in place.

#include <algorithm>
#include <cmath>  // sqrt
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "ofa/autograd/tape.hpp"
#include "ofa/autograd/variable.hpp"
#include "ofa/kernels/activation.hpp"
#include "ofa/kernels/batch_norm.hpp"
#include "ofa/kernels/conv2d.hpp"
#include "ofa/kernels/depthwise.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/kernels/loss.hpp"
#include "ofa/kernels/pooling.hpp"
#include "ofa/kernels/resize.hpp"
#include "ofa/kernels/window_pooling.hpp"
#include "ofa/profiling.hpp"
#include "ofa/random.hpp"

namespace ofa::autograd {

template <class T>
variable<T> pointwise(const variable<T>& x, const variable<T>& w, int out, int in);
template <class T>
variable<T> bias_add(const variable<T>& x, const variable<T>& b);
template <class T>
variable<T> linear(const variable<T>& x, const variable<T>& w, const variable<T>& b, int out, int in);
template <class T>
variable<T> depthwise(const variable<T>& x, const variable<T>& w, int kernel, int stride);
template <class T>
variable<T> conv2d(const variable<T>& x, const variable<T>& w, int stride);
template <class T>
variable<T> batch_norm(const variable<T>& x, const variable<T>& gamma, const variable<T>& beta, tensor<T>& running_mean,
                       tensor<T>& running_var, bool training, T momentum = T(0.1), T eps = T(1e-5),
                       activation act = activation::none);
/** @brief Batch norm on given statistics (running or recalibrated), which it only reads: the
 *  evaluation forward, safe to run on several threads over one network. */
template <class T>
variable<T> batch_norm_inference(const variable<T>& x, const variable<T>& gamma, const variable<T>& beta,
                                 const tensor<T>& mean, const tensor<T>& var, T eps = T(1e-5),
                                 activation act = activation::none);
template <class T>
variable<T> activate(const variable<T>& x, activation act);
template <class T>
variable<T> hsigmoid(const variable<T>& x);
template <class T>
variable<T> global_avg_pool(const variable<T>& x);
/** @brief Max pooling k×k, stride s, padding k/2 (the ResNets' stem: 3, 2). */
template <class T>
variable<T> max_pool2d(const variable<T>& x, int window, int stride);
/** @brief Average pooling s×s, stride s, the output rounded up (a downsampling shortcut). */
template <class T>
variable<T> average_pool2d(const variable<T>& x, int stride);
/** @brief The first `out` filters over the first `in` input channels of a max-size dense conv weight
 *  [Cout][k][k][Cin], as a contiguous [out][k][k][in] weight (conv2d's); the gradient goes back to
 *  the slice. The weight itself when nothing is cut. */
template <class T>
variable<T> conv_weight_slice(const variable<T>& w, int out, int in);
template <class T>
variable<T> channel_scale(const variable<T>& x, const variable<T>& s);
template <class T>
variable<T> add(const variable<T>& a, const variable<T>& b);
template <class T>
variable<T> dropout(const variable<T>& x, double p, rng& engine, bool training);
template <class T>
variable<T> resize_bilinear(const variable<T>& x, int out_h, int out_w);
template <class T>
variable<T> cross_entropy(const variable<T>& logits, const std::vector<int>& labels, T label_smoothing = T(0));
template <class T>
variable<T> soft_cross_entropy(const variable<T>& logits, const tensor<T>& teacher_logits);
template <class T>
variable<T> mse(const variable<T>& y, const tensor<T>& target);
template <class T>
variable<T> dot(const variable<T>& y, const tensor<T>& weights);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
template <class T>
bool wants_grad(std::initializer_list<const variable<T>*> inputs) {
  if (!tape<T>::recording()) return false;
  for (auto* v : inputs)
    if (v->defined() && v->requires_grad()) return true;
  return false;
}

/// A new result; it requires a gradient iff it will be on the tape.
template <class T>
variable<T> result(tensor<T> value, bool on_tape) {
  return variable<T>(std::move(value), on_tape);
}

template <class T>
void add_into(const variable<T>& v, const T* delta) {
  if (!v.requires_grad()) return;
  v.accumulate_grad(delta);
}

/// Runs compute(out) for x's full gradient contribution: straight into x's gradient when this
/// is the first contribution (no temporary, no copy), else into a temporary that is added.
template <class T, class Compute>
void backprop_into(const variable<T>& x, Compute&& compute) {
  if (!x.requires_grad()) return;
  bool fresh = false;
  T* g = x.grad_for_write(fresh);
  if (fresh) {
    compute(g);
    return;
  }
  pooled_vector<T> tmp(x.value().size());
  compute(tmp.data());
  x.accumulate_grad(tmp.data());  // the gradient is valid now: a parallel add
}

/// backprop_into for a backward that is element-wise in r's gradient (dx[i] reads dy[i] and no
/// other element of dy): compute(dy, dx) runs in place, dx = dy, when x adopts r's gradient
/// buffer (x's first contribution), so that no fresh buffer is written; else as backprop_into.
template <class T, class Compute>
void backprop_elementwise(const variable<T>& x, const variable<T>& r, Compute&& compute) {
  if (!x.requires_grad()) return;
  if (x.adopt_grad_buffer(r)) {
    T* g = x.grad().data();
    compute(g, g);
    return;
  }
  backprop_into(x, [&](T* dx) { compute(r.grad().data(), dx); });
}

template <class T>
std::vector<std::size_t> shape_of(const tensor<T>& t) {
  return std::vector<std::size_t>(t.shape().begin(), t.shape().end());
}

/// Adds a dense k×k×C weight gradient into the centre of w's max-size gradient.
template <class T>
void add_centre_gradient(const variable<T>& w, int full_k, int max_c, const kernels::conv_shape& s, const T* dw) {
  auto g = kernel_view<T>::centre(w.grad().data(), full_k, max_c, s.kernel, s.channels);
  for (int ky = 0; ky < s.kernel; ++ky)
    for (int kx = 0; kx < s.kernel; ++kx)
      for (int c = 0; c < s.channels; ++c)
        g.tap(ky, kx)[c] += dw[static_cast<std::size_t>((ky * s.kernel + kx) * s.channels + c)];
}

[[noreturn]] inline void bad_shape(const char* op, const std::string& what) {
  throw shape_error(std::string("ofa::autograd::") + op + ": " + what);
}

inline kernels::conv_shape nhwc_shape(const char* op, const std::vector<std::size_t>& s, int kernel, int stride) {
  if (s.size() != 4) bad_shape(op, "input must be NHWC (rank 4), got " + shape_string(s));
  return {
      static_cast<int>(s[0]), static_cast<int>(s[1]), static_cast<int>(s[2]), static_cast<int>(s[3]), kernel, stride};
}
}  // namespace detail

template <class T>
variable<T> pointwise(const variable<T>& x, const variable<T>& w, int out, int in) {
  auto xs = detail::shape_of(x.value());
  const auto& ws = w.value().shape();
  if (w.value().dimension() != 2) detail::bad_shape("pointwise", "weight must be [out, in], got " + shape_string(ws));
  if (xs.empty() || static_cast<int>(xs.back()) != in)
    detail::bad_shape("pointwise", "input " + shape_string(xs) + " must end in " + std::to_string(in) + " channels");
  if (out < 1 || in < 1 || static_cast<std::size_t>(out) > ws[0] || static_cast<std::size_t>(in) > ws[1])
    detail::bad_shape("pointwise", "active slice " + std::to_string(out) + "x" + std::to_string(in) +
                                       " does not fit the weight " + shape_string(ws));
  const int m = static_cast<int>(x.value().size()) / in, ldw = static_cast<int>(ws[1]);
  const char* name = profiling::label(
      "pointwise", [&] { return std::to_string(m) + "x" + std::to_string(in) + "->" + std::to_string(out); });
  profiling::scope timing(name);
  xs.back() = static_cast<std::size_t>(out);
  tensor<T> y(xs);
  kernels::gemm_any<T>(kernels::trans::no, kernels::trans::yes, m, out, in, T(1), x.value().data(), in,
                       w.value().data(), ldw, T(0), y.data(), out);
  const bool on_tape = detail::wants_grad<T>({&x, &w});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record(name, [x, w, r, m, out, in, ldw]() mutable {
      const T* dy = r.grad().data();
      // The weight gradient first, so that the input gradient is fresh in the cache for the op before.
      if (w.requires_grad()) {
        // The whole weight active: the first contribution overwrites the lazily zeroed gradient.
        const bool whole = std::size_t(out) == w.value().shape()[0] && std::size_t(in) == w.value().shape()[1];
        bool fresh = false;
        T* dw = whole ? w.grad_for_write(fresh) : w.grad().data();
        kernels::gemm_any<T>(kernels::trans::yes, kernels::trans::no, out, in, m, T(1), dy, out, x.value().data(), in,
                             fresh ? T(0) : T(1), dw, ldw);
      }
      if (x.requires_grad()) {
        bool fresh = false;
        T* dx = x.grad_for_write(fresh);
        kernels::gemm_any<T>(kernels::trans::no, kernels::trans::no, m, in, out, T(1), dy, out, w.value().data(), ldw,
                             fresh ? T(0) : T(1), dx, in);
      }
    });
  return r;
}

template <class T>
variable<T> bias_add(const variable<T>& x, const variable<T>& b) {
  profiling::scope timing("bias_add");
  const std::size_t c = x.value().shape().back();
  if (b.value().size() < c)
    detail::bad_shape("bias_add",
                      "bias has " + std::to_string(b.value().size()) + " entries, input needs " + std::to_string(c));
  tensor<T> y = x.value();
  const std::size_t rows = y.size() / c;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < c; ++j) y.data()[r * c + j] += b.value().data()[j];
  const bool on_tape = detail::wants_grad<T>({&x, &b});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("bias_add", [x, b, r, rows, c]() mutable {
      const T* dy = r.grad().data();
      detail::add_into(x, dy);
      if (b.requires_grad()) {
        T* db = b.grad().data();
        for (std::size_t i = 0; i < rows; ++i)
          for (std::size_t j = 0; j < c; ++j) db[j] += dy[i * c + j];
      }
    });
  return r;
}

template <class T>
variable<T> linear(const variable<T>& x, const variable<T>& w, const variable<T>& b, int out, int in) {
  return bias_add(pointwise(x, w, out, in), b);
}

template <class T>
variable<T> depthwise(const variable<T>& x, const variable<T>& w, int kernel, int stride) {
  const auto xs = detail::shape_of(x.value());
  const auto s = detail::nhwc_shape("depthwise", xs, kernel, stride);
  const char* name = profiling::label(
      "depthwise", [&] { return shape_string(xs) + " k" + std::to_string(kernel) + " s" + std::to_string(stride); });
  profiling::scope timing(name);
  const auto& ws = w.value().shape();
  if (w.value().dimension() != 3 || ws[0] != ws[1] || static_cast<int>(ws[0]) < kernel ||
      static_cast<int>(ws[2]) < s.channels)
    detail::bad_shape("depthwise", "weight " + shape_string(ws) + " cannot serve kernel " + std::to_string(kernel) +
                                       " on " + std::to_string(s.channels) + " channels (need [K][K][C], K >= k)");
  const int full_k = static_cast<int>(ws[0]), max_c = static_cast<int>(ws[2]);
  auto view = kernel_view<const T>::centre(w.value().data(), full_k, max_c, kernel, s.channels);
  tensor<T> y(
      shape_type{xs[0], static_cast<std::size_t>(s.out_height()), static_cast<std::size_t>(s.out_width()), xs[3]});
  if constexpr (std::is_same_v<T, float>)
    kernels::depthwise_forward(s, x.value().data(), view, y.data());
  else
    kernels::depthwise_forward_reference(s, x.value().data(), view, y.data());
  const bool on_tape = detail::wants_grad<T>({&x, &w});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record(name, [x, w, r, s, full_k, max_c]() mutable {
      const T* dy = r.grad().data();
      auto view = kernel_view<const T>::centre(w.value().data(), full_k, max_c, s.kernel, s.channels);
      // The weight gradient first: the input gradient, written last, is then still in the cache
      // when the op before reads it (a batch norm, in place).
      if (w.requires_grad()) {
        pooled_vector<T> dw(static_cast<std::size_t>(s.kernel) * s.kernel * s.channels);
        if constexpr (std::is_same_v<T, float>)
          kernels::depthwise_backward_weight(s, x.value().data(), dy, dw.data());
        else
          kernels::depthwise_backward_weight_reference(s, x.value().data(), dy, dw.data());
        detail::add_centre_gradient(w, full_k, max_c, s, dw.data());
      }
      detail::backprop_into(x, [&](T* dx) {
        if constexpr (std::is_same_v<T, float>)
          kernels::depthwise_backward_input(s, dy, view, dx);
        else
          kernels::depthwise_backward_input_reference(s, dy, view, dx);
      });
    });
  return r;
}

template <class T>
variable<T> conv2d(const variable<T>& x, const variable<T>& w, int stride) {
  profiling::scope timing("conv2d");
  const auto xs = detail::shape_of(x.value());
  const auto& ws = w.value().shape();
  if (w.value().dimension() != 4 || ws[1] != ws[2])
    detail::bad_shape("conv2d", "weight must be [Cout][k][k][Cin], got " + shape_string(ws));
  const auto s = detail::nhwc_shape("conv2d", xs, static_cast<int>(ws[1]), stride);
  if (ws[3] != xs[3])
    detail::bad_shape("conv2d", "weight " + shape_string(ws) + " expects " + std::to_string(ws[3]) +
                                    " input channels, input is " + shape_string(xs));
  if (s.stride < 1) detail::bad_shape("conv2d", "stride must be positive");
  const int cout = static_cast<int>(ws[0]);
  tensor<T> y(shape_type{xs[0], static_cast<std::size_t>(s.out_height()), static_cast<std::size_t>(s.out_width()),
                         static_cast<std::size_t>(cout)});
  kernels::conv2d_forward(s, cout, x.value().data(), w.value().data(), y.data());
  const bool on_tape = detail::wants_grad<T>({&x, &w});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("conv2d", [x, w, r, s, cout]() mutable {
      pooled_vector<T> dw(w.value().size(), T(0));
      kernels::conv2d_backward(s, cout, x.value().data(), w.value().data(), r.grad().data(), static_cast<T*>(nullptr),
                               dw.data());
      detail::add_into(w, dw.data());
      detail::backprop_into(x, [&](T* dx) {
        kernels::conv2d_backward(s, cout, x.value().data(), w.value().data(), r.grad().data(), dx,
                                 static_cast<T*>(nullptr));
      });
    });
  return r;
}

template <class T>
variable<T> batch_norm_inference(const variable<T>& x, const variable<T>& gamma, const variable<T>& beta,
                                 const tensor<T>& running_mean, const tensor<T>& running_var, T eps,
                                 activation act) {
  const std::size_t c = x.value().shape().back(), m = x.value().size() / c;
  profiling::scope timing("batch_norm");
  if (gamma.value().size() < c || beta.value().size() < c || running_mean.size() < c || running_var.size() < c)
    detail::bad_shape("batch_norm", "input has " + std::to_string(c) + " channels, more than the BN layer's " +
                                        std::to_string(gamma.value().size()));
  tensor<T> y(x.value().shape());
  // The kernel's parameter block is shared with training, whose running statistics it writes;
  // inference only reads them.
  kernels::batch_norm_params<T> p{gamma.value().data(), beta.value().data(), const_cast<T*>(running_mean.data()),
                                  const_cast<T*>(running_var.data()), T(0), eps};
  kernels::batch_norm_infer(m, c, x.value().data(), p, y.data(), act);
  const bool on_tape = detail::wants_grad<T>({&x, &gamma, &beta});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)  // inference BN is affine: z = x·scale + shift, y = act(z)
    tape<T>::current().record(
        "batch_norm", [x, gamma, beta, r, m, c, &running_mean, &running_var, eps, act]() mutable {
          const T* dy = r.grad().data();
          pooled_vector<T> z(m * c), dz(m * c);
          for (std::size_t j = 0; j < c; ++j) {
            const T inv = T(1) / std::sqrt(running_var.data()[j] + eps);
            for (std::size_t i = 0; i < m; ++i)
              z[i * c + j] = (x.value().data()[i * c + j] - running_mean.data()[j]) * inv * gamma.value().data()[j] +
                             beta.value().data()[j];
          }
          kernels::activation_backward_reference(act, m * c, z.data(), dy, dz.data());
          for (std::size_t j = 0; j < c; ++j) {
            const T inv = T(1) / std::sqrt(running_var.data()[j] + eps);
            for (std::size_t i = 0; i < m; ++i) {
              const T g = dz[i * c + j];
              if (x.requires_grad()) x.grad().data()[i * c + j] += g * gamma.value().data()[j] * inv;
              if (gamma.requires_grad())
                gamma.grad().data()[j] += g * (x.value().data()[i * c + j] - running_mean.data()[j]) * inv;
              if (beta.requires_grad()) beta.grad().data()[j] += g;
            }
          }
        });
  return r;
}

template <class T>
variable<T> batch_norm(const variable<T>& x, const variable<T>& gamma, const variable<T>& beta, tensor<T>& running_mean,
                       tensor<T>& running_var, bool training, T momentum, T eps, activation act) {
  const std::size_t c = x.value().shape().back(), m = x.value().size() / c;
  const char* name = profiling::label("batch_norm", [&] { return std::to_string(m) + "x" + std::to_string(c); });
  profiling::scope timing(name);
  if (gamma.value().size() < c || beta.value().size() < c || running_mean.size() < c || running_var.size() < c)
    detail::bad_shape("batch_norm", "input has " + std::to_string(c) + " channels, more than the BN layer's " +
                                        std::to_string(gamma.value().size()));
  if (!training) return batch_norm_inference<T>(x, gamma, beta, running_mean, running_var, eps, act);
  tensor<T> y(x.value().shape());
  kernels::batch_norm_params<T> p{
      gamma.value().data(), beta.value().data(), running_mean.data(), running_var.data(), momentum, eps};
  if (m < 2)
    detail::bad_shape("batch_norm", "training needs more than one value per channel, got " + std::to_string(m));
  auto saved = std::make_shared<kernels::batch_norm_saved<T>>();
  if constexpr (std::is_same_v<T, float>)
    kernels::batch_norm_train(m, c, x.value().data(), p, y.data(), *saved, act);
  else
    kernels::batch_norm_train_reference(m, c, x.value().data(), p, y.data(), *saved, act);
  const bool on_tape = detail::wants_grad<T>({&x, &gamma, &beta});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record(name, [x, gamma, beta, r, m, c, saved, act]() mutable {
      auto run = [&](const T* dy, T* dx) {  // element-wise in dx: dx may be dy
        T* dgamma = gamma.requires_grad() ? gamma.grad().data() : nullptr;
        T* dbeta = beta.requires_grad() ? beta.grad().data() : nullptr;
        if constexpr (std::is_same_v<T, float>)
          kernels::batch_norm_backward(m, c, x.value().data(), dy, gamma.value().data(), beta.value().data(), *saved,
                                       dx, dgamma, dbeta, act);
        else
          kernels::batch_norm_backward_reference(m, c, x.value().data(), dy, gamma.value().data(), beta.value().data(),
                                                 *saved, dx, dgamma, dbeta, act);
      };
      if (x.requires_grad())
        detail::backprop_elementwise(x, r, run);
      else
        run(r.grad().data(), nullptr);  // dgamma and dbeta only
    });
  return r;
}

template <class T>
variable<T> activate(const variable<T>& x, activation act) {
  profiling::scope timing("activate");
  tensor<T> y(x.value().shape());
  if constexpr (std::is_same_v<T, float>)
    kernels::activation_forward(act, y.size(), x.value().data(), y.data());
  else
    kernels::activation_forward_reference(act, y.size(), x.value().data(), y.data());
  const bool on_tape = detail::wants_grad<T>({&x});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("activate", [x, r, act]() mutable {
      const std::size_t n = x.value().size();
      detail::backprop_into(x, [&](T* dx) {
        if constexpr (std::is_same_v<T, float>)
          kernels::activation_backward(act, n, x.value().data(), r.grad().data(), dx);
        else
          kernels::activation_backward_reference(act, n, x.value().data(), r.grad().data(), dx);
      });
    });
  return r;
}

template <class T>
variable<T> hsigmoid(const variable<T>& x) {
  profiling::scope timing("hsigmoid");
  tensor<T> y(x.value().shape());
  if constexpr (std::is_same_v<T, float>)
    kernels::hsigmoid_forward(y.size(), x.value().data(), y.data());
  else
    kernels::hsigmoid_forward_reference(y.size(), x.value().data(), y.data());
  const bool on_tape = detail::wants_grad<T>({&x});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("hsigmoid", [x, r]() mutable {
      const std::size_t n = x.value().size();
      detail::backprop_into(x, [&](T* dx) {
        if constexpr (std::is_same_v<T, float>)
          kernels::hsigmoid_backward(n, x.value().data(), r.grad().data(), dx);
        else
          kernels::hsigmoid_backward_reference(n, x.value().data(), r.grad().data(), dx);
      });
    });
  return r;
}

template <class T>
variable<T> global_avg_pool(const variable<T>& x) {
  profiling::scope timing("global_avg_pool");
  const auto xs = detail::shape_of(x.value());
  if (xs.size() != 4) detail::bad_shape("global_avg_pool", "input must be NHWC, got " + shape_string(xs));
  const std::size_t n = xs[0], hw = xs[1] * xs[2], c = xs[3];
  tensor<T> y(shape_type{n, c});
  kernels::global_avg_pool(n, hw, c, x.value().data(), y.data());
  const bool on_tape = detail::wants_grad<T>({&x});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("global_avg_pool", [x, r, n, hw, c]() mutable {
      if (!x.requires_grad()) return;
      bool fresh = false;
      T* dx = x.grad_for_write(fresh);
      kernels::global_avg_pool_backward(n, hw, c, r.grad().data(), dx, !fresh);
    });
  return r;
}

namespace detail {
/// A pooling over windows: `shape` is the pooling of x's [n, h, w, c]; backward(s, x, y, dy, dx)
/// adds into dx, which starts at zero when it is x's first gradient.
template <class T, class Forward, class Backward>
variable<T> window_pool(const char* op, const variable<T>& x, const kernels::pool_shape& s, Forward forward,
                        Backward backward) {
  profiling::scope timing(op);
  const auto xs = shape_of(x.value());
  tensor<T> y(
      shape_type{xs[0], static_cast<std::size_t>(s.out_height()), static_cast<std::size_t>(s.out_width()), xs[3]});
  forward(s, x.value().data(), y.data());
  const bool on_tape = wants_grad<T>({&x});
  auto r = result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record(op, [x, r, s, backward]() mutable {
      if (!x.requires_grad()) return;
      bool fresh = false;
      T* dx = x.grad_for_write(fresh);
      if (fresh) std::fill(dx, dx + x.value().size(), T(0));
      backward(s, x.value().data(), r.value().data(), r.grad().data(), dx);
    });
  return r;
}

inline kernels::pool_shape pool_input(const char* op, const std::vector<std::size_t>& xs, int window, int stride) {
  if (xs.size() != 4) bad_shape(op, "input must be NHWC, got " + shape_string(xs));
  if (window < 1 || stride < 1) bad_shape(op, "the window and the stride must be positive");
  kernels::pool_shape s;
  s.n = int(xs[0]), s.h = int(xs[1]), s.w = int(xs[2]), s.c = int(xs[3]);
  return s;
}
}  // namespace detail

template <class T>
variable<T> max_pool2d(const variable<T>& x, int window, int stride) {
  const auto in = detail::pool_input("max_pool2d", detail::shape_of(x.value()), window, stride);
  return detail::window_pool<T>(
      "max_pool2d", x, kernels::pool_shape::max_pool(in.n, in.h, in.w, in.c, window, stride),
      [](const kernels::pool_shape& s, const T* xv, T* y) { kernels::max_pool2d(s, xv, y); },
      [](const kernels::pool_shape& s, const T* xv, const T* y, const T* dy, T* dx) {
        kernels::max_pool2d_backward(s, xv, y, dy, dx);
      });
}

template <class T>
variable<T> average_pool2d(const variable<T>& x, int stride) {
  const auto in = detail::pool_input("average_pool2d", detail::shape_of(x.value()), stride, stride);
  return detail::window_pool<T>(
      "average_pool2d", x, kernels::pool_shape::average_pool(in.n, in.h, in.w, in.c, stride),
      [](const kernels::pool_shape& s, const T* xv, T* y) { kernels::average_pool2d(s, xv, y); },
      [](const kernels::pool_shape& s, const T*, const T*, const T* dy, T* dx) {
        kernels::average_pool2d_backward(s, dy, dx);
      });
}

template <class T>
variable<T> conv_weight_slice(const variable<T>& w, int out, int in) {
  const auto& ws = w.value().shape();
  if (w.value().dimension() != 4 || ws[1] != ws[2])
    detail::bad_shape("conv_weight_slice", "weight must be [Cout][k][k][Cin], got " + shape_string(ws));
  if (out < 1 || in < 1 || std::size_t(out) > ws[0] || std::size_t(in) > ws[3])
    detail::bad_shape("conv_weight_slice", "the slice " + std::to_string(out) + " x " + std::to_string(in) +
                                               " does not fit the weight " + shape_string(ws));
  if (std::size_t(out) == ws[0] && std::size_t(in) == ws[3]) return w;
  const std::size_t taps = ws[1] * ws[2], full_in = ws[3], o = std::size_t(out), i = std::size_t(in);
  tensor<T> y(shape_type{o, ws[1], ws[2], i});
  for (std::size_t f = 0; f < o; ++f)
    for (std::size_t t = 0; t < taps; ++t)
      std::copy_n(w.value().data() + (f * taps + t) * full_in, i, y.data() + (f * taps + t) * i);
  const bool on_tape = detail::wants_grad<T>({&w});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("conv_weight_slice", [w, r, o, i, taps, full_in]() mutable {
      if (!w.requires_grad()) return;
      pooled_vector<T> dw(w.value().size(), T(0));
      for (std::size_t f = 0; f < o; ++f)
        for (std::size_t t = 0; t < taps; ++t)
          std::copy_n(r.grad().data() + (f * taps + t) * i, i, dw.data() + (f * taps + t) * full_in);
      detail::add_into(w, dw.data());
    });
  return r;
}

template <class T>
variable<T> channel_scale(const variable<T>& x, const variable<T>& s) {
  profiling::scope timing("channel_scale");
  const auto xs = detail::shape_of(x.value());
  if (xs.size() != 4 || s.value().dimension() != 2 || s.value().shape()[0] != xs[0] || s.value().shape()[1] != xs[3])
    detail::bad_shape("channel_scale", "input " + shape_string(xs) + " and scale " + shape_string(s.value().shape()) +
                                           " must be [N,H,W,C] and [N,C]");
  const std::size_t n = xs[0], hw = xs[1] * xs[2], c = xs[3];
  tensor<T> y(x.value().shape());
  kernels::channel_scale(n, hw, c, x.value().data(), s.value().data(), y.data());
  const bool on_tape = detail::wants_grad<T>({&x, &s});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("channel_scale", [x, s, r, n, hw, c]() mutable {
      pooled_vector<T> ds(n * c);
      kernels::channel_scale_backward(n, hw, c, x.value().data(), r.grad().data(), ds.data());
      detail::add_into(s, ds.data());
      detail::backprop_elementwise(
          x, r, [&](const T* dy, T* dx) { kernels::channel_scale(n, hw, c, dy, s.value().data(), dx); });
    });
  return r;
}

template <class T>
variable<T> add(const variable<T>& a, const variable<T>& b) {
  profiling::scope timing("add");
  if (a.value().shape() != b.value().shape())
    detail::bad_shape("add",
                      "shapes differ: " + shape_string(a.value().shape()) + " and " + shape_string(b.value().shape()));
  tensor<T> y(a.value().shape());
  const T* av = a.value().data();
  const T* bv = b.value().data();
  T* yv = y.data();
  parallel::for_chunks(y.size(), std::size_t{1} << 15, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) yv[i] = av[i] + bv[i];
  });
  const bool on_tape = detail::wants_grad<T>({&a, &b});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("add", [a, b, r]() mutable {
      detail::add_into(b, r.grad().data());
      if (a.requires_grad()) a.take_grad_from(r);  // last reader of r's gradient: a takes the buffer
    });
  return r;
}

template <class T>
variable<T> dropout(const variable<T>& x, double p, rng& engine, bool training) {
  profiling::scope timing("dropout");
  if (p < 0 || p >= 1) throw config_error("ofa::autograd::dropout: p = " + std::to_string(p) + " must be in [0, 1)");
  if (!training || p == 0) return x;
  const T keep_scale = T(1) / T(1 - p);
  auto mask = std::make_shared<pooled_vector<T>>(x.value().size());
  tensor<T> y(x.value().shape());
  for (std::size_t i = 0; i < y.size(); ++i) {
    (*mask)[i] = engine.bernoulli(p) ? T(0) : keep_scale;
    y.data()[i] = x.value().data()[i] * (*mask)[i];
  }
  const bool on_tape = detail::wants_grad<T>({&x});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("dropout", [x, r, mask]() mutable {
      if (!x.requires_grad()) return;
      T* dx = x.grad().data();
      const T* dy = r.grad().data();
      for (std::size_t i = 0; i < mask->size(); ++i) dx[i] += dy[i] * (*mask)[i];
    });
  return r;
}

template <class T>
variable<T> resize_bilinear(const variable<T>& x, int out_h, int out_w) {
  profiling::scope timing("resize_bilinear");
  const auto xs = detail::shape_of(x.value());
  if (xs.size() != 4 || out_h < 1 || out_w < 1)
    detail::bad_shape("resize_bilinear", "input " + shape_string(xs) + " must be NHWC and the size positive");
  const int h = static_cast<int>(xs[1]), w = static_cast<int>(xs[2]);
  tensor<T> y(shape_type{xs[0], static_cast<std::size_t>(out_h), static_cast<std::size_t>(out_w), xs[3]});
  kernels::resize_bilinear(xs[0], h, w, xs[3], x.value().data(), out_h, out_w, y.data());
  const bool on_tape = detail::wants_grad<T>({&x});
  auto r = detail::result(std::move(y), on_tape);
  if (on_tape)
    tape<T>::current().record("resize_bilinear", [x, r, xs, h, w, out_h, out_w]() mutable {
      detail::backprop_into(
          x, [&](T* dx) { kernels::resize_bilinear_backward(xs[0], h, w, xs[3], r.grad().data(), out_h, out_w, dx); });
    });
  return r;
}

namespace detail {
template <class T, class Loss>
variable<T> scalar_loss(const variable<T>& z, Loss loss) {
  profiling::scope timing("loss");
  auto grad = std::make_shared<pooled_vector<T>>(z.value().size());
  const T value = loss(grad->data());
  const bool on_tape = wants_grad<T>({&z});
  tensor<T> out(shape_type{std::size_t{1}});
  out.data()[0] = value;
  auto r = result(std::move(out), on_tape);
  if (on_tape)
    tape<T>::current().record("loss", [z, r, grad]() mutable {
      if (!z.requires_grad()) return;
      const T scale = r.grad().data()[0];
      T* dz = z.grad().data();
      for (std::size_t i = 0; i < grad->size(); ++i) dz[i] += scale * (*grad)[i];
    });
  return r;
}
}  // namespace detail

template <class T>
variable<T> cross_entropy(const variable<T>& logits, const std::vector<int>& labels, T label_smoothing) {
  profiling::scope timing("cross_entropy");
  if (logits.value().dimension() != 2 || logits.value().shape()[0] != labels.size())
    detail::bad_shape("cross_entropy", "logits " + shape_string(logits.value().shape()) +
                                           " need one label per row, got " + std::to_string(labels.size()));
  const std::size_t n = labels.size(), k = logits.value().shape()[1];
  for (std::size_t i = 0; i < n; ++i)
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= k)
      detail::bad_shape("cross_entropy", "label " + std::to_string(labels[i]) + " at row " + std::to_string(i) +
                                             " is outside [0, " + std::to_string(k) + ")");
  return detail::scalar_loss(logits, [&](T* g) {
    return kernels::softmax_cross_entropy(n, k, logits.value().data(), labels.data(), label_smoothing, g);
  });
}

template <class T>
variable<T> soft_cross_entropy(const variable<T>& logits, const tensor<T>& teacher_logits) {
  profiling::scope timing("soft_cross_entropy");
  if (logits.value().shape() != teacher_logits.shape() || logits.value().dimension() != 2)
    detail::bad_shape("soft_cross_entropy", "logits " + shape_string(logits.value().shape()) + " and teacher " +
                                                shape_string(teacher_logits.shape()) + " must both be [N, K]");
  const std::size_t n = logits.value().shape()[0], k = logits.value().shape()[1];
  return detail::scalar_loss(
      logits, [&](T* g) { return kernels::soft_cross_entropy(n, k, logits.value().data(), teacher_logits.data(), g); });
}

template <class T>
variable<T> mse(const variable<T>& y, const tensor<T>& target) {
  profiling::scope timing("mse");
  if (y.value().size() != target.size())
    detail::bad_shape("mse", "prediction " + shape_string(y.value().shape()) + " and target " +
                                 shape_string(target.shape()) + " differ in size");
  return detail::scalar_loss(
      y, [&](T* g) { return kernels::mean_squared_error(target.size(), y.value().data(), target.data(), g); });
}

template <class T>
variable<T> dot(const variable<T>& y, const tensor<T>& weights) {
  profiling::scope timing("dot");
  if (y.value().size() != weights.size())
    detail::bad_shape("dot",
                      "sizes differ: " + shape_string(y.value().shape()) + " and " + shape_string(weights.shape()));
  return detail::scalar_loss(y, [&](T* g) {
    T sum = T(0);
    for (std::size_t i = 0; i < weights.size(); ++i) {
      sum += y.value().data()[i] * weights.data()[i];
      g[i] = weights.data()[i];
    }
    return sum;
  });
}

}  // namespace ofa::autograd
