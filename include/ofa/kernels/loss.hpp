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

/** @brief Row-wise softmax p and log-sum-exp (log softmax = z − lse): one exp per element. */
template <class T>
void softmax(std::size_t n, std::size_t k, const T* z, T* p, T* lse) {
  for (std::size_t i = 0; i < n; ++i) {
    const T* row = z + i * k;
    T* out = p + i * k;
    const T mx = *std::max_element(row, row + k);
    T sum = T(0);
    for (std::size_t j = 0; j < k; ++j) sum += out[j] = std::exp(row[j] - mx);
    const T inv = T(1) / sum;
    for (std::size_t j = 0; j < k; ++j) out[j] *= inv;
    lse[i] = mx + std::log(sum);
  }
}

/** @brief Mean over rows of -Σ_j q_j log softmax(z)_j with q = (1-ε)·onehot(label) + ε/K.
 *  Writes dL/dz to `grad` when not null. Labels outside [0, K) are the caller's to reject. */
template <class T>
T softmax_cross_entropy(std::size_t n, std::size_t k, const T* z, const int* labels, T smoothing, T* grad) {
  pooled_vector<T> p(n * k), lse(n);
  softmax(n, k, z, p.data(), lse.data());
  T loss = T(0);
  const T off = smoothing / T(k), on = T(1) - smoothing + off;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      const T q = static_cast<int>(j) == labels[i] ? on : off;
      loss -= q * (z[i * k + j] - lse[i]);
      if (grad) grad[i * k + j] = (p[i * k + j] - q) / T(n);
    }
  return loss / T(n);
}

/** @brief Mean over rows of -Σ_j softmax(teacher)_j log softmax(z)_j (KD, as the reference's
 *  cross_entropy_loss_with_soft_target). The teacher gets no gradient. */
template <class T>
T soft_cross_entropy(std::size_t n, std::size_t k, const T* z, const T* teacher_logits, T* grad) {
  pooled_vector<T> p(n * k), q(n * k), lse(n), teacher_lse(n);
  softmax(n, k, z, p.data(), lse.data());
  softmax(n, k, teacher_logits, q.data(), teacher_lse.data());
  T loss = T(0);
  for (std::size_t i = 0; i < n * k; ++i) {
    loss -= q[i] * (z[i] - lse[i / k]);
    if (grad) grad[i] = (p[i] - q[i]) / T(n);
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
