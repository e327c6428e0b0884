#pragma once
/// @file
/// Batch normalisation over the channels of an NHWC tensor viewed as M rows ×
/// C channels: training (batch statistics, running-statistics update with
/// momentum, as PyTorch: running = (1-m)·running + m·batch, unbiased variance),
/// inference, backward, and folding into the preceding convolution; optionally
/// with the following activation fused in (forward and backward).
/// FLOPs ≈ 5·M·C forward, 8·M·C backward; memory-bound: the forward reads x twice
/// and writes y once, the backward reads x and dy twice and writes dx once.

#include <algorithm>  // fill, max
#include <cmath>
#include <cstddef>
#include <numeric>  // lcm
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "ofa/kernels/activation.hpp"
#include "ofa/kernels/simd.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/tensor/pool.hpp"

namespace ofa::kernels {

/** @brief The per-channel arrays of one BN layer (pointers may be slices of max-size arrays). */
template <class T>
struct batch_norm_params {
  const T* gamma;
  const T* beta;
  T* running_mean;
  T* running_var;
  T momentum = T(0.1);
  T eps = T(1e-5);
};

/** @brief Saved by the training forward for the backward pass: per-channel mean and 1/std. */
template <class T>
struct batch_norm_saved {
  pooled_vector<T> mean, inv_std;
};

/** @brief Training forward, y = act(BN(x)) with batch statistics; fills `saved` and updates the
 *  running statistics. The activation is fused (one pass, no intermediate tensor): the
 *  backward recomputes BN's output from x. Scalar reference, sequential, any T. */
template <class T>
void batch_norm_train_reference(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y,
                                batch_norm_saved<T>& saved, activation act = activation::none);

/** @brief Backward of the training forward, for dy = d(loss)/d(act(BN(x))): dx (overwritten;
 *  may be null), dgamma and dbeta (accumulated; may be null). Scalar reference, any T. */
template <class T>
void batch_norm_backward_reference(std::size_t m, std::size_t c, const T* x, const T* dy, const T* gamma, const T* beta,
                                   const batch_norm_saved<T>& saved, T* dx, T* dgamma, T* dbeta,
                                   activation act = activation::none);

/** @brief The fast float versions: xsimd, parallel on oneTBB. Channel sums use fixed row chunks
 *  added in order (in double), so results do not depend on the thread count. */
void batch_norm_train(std::size_t m, std::size_t c, const float* x, const batch_norm_params<float>& p, float* y,
                      batch_norm_saved<float>& saved, activation act = activation::none);
void batch_norm_backward(std::size_t m, std::size_t c, const float* x, const float* dy, const float* gamma,
                         const float* beta, const batch_norm_saved<float>& saved, float* dx, float* dgamma,
                         float* dbeta, activation act = activation::none);

/** @brief Inference: y = act((x - running_mean)/sqrt(running_var + eps)·gamma + beta). */
template <class T>
void batch_norm_infer(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y,
                      activation act = activation::none);

/** @brief Folds inference BN into a preceding conv whose weight rows are output channels:
 *  w[o][:] *= gamma/std, bias[o] = beta - mean·gamma/std. */
template <class T>
void fold_batch_norm(std::size_t out_channels, std::size_t row_length, T* weight, std::size_t ld,
                     const batch_norm_params<T>& p, T* bias);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
// The fused activations as value/derivative pairs, for scalars and SIMD batches alike; the
// derivative is taken at BN's output z.
struct bn_act_none {
  template <class V>
  static V value(V z) {
    return z;
  }
  template <class V>
  static V derivative(V, V g) {
    return g;
  }
};
struct bn_act_relu {
  template <class V>
  static V value(V z) {
    return relu_f(z);
  }
  template <class V>
  static V derivative(V z, V g) {
    if constexpr (std::is_arithmetic_v<V>)
      return z > V(0) ? g : V(0);
    else
      return relu_d(z, g);
  }
};
struct bn_act_hswish {
  template <class V>
  static V value(V z) {
    if constexpr (std::is_arithmetic_v<V>)
      return z * hsig_s(z);
    else
      return hswish_f(z);
  }
  template <class V>
  static V derivative(V z, V g) {
    if constexpr (std::is_arithmetic_v<V>)
      return hswish_d_s(z, g);
    else
      return hswish_d(z, g);
  }
};
/// Calls f(functor) for `act`: one instantiation per activation, no branch in the loops.
template <class F>
void with_bn_activation(activation act, const F& f) {
  switch (act) {
    case activation::relu:
      return f(bn_act_relu{});
    case activation::hswish:
      return f(bn_act_hswish{});
    case activation::none:
      return f(bn_act_none{});
  }
}

/// Turns Σ(x - x0), Σ(x - x0)² into the saved mean and 1/std and updates the running statistics.
template <class T>
void finish_statistics(std::size_t m, std::size_t c, const T* x0, const double* sums, const batch_norm_params<T>& p,
                       batch_norm_saved<T>& saved) {
  saved.mean.assign(c, T(0));
  saved.inv_std.assign(c, T(0));
  for (std::size_t j = 0; j < c; ++j) {
    const double shifted_mean = sums[j] / double(m);
    const double var_sum = std::max(0.0, sums[c + j] - double(m) * shifted_mean * shifted_mean);  // Σ(x - mean)²
    saved.mean[j] = static_cast<T>(double(x0[j]) + shifted_mean);
    const T biased = static_cast<T>(var_sum / double(m));
    saved.inv_std[j] = T(1) / std::sqrt(biased + p.eps);
    if (p.running_mean) {
      const T unbiased = m > 1 ? static_cast<T>(var_sum / double(m - 1)) : biased;
      p.running_mean[j] = (T(1) - p.momentum) * p.running_mean[j] + p.momentum * saved.mean[j];
      p.running_var[j] = (T(1) - p.momentum) * p.running_var[j] + p.momentum * unbiased;
    }
  }
}

/// Fixed row chunks for the channel sums: independent of the thread count.
inline std::size_t bn_chunk(std::size_t m) {
  return std::max<std::size_t>(64, (m + 31) / 32);
}
}  // namespace detail

