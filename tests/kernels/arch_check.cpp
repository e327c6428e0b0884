// Compiled with each kernel-test build's instruction-set flags: what that build targets.
#include <string>

#include <ofa/kernels/simd.hpp>

bool ofa_test_cpu_runs_build() {
  return ofa::kernels::cpu_runs_compiled_best();
}
std::string ofa_test_build_arch() {
  return xsimd::default_arch::name();
}
std::string ofa_test_dispatched_arch() {
  return ofa::kernels::active_arch_name();
}
