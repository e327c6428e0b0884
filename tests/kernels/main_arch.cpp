// Runner for the kernel tests, built once per instruction set (see CMakeLists.txt).
// A build for an instruction set this CPU lacks exits 77, which ctest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include <ofa/kernels/simd.hpp>

int main(int argc, char** argv) {
  if (!ofa::kernels::cpu_runs_compiled_best()) {
    std::printf("skipped: this CPU does not run %s\n", xsimd::default_arch::name());
    return 77;
  }
  std::printf("kernels dispatch to %s\n", ofa::kernels::active_arch_name().c_str());
  return Catch::Session().run(argc, argv);
}
