#pragma once
// A ResNet space small enough for double-precision gradchecks of the whole network: a deep stem
// with max pooling, a unit whose first block changes the width and one whose first block strides.
#include <ofa/space/network.hpp>

namespace test {
namespace sp = ofa::space;
using small_resnet = sp::network<
    sp::resolutions<12, 16>, sp::deep_stem<16, sp::width_multipliers<50, 100>>, sp::no_first_block,
    sp::units<
        sp::bottleneck_unit<16, 1, sp::depth<1, 2>, sp::bottleneck_expand<25, 50>, sp::width_multipliers<50, 100>>,
        sp::bottleneck_unit<32, 2, sp::depth<1, 2>, sp::bottleneck_expand<25, 50>, sp::width_multipliers<50, 100>>>,
    sp::pool_head, sp::classes<3>>;
}  // namespace test
