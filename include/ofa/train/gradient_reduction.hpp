#pragma once
/// @file
/// The seam where gradients are combined across processes before the update. One
/// process: nothing to do. Data-parallel training: an allreduce (average) of one
/// contiguous buffer holding every gradient, which the optimizer packs and unpacks.

#include <span>

namespace ofa::train {

/** @brief Combines the gradients of several processes in place.
 *  @code
 *  struct mpi_average final : ofa::train::gradient_reduction {
 *    void reduce(std::span<float> g) override;   // MPI_Allreduce(..., MPI_SUM) then / world size
 *  };
 *  @endcode */
class gradient_reduction {
 public:
  virtual ~gradient_reduction() = default;
  /** @brief True when reduce() would leave every value as it is: the optimizer then skips
   *  packing the gradients into one buffer. */
  virtual bool is_identity() const { return false; }
  /** @brief Replaces `gradients` (every parameter's, in the optimizer's order; zeros for the
   *  parameters this process's subnets did not use) by their combination over processes. */
  virtual void reduce(std::span<float> gradients) = 0;
};

/** @brief One process: the gradients are already the step's. */
class local_reduction final : public gradient_reduction {
 public:
  bool is_identity() const override { return true; }
  void reduce(std::span<float>) override {}
};

}  // namespace ofa::train
