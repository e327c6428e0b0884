#pragma once
// What every fuzz target shares: the bytes as a file (most readers take a path), and the rule that
// a reader may only refuse its input with an ofa::error. Anything else escaping (std::bad_alloc, a
// raw library exception) aborts, and libFuzzer reports it with the input, as it reports a crash,
// a sanitizer finding, a hang or an allocation beyond -rss_limit_mb.

#include <unistd.h>  // getpid

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <ofa/errors.hpp>

namespace ofa_fuzz {

/// A folder of this process's own for the files it makes (in memory, /dev/shm, where there is one).
inline const std::string& scratch_folder() {
  static const std::string folder = [] {
    const std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    const std::string f = base + "/ofa_fuzz_" + std::to_string(::getpid());
    std::filesystem::create_directories(f);
    return f;
  }();
  return folder;
}

/// `data` written to the file `name` of the scratch folder; returns its path.
inline std::string as_file(const std::uint8_t* data, std::size_t size, const std::string& name = "input") {
  const std::string path = scratch_folder() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

/// Runs `read`; an ofa::error is the expected refusal of a bad input, anything else escapes.
template <class Read>
void expect_ofa_errors_only(Read&& read) {
  try {
    read();
  } catch (const ofa::error&) {
  }
}

}  // namespace ofa_fuzz
