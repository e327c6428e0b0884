#pragma once
/// @file
/// A CIFAR-scale OFA space for 32×32 inputs and 10 classes. See docs/spaces.md
/// for why it looks the way it does.

#include "ofa/space/activation.hpp"
#include "ofa/space/choices.hpp"
#include "ofa/space/network.hpp"
#include "ofa/space/parts.hpp"
#include "ofa/spaces/detail/paper_unit.hpp"

namespace ofa::spaces {

/** @brief The MobileNetV3 recipe at CIFAR scale: a stride-1 stem (a 32×32 image cannot
 *  afford ImageNet's 32× down-sampling, only 8×: 32→16→8→4 in the first three units),
 *  the MobileNetV3 unit widths, a narrower head (640, 1024), 10 classes; the paper's
 *  elastic choices (depth 2-4, expand 3/4/6, kernel 3/5/7); resolutions 24, 28, 32. */
using cifar = space::network<
    space::resolution_range<24, 32, 4>, space::stem<16, 1, space::hswish>, space::first_block<16, space::relu>,
    space::units<
        detail::paper_unit<24, 2, space::relu, space::no_se>, detail::paper_unit<40, 2, space::relu, space::se>,
        detail::paper_unit<80, 2, space::hswish, space::no_se>, detail::paper_unit<112, 1, space::hswish, space::se>,
        detail::paper_unit<160, 1, space::hswish, space::se>>,
    space::head<640, 1024>, space::classes<10>>;

}  // namespace ofa::spaces
