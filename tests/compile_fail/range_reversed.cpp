// expect: ofa::space::resolution_range: First must not exceed Last
#include <ofa/space/choices.hpp>
template struct ofa::space::resolution_range<224, 128, 4>;
