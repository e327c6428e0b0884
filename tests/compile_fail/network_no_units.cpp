// expect: ofa::space::network: a space needs at least one unit
#include <ofa/space/network.hpp>
namespace sp = ofa::space;
using empty = sp::network<sp::resolutions<32>, sp::stem<8, 1, ofa::space::relu>, sp::first_block<8, ofa::space::relu>, sp::units<>,
                          sp::head<16, 32>, sp::classes<10>>;
static_assert(empty::block_slots == 0);