template <class T>
void batch_norm_train_reference(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y,
                                batch_norm_saved<T>& saved, activation act) {
  // One pass: Σ(x - x0) and Σ(x - x0)² in double, shifted by the first row so that large
  // means do not cancel the variance away.
  std::vector<double> sums(2 * c, 0.0);
  for (std::size_t r = 0; r < m; ++r)
    for (std::size_t j = 0; j < c; ++j) {
      const double d = double(x[r * c + j]) - double(x[j]);
      sums[j] += d;
      sums[c + j] += d * d;
    }
  detail::finish_statistics(m, c, x, sums.data(), p, saved);
  detail::with_bn_activation(act, [&](auto f) {
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t j = 0; j < c; ++j)
        y[r * c + j] = f.value((x[r * c + j] - saved.mean[j]) * saved.inv_std[j] * p.gamma[j] + p.beta[j]);
  });
}

template <class T>
void batch_norm_backward_reference(std::size_t m, std::size_t c, const T* x, const T* dy, const T* gamma, const T* beta,
                                   const batch_norm_saved<T>& saved, T* dx, T* dgamma, T* dbeta, activation act) {
  const T* mean = saved.mean.data();
  const T* inv = saved.inv_std.data();
  detail::with_bn_activation(act, [&](auto f) {
    auto xhat = [&](std::size_t r, std::size_t j) { return (x[r * c + j] - mean[j]) * inv[j]; };
    auto dz = [&](std::size_t r, std::size_t j) {
      return f.derivative(xhat(r, j) * gamma[j] + beta[j], dy[r * c + j]);
    };
    std::vector<T> sum_dz(c, T(0)), sum_dz_xhat(c, T(0));
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t j = 0; j < c; ++j) {
        sum_dz[j] += dz(r, j);
        sum_dz_xhat[j] += dz(r, j) * xhat(r, j);
      }
    for (std::size_t j = 0; j < c; ++j) {
      if (dgamma) dgamma[j] += sum_dz_xhat[j];
      if (dbeta) dbeta[j] += sum_dz[j];
    }
    if (!dx) return;
    const T inv_m = T(1) / T(m);
    for (std::size_t r = 0; r < m; ++r)
      for (std::size_t j = 0; j < c; ++j)
        dx[r * c + j] = gamma[j] * inv[j] * (dz(r, j) - inv_m * sum_dz[j] - xhat(r, j) * inv_m * sum_dz_xhat[j]);
  });
}

