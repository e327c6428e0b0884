// expect: ofa::space::depth: the list of depths must not be empty
#include <ofa/space/choices.hpp>
template struct ofa::space::depth<>;
