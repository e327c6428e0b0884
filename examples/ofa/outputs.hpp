#pragma once
// Guards on what a command writes: an output that names one of its inputs is refused before any
// work (it would be overwritten, and the input lost), and a run folder is locked while a run
// writes into it (two `ofa train` on one folder would interleave their logs and checkpoints).
// Every file is written atomically.

#include <fcntl.h>     // open
#include <sys/file.h>  // flock
#include <unistd.h>    // close

#include <filesystem>
#include <initializer_list>
#include <string>
#include <utility>  // pair

#include <ofa/errors.hpp>
#include <ofa/io/write_atomically.hpp>

namespace ofa_cli {

/// Throws when `out` (the value of `out_option`) is the same file as one of `inputs` ({option, path}).
inline void refuse_output_over_input(const std::string& out_option, const std::string& out,
                                     std::initializer_list<std::pair<const char*, std::string>> inputs) {
  namespace fs = std::filesystem;
  for (const auto& [option, path] : inputs) {
    if (path.empty() || out.empty()) continue;
    std::error_code ec;
    const bool same = fs::exists(out, ec) && fs::exists(path, ec) ? fs::equivalent(out, path, ec)
                                                                  : fs::weakly_canonical(out, ec) == fs::weakly_canonical(path, ec);
    if (same)
      throw ofa::config_error(out_option + " '" + out + "' is the " + option + " it reads; writing it would destroy " +
                              "that input: give another " + out_option);
  }
}

/// An exclusive lock on DIR/.lock for as long as the object lives (released by the kernel when
/// the process dies, so a killed run never leaves a stale lock behind).
class folder_lock {
 public:
  explicit folder_lock(const std::string& dir) {
    const auto path = (std::filesystem::path(dir) / ".lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw ofa::io_error("cannot create '" + path + "'; check the folder is writable");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw ofa::config_error("'" + dir + "' is in use by another ofa run (it holds the lock on '" + path +
                              "'); wait for it to end, or use another --out");
    }
  }
  folder_lock(const folder_lock&) = delete;
  folder_lock& operator=(const folder_lock&) = delete;
  ~folder_lock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

/// Writes `text` to `path` atomically (no reader ever sees half a file).
inline void write_text(const std::string& path, const std::string& text) {
  ofa::io::write_atomically(path, text);
}

}  // namespace ofa_cli
