#pragma once
// FNV-1a over bytes for tests that compare results bit for bit: the checkpoint format's own.
#include <cstdint>

#include <ofa/io/checkpoint.hpp>

namespace test {
inline std::uint64_t fnv(const void* p, std::size_t n, std::uint64_t h = 1469598103934665603ULL) {
  return ofa::io::detail::fnv1a(static_cast<const char*>(p), n, h);
}
}  // namespace test
