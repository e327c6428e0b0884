// expect: ofa::space::unit: the 3rd argument \(activation\) must be ofa::space::relu, relu6 or hswish
#include <ofa/space/parts.hpp>
namespace sp = ofa::space;
template struct sp::unit<24, 1, int, ofa::space::no_se, sp::depth<2>, sp::expand<3>, sp::kernel<3>>;
