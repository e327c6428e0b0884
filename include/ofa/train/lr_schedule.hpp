#pragma once
/// @file
/// The learning rate per step: linear warm-up from 0 to the base rate, then a cosine
/// to 0 over the remaining steps (the reference's warmup_adjust_learning_rate and
/// cosine schedule, per batch).

#include <cmath>  // cos
#include <cstdint>

namespace ofa::train {

/** @brief lr(step) for a phase of `total_steps`, the first `warmup_steps` of them warming up. */
struct cosine_schedule {
  double base_lr = 0.1;
  std::int64_t warmup_steps = 0;
  std::int64_t total_steps = 1;

  double operator()(std::int64_t step) const {
    if (step < warmup_steps) return base_lr * double(step + 1) / double(warmup_steps + 1);
    const std::int64_t span = total_steps - warmup_steps;
    if (span <= 0) return base_lr;
    const double t = double(step - warmup_steps) / double(span);
    return 0.5 * base_lr * (1.0 + std::cos(3.141592653589793 * (t > 1.0 ? 1.0 : t)));
  }
};

}  // namespace ofa::train
