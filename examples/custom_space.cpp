// A space of your own: write it as a type, and every ofa tool works on it.
// A wrong space does not compile; try kernel<3, 4> below to see the message.

#include <iostream>

#include <ofa/ofa.hpp>

namespace sp = ofa::space;

using tiny_space = sp::network<
    sp::resolutions<32, 40, 48>,  // input sides
    sp::stem<8, 2, ofa::space::hswish>,  // 3x3 conv, stride 2
    sp::first_block<8, ofa::space::relu>,
    sp::units<sp::unit<16, 2, ofa::space::relu, ofa::space::no_se, sp::depth<1, 2>, sp::expand<2, 4>, sp::kernel<3, 5>>,
              sp::unit<32, 2, ofa::space::hswish, ofa::space::se, sp::depth<1, 2, 3>, sp::expand<2, 4>, sp::kernel<3, 5, 7>>>,
    sp::head<128, 256>, sp::classes<10>>;

static_assert(tiny_space::block_slots == 5);

int main() {
  std::cout << "subnets: " << ofa::to_decimal(tiny_space::subnet_count) << "\n";
  ofa::rng engine(42);
  const auto config = ofa::sample_config<tiny_space>(engine);
  const auto cost = ofa::profile_subnet(config);
  std::cout << "a random subnet: " << ofa::to_json(config).dump() << "\n"
            << "  " << cost.macs << " MACs, " << cost.params << " parameters\n";
}
