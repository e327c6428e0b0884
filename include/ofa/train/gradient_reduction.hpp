#pragma once
/// @file
/// The seam where gradients are combined across processes before the update. One
/// process: nothing to do. Data-parallel training: an allreduce (average) of one
/// contiguous buffer holding every gradient, which the optimizer packs and unpacks.

#include <span>

#include "ofa/parallel/process_group.hpp"

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

/** @brief The average over the processes of a group, each having computed the mean gradient of
 *  its share of the batch: the sum over processes, divided by their number. Every process must
 *  have run the same subnets (the trainer draws them from the step alone). */
class group_average final : public gradient_reduction {
 public:
  explicit group_average(parallel::process_group& group) : group_(&group) {}
  bool is_identity() const override { return group_->size() == 1; }
  void reduce(std::span<float> gradients) override {
    group_->sum(gradients);
    const float n = static_cast<float>(group_->size());
    for (float& g : gradients) g /= n;
  }

 private:
  parallel::process_group* group_;
};

}  // namespace ofa::train
