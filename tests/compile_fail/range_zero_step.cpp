// expect: ofa::space::resolution_range: the step must be positive
#include <ofa/space/choices.hpp>
template struct ofa::space::resolution_range<128, 224, 0>;
