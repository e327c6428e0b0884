// expect: ofa::space::resolutions: resolutions must be unique and sorted ascending
#include <ofa/space/choices.hpp>
template struct ofa::space::resolutions<224, 128>;
