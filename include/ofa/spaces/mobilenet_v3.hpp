#pragma once
/// @file
/// The OFA MobileNetV3 spaces of the paper and the reference implementation (OFAMobileNetV3,
/// ImageNet's 1000 classes): width multiplier 1.0 and 1.2, the two published supernets.

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

/** @brief OFA MobileNetV3 at width multiplier 1.2 (`ofa_mbv3_d234_e346_k357_w1.2`): every width of
 *  mobilenet_v3 times 1.2, rounded as the reference's make_divisible(w * 1.2, 8) rounds it. */
using mobilenet_v3_w12 = space::network<
    space::resolution_range<128, 224, 4>, space::stem<24, 2, space::hswish>, space::first_block<24, space::relu>,
    space::units<
        detail::paper_unit<32, 2, space::relu, space::no_se>, detail::paper_unit<48, 2, space::relu, space::se>,
        detail::paper_unit<96, 2, space::hswish, space::no_se>, detail::paper_unit<136, 1, space::hswish, space::se>,
        detail::paper_unit<192, 2, space::hswish, space::se>>,
    space::head<1152, 1536>, space::classes<1000>>;

}  // namespace ofa::spaces
