// A downstream program: includes the umbrella header and uses the space.
#include <iostream>

#include <ofa/ofa.hpp>

int main() {
  using space = ofa::spaces::mobilenet_v3;
  const auto cost = ofa::profile_subnet(ofa::subnet_config<space>::max());
  std::cout << "subnets " << ofa::to_decimal(space::subnet_count) << " macs " << cost.macs << "\n";
  return cost.macs > 0 ? 0 : 1;
}
