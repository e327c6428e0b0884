#pragma once
/// @file
/// choice_set: the run-time view of one elastic dimension's allowed values
/// (a compile-time list like kernel<3,5,7> becomes {3,5,7} here), small,
/// constexpr and copyable so space descriptions can be constant tables.

#include <array>
#include <cstddef>
#include <string>

namespace ofa::space {

/** @brief The most values one elastic dimension may list (resolutions excepted). */
inline constexpr std::size_t max_choices = 8;

/** @brief A sorted list of allowed values with a fixed capacity N. */
template <std::size_t N = max_choices>
struct basic_choice_set {
  std::array<int, N> values{};
  std::size_t size = 0;

  /** @brief The set of one value: a fixed dimension. */
  static constexpr basic_choice_set of(int value) noexcept {
    basic_choice_set s;
    s.values[0] = value;
    s.size = 1;
    return s;
  }

  constexpr const int* begin() const noexcept { return values.data(); }
  constexpr const int* end() const noexcept { return values.data() + size; }
  constexpr int operator[](std::size_t i) const noexcept { return values[i]; }
  constexpr int min() const noexcept { return values[0]; }
  constexpr int max() const noexcept { return values[size - 1]; }
  constexpr bool contains(int v) const noexcept { return index_of(v) >= 0; }
  /** @brief Position of v in the list, or -1. */
  constexpr int index_of(int v) const noexcept {
    for (std::size_t i = 0; i < size; ++i)
      if (values[i] == v) return static_cast<int>(i);
    return -1;
  }
  /** @brief "3, 5, 7", or "128, 132, ..., 224" for long even-stepped lists. */
  std::string to_string() const {
    std::string out;
    if (size > 6) {
      const int step = values[1] - values[0];
      bool even = true;
      for (std::size_t i = 1; i < size; ++i) even = even && values[i] - values[i - 1] == step;
      if (even)
        return std::to_string(values[0]) + ", " + std::to_string(values[1]) + ", ..., " +
               std::to_string(values[size - 1]);
    }
    for (std::size_t i = 0; i < size; ++i) {
      if (i) out += ", ";
      out += std::to_string(values[i]);
    }
    return out;
  }
};

using choice_set = basic_choice_set<max_choices>;

}  // namespace ofa::space