namespace detail {
/// A row-major M×C tensor read as one flat array in spans: a span is a whole number of rows
/// and of SIMD vectors (lcm(C, width) floats, repeated until it holds `min_floats`), so
/// per-channel constants replicated over one span line up with every span. Every channel
/// count then runs at full vector width (C = 72 on 16 lanes would otherwise leave 8 channels
/// per row to a scalar tail), and a span of several vectors gives the sums independent
/// accumulators (C = 16 would otherwise add each row into the same vector, a latency chain).
struct channel_span {
  std::size_t rows = 1, floats = 1;
  channel_span(std::size_t c, std::size_t width, std::size_t min_floats) {
    const std::size_t l = std::lcm(c, width);
    floats = l * std::max<std::size_t>(1, (min_floats + l - 1) / l);
    rows = floats / c;
  }
  /// `per_channel` [c] repeated over one span.
  template <class T>
  pooled_vector<T> replicate(std::size_t c, const T* per_channel) const {
    pooled_vector<T> out(floats);
    for (std::size_t t = 0; t < floats; ++t) out[t] = per_channel[t % c];
    return out;
  }
};

/// Two per-channel sums over the rows, sums[0, c) and sums[c, 2c). add_span(offset, f) adds
/// the span starting at flat index `offset` into the float partials f[0, 2·floats) (slot t
/// belongs to channel t mod c); add_row(r, f) adds a single row r into slots [0, c), for the
/// rows after the last whole span. Each float slot takes 64 spans, then is flushed into the
/// double partial of its fixed chunk: float speed, double accuracy over long columns, the
/// same result on any thread count.
template <class AddSpan, class AddRow>
void span_channel_sums(std::size_t m, std::size_t c, const channel_span& span, double* sums, const AddSpan& add_span,
                       const AddRow& add_row) {
  const std::size_t chunk = (bn_chunk(m) + span.rows - 1) / span.rows * span.rows;  // chunks start on a span
  const std::size_t block = span.rows * 64;
  parallel::deterministic_sum<double>(m, chunk, 2 * c, sums, [&](std::size_t b, std::size_t e, double* acc) {
    pooled_vector<float> partial(2 * span.floats);
    float* f = partial.data();
    for (std::size_t r0 = b; r0 < e; r0 += block) {
      std::fill(partial.begin(), partial.end(), 0.0f);
      const std::size_t r1 = std::min(e, r0 + block);
      std::size_t r = r0;
      for (; r + span.rows <= r1; r += span.rows) add_span(r * c, f);
      for (; r < r1; ++r) add_row(r, f);
      for (std::size_t q = 0; q < span.floats; q += c)
        for (std::size_t j = 0; j < c; ++j) {
          acc[j] += double(f[q + j]);
          acc[c + j] += double(f[span.floats + q + j]);
        }
    }
  });
}

/// In parallel, span(offset) for every whole span (offset = its first flat index), then
/// row(r) for the rows after the last one; tasks of about 8 K floats.
template <class Span, class Row>
void for_spans(std::size_t m, const channel_span& span, const Span& each_span, const Row& row) {
  const std::size_t spans = m / span.rows;
  parallel::for_chunks(spans, std::max<std::size_t>(1, 8192 / span.floats), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) each_span(i * span.floats);
  });
  for (std::size_t r = spans * span.rows; r < m; ++r) row(r);
}

