// expect: ofa::space::unit: the stride must be 1 or 2
#include <ofa/space/parts.hpp>
namespace sp = ofa::space;
template struct sp::unit<24, 3, ofa::space::relu, ofa::space::no_se, sp::depth<2>, sp::expand<3>, sp::kernel<3>>;
