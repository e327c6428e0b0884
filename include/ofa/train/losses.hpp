#pragma once
/// @file
/// The training losses of progressive shrinking: label-smoothed cross-entropy, and
/// knowledge distillation from the full network,
///   loss = CE_smoothed(logits, labels) + kd_ratio · softCE(logits, softmax(teacher logits)),
/// as the reference's train loop (kd_type "ce"). One op: both kernels write their
/// gradient into one buffer, and the tape records one closure.

#include <string>
#include <vector>

#include "ofa/autograd/ops.hpp"

namespace ofa::train {

/** @brief CE(logits, labels, smoothing) + kd_ratio · softCE(logits, teacher_logits); logits [N, K],
 *  teacher_logits [N, K] (recorded nothing: a frozen teacher's eval forward). */
template <class T>
autograd::variable<T> distillation_loss(const autograd::variable<T>& logits, const std::vector<int>& labels,
                                        const tensor<T>& teacher_logits, T kd_ratio, T label_smoothing = T(0.1));

// ---------------------------------------------------------------------------
// implementation

template <class T>
autograd::variable<T> distillation_loss(const autograd::variable<T>& logits, const std::vector<int>& labels,
                                        const tensor<T>& teacher_logits, T kd_ratio, T label_smoothing) {
  const auto& z = logits.value();
  if (z.dimension() != 2 || z.shape()[0] != labels.size() || teacher_logits.shape() != z.shape())
    throw shape_error("ofa::train::distillation_loss: logits " + shape_string(z.shape()) + ", teacher " +
                      shape_string(teacher_logits.shape()) + " and " + std::to_string(labels.size()) +
                      " labels must agree ([N, K], [N, K], N)");
  const std::size_t n = z.shape()[0], k = z.shape()[1];
  for (std::size_t i = 0; i < n; ++i)
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= k)
      throw shape_error("ofa::train::distillation_loss: label " + std::to_string(labels[i]) + " at row " +
                        std::to_string(i) + " is outside [0, " + std::to_string(k) + ")");
  return autograd::detail::scalar_loss(logits, [&](T* g) {
    T loss = kernels::softmax_cross_entropy(n, k, z.data(), labels.data(), label_smoothing, g);
    if (kd_ratio == T(0)) return loss;
    pooled_vector<T> soft(n * k);
    loss += kd_ratio * kernels::soft_cross_entropy(n, k, z.data(), teacher_logits.data(), soft.data());
    for (std::size_t i = 0; i < n * k; ++i) g[i] += kd_ratio * soft[i];
    return loss;
  });
}

}  // namespace ofa::train
