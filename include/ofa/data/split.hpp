#pragma once
/// @file
/// A held-out validation split carved from the training set with a fixed seed
/// (the reference holds out 10,000 ImageNet training images for validation).

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "ofa/data/dataset.hpp"
#include "ofa/errors.hpp"
#include "ofa/random.hpp"

namespace ofa::data {

/** @brief Indices of the training and the held-out examples. */
struct split_indices {
  std::vector<std::size_t> train, validation;
};

/** @brief Holds out `holdout` of `n` examples, chosen by `seed` (same seed, same split).
 *  Both lists come back sorted, so reads stay sequential. */
inline split_indices make_split(std::size_t n, std::size_t holdout, std::uint64_t seed) {
  if (holdout >= n)
    throw data_error("ofa::data::make_split: cannot hold out " + std::to_string(holdout) + " of " + std::to_string(n) +
                     " examples; hold out fewer");
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  rng engine(seed);
  shuffle(order.begin(), order.end(), engine);
  split_indices s;
  s.validation.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(holdout));
  s.train.assign(order.begin() + static_cast<std::ptrdiff_t>(holdout), order.end());
  std::sort(s.validation.begin(), s.validation.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

/** @brief The seed of the held-out split a trainer and the search's accuracy data set share
 *  (fixed, not the run's seed, so that runs with other seeds hold out the same images). */
inline constexpr std::uint64_t holdout_split_seed = 0x401d0u;

/** @brief The default held-out count: a tenth of `n`, at most 10,000 (the reference's). */
inline std::size_t default_holdout(std::size_t n) { return std::min<std::size_t>(10000, n / 10); }

}  // namespace ofa::data
