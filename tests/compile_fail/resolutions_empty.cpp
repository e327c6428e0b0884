// expect: ofa::space::resolutions: the list must not be empty
#include <ofa/space/choices.hpp>
template struct ofa::space::resolutions<>;
