// expect: ofa::space::network: the 4th argument must be ofa::space::units
#include <ofa/space/network.hpp>
namespace sp = ofa::space;
using u = sp::unit<16, 1, ofa::space::relu, ofa::space::no_se, sp::depth<1>, sp::expand<3>, sp::kernel<3>>;
using bad = sp::network<sp::resolutions<32>, sp::stem<8, 1, ofa::space::relu>, sp::first_block<8, ofa::space::relu>, u,
                        sp::head<16, 32>, sp::classes<10>>;
static_assert(bad::unit_count == 1);
