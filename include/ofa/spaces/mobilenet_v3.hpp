#pragma once
/// @file
/// The OFA MobileNetV3 space of the paper and the reference implementation
/// (OFAMobileNetV3, width multiplier 1.0, ImageNet's 1000 classes).

#include "ofa/space/activation.hpp"
#include "ofa/space/choices.hpp"
#include "ofa/space/network.hpp"
#include "ofa/space/parts.hpp"
#include "ofa/spaces/detail/paper_unit.hpp"

namespace ofa::spaces {

/** @brief OFA MobileNetV3: 5 elastic units, depth {2,3,4}, expand {3,4,6}, kernel {3,5,7},
 *  resolutions 128..224 step 4; about 2.2e19 architectures. */
using mobilenet_v3 = space::network<
    space::resolution_range<128, 224, 4>, space::stem<16, 2, space::hswish>, space::first_block<16, space::relu>,
    space::units<
        detail::paper_unit<24, 2, space::relu, space::no_se>, detail::paper_unit<40, 2, space::relu, space::se>,
        detail::paper_unit<80, 2, space::hswish, space::no_se>, detail::paper_unit<112, 1, space::hswish, space::se>,
        detail::paper_unit<160, 2, space::hswish, space::se>>,
    space::head<960, 1280>, space::classes<1000>>;

}  // namespace ofa::spaces
