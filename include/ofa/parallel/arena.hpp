#pragma once
/// @file
/// Thread control and deterministic parallel reductions on oneTBB.

#include <algorithm>  // min
#include <cstddef>
#include <memory>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>

#include "ofa/parallel/loops.hpp"
#include "ofa/tensor/pool.hpp"

namespace ofa::parallel {

/** @brief Sets how many threads every ofa kernel, loader and search may use, for as long as
 *  it lives (0 = all the machine's cores). One per program is the normal use. */
class arena {
 public:
  explicit arena(int threads = 0)
      : control_(std::make_unique<tbb::global_control>(
            tbb::global_control::max_allowed_parallelism,
            static_cast<std::size_t>(threads > 0 ? threads : tbb::info::default_concurrency()))) {}
  /** @brief The thread count in force. */
  static int threads() {
    return static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
  }

 private:
  std::unique_ptr<tbb::global_control> control_;
};

/** @brief Deterministic sum of per-chunk partial arrays: the range [0, n) is cut into fixed
 *  chunks (independent of the thread count), each chunk fills its own `width`-long partial
 *  with partial(begin, end, out), and the partials are added in chunk order. Same result
 *  on 1 or 64 threads. */
template <class T, class Partial>
void deterministic_sum(std::size_t n, std::size_t chunk, std::size_t width, T* result, const Partial& partial) {
  if (chunk == 0) chunk = 1;
  const std::size_t chunks = (n + chunk - 1) / chunk;
  pooled_vector<T> partials(chunks * width, T(0));
  for_index(std::size_t{0}, chunks,
            [&](std::size_t i) { partial(i * chunk, std::min(n, (i + 1) * chunk), partials.data() + i * width); });
  for (std::size_t i = 0; i < chunks; ++i)
    for (std::size_t j = 0; j < width; ++j) result[j] += partials[i * width + j];
}

}  // namespace ofa::parallel
