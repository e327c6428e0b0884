// Durable writes under injected faults: a full disk (a file-size limit: the write stops short, then
// fails with EFBIG), a folder that takes no files (/proc), a missing folder. Each is an io_error naming
// the path, no temporary file stays behind, and the previous file still loads.
#include <catch2/catch.hpp>

#include <sys/resource.h>  // setrlimit
#include <unistd.h>        // getppid

#include <csignal>  // SIGXFSZ

#include <algorithm>  // equal
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <ofa/io/write_atomically.hpp>
#include <ofa/nn/serialize.hpp>

#include "../small_space.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
fs::path fresh_dir(const std::string& name) {
  const auto p = fs::temp_directory_path() / ("ofa_test_atomic_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
/// While alive, files this process writes stop at `bytes` (as on a full disk) and the write that
/// would pass it fails with EFBIG instead of killing the process with SIGXFSZ.
struct file_size_limit {
  rlimit before{};
  void (*handler)(int);
  explicit file_size_limit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &before);
    handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = before;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~file_size_limit() {
    setrlimit(RLIMIT_FSIZE, &before);
    std::signal(SIGXFSZ, handler);
  }
};
std::size_t files_in(const fs::path& dir) { return std::size_t(std::distance(fs::directory_iterator(dir), {})); }
}  // namespace

TEST_CASE("write_atomically replaces a file whole", "[io][atomic]") {
  const auto dir = fresh_dir("plain");
  const auto path = (dir / "a.txt").string();
  ofa::io::write_atomically(path, "first");
  ofa::io::write_atomically(path, "second, longer");
  CHECK(read_all(path) == "second, longer");
  CHECK(files_in(dir) == 1);
  fs::remove_all(dir);
}

TEST_CASE("the temporary file of a killed writer is removed by the next write", "[io][atomic]") {
  const auto dir = fresh_dir("stale");
  const auto path = (dir / "checkpoint.ofa").string();
  std::ofstream(path + ".tmp.999999999.0") << "half written";          // no such process
  std::ofstream(path + ".tmp." + std::to_string(::getppid()) + ".0") << "a live writer's";
  ofa::io::write_atomically(path, "whole");
  CHECK(read_all(path) == "whole");
  CHECK_FALSE(fs::exists(path + ".tmp.999999999.0"));
  CHECK(fs::exists(path + ".tmp." + std::to_string(::getppid()) + ".0"));  // still being written
  fs::remove_all(dir);
}

TEST_CASE("a full disk, a folder that takes no files, a missing folder: errors that lose nothing", "[io][atomic]") {
  const auto dir = fresh_dir("faults");
  const auto path = (dir / "table.json").string();
  ofa::io::write_atomically(path, "the previous table");
  {
    const file_size_limit full(4096);  // a short write at 4096 bytes, then EFBIG
    CHECK_THROWS_WITH(ofa::io::write_atomically(path, std::string(100000, 'x')),
                      Contains(path) && Contains("free some disk space") && Contains("unchanged"));
  }
  CHECK(read_all(path) == "the previous table");
  CHECK(files_in(dir) == 1);  // the temporary file is gone
  CHECK_THROWS_WITH(ofa::io::write_atomically("/proc/ofa_test.json", "x"),
                    Contains("/proc/ofa_test.json") && Contains("check that the folder exists and is writable"));
  CHECK_THROWS_WITH(ofa::io::write_atomically((dir / "no" / "such.json").string(), "x"),
                    Contains("No such file or directory"));
  fs::remove_all(dir);
}

TEST_CASE("a checkpoint that cannot be written leaves the previous one loadable", "[io][atomic]") {
  const auto dir = fresh_dir("checkpoint");
  const auto path = (dir / "net.ofa").string();
  ofa::nn::elastic_net<test::small_space> net(1), other(2), back(3);
  ofa::nn::save(net, path);
  {
    const file_size_limit full(100000);  // the checkpoint is about 450 KB
    CHECK_THROWS_AS(ofa::nn::save(other, path), ofa::io_error);
  }
  ofa::nn::load(back, path);
  const auto& a = back.state().parameters[0].value.value();
  const auto& b = net.state().parameters[0].value.value();
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  CHECK(files_in(dir) == 1);
  fs::remove_all(dir);
}
