#pragma once
/// @file
/// `process_group` on MPI (Open MPI, MPICH: anything of the MPI-3 standard). Needs <mpi.h>: link
/// the `ofa::mpi` CMake target. `mpi_session` initialises MPI for the life of a program and
/// finalises it; `mpi_group` is MPI_COMM_WORLD. Buffers larger than 2^31 elements are reduced in
/// chunks (MPI counts are int).

#include <mpi.h>

#include <algorithm>  // min
#include <climits>    // INT_MAX
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/parallel/process_group.hpp"

namespace ofa::parallel {

/** @brief MPI initialised (MPI_THREAD_FUNNELED: only the thread that called it calls MPI; oneTBB's
 *  workers never do) while the object lives. */
class mpi_session {
 public:
  mpi_session(int* argc, char*** argv) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised) return;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw io_error("ofa: MPI_Init_thread failed; run under mpirun, or check the MPI installation");
    owner_ = true;
  }
  mpi_session(const mpi_session&) = delete;
  mpi_session& operator=(const mpi_session&) = delete;
  ~mpi_session() {
    if (owner_) MPI_Finalize();
  }

 private:
  bool owner_ = false;
};

/** @brief The processes of MPI_COMM_WORLD (MPI must be initialised: see mpi_session). */
class mpi_group final : public process_group {
 public:
  mpi_group() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void sum(std::span<float> values) override { sum_in_chunks(values.data(), values.size(), MPI_FLOAT); }
  void sum(std::span<double> values) override { sum_in_chunks(values.data(), values.size(), MPI_DOUBLE); }
  std::vector<std::uint64_t> gather(std::uint64_t value) override {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(size_));
    check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Allgather");
    return all;
  }

 private:
  template <class T>
  void sum_in_chunks(T* data, std::size_t n, MPI_Datatype type) {
    constexpr std::size_t chunk = std::size_t{1} << 30;  // well under INT_MAX elements
    for (std::size_t at = 0; at < n; at += chunk) {
      const int count = static_cast<int>(std::min(chunk, n - at));
      check(MPI_Allreduce(MPI_IN_PLACE, data + at, count, type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    }
  }
  void check(int code, const char* what) const {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw io_error(std::string("ofa: ") + what + " failed on rank " + std::to_string(rank_) + ": " +
                   std::string(text, static_cast<std::size_t>(length)));
  }
  int rank_ = 0, size_ = 1;
};

}  // namespace ofa::parallel
