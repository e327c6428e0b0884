#pragma once
/// @file
/// How good an accuracy predictor can look against its own labels. Each label of an
/// accuracy data set is a top-1 measured on a finite number of held-out images, so it
/// carries a binomial error of sqrt(p(1 − p) / images). Scored against such labels, even a
/// perfect predictor misses by that error (RMSE), and its rank correlation is capped by how
/// much of the labels' spread is true difference between subnets rather than noise. When
/// the noise is as large as the spread, no predictor can rank the subnets, and the fix is
/// less noisy labels (more held-out images) or a supernet whose subnets differ more.
///
/// The binomial error treats each label's images as drawn afresh, but every subnet is measured on
/// the same held-out images, and subnets sharing weights get many of the same images right or
/// wrong: part of the error is common to all labels and cannot change their order. Records that
/// carry top-1 on two halves of the held-out images measure the part that does: the halves'
/// difference, less its mean over subnets (what all share), has a spread of twice a label's own
/// error. When the records have halves, that split-half error sets the floor instead.

#include <algorithm>  // max
#include <cmath>
#include <numbers>
#include <span>
#include <vector>

#include "ofa/search/accuracy_dataset.hpp"

namespace ofa::search {

/** @brief The labels' spread, their measurement noise, and what a perfect predictor would score. */
struct label_noise {
  double spread = 0;       ///< standard deviation of the labels (top-1, as a fraction)
  double noise = 0;        ///< root-mean-square binomial error of one label
  /// A label's own error measured from its halves (above); negative when fewer than three records
  /// carry halves.
  double split_half_noise = -1;
  double true_spread = 0;  ///< sqrt(spread² − error²): the part of the spread that is the subnets'
  double best_rmse = 0;    ///< RMSE of a perfect predictor against the labels (= the error)
  /// Kendall's tau of a perfect predictor against the labels, (2/π)·asin(true_spread / spread): the
  /// value for normally distributed accuracies and noise.
  double best_tau = 0;
  /// Whether the labels are mostly noise (noise ≥ 70% of the spread: a perfect predictor's tau
  /// would be under 0.5).
  bool mostly_noise() const { return best_tau < 0.5; }
  /// The error the floor is computed from: split-half where measured, else binomial.
  double error() const { return split_half_noise >= 0 ? split_half_noise : noise; }
};

/** @brief The label noise of an accuracy data set (at least two records, each with its image count). */
template <class Space>
label_noise measure_label_noise(std::span<const accuracy_record<Space>> records) {
  label_noise out;
  if (records.size() < 2) return out;
  double mean = 0, noise_squares = 0;
  for (const auto& r : records) {
    mean += r.top1;
    if (r.images > 0) noise_squares += r.top1 * (1 - r.top1) / double(r.images);
  }
  mean /= double(records.size());
  double squares = 0;
  for (const auto& r : records) squares += (r.top1 - mean) * (r.top1 - mean);
  out.spread = std::sqrt(squares / double(records.size() - 1));
  out.noise = std::sqrt(noise_squares / double(records.size()));
  std::vector<double> differences;
  for (const auto& r : records)
    if (r.half_top1[0] >= 0) differences.push_back(r.half_top1[0] - r.half_top1[1]);
  if (differences.size() >= 3) {
    double mean_difference = 0, difference_squares = 0;
    for (double d : differences) mean_difference += d;
    mean_difference /= double(differences.size());
    for (double d : differences) difference_squares += (d - mean_difference) * (d - mean_difference);
    out.split_half_noise = std::sqrt(difference_squares / double(differences.size() - 1)) / 2;
  }
  const double error = out.error();
  out.best_rmse = error;
  out.true_spread = std::sqrt(std::max(0.0, out.spread * out.spread - error * error));
  out.best_tau = out.spread > 0 ? 2 / std::numbers::pi * std::asin(out.true_spread / out.spread) : 0.0;
  return out;
}

}  // namespace ofa::search
