// expect: ofa::space::unit: the 4th argument must be ofa::space::se or ofa::space::no_se
#include <ofa/space/parts.hpp>
namespace sp = ofa::space;
template struct sp::unit<24, 1, ofa::space::relu, ofa::space::relu, sp::depth<2>, sp::expand<3>, sp::kernel<3>>;
