// expect: ofa::space::expand: the list of expand ratios must not be empty
#include <ofa/space/choices.hpp>
template struct ofa::space::expand<>;
