// expect: ofa::space::kernel: kernel sizes must be unique and sorted ascending
#include <ofa/space/choices.hpp>
template struct ofa::space::kernel<5, 3>;
