#pragma once
/// @file
/// Channel sorting, the reference's re_organize_middle_weights in pieces: permutations of a
/// weight's rows, columns or channels-last axis, the grouping that keeps channels of widths
/// already supported together, and the order of importance. Every block kind's
/// reorganize_middle is made of them.

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

#include "ofa/space/choice_set.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::nn {

namespace detail {
/// Reorders rows (dim 0 of a [rows][cols] tensor) or columns by `order`.
template <class T>
void permute_rows(tensor<T>& t, std::size_t row_len, const std::vector<std::size_t>& order) {
  tensor<T> copy = t;
  for (std::size_t r = 0; r < order.size(); ++r)
    std::copy_n(copy.data() + order[r] * row_len, row_len, t.data() + r * row_len);
}
template <class T>
void permute_cols(tensor<T>& t, std::size_t rows, std::size_t ld, const std::vector<std::size_t>& order) {
  tensor<T> copy = t;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < order.size(); ++c) t.data()[r * ld + c] = copy.data()[r * ld + order[c]];
}
/// Channels-last kernels [K][K][C]: permute the channel axis.
template <class T>
void permute_channels_last(tensor<T>& t, std::size_t c_max, const std::vector<std::size_t>& order) {
  permute_cols(t, t.size() / c_max, c_max, order);
}
/// The reference's grouping before a re-organisation: the middle channels of the widths already
/// supported (the `expand_stage` + 1 largest ratios, widest first; width_of(ratio) gives each one's
/// middle width) keep to their groups, whatever their importance.
template <class WidthOf>
void keep_width_groups(std::vector<double>& importance, const space::choice_set& ratios, int expand_stage,
                       WidthOf width_of) {
  if (expand_stage <= 0) return;
  std::vector<int> descending(ratios.begin(), ratios.end());
  std::sort(descending.rbegin(), descending.rend());
  std::size_t right = importance.size();
  double base = -static_cast<double>(descending.size()) * 1e5;
  for (int i = 0; i <= expand_stage && std::size_t(i) < descending.size(); ++i) {
    const auto left = static_cast<std::size_t>(width_of(descending[std::size_t(i)]));
    for (std::size_t c = left; c < right; ++c) importance[c] += base;
    base += 1e5;
    right = left;
  }
}
template <class T>
std::vector<std::size_t> sort_descending(const std::vector<T>& importance) {
  std::vector<std::size_t> order(importance.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return importance[a] > importance[b]; });
  return order;
}
}  // namespace detail

}  // namespace ofa::nn
