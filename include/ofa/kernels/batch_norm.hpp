#pragma once
/// @file
/// Batch normalisation over the channels of an NHWC tensor viewed as M rows ×
/// C channels: training (batch statistics, running-statistics update with
/// momentum, as PyTorch: running = (1-m)·running + m·batch, unbiased variance),
/// inference, backward, and folding into the preceding convolution.
/// FLOPs ≈ 5·M·C forward, 8·M·C backward; memory-bound (2-3 passes over M·C floats).

#include <algorithm>  // fill, max
#include <cmath>
#include <cstddef>
#include <utility>  // pair
#include <vector>

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

/** @brief Training forward; fills `saved` and updates the running statistics.
 *  `parallel` = false is the sequential reference; true splits rows into fixed chunks whose
 *  partial sums are added in order (same result on any thread count). */
template <class T>
void batch_norm_train(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y,
                      batch_norm_saved<T>& saved, bool parallel = true);

/** @brief Inference: y = (x - running_mean)/sqrt(running_var + eps)·gamma + beta. */
template <class T>
void batch_norm_infer(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y);

/** @brief Backward of the training forward: dx (overwritten), dgamma and dbeta (accumulated). */
template <class T>
void batch_norm_backward(std::size_t m, std::size_t c, const T* x, const T* dy, const T* gamma,
                         const batch_norm_saved<T>& saved, T* dx, T* dgamma, T* dbeta, bool parallel = true);

/** @brief Folds inference BN into a preceding conv whose weight rows are output channels:
 *  w[o][:] *= gamma/std, bias[o] = beta - mean·gamma/std. */
template <class T>
void fold_batch_norm(std::size_t out_channels, std::size_t row_length, T* weight, std::size_t ld,
                     const batch_norm_params<T>& p, T* bias);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// Two per-channel sums in one pass over the rows: out[j] = Σ f(r, j).first, out[c + j] = Σ .second.
template <class T, class F>
void channel_sums2(std::size_t m, std::size_t c, bool parallel, T* out, const F& f) {
  std::fill(out, out + 2 * c, T(0));
  auto body = [&](std::size_t b, std::size_t e, T* acc) {
    for (std::size_t r = b; r < e; ++r)
      for (std::size_t j = 0; j < c; ++j) {
        const auto [first, second] = f(r, j);
        acc[j] += first;
        acc[c + j] += second;
      }
  };
  if (!parallel) {
    body(0, m, out);
    return;
  }
  const std::size_t chunk = std::max<std::size_t>(64, (m + 31) / 32);
  parallel::deterministic_sum<T>(m, chunk, 2 * c, out, body);
}

template <class F>
void for_rows(std::size_t m, bool parallel, const F& f) {
  if (!parallel) {
    for (std::size_t r = 0; r < m; ++r) f(r);
    return;
  }
  parallel::for_chunks(m, 256, [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) f(r);
  });
}
}  // namespace detail

template <class T>
void batch_norm_train(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y,
                      batch_norm_saved<T>& saved, bool parallel) {
  saved.mean.assign(c, T(0));
  saved.inv_std.assign(c, T(0));
  // One pass: Σ(x - x0) and Σ(x - x0)² in double, shifted by the first row so that large
  // means do not cancel the variance away.
  pooled_vector<double> sums(2 * c);
  const T* x0 = x;
  detail::channel_sums2<double>(m, c, parallel, sums.data(), [&](std::size_t r, std::size_t j) {
    const double d = double(x[r * c + j]) - double(x0[j]);
    return std::pair<double, double>{d, d * d};
  });
  const T* mean = saved.mean.data();
  for (std::size_t j = 0; j < c; ++j) {
    const double shifted_mean = sums[j] / double(m);
    const double var_sum = std::max(0.0, sums[c + j] - double(m) * shifted_mean * shifted_mean);  // Σ(x - mean)²
    saved.mean[j] = static_cast<T>(double(x0[j]) + shifted_mean);
    const T biased = static_cast<T>(var_sum / double(m));
    saved.inv_std[j] = T(1) / std::sqrt(biased + p.eps);
    if (p.running_mean) {
      const T unbiased = m > 1 ? static_cast<T>(var_sum / double(m - 1)) : biased;
      p.running_mean[j] = (T(1) - p.momentum) * p.running_mean[j] + p.momentum * mean[j];
      p.running_var[j] = (T(1) - p.momentum) * p.running_var[j] + p.momentum * unbiased;
    }
  }
  const T* inv = saved.inv_std.data();
  detail::for_rows(m, parallel, [&](std::size_t r) {
    for (std::size_t j = 0; j < c; ++j) y[r * c + j] = (x[r * c + j] - mean[j]) * inv[j] * p.gamma[j] + p.beta[j];
  });
}

template <class T>
void batch_norm_infer(std::size_t m, std::size_t c, const T* x, const batch_norm_params<T>& p, T* y) {
  pooled_vector<T> scale(c), shift(c);
  for (std::size_t j = 0; j < c; ++j) {
    scale[j] = p.gamma[j] / std::sqrt(p.running_var[j] + p.eps);
    shift[j] = p.beta[j] - p.running_mean[j] * scale[j];
  }
  detail::for_rows(m, true, [&](std::size_t r) {
    for (std::size_t j = 0; j < c; ++j) y[r * c + j] = x[r * c + j] * scale[j] + shift[j];
  });
}

template <class T>
void batch_norm_backward(std::size_t m, std::size_t c, const T* x, const T* dy, const T* gamma,
                         const batch_norm_saved<T>& saved, T* dx, T* dgamma, T* dbeta, bool parallel) {
  const T* mean = saved.mean.data();
  const T* inv = saved.inv_std.data();
  pooled_vector<T> sums(2 * c);  // Σdy and Σdy·x̂, one pass
  detail::channel_sums2<T>(m, c, parallel, sums.data(), [&](std::size_t r, std::size_t j) {
    const T g = dy[r * c + j];
    return std::pair<T, T>{g, g * (x[r * c + j] - mean[j]) * inv[j]};
  });
  const T* sum_dy = sums.data();
  const T* sum_dy_xhat = sums.data() + c;
  for (std::size_t j = 0; j < c; ++j) {
    if (dgamma) dgamma[j] += sum_dy_xhat[j];
    if (dbeta) dbeta[j] += sum_dy[j];
  }
  const T inv_m = T(1) / T(m);
  detail::for_rows(m, parallel, [&](std::size_t r) {
    for (std::size_t j = 0; j < c; ++j) {
      const T xhat = (x[r * c + j] - mean[j]) * inv[j];
      dx[r * c + j] = gamma[j] * inv[j] * (dy[r * c + j] - inv_m * sum_dy[j] - xhat * inv_m * sum_dy_xhat[j]);
    }
  });
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
