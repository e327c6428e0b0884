// expect: ofa::space::stem: the stride must be 1 or 2
#include <ofa/space/parts.hpp>
template struct ofa::space::stem<16, 4, ofa::space::hswish>;
