// expect: ofa::space::depth: depths must be unique and sorted ascending
#include <ofa/space/choices.hpp>
template struct ofa::space::depth<2, 2, 4>;
