// expect: ofa::space::classes: a classifier needs at least 2 classes
#include <ofa/space/parts.hpp>
template struct ofa::space::classes<1>;
