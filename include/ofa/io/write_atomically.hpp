#pragma once
/// @file
/// The one way ofa writes a file: a temporary file in the same folder, written whole and flushed
/// to the disk (fsync), renamed over the target, then the folder flushed so that the rename itself
/// survives a power loss. A reader sees the old file or the new one, never a part; on any failure
/// (a full disk, a folder that turned read-only, a short write) the temporary file is removed, the
/// old file is left as it was, and the io_error names the path and the cause. A process killed in
/// the middle of a write cannot remove its temporary file: the next write of the same file does.

#include <fcntl.h>   // open
#include <signal.h>  // kill(pid, 0): is the process alive
#include <unistd.h>  // write, fsync, close, unlink, getpid

#include <atomic>
#include <cerrno>
#include <cstdio>  // rename
#include <cstdlib>  // strtol
#include <cstring>  // strerror
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "ofa/errors.hpp"

namespace ofa::io {

/** @brief Replaces `path` by `bytes`, durably and atomically (see the file's comment). */
void write_atomically(const std::string& path, std::string_view bytes);

/** @brief The bytes handed in pieces: `produce(sink)` calls sink(piece) for each, in order, so a
 *  large file (a checkpoint) need not be held in memory whole. An exception from `produce` leaves
 *  the old file as it was, as a failed write does. */
using byte_sink = std::function<void(std::string_view)>;
void write_atomically(const std::string& path, const std::function<void(const byte_sink&)>& produce);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
inline std::string errno_text(int code) { return std::strerror(code); }

/// fsync of the folder holding `path`: the rename's directory entry reaches the disk.
inline void sync_folder_of(const std::string& path) {
  auto folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) folder = ".";
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // some file systems do not open folders; the file itself is on disk
  ::fsync(fd);
  ::close(fd);
}
}  // namespace detail

namespace detail {
/// Removes the temporary files of `path` that processes no longer alive left behind (a SIGKILL in
/// the middle of a write): `<path>.tmp.<pid>.<n>` whose pid does not exist.
inline void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && pid != long(::getpid()) && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) fs::remove(it->path(), ec);
  }
}
}  // namespace detail

inline void write_atomically(const std::string& path, std::string_view bytes) {
  write_atomically(path, [&](const byte_sink& sink) { sink(bytes); });
}

inline void write_atomically(const std::string& path, const std::function<void(const byte_sink&)>& produce) {
  detail::remove_stale_temporaries(path);
  // A name of its own per process and call: two writers of one file never share a temporary.
  static std::atomic<unsigned> counter{0};
  const std::string temporary =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw io_error("ofa: cannot write '" + path + "': " + detail::errno_text(errno) +
                   " (creating '" + temporary + "'); check that the folder exists and is writable");
  bool cleaned_up = false;  // by fail(): the temporary file is gone
  const auto fail = [&](const std::string& what, int code) {
    ::close(fd);
    ::unlink(temporary.c_str());
    cleaned_up = true;
    throw io_error("ofa: cannot write '" + path + "': " + what + ": " + detail::errno_text(code) +
                   "; the previous file, if any, is unchanged" +
                   (code == ENOSPC || code == EFBIG || code == EDQUOT ? " (free some disk space)" : ""));
  };
  const byte_sink sink = [&](std::string_view bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("writing", errno);
      }
      if (n == 0) fail("writing (no progress)", EIO);
      done += std::size_t(n);
    }
  };
  try {
    produce(sink);
  } catch (...) {  // a failed write (already cleaned up), or the producer's own error
    if (!cleaned_up) {
      ::close(fd);
      ::unlink(temporary.c_str());
    }
    throw;
  }
  if (::fsync(fd) != 0) fail("flushing to disk", errno);
  if (::close(fd) != 0) {
    const int code = errno;
    ::unlink(temporary.c_str());
    throw io_error("ofa: cannot write '" + path + "': closing: " + detail::errno_text(code) +
                   "; the previous file, if any, is unchanged");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int code = errno;
    ::unlink(temporary.c_str());
    throw io_error("ofa: cannot write '" + path + "': renaming the finished file into place: " +
                   detail::errno_text(code) + "; the previous file, if any, is unchanged");
  }
  detail::sync_folder_of(path);
}

}  // namespace ofa::io
