// expect: ofa::space::unit: the 5th argument must be ofa::space::depth
#include <ofa/space/parts.hpp>
namespace sp = ofa::space;
template struct sp::unit<24, 1, ofa::space::relu, ofa::space::no_se, sp::kernel<3>, sp::expand<3>, sp::depth<2>>;
