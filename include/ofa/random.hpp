#pragma once
/// @file
/// ofa::rng: a small, fast, seedable engine whose streams are identical on
/// every platform and standard library. std::uniform_int_distribution is not
/// (its algorithm is implementation-defined), so sampling never uses it.

#include <array>
#include <cmath>  // sqrt, log, cos
#include <cstdint>
#include <limits>
#include <utility>  // swap

namespace ofa {

/** @brief xoshiro256** seeded through splitmix64; same seed, same stream, everywhere.
 *
 *  Satisfies std::uniform_random_bit_generator, so it also works with std::shuffle
 *  (whose output is then, again, implementation-defined: ofa uses its own shuffle).
 */
class rng {
 public:
  using result_type = std::uint64_t;

  explicit rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

  /** @brief Restart the stream from `seed`. */
  void reseed(std::uint64_t seed) noexcept {
    for (auto& word : state_) word = splitmix64(seed);
  }

  /** @brief A stream that depends only on (seed, a, b): used to make per-item randomness
   *  (epoch, index) independent of the order in which threads reach it. */
  static rng derive(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) noexcept {
    std::uint64_t mixed = seed;
    std::uint64_t first = splitmix64(mixed) ^ a;
    std::uint64_t second = splitmix64(first) ^ b;
    return rng(splitmix64(second));
  }

  /** @brief The engine's whole state: four words that a checkpoint saves, so that a resumed
   *  run draws what the uninterrupted one would have. */
  using state_type = std::array<std::uint64_t, 4>;
  state_type state() const noexcept { return {state_[0], state_[1], state_[2], state_[3]}; }
  void set_state(const state_type& words) noexcept {
    for (std::size_t i = 0; i < 4; ++i) state_[i] = words[i];
  }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  result_type operator()() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /** @brief Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject). n > 0. */
  std::uint64_t uniform_index(std::uint64_t n) noexcept {
    __uint128_t product = static_cast<__uint128_t>((*this)()) * n;
    auto low = static_cast<std::uint64_t>(product);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        product = static_cast<__uint128_t>((*this)()) * n;
        low = static_cast<std::uint64_t>(product);
      }
    }
    return static_cast<std::uint64_t>(product >> 64);
  }

  /** @brief Uniform double in [0, 1) with 53 random bits. */
  double uniform01() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  /** @brief Uniform float in [lo, hi). */
  float uniform(float lo, float hi) noexcept { return lo + static_cast<float>(uniform01()) * (hi - lo); }

  /** @brief True with probability p. */
  bool bernoulli(double p) noexcept { return uniform01() < p; }

  /** @brief Standard normal variate (Box-Muller; one of the pair is discarded for simplicity). */
  double normal() noexcept;

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static constexpr std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t state_[4]{};
};

// ---------------------------------------------------------------------------
// implementation

inline double rng::normal() noexcept {
  double u1 = uniform01();
  while (u1 <= 0.0) u1 = uniform01();
  const double u2 = uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/** @brief The tags that derive one random stream from a seed (seed ^ tag), named where they are
 *  shared: the same images must be drawn wherever the same purpose draws them. */
namespace stream {
/// The training images that BN recalibration and calibration draw (trainer, search, export, eval).
inline constexpr std::uint64_t calibration = 0xca1;
}  // namespace stream

/** @brief Fisher-Yates shuffle driven by ofa::rng: the same permutation on every platform. */
template <class RandomIt>
void shuffle(RandomIt first, RandomIt last, rng& engine) {
  const auto n = last - first;
  for (auto i = n - 1; i > 0; --i) {
    const auto j = static_cast<decltype(i)>(engine.uniform_index(static_cast<std::uint64_t>(i) + 1));
    using std::swap;
    swap(first[i], first[j]);
  }
}

}  // namespace ofa
