#pragma once
/// @file
/// The processes of one data-parallel run, as the trainer sees them: its rank and size, and the
/// few collective operations it needs (sums in place, a gather of one word). One process is
/// `single_process`; across processes and machines, `ofa/parallel/mpi.hpp` implements it on MPI.
/// Every call is collective: all processes make the same calls in the same order, from the
/// trainer's thread.

#include <cstdint>
#include <span>
#include <vector>

namespace ofa::parallel {

/** @brief The processes of a run.
 *  @code
 *  group.rank(); group.size();        // this process, and how many there are
 *  group.sum(std::span<float>(g));    // every process gets the element-wise sum
 *  group.gather(hash);                // every process's value, by rank
 *  @endcode */
class process_group {
 public:
  virtual ~process_group() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /** @brief Replaces `values` by their element-wise sum over all processes. */
  virtual void sum(std::span<float> values) = 0;
  virtual void sum(std::span<double> values) = 0;
  /** @brief Every process's `value`, indexed by rank. */
  virtual std::vector<std::uint64_t> gather(std::uint64_t value) = 0;
  /** @brief Whether this is process 0: the one that writes logs, checkpoints and results. */
  bool is_writer() const { return rank() == 0; }
};

/** @brief One process: sums and gathers of itself. */
class single_process final : public process_group {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(std::span<float>) override {}
  void sum(std::span<double>) override {}
  std::vector<std::uint64_t> gather(std::uint64_t value) override { return {value}; }
};

}  // namespace ofa::parallel
