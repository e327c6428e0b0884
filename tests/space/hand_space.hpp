#pragma once
// A space small enough that its counts can be worked out by hand in the tests.
#include <ofa/space/network.hpp>

namespace test {
namespace sp = ofa::space;
using hand_space =
    sp::network<sp::resolutions<32, 64>, sp::stem<8, 2, ofa::space::relu>, sp::first_block<8, ofa::space::relu>,
                sp::units<sp::unit<16, 2, ofa::space::relu, ofa::space::no_se, sp::depth<1, 2>, sp::expand<3>, sp::kernel<3, 5>>,
                          sp::unit<24, 1, ofa::space::hswish, ofa::space::se, sp::depth<2>, sp::expand<3, 6>, sp::kernel<3, 5, 7>>>,
                sp::head<64, 128>, sp::classes<10>>;
}  // namespace test
