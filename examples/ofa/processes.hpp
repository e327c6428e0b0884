#pragma once
// The processes of a run: one, or those `mpirun -np N ofa train ...` started. Open MPI, MPICH and
// PMIx launchers say how many in the environment; under one, MPI is started (this binary must
// have been built with it), and an error on any process ends them all (MPI_Abort) rather than
// leave the others waiting in a collective for ever.

#include <cstdio>
#include <cstdlib>  // getenv, atoi
#include <exception>

#include <ofa/errors.hpp>
#include <ofa/parallel/process_group.hpp>
#if OFA_WITH_MPI
#include <ofa/parallel/mpi.hpp>
#endif

namespace ofa_cli {

/// How many processes a launcher started with this one (1: run alone).
inline int launched_processes() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
    if (const char* value = std::getenv(variable); value && std::atoi(value) > 1) return std::atoi(value);
  return 1;
}

/// Calls f(group) with this run's processes.
template <class F>
void with_processes(F&& f) {
  if (launched_processes() == 1) {
    ofa::parallel::single_process alone;
    f(alone);
    return;
  }
#if OFA_WITH_MPI
  ofa::parallel::mpi_session session(nullptr, nullptr);
  ofa::parallel::mpi_group group;
  try {
    f(group);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ofa: error (process %d of %d): %s\n", group.rank(), group.size(), e.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
#else
  throw ofa::config_error("this ofa was started by mpirun (" + std::to_string(launched_processes()) +
                          " processes) but built without MPI; install libopenmpi-dev (scripts/setup.sh) and "
                          "rebuild, or run one process without mpirun");
#endif
}

}  // namespace ofa_cli
