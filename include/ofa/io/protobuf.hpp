#pragma once
/// @file
/// The protocol-buffers wire format, writing side only: what the ONNX export
/// needs, without a dependency on libprotobuf. A message is built as bytes;
/// nested messages are written into their own `message` and then added as a
/// length-delimited field. Scalars of repeated fields are written unpacked,
/// which every parser accepts for proto2 and proto3 alike.

#include <cstdint>
#include <cstring>  // memcpy
#include <string>
#include <string_view>

namespace ofa::io::protobuf {

class message {
 public:
  /** @brief Field `field` as a varint (int32, int64, enums, bool). */
  message& varint(int field, std::uint64_t value) {
    tag(field, 0);
    raw_varint(value);
    return *this;
  }
  /** @brief Field `field` as a 32-bit little-endian float. */
  message& fixed_float(int field, float value) {
    tag(field, 5);
    char b[4];
    std::memcpy(b, &value, 4);
    bytes_.append(b, 4);
    return *this;
  }
  /** @brief A string, bytes or nested message field. */
  message& bytes(int field, std::string_view data) {
    tag(field, 2);
    raw_varint(data.size());
    bytes_.append(data.data(), data.size());
    return *this;
  }
  message& nested(int field, const message& m) { return bytes(field, m.bytes_); }

  const std::string& str() const noexcept { return bytes_; }

 private:
  void tag(int field, int wire_type) { raw_varint((static_cast<std::uint64_t>(field) << 3) | unsigned(wire_type)); }
  void raw_varint(std::uint64_t v) {
    while (v >= 0x80) {
      bytes_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    bytes_.push_back(static_cast<char>(v));
  }
  std::string bytes_;
};

}  // namespace ofa::io::protobuf
