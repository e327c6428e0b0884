// expect: ofa::space::resolutions: every resolution must be at least 8
#include <ofa/space/choices.hpp>
template struct ofa::space::resolutions<4, 32>;
