// expect: ofa::space::stem: the width must be positive
#include <ofa/space/parts.hpp>
template struct ofa::space::stem<-16, 2, ofa::space::hswish>;
