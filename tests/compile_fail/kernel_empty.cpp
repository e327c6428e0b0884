// expect: ofa::space::kernel: the list of kernel sizes must not be empty
#include <ofa/space/choices.hpp>
template struct ofa::space::kernel<>;