/// The SIMD passes over channel spans. Each `*_span` loop is whole vectors; the per-channel
/// constants are spans too (channel_span::replicate), indexed like the data.
struct bn_kernels {
  static constexpr std::size_t min_span_vectors = 4;

  /// dz = act'(z)·dy at flat index t of a span, z = x·scale + shift recomputed from x.
  template <class Act, class Batch>
  static Batch pre_activation_gradient(Batch xv, const float* dy, const float* scale, const float* shift,
                                       std::size_t t) {
    return Act::derivative(xsimd::fma(xv, Batch::load_unaligned(scale + t), Batch::load_unaligned(shift + t)),
                           Batch::load_unaligned(dy + t));
  }

  // Σ(x - x0), Σ(x - x0)² per channel (x0: the first row, so large means do not cancel the variance).
  template <class Arch>
  void statistics(Arch, std::size_t m, std::size_t c, const float* x, double* sums) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const channel_span span(c, w, min_span_vectors * w);
    const auto x0 = span.replicate(c, x);
    const std::size_t n = span.floats;
    span_channel_sums(
        m, c, span, sums,
        [&, x0 = x0.data()](std::size_t offset, float* f) {
          const float* xs = x + offset;
          for (std::size_t t = 0; t < n; t += w) {
            const batch d = batch::load_unaligned(xs + t) - batch::load_unaligned(x0 + t);
            (batch::load_unaligned(f + t) + d).store_unaligned(f + t);
            xsimd::fma(d, d, batch::load_unaligned(f + n + t)).store_unaligned(f + n + t);
          }
        },
        [&](std::size_t r, float* f) {
          for (std::size_t j = 0; j < c; ++j) {
            const float d = x[r * c + j] - x[j];
            f[j] += d;
            f[n + j] += d * d;
          }
        });
  }

  // y = act(x·scale + shift).
  template <class Arch, class Act>
  void normalise(Arch, Act, std::size_t m, std::size_t c, const float* x, const float* scale, const float* shift,
                 float* y) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const channel_span span(c, w, w);
    const auto sc = span.replicate(c, scale), sh = span.replicate(c, shift);
    for_spans(
        m, span,
        [&](std::size_t offset) {
          const float* in = x + offset;
          float* out = y + offset;
          for (std::size_t t = 0; t < span.floats; t += w)
            Act::value(xsimd::fma(batch::load_unaligned(in + t), batch::load_unaligned(sc.data() + t),
                                  batch::load_unaligned(sh.data() + t)))
                .store_unaligned(out + t);
        },
        [&](std::size_t r) {
          for (std::size_t j = 0; j < c; ++j) y[r * c + j] = Act::value(x[r * c + j] * scale[j] + shift[j]);
        });
  }

  // Σdz and Σdz·x̂, dz = act'(z)·dy, z = x·scale + shift, x̂ = x·inv + nmi (nmi = -mean·inv).
  template <class Arch, class Act>
  void gradient_sums(Arch, Act, std::size_t m, std::size_t c, const float* x, const float* dy, const float* scale,
                     const float* shift, const float* inv, const float* nmi, double* sums) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const channel_span span(c, w, min_span_vectors * w);
    const auto sc = span.replicate(c, scale), sh = span.replicate(c, shift), iv = span.replicate(c, inv),
               nm = span.replicate(c, nmi);
    const std::size_t n = span.floats;
    span_channel_sums(
        m, c, span, sums,
        [&, sc = sc.data(), sh = sh.data(), iv = iv.data(), nm = nm.data()](std::size_t offset, float* f) {
          const float* xs = x + offset;
          const float* gs = dy + offset;
          for (std::size_t t = 0; t < n; t += w) {
            const batch xv = batch::load_unaligned(xs + t);
            const batch dz = pre_activation_gradient<Act>(xv, gs, sc, sh, t);
            const batch xhat = xsimd::fma(xv, batch::load_unaligned(iv + t), batch::load_unaligned(nm + t));
            (batch::load_unaligned(f + t) + dz).store_unaligned(f + t);
            xsimd::fma(dz, xhat, batch::load_unaligned(f + n + t)).store_unaligned(f + n + t);
          }
        },
        [&](std::size_t r, float* f) {
          for (std::size_t j = 0; j < c; ++j) {
            const float xv = x[r * c + j], dz = Act::derivative(xv * scale[j] + shift[j], dy[r * c + j]);
            f[j] += dz;
            f[n + j] += dz * (xv * inv[j] + nmi[j]);
          }
        });
  }

  // dx = k1·dz + x·kx + k0 (the BN backward formula with its per-channel constants folded).
  template <class Arch, class Act>
  void input_gradient(Arch, Act, std::size_t m, std::size_t c, const float* x, const float* dy, const float* scale,
                      const float* shift, const float* k1, const float* kx, const float* k0, float* dx) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const channel_span span(c, w, w);
    const auto sc = span.replicate(c, scale), sh = span.replicate(c, shift), c1 = span.replicate(c, k1),
               cx = span.replicate(c, kx), c0 = span.replicate(c, k0);
    for_spans(
        m, span,
        [&](std::size_t offset) {
          const float* xs = x + offset;
          const float* gs = dy + offset;
          float* out = dx + offset;
          for (std::size_t t = 0; t < span.floats; t += w) {
            const batch xv = batch::load_unaligned(xs + t);
            const batch dz = pre_activation_gradient<Act>(xv, gs, sc.data(), sh.data(), t);
            xsimd::fma(batch::load_unaligned(c1.data() + t), dz,
                       xsimd::fma(xv, batch::load_unaligned(cx.data() + t), batch::load_unaligned(c0.data() + t)))
                .store_unaligned(out + t);
          }
        },
        [&](std::size_t r) {
          for (std::size_t j = 0; j < c; ++j) {
            const float xv = x[r * c + j], dz = Act::derivative(xv * scale[j] + shift[j], dy[r * c + j]);
            dx[r * c + j] = k1[j] * dz + xv * kx[j] + k0[j];
          }
        });
  }
};

