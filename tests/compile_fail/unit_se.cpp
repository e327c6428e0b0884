// expect: ofa::space::unit: the 4th argument must be ofa::se or ofa::no_se
#include <ofa/space/parts.hpp>
namespace sp = ofa::space;
template struct sp::unit<24, 1, ofa::relu, ofa::relu, sp::depth<2>, sp::expand<3>, sp::kernel<3>>;
