#pragma once
/// @file
/// The tape: each op run while recording appends its backward closure;
/// backward() seeds d(loss)/d(loss) = 1 and runs the closures in reverse,
/// releasing each as soon as it has run.
/// Gradients accumulate across backward() calls until zeroed, so the trainer
/// can sum several subnets' gradients into one step. One tape per thread and
/// value type; no_grad turns recording off (evaluation: no closures, no saved
/// activations).

#include <functional>
#include <vector>

#include "ofa/autograd/variable.hpp"
#include "ofa/errors.hpp"
#include "ofa/profiling.hpp"

namespace ofa::autograd {

template <class T>
class tape {
 public:
  /** @brief This thread's tape for value type T. */
  static tape& current() {
    thread_local tape instance;
    return instance;
  }
  /** @brief Whether ops record (false inside a no_grad scope). */
  static bool& recording() {
    thread_local bool on = true;
    return on;
  }

  /** @brief Appends op's backward closure (`op`: a literal naming the op, for profiling). */
  void record(const char* op, std::function<void()> backward) { entries_.push_back({op, std::move(backward)}); }
  std::size_t size() const noexcept { return entries_.size(); }
  void clear() { entries_.clear(); }

  /** @brief Back-propagates from a scalar `loss` and clears the tape. */
  void backward(variable<T>& loss) {
    if (loss.value().size() != 1)
      throw logic_error("ofa::autograd::backward: the loss must be a scalar, got shape " +
                        shape_string(loss.value().shape()) + "; reduce it (mean, a loss op) first");
    if (entries_.empty() && !loss.requires_grad())
      throw logic_error(
          "ofa::autograd::backward: nothing was recorded; run the forward pass "
          "outside no_grad and with parameters that require gradients");
    loss.grad().fill(T(1));
    auto entries = std::move(entries_);
    entries_.clear();
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      profiling::scope timing(it->op, profiling::phase::backward);
      it->backward();
      // Its saved tensors and captured gradients go back to the pool now, not after the whole
      // pass: a lower peak, and the next gradient buffers are blocks still warm in the cache.
      it->backward = nullptr;
    }
  }

 private:
  struct entry {
    const char* op;
    std::function<void()> backward;
  };
  std::vector<entry> entries_;
};

/** @brief backward() on this thread's tape. */
template <class T>
void backward(variable<T>& loss) {
  tape<T>::current().backward(loss);
}

/** @brief While alive, ops record nothing (for evaluation and BN recalibration). */
template <class T = float>
class no_grad {
 public:
  no_grad() : previous_(tape<T>::recording()) { tape<T>::recording() = false; }
  ~no_grad() { tape<T>::recording() = previous_; }
  no_grad(const no_grad&) = delete;
  no_grad& operator=(const no_grad&) = delete;

 private:
  bool previous_;
};

}  // namespace ofa::autograd
