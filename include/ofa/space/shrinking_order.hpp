#pragma once
/// @file
/// Progressive shrinking's order for each block kind, as data: after the full network, the steps
/// that open one elastic dimension at a time, first to its largest two choices and then to all
/// (a kernel's at once), each with its epochs, learning rate and subnets per step. MBConv follows
/// the reference's OFAMobileNetV3 (kernel, depth, expand), the bottleneck its OFAResNets (depth,
/// expand, width; its one kernel size never opens). train::progressive_shrinking builds the phases.

#include <span>

#include "ofa/space/parts.hpp"

namespace ofa::space {

/** @brief An elastic dimension a shrinking step opens. */
enum class elastic_dimension { kernel, depth, expand, width };

/** @brief One step of progressive shrinking after the full network. */
struct shrinking_step {
  const char* name;
  elastic_dimension opens;
  bool largest_two;  ///< opens the dimension to its largest two choices (else to all of them)
  int epochs;        ///< at CIFAR scale (the whole schedule about 100 minutes on two cores)
  double lr;
  double warmup_epochs;
  int subnets_per_step;
  int reorganize_stage;  ///< re-organise the middle channels first at this stage; -1: not
};

namespace detail {
// The depth and expand steps run at 4x the reference's fine-tuning rates (0.0025, 0.0075), which
// suit its 120-epoch ImageNet phases but leave the newly opened subnets barely trained in one to
// four epochs.
inline constexpr shrinking_step mbconv_shrinking[] = {
    {"kernel", elastic_dimension::kernel, false, 3, 0.03, 1, 1, -1},
    {"depth-1", elastic_dimension::depth, true, 1, 0.01, 0, 2, -1},
    {"depth-2", elastic_dimension::depth, false, 2, 0.03, 0, 2, -1},
    {"expand-1", elastic_dimension::expand, true, 1, 0.01, 0, 4, 0},
    {"expand-2", elastic_dimension::expand, false, 4, 0.03, 0, 4, 1},
};
// No kernel step: its three epochs go to the later steps, so that both families train as long.
inline constexpr shrinking_step bottleneck_shrinking[] = {
    {"depth-1", elastic_dimension::depth, true, 1, 0.01, 0, 2, -1},
    {"depth-2", elastic_dimension::depth, false, 3, 0.03, 0, 2, -1},
    {"expand-1", elastic_dimension::expand, true, 1, 0.01, 0, 2, 0},
    {"expand-2", elastic_dimension::expand, false, 2, 0.03, 0, 4, 1},
    {"width-1", elastic_dimension::width, true, 1, 0.01, 0, 4, -1},
    {"width-2", elastic_dimension::width, false, 3, 0.03, 0, 4, -1},
};
}  // namespace detail

/** @brief The steps of `kind`'s progressive shrinking, in order. */
constexpr std::span<const shrinking_step> shrinking_order(block_kind kind) {
  switch (kind) {
    case block_kind::mbconv:
      return detail::mbconv_shrinking;
    case block_kind::bottleneck:
      return detail::bottleneck_shrinking;
  }
  return {};
}

}  // namespace ofa::space
