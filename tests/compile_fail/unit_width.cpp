// expect: ofa::space::unit: the width must be positive
#include <ofa/space/parts.hpp>
namespace sp = ofa::space;
template struct sp::unit<0, 1, ofa::space::relu, ofa::space::no_se, sp::depth<2>, sp::expand<3>, sp::kernel<3>>;
