// expect: ofa::space::kernel: kernel sizes must be odd
#include <ofa/space/choices.hpp>
template struct ofa::space::kernel<3, 4>;
