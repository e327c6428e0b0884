#pragma once
/// @file
/// The checkpoint format: a versioned binary file of named float tensors with
/// the space's signature, free-form metadata (JSON text) and a checksum.
///
///   "OFACKPT\0" | u32 version | u32 kind | str signature | str metadata |
///   u64 count | count × (str name | u32 rank | u64 dims[rank] | f32 data[]) |
///   u64 FNV-1a of every byte before it
///
/// (str = u64 length + bytes; little-endian). Files are written to a temporary
/// name, flushed and renamed, so a crash never leaves a half-written checkpoint.
/// Loading checks everything and throws ofa::io_error naming the file and the reason.

#include <cstdint>
#include <cstdio>   // rename, remove
#include <cstring>  // memcpy
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/io/write_atomically.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::io {

inline constexpr std::uint32_t checkpoint_version = 1;

/** @brief What a checkpoint holds. */
enum class checkpoint_kind : std::uint32_t { supernet = 1, static_net = 2, predictor = 3 };

/** @brief "supernet", "static_net", "predictor" (or "unknown kind N"), for messages. */
inline std::string to_string(checkpoint_kind kind) {
  switch (kind) {
    case checkpoint_kind::supernet: return "supernet";
    case checkpoint_kind::static_net: return "static_net";
    case checkpoint_kind::predictor: return "predictor";
  }
  return "unknown kind " + std::to_string(static_cast<unsigned>(kind));
}

/** @brief A loaded checkpoint. */
struct checkpoint {
  checkpoint_kind kind = checkpoint_kind::supernet;
  std::string signature;
  std::string metadata;
  std::map<std::string, tensor<float>> tensors;
};

/** @brief Writes atomically (temporary file + rename). */
void save_checkpoint(const std::string& path, checkpoint_kind kind, const std::string& signature,
                     const std::string& metadata,
                     const std::vector<std::pair<std::string, const tensor<float>*>>& tensors);

/** @brief Reads and verifies; `expected_signature` (if not empty) must match. */
checkpoint load_checkpoint(const std::string& path, checkpoint_kind expected_kind,
                           const std::string& expected_signature);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
inline std::uint64_t fnv1a(const char* data, std::size_t n, std::uint64_t h = 1469598103934665603ULL) {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

/// Writes through a sink in pieces of about a megabyte, hashing what it writes: a checkpoint is
/// never held in memory whole (a supernet's weights would be there twice).
class writer {
 public:
  explicit writer(const byte_sink& sink) : sink_(sink) { buffer_.reserve(piece); }
  void bytes(const void* p, std::size_t n) {
    const auto* c = static_cast<const char*>(p);
    hash_ = fnv1a(c, n, hash_);
    if (buffer_.size() + n > piece) flush();
    if (n >= piece)
      sink_(std::string_view(c, n));
    else
      buffer_.append(c, n);
  }
  template <class U>
  void pod(U v) {
    bytes(&v, sizeof v);
  }
  void str(const std::string& s) {
    pod<std::uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  std::uint64_t hash() const { return hash_; }
  void flush() {
    if (!buffer_.empty()) sink_(buffer_);
    buffer_.clear();
  }

 private:
  static constexpr std::size_t piece = std::size_t{1} << 20;
  const byte_sink& sink_;
  std::string buffer_;
  std::uint64_t hash_ = 1469598103934665603ULL;  // fnv1a's offset basis
};

class reader {
 public:
  reader(const std::string& data, std::string path) : data_(data), path_(std::move(path)) {}
  void bytes(void* p, std::size_t n) {
    if (n > data_.size() - pos_) fail("it ends early (truncated?)");
    std::memcpy(p, data_.data() + pos_, n);
    pos_ += n;
  }
  template <class U>
  U pod() {
    U v;
    bytes(&v, sizeof v);
    return v;
  }
  std::string str(std::size_t limit) {
    const auto n = pod<std::uint64_t>();
    if (n > limit || n > data_.size() - pos_) fail("a length field is corrupt");
    std::string s(data_.data() + pos_, n);
    pos_ += n;
    return s;
  }
  std::size_t remaining() const { return data_.size() - pos_; }
  [[noreturn]] void fail(const std::string& why) const {
    throw io_error("ofa: cannot load checkpoint '" + path_ + "': " + why);
  }

 private:
  const std::string& data_;
  std::size_t pos_ = 0;
  std::string path_;
};

inline const char checkpoint_magic[8] = {'O', 'F', 'A', 'C', 'K', 'P', 'T', '\0'};
}  // namespace detail

inline void save_checkpoint(const std::string& path, checkpoint_kind kind, const std::string& signature,
                            const std::string& metadata,
                            const std::vector<std::pair<std::string, const tensor<float>*>>& tensors) {
  write_atomically(path, [&](const byte_sink& sink) {
    detail::writer w(sink);
    w.bytes(detail::checkpoint_magic, 8);
    w.pod<std::uint32_t>(checkpoint_version);
    w.pod<std::uint32_t>(static_cast<std::uint32_t>(kind));
    w.str(signature);
    w.str(metadata);
    w.pod<std::uint64_t>(tensors.size());
    for (const auto& [name, t] : tensors) {
      w.str(name);
      w.pod<std::uint32_t>(static_cast<std::uint32_t>(t->dimension()));
      for (auto d : t->shape()) w.pod<std::uint64_t>(d);
      w.bytes(t->data(), t->size() * sizeof(float));
    }
    const std::uint64_t hash = w.hash();  // of everything before it
    w.pod<std::uint64_t>(hash);
    w.flush();
  });
}

inline checkpoint load_checkpoint(const std::string& path, checkpoint_kind expected_kind,
                                  const std::string& expected_signature) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error("ofa: cannot open checkpoint '" + path + "'; check the path");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  detail::reader r(data, path);
  if (data.size() < 8 + 8 || std::memcmp(data.data(), detail::checkpoint_magic, 8) != 0)
    r.fail("it is not an ofa checkpoint (bad magic number)");
  std::uint64_t stored = 0;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  if (detail::fnv1a(data.data(), data.size() - 8) != stored)
    r.fail("the checksum does not match: the file is corrupt or truncated; use another copy");
  char magic[8];
  r.bytes(magic, 8);
  checkpoint c;
  const auto version = r.pod<std::uint32_t>();
  if (version != checkpoint_version)
    r.fail("format version " + std::to_string(version) + " is not supported (this build reads version " +
           std::to_string(checkpoint_version) + ")");
  c.kind = static_cast<checkpoint_kind>(r.pod<std::uint32_t>());
  if (c.kind != expected_kind)
    r.fail("it holds a " + to_string(c.kind) + ", not a " + to_string(expected_kind) +
           (c.kind == checkpoint_kind::supernet && expected_kind == checkpoint_kind::static_net
                ? "; extract a subnet from it first (ofa::nn::extract, then save)"
                : c.kind == checkpoint_kind::static_net && expected_kind == checkpoint_kind::supernet
                      ? "; a static_net is one extracted subnet: load it with load_static"
                      : ""));
  c.signature = r.str(1 << 20);
  if (!expected_signature.empty() && c.signature != expected_signature)
    r.fail("it was saved from a different space (signature '" + c.signature.substr(0, 80) +
           "...'); load it into the space it was trained on");
  c.metadata = r.str(1 << 26);
  const auto count = r.pod<std::uint64_t>();
  for (std::uint64_t i = 0; i < count; ++i) {
    auto name = r.str(4096);
    const auto rank = r.pod<std::uint32_t>();
    if (rank > 8) r.fail("tensor '" + name + "' has an impossible rank");
    shape_type shape(rank);
    std::size_t size = 1;
    for (auto& d : shape) {
      d = static_cast<std::size_t>(r.pod<std::uint64_t>());
      if (d > (std::size_t{1} << 32)) r.fail("tensor '" + name + "' has an impossible shape");
      // Bounded by what the file holds at every factor, so the product cannot wrap around.
      if (d != 0 && size > r.remaining() / sizeof(float) / d)
        r.fail("tensor '" + name + "' runs past the end of the file");
      size *= d;
    }
    if (size * sizeof(float) > r.remaining()) r.fail("tensor '" + name + "' runs past the end of the file");
    tensor<float> t(shape);
    r.bytes(t.data(), size * sizeof(float));
    c.tensors.emplace(std::move(name), std::move(t));
  }
  if (r.remaining() != 8) r.fail("unexpected bytes after the last tensor");
  return c;
}

}  // namespace ofa::io
