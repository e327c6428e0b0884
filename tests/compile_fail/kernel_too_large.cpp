// expect: ofa::space::kernel: kernel sizes must be 3, 5 or 7
#include <ofa/space/choices.hpp>
template struct ofa::space::kernel<3, 9>;
