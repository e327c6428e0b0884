#pragma once
/// @file
/// The elastic unit of the OFA paper, shared by the bundled spaces: depth {2,3,4},
/// expand {3,4,6}, kernel {3,5,7}.

#include "ofa/space/choices.hpp"
#include "ofa/space/parts.hpp"

namespace ofa::spaces::detail {

template <int Width, int Stride, class Activation, class SqueezeExcite>
using paper_unit = space::unit<Width, Stride, Activation, SqueezeExcite, space::depth<2, 3, 4>, space::expand<3, 4, 6>,
                               space::kernel<3, 5, 7>>;

}  // namespace ofa::spaces::detail