struct bn_infer_kernel {
  template <class Arch>
  void operator()(Arch arch, std::size_t m, std::size_t c, const float* x, const float* scale, const float* shift,
                  float* y, activation act) const {
    with_bn_activation(act, [&](auto f) { bn_kernels{}.normalise(arch, f, m, c, x, scale, shift, y); });
  }
};

struct bn_train_kernel {
  template <class Arch>
  void operator()(Arch arch, std::size_t m, std::size_t c, const float* x, const batch_norm_params<float>& p, float* y,
                  batch_norm_saved<float>& saved, activation act) const {
    pooled_vector<double> sums(2 * c, 0.0);
    bn_kernels{}.statistics(arch, m, c, x, sums.data());
    finish_statistics(m, c, x, sums.data(), p, saved);
    pooled_vector<float> scale(c), shift(c);
    for (std::size_t j = 0; j < c; ++j) {
      scale[j] = saved.inv_std[j] * p.gamma[j];
      shift[j] = p.beta[j] - saved.mean[j] * scale[j];
    }
    with_bn_activation(act, [&](auto f) { bn_kernels{}.normalise(arch, f, m, c, x, scale.data(), shift.data(), y); });
  }
};

struct bn_backward_kernel {
  template <class Arch>
  void operator()(Arch arch, std::size_t m, std::size_t c, const float* x, const float* dy, const float* gamma,
                  const float* beta, const batch_norm_saved<float>& saved, float* dx, float* dgamma, float* dbeta,
                  activation act) const {
    pooled_vector<float> scale(c), shift(c), nmi(c);
    const float* inv = saved.inv_std.data();
    for (std::size_t j = 0; j < c; ++j) {
      scale[j] = inv[j] * gamma[j];
      shift[j] = beta[j] - saved.mean[j] * scale[j];
      nmi[j] = -saved.mean[j] * inv[j];
    }
    pooled_vector<double> sums(2 * c, 0.0);
    with_bn_activation(act, [&](auto f) {
      bn_kernels{}.gradient_sums(arch, f, m, c, x, dy, scale.data(), shift.data(), inv, nmi.data(), sums.data());
    });
    for (std::size_t j = 0; j < c; ++j) {
      if (dgamma) dgamma[j] += static_cast<float>(sums[c + j]);
      if (dbeta) dbeta[j] += static_cast<float>(sums[j]);
    }
    if (!dx) return;
    // dx = γ·inv·(dz − Σdz/m − x̂·Σdz·x̂/m), x̂ = x·inv − mean·inv.
    pooled_vector<float> k1(c), kx(c), k0(c);
    for (std::size_t j = 0; j < c; ++j) {
      const double a = double(gamma[j]) * inv[j], mean_dz = sums[j] / double(m), mean_dzx = sums[c + j] / double(m);
      k1[j] = static_cast<float>(a);
      kx[j] = static_cast<float>(-a * mean_dzx * inv[j]);
      k0[j] = static_cast<float>(-a * mean_dz + a * mean_dzx * saved.mean[j] * inv[j]);
    }
    with_bn_activation(act, [&](auto f) {
      bn_kernels{}.input_gradient(arch, f, m, c, x, dy, scale.data(), shift.data(), k1.data(), kx.data(), k0.data(),
                                  dx);
    });
  }
};
}  // namespace detail

