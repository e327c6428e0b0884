#pragma once
/// @file
/// variable<T>: a tensor value, its gradient, and whether it wants one. Copies
/// share the same node (like a PyTorch tensor handle). Parameters are leaves
/// with requires_grad; op results get a gradient during backward().

#include <algorithm>  // copy
#include <memory>
#include <string>
#include <utility>

#include "ofa/errors.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::autograd {

template <class T>
struct node {
  tensor<T> value;
  tensor<T> grad;  // buffer; its contents count only while grad_valid
  bool requires_grad = false;
  bool grad_valid = false;  // false: the gradient is zero (whatever the buffer holds)
};

/** @brief A handle to a value on (or off) the tape. */
template <class T>
class variable {
 public:
  variable() = default;
  explicit variable(tensor<T> value, bool requires_grad = false)
      : node_(std::make_shared<node<T>>(node<T>{std::move(value), tensor<T>{}, requires_grad, false})) {}

  // A variable is a handle: a const handle still reaches a mutable node (as a const
  // std::shared_ptr does), which is what backward closures that hold copies need.
  bool defined() const noexcept { return node_ != nullptr; }
  tensor<T>& value() const { return checked().value; }
  bool requires_grad() const { return checked().requires_grad; }
  void set_requires_grad(bool on) const { checked().requires_grad = on; }

  /** @brief The gradient, allocated (zeros, same shape as the value) on first use. */
  tensor<T>& grad() const {
    auto& n = checked();
    if (!n.grad_valid) {
      ensure_buffer(n);
      n.grad.fill(T(0));
      n.grad_valid = true;
    }
    return n.grad;
  }
  /** @brief Adds `delta` (value-sized) into the gradient; the first contribution is copied
   *  rather than added to zeros (saves a pass over memory). */
  void accumulate_grad(const T* delta) const {
    auto& n = checked();
    const bool fresh = !n.grad_valid;
    if (fresh) {
      ensure_buffer(n);
      n.grad_valid = true;
    }
    T* g = n.grad.data();
    // Activation-sized gradients (residual adds): a parallel pass.
    parallel::for_chunks(n.grad.size(), std::size_t{1} << 15, [&](std::size_t b, std::size_t e) {
      if (fresh)
        std::copy(delta + b, delta + e, g + b);
      else
        for (std::size_t i = b; i < e; ++i) g[i] += delta[i];
    });
  }
  /** @brief Adds `source`'s gradient into this one. When this one has none yet, `source`'s
   *  buffer is handed over instead of copied, and `source`'s gradient is left unset (zero): for
   *  the output of an op whose backward is the last reader of that gradient (a residual add
   *  passes its output gradient on; the tape keeps no non-leaf gradient, as PyTorch). */
  void take_grad_from(const variable& source) const {
    if (!adopt_grad_buffer(source)) accumulate_grad(source.grad().data());
  }
  /** @brief When this variable has no gradient yet and `source` has one of this value's shape:
   *  moves `source`'s gradient buffer here (its contents become this gradient, `source`'s is
   *  left unset) and returns true; else changes nothing and returns false. For an element-wise
   *  backward that then overwrites the buffer in place, dy into dx (batch norm): no fresh buffer,
   *  whose first write would have to fetch its lines from memory. */
  bool adopt_grad_buffer(const variable& source) const {
    auto& n = checked();
    auto& from = source.checked();
    if (&n == &from || n.grad_valid || !from.grad_valid || from.grad.shape() != n.value.shape()) return false;
    n.grad = std::move(from.grad);
    n.grad_valid = true;
    from.grad = tensor<T>{};
    from.grad_valid = false;
    return true;
  }
  /** @brief The gradient buffer for a kernel that overwrites all of it (beta = 0) when `fresh`,
   *  else adds into it. */
  T* grad_for_write(bool& fresh) const {
    auto& n = checked();
    fresh = !n.grad_valid;
    if (fresh) {
      ensure_buffer(n);
      n.grad_valid = true;
    }
    return n.grad.data();
  }
  /** @brief Whether a gradient was written since the last zero_grad (else it is zero):
   *  optimisers skip such parameters, as PyTorch's skip a None gradient. */
  bool has_grad() const { return defined() && node_->grad_valid; }
  /** @brief Zeros the gradient. Lazily: the buffer is kept and the next contribution
   *  overwrites it, so a training step never spends a pass clearing gradients. */
  void zero_grad() const {
    if (defined()) node_->grad_valid = false;
  }
  /** @brief The single element of a scalar (e.g. a loss). */
  T item() const {
    if (value().size() != 1)
      throw shape_error("ofa::autograd::variable::item: expected one element, got shape " +
                        shape_string(value().shape()));
    return value().data()[0];
  }
  const std::shared_ptr<node<T>>& handle() const noexcept { return node_; }

 private:
  static void ensure_buffer(node<T>& n) {
    if (n.grad.size() != n.value.size() || n.grad.dimension() != n.value.dimension())
      n.grad = tensor<T>(n.value.shape());
  }

 public:
 private:
  node<T>& checked() const {
    if (!node_) throw logic_error("ofa::autograd::variable: used before it was given a value");
    return *node_;
  }
  std::shared_ptr<node<T>> node_;
};

}  // namespace ofa::autograd
