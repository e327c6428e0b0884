// Runner for the kernel tests, shared by the builds for every instruction set.
// A build for an instruction set this CPU lacks exits 77, which ctest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

// Defined in arch_check.cpp, which is compiled with each build's instruction-set flags.
bool ofa_test_cpu_runs_build();
std::string ofa_test_build_arch();
std::string ofa_test_dispatched_arch();

int main(int argc, char** argv) {
  if (!ofa_test_cpu_runs_build()) {
    std::printf("skipped: this CPU does not run %s\n", ofa_test_build_arch().c_str());
    return 77;
  }
  std::printf("kernels dispatch to %s\n", ofa_test_dispatched_arch().c_str());
  return Catch::Session().run(argc, argv);
}
