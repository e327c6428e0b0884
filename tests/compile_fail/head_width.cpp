// expect: ofa::space::head: the final expand width must be positive
#include <ofa/space/parts.hpp>
template struct ofa::space::head<0, 1280>;
