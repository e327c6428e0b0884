#pragma once
// Random test data: never zeros, never all-equal (both hide bugs).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <ofa/random.hpp>

namespace test {
template <class T>
std::vector<T> random_vector(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  ofa::rng engine(seed);
  std::vector<T> v(n);
  for (auto& x : v) {
    double value = lo + (hi - lo) * engine.uniform01();
    if (value > -1e-3 && value < 1e-3) value = 0.5;
    x = static_cast<T>(value);
  }
  return v;
}

/// max |a-b| / max(1, |b|)
template <class A, class B>
double max_relative_error(const A& a, const B& b) {
  double worst = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const double d = std::abs(double(a[i]) - double(b[i])) / std::max(1.0, std::abs(double(b[i])));
    worst = std::max(worst, d);
  }
  return worst;
}
}  // namespace test
