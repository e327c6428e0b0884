#pragma once
/// @file
/// The tensor type: an xtensor container on 64-byte aligned storage, so SIMD
/// kernels may use aligned loads on its rows. Activations are NHWC
/// (channels-last): depthwise kernels vectorise across channels, pointwise
/// convolutions become one GEMM with M = N·H·W, and an active width is a
/// prefix of the channels.

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "ofa/errors.hpp"
#include "ofa/tensor/pool.hpp"

namespace ofa {

/** @brief Alignment of every tensor's storage, in bytes (one AVX-512 register, one cache line). */
inline constexpr std::size_t tensor_alignment = 64;

/** @brief Dense row-major tensor of any rank; 64-byte aligned storage from the tensor pool. */
template <class T>
using tensor = xt::xarray<T, xt::layout_type::row_major, pool_allocator<T>>;

/** @brief A shape. Construct tensors from a shape_type, never from a braced list: xtensor
 *  reads `tensor<T>({2, 3})` as the values {2, 3}, not as the shape [2, 3]. */
using shape_type = std::vector<std::size_t>;

/** @brief A tensor of the given shape filled with `value`. */
template <class T>
tensor<T> make_tensor(const std::vector<std::size_t>& shape, T value = T(0)) {
  tensor<T> t(shape);
  t.fill(value);
  return t;
}

/** @brief "[2, 32, 32, 16]" for error messages. */
template <class Shape>
std::string shape_string(const Shape& shape) {
  std::string s = "[";
  bool first = true;
  for (auto d : shape) {
    if (!first) s += ", ";
    s += std::to_string(d);
    first = false;
  }
  return s + "]";
}

/** @brief Throws ofa::shape_error unless `t` has exactly `rank` dimensions. */
template <class T>
void require_rank(const tensor<T>& t, std::size_t rank, const char* op, const char* what) {
  if (t.dimension() != rank)
    throw shape_error(std::string(op) + ": " + what + " must have rank " + std::to_string(rank) + ", got shape " +
                      shape_string(t.shape()));
}

}  // namespace ofa