inline void batch_norm_train(std::size_t m, std::size_t c, const float* x, const batch_norm_params<float>& p, float* y,
                             batch_norm_saved<float>& saved, activation act) {
  dispatch(detail::bn_train_kernel{}, m, c, x, p, y, saved, act);
}

inline void batch_norm_backward(std::size_t m, std::size_t c, const float* x, const float* dy, const float* gamma,
                                const float* beta, const batch_norm_saved<float>& saved, float* dx, float* dgamma,
                                float* dbeta, activation act) {
  dispatch(detail::bn_backward_kernel{}, m, c, x, dy, gamma, beta, saved, dx, dgamma, dbeta, act);
}

template <class T>
void batch_norm_infer(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y, activation act) {
  pooled_vector<T> scale(c), shift(c);
  for (std::size_t j = 0; j < c; ++j) {
    scale[j] = p.gamma[j] / std::sqrt(p.running_var[j] + p.eps);
    shift[j] = p.beta[j] - p.running_mean[j] * scale[j];
  }
  if constexpr (std::is_same_v<T, float>) {  // the training forward's normalising pass
    dispatch(detail::bn_infer_kernel{}, m, c, x, scale.data(), shift.data(), y, act);
  } else {
    detail::with_bn_activation(act, [&](auto f) {
      for (std::size_t r = 0; r < m; ++r)
        for (std::size_t j = 0; j < c; ++j) y[r * c + j] = f.value(x[r * c + j] * scale[j] + shift[j]);
    });
  }
}

template <class T>
void fold_batch_norm(std::size_t out_channels, std::size_t row_length, T* weight, std::size_t ld,
                     const batch_norm_params<T>& p, T* bias) {
  for (std::size_t o = 0; o < out_channels; ++o) {
    const T scale = p.gamma[o] / std::sqrt(p.running_var[o] + p.eps);
    for (std::size_t i = 0; i < row_length; ++i) weight[o * ld + i] *= scale;
    bias[o] = p.beta[o] - p.running_mean[o] * scale;
  }
}

}  // namespace ofa::kernels
