// expect: ofa::space::depth: every depth must be at least 1
#include <ofa/space/choices.hpp>
template struct ofa::space::depth<0, 1>;
