// expect: ofa::space::expand: expand ratios must be unique and sorted ascending
#include <ofa/space/choices.hpp>
template struct ofa::space::expand<6, 4, 3>;
