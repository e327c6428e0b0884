#pragma once
/// @file
/// The OFA ProxylessNAS space of the reference implementation (OFAProxylessNASNets), at the
/// width multiplier of its published supernet `ofa_proxyless_d234_e346_k357_w1.3`.

#include <ratio>

#include "ofa/space/activation.hpp"
#include "ofa/space/choices.hpp"
#include "ofa/space/network.hpp"
#include "ofa/space/parts.hpp"
#include "ofa/spaces/detail/paper_unit.hpp"

namespace ofa::spaces {

/** @brief OFA ProxylessNAS, width 1.3: ReLU6 throughout, no squeeze-and-excite, a 3×3 stem of
 *  40 channels and a first block of 24 (without residual: the widths differ), five elastic
 *  units (depth {2,3,4}, expand {3,4,6}, kernel {3,5,7}) and a sixth of one block, then one
 *  1×1 layer of 1664 channels before pooling (no final expand, no feature mix after it).
 *  Widths are the ProxylessNAS ones times 1.3, rounded by make_divisible(w · 1.3, 8). Its BN
 *  layers use eps 1e-3 (the reference's bn_param for this family; MobileNetV3's is 1e-5). */
using proxyless_w13 = space::network<
    space::resolution_range<128, 224, 4>, space::stem<40, 2, space::relu6>, space::first_block<24, space::relu6>,
    space::units<
        detail::paper_unit<32, 2, space::relu6, space::no_se>, detail::paper_unit<56, 2, space::relu6, space::no_se>,
        detail::paper_unit<104, 2, space::relu6, space::no_se>, detail::paper_unit<128, 1, space::relu6, space::no_se>,
        detail::paper_unit<248, 2, space::relu6, space::no_se>,
        space::unit<416, 1, space::relu6, space::no_se, space::depth<1>, space::expand<3, 4, 6>,
                    space::kernel<3, 5, 7>>>,
    space::conv_head<1664, space::relu6>, space::classes<1000>, space::batch_norm<std::ratio<1, 1000>>>;

}  // namespace ofa::spaces
