#pragma once
/// @file
/// Named parameters and buffers of a network: what the optimiser updates, what
/// checkpoints save, and what `ofa info` counts.

#include <cstdint>
#include <string>
#include <vector>

#include "ofa/autograd/variable.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::nn {

/** @brief A trainable tensor with its name ("blocks.3.depth_conv.weight"). */
template <class T>
struct named_parameter {
  std::string name;
  autograd::variable<T> value;
  bool no_weight_decay = false;  ///< BN affine and biases (the reference's no_decay_keys)
};

/** @brief A non-trainable tensor (BN running statistics). */
template <class T>
struct named_buffer {
  std::string name;
  tensor<T>* value;
};

/** @brief Everything a network holds. */
template <class T>
struct state_list {
  std::vector<named_parameter<T>> parameters;
  std::vector<named_buffer<T>> buffers;
  /// Bumped by the network whenever its channels are re-ordered, so that state kept per
  /// element (an optimizer's momentum) can tell it no longer lines up. May be null.
  const std::uint64_t* layout_version = nullptr;

  void add(std::string name, autograd::variable<T> v, bool no_decay = false) {
    parameters.push_back({std::move(name), std::move(v), no_decay});
  }
  void add_buffer(std::string name, tensor<T>& t) { buffers.push_back({std::move(name), &t}); }
};

/** @brief A parameter tensor of `shape`, zero, requiring gradients. */
template <class T>
autograd::variable<T> make_parameter(const shape_type& shape, T value = T(0)) {
  return autograd::variable<T>(make_tensor<T>(shape, value), true);
}

}  // namespace ofa::nn
