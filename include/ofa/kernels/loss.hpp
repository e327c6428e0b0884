#pragma once
/// @file
/// Losses on [N, K] logits, forward (mean over the batch) and gradient w.r.t.
/// the logits: softmax cross-entropy with label smoothing, soft-target
/// cross-entropy (knowledge distillation from a teacher's logits), and mean
/// squared error (the accuracy predictor). Log-sum-exp is max-shifted.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "ofa/tensor/pool.hpp"

namespace ofa::kernels {

/** @brief Row-wise log-softmax. */
template <class T>
void log_softmax(std::size_t n, std::size_t k, const T* z, T* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const T* row = z + i * k;
    const T mx = *std::max_element(row, row + k);
    T sum = T(0);
    for (std::size_t j = 0; j < k; ++j) sum += std::exp(row[j] - mx);
    const T lse = mx + std::log(sum);
    for (std::size_t j = 0; j < k; ++j) out[i * k + j] = row[j] - lse;
  }
}

/** @brief Mean over rows of -Σ_j q_j log softmax(z)_j with q = (1-ε)·onehot(label) + ε/K.
 *  Writes dL/dz to `grad` when not null. Labels outside [0, K) are the caller's to reject. */
template <class T>
T softmax_cross_entropy(std::size_t n, std::size_t k, const T* z, const int* labels, T smoothing, T* grad) {
  pooled_vector<T> logp(n * k);
  log_softmax(n, k, z, logp.data());
  T loss = T(0);
  const T off = smoothing / T(k), on = T(1) - smoothing + off;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      const T q = static_cast<int>(j) == labels[i] ? on : off;
      loss -= q * logp[i * k + j];
      if (grad) grad[i * k + j] = (std::exp(logp[i * k + j]) - q) / T(n);
    }
  return loss / T(n);
}

/** @brief Mean over rows of -Σ_j softmax(teacher)_j log softmax(z)_j (KD, as the reference's
 *  cross_entropy_loss_with_soft_target). The teacher gets no gradient. */
template <class T>
T soft_cross_entropy(std::size_t n, std::size_t k, const T* z, const T* teacher_logits, T* grad) {
  pooled_vector<T> logp(n * k), logq(n * k);
  log_softmax(n, k, z, logp.data());
  log_softmax(n, k, teacher_logits, logq.data());
  T loss = T(0);
  for (std::size_t i = 0; i < n * k; ++i) {
    const T q = std::exp(logq[i]);
    loss -= q * logp[i];
    if (grad) grad[i] = (std::exp(logp[i]) - q) / T(n);
  }
  return loss / T(n);
}

/** @brief Mean of (y - t)² over all n elements; grad = 2(y - t)/n. */
template <class T>
T mean_squared_error(std::size_t n, const T* y, const T* target, T* grad) {
  T loss = T(0);
  for (std::size_t i = 0; i < n; ++i) {
    const T d = y[i] - target[i];
    loss += d * d;
    if (grad) grad[i] = T(2) * d / T(n);
  }
  return loss / T(n);
}

}  // namespace ofa::kernels
