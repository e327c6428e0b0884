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

template <class T>
void batch_norm_infer(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y, activation act) {
  pooled_vector<T> scale(c), shift(c);
  for (std::size_t j = 0; j < c; ++j) {
    scale[j] = p.gamma[j] / std::sqrt(p.running_var[j] + p.eps);
    shift[j] = p.beta[j] - p.running_mean[j] * scale[j];
  }
  detail::with_bn_activation(act, [&](auto f) {
    parallel::for_chunks(m, 256, [&](std::size_t b, std::size_t e) {
      for (std::size_t r = b; r < e; ++r)
        for (std::size_t j = 0; j < c; ++j) y[r * c + j] = f.value(x[r * c + j] * scale[j] + shift[j]);
    });
  });
}

namespace detail {
/// Two per-channel sums over the rows, sums[0, c) and sums[c, 2c): add_row(r, f) adds row r
/// into the float partials f. Rows are visited in 64-row blocks whose float partials are
/// flushed into the double partial of their fixed chunk: float speed, double accuracy over
/// long columns, the same result on any thread count.
template <class AddRow>
void blocked_channel_sums(std::size_t m, std::size_t c, double* sums, const AddRow& add_row) {
  parallel::deterministic_sum<double>(m, bn_chunk(m), 2 * c, sums, [&](std::size_t b, std::size_t e, double* acc) {
    pooled_vector<float> f(2 * c);
    for (std::size_t r0 = b; r0 < e; r0 += 64) {
      std::fill(f.begin(), f.end(), 0.0f);
      for (std::size_t r = r0; r < std::min(e, r0 + 64); ++r) add_row(r, f.data());
      for (std::size_t j = 0; j < 2 * c; ++j) acc[j] += double(f[j]);
    }
  });
}

/// f(r) for every row, in parallel chunks of about 8 K floats (at least 16 rows).
template <class F>
void for_rows(std::size_t m, std::size_t c, const F& f) {
  parallel::for_chunks(m, std::max<std::size_t>(16, 8192 / c), [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) f(r);
  });
}

/// The SIMD passes; each handles whole vectors of channels, then the tail one lane at a time.
struct bn_kernels {
  /// dz = act'(z)·dy at channels [j, j + width), z = x·scale + shift recomputed from x.
  template <class Act, class Batch>
  static Batch pre_activation_gradient(Batch xv, const float* dy_row, const float* scale, const float* shift,
                                       std::size_t j) {
    return Act::derivative(xsimd::fma(xv, Batch::load_unaligned(scale + j), Batch::load_unaligned(shift + j)),
                           Batch::load_unaligned(dy_row + j));
  }

  // Σ(x - x0), Σ(x - x0)² per channel.
  template <class Arch>
  void statistics(Arch, std::size_t m, std::size_t c, const float* x, double* sums) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const std::size_t cv = c / w * w;
    blocked_channel_sums(m, c, sums, [&](std::size_t r, float* f) {
      const float* row = x + r * c;
      std::size_t j = 0;
      for (; j < cv; j += w) {
        const batch d = batch::load_unaligned(row + j) - batch::load_unaligned(x + j);
        (batch::load_unaligned(f + j) + d).store_unaligned(f + j);
        xsimd::fma(d, d, batch::load_unaligned(f + c + j)).store_unaligned(f + c + j);
      }
      for (; j < c; ++j) {
        const float d = row[j] - x[j];
        f[j] += d;
        f[c + j] += d * d;
      }
    });
  }

  // y = act(x·scale + shift).
  template <class Arch, class Act>
  void normalise(Arch, Act, std::size_t m, std::size_t c, const float* x, const float* scale, const float* shift,
                 float* y) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const std::size_t cv = c / w * w;
    for_rows(m, c, [&](std::size_t r) {
      const float* in = x + r * c;
      float* out = y + r * c;
      std::size_t j = 0;
      for (; j < cv; j += w)
        Act::value(xsimd::fma(batch::load_unaligned(in + j), batch::load_unaligned(scale + j),
                              batch::load_unaligned(shift + j)))
            .store_unaligned(out + j);
      for (; j < c; ++j) out[j] = Act::value(in[j] * scale[j] + shift[j]);
    });
  }

  // Σdz and Σdz·x̂, dz = act'(z)·dy, z = x·scale + shift, x̂ = x·inv + nmi (nmi = -mean·inv).
  template <class Arch, class Act>
  void gradient_sums(Arch, Act, std::size_t m, std::size_t c, const float* x, const float* dy, const float* scale,
                     const float* shift, const float* inv, const float* nmi, double* sums) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const std::size_t cv = c / w * w;
    blocked_channel_sums(m, c, sums, [&](std::size_t r, float* f) {
      const float* xr = x + r * c;
      const float* gr = dy + r * c;
      std::size_t j = 0;
      for (; j < cv; j += w) {
        const batch xv = batch::load_unaligned(xr + j), dz = pre_activation_gradient<Act>(xv, gr, scale, shift, j);
        const batch xhat = xsimd::fma(xv, batch::load_unaligned(inv + j), batch::load_unaligned(nmi + j));
        (batch::load_unaligned(f + j) + dz).store_unaligned(f + j);
        xsimd::fma(dz, xhat, batch::load_unaligned(f + c + j)).store_unaligned(f + c + j);
      }
      for (; j < c; ++j) {
        const float dz = Act::derivative(xr[j] * scale[j] + shift[j], gr[j]);
        f[j] += dz;
        f[c + j] += dz * (xr[j] * inv[j] + nmi[j]);
      }
    });
  }

  // dx = k1·dz + x·kx + k0 (the BN backward formula with its per-channel constants folded).
  template <class Arch, class Act>
  void input_gradient(Arch, Act, std::size_t m, std::size_t c, const float* x, const float* dy, const float* scale,
                      const float* shift, const float* k1, const float* kx, const float* k0, float* dx) const {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t w = batch::size;
    const std::size_t cv = c / w * w;
    for_rows(m, c, [&](std::size_t r) {
      const float* xr = x + r * c;
      const float* gr = dy + r * c;
      float* out = dx + r * c;
      std::size_t j = 0;
      for (; j < cv; j += w) {
        const batch xv = batch::load_unaligned(xr + j), dz = pre_activation_gradient<Act>(xv, gr, scale, shift, j);
        xsimd::fma(batch::load_unaligned(k1 + j), dz,
                   xsimd::fma(xv, batch::load_unaligned(kx + j), batch::load_unaligned(k0 + j)))
            .store_unaligned(out + j);
      }
      for (; j < c; ++j) {
        const float dz = Act::derivative(xr[j] * scale[j] + shift[j], gr[j]);
        out[j] = k1[j] * dz + xr[j] * kx[j] + k0[j];
      }
    });
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
void fold_batch_norm(std::size_t out_channels, std::size_t row_length, T* weight, std::size_t ld,
                     const batch_norm_params<T>& p, T* bias) {
  for (std::size_t o = 0; o < out_channels; ++o) {
    const T scale = p.gamma[o] / std::sqrt(p.running_var[o] + p.eps);
    for (std::size_t i = 0; i < row_length; ++i) weight[o * ld + i] *= scale;
    bias[o] = p.beta[o] - p.running_mean[o] * scale;
  }
}

}  // namespace ofa::kernels
