// expect: ofa::space::expand: expand ratios must be positive
#include <ofa/space/choices.hpp>
template struct ofa::space::expand<-1, 3>;
