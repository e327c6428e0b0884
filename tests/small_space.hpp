#pragma once
// A space small enough that whole training runs and data sets take a second, with every
// elastic dimension of the paper's (depth 2-4, expand 3/4/6, kernel 3/5/7, two resolutions).
#include <ofa/space/network.hpp>
#include <ofa/space/choices.hpp>
#include <ofa/space/parts.hpp>

namespace test {
namespace sp = ofa::space;
using small_space = sp::network<
    sp::resolutions<16, 20>, sp::stem<8, 2, sp::hswish>, sp::first_block<8, sp::relu>,
    sp::units<sp::unit<16, 2, sp::relu, sp::se, sp::depth<2, 3, 4>, sp::expand<3, 4, 6>, sp::kernel<3, 5, 7>>,
              sp::unit<24, 2, sp::hswish, sp::no_se, sp::depth<2, 3, 4>, sp::expand<3, 4, 6>, sp::kernel<3, 5, 7>>>,
    sp::head<32, 48>, sp::classes<10>>;
}  // namespace test
