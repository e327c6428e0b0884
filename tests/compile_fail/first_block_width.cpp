// expect: ofa::space::first_block: the width must be positive
#include <ofa/space/parts.hpp>
template struct ofa::space::first_block<0, ofa::space::relu>;
