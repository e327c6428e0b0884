// expect: ofa::space::resolution_range: Last - First must be a multiple of Step
#include <ofa/space/choices.hpp>
template struct ofa::space::resolution_range<128, 226, 4>;
