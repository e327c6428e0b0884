#pragma once
/// @file
/// with_index<N>(i, f): calls f(std::integral_constant<std::size_t, i>{}) for a
/// run-time i < N, so that a run-time choice (a kernel size, an activation)
/// becomes a compile-time constant. Like Boost.Mp11's mp_with_index it is a
/// binary decision tree (log2 N comparisons), never a linear if-chain.

#include <cstddef>
#include <type_traits>
#include <utility>

namespace ofa::detail {

template <std::size_t Begin, std::size_t End, class F>
constexpr decltype(auto) with_index_impl(std::size_t i, F&& f) {
  if constexpr (End - Begin == 1) {
    return std::forward<F>(f)(std::integral_constant<std::size_t, Begin>{});
  } else {
    constexpr std::size_t mid = Begin + (End - Begin) / 2;
    if (i < mid) return with_index_impl<Begin, mid>(i, std::forward<F>(f));
    return with_index_impl<mid, End>(i, std::forward<F>(f));
  }
}

/** @brief Calls f(std::integral_constant<std::size_t, i>{}); i must be < N (checked by caller). */
template <std::size_t N, class F>
constexpr decltype(auto) with_index(std::size_t i, F&& f) {
  static_assert(N > 0, "ofa::detail::with_index: N must be positive");
  return with_index_impl<0, N>(i, std::forward<F>(f));
}

}  // namespace ofa::detail
