// expect: ofa::subnet_config: the argument must be a space
#include <ofa/space/subnet_config.hpp>
template struct ofa::subnet_config<int>;
