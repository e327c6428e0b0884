#pragma once
/// @file
/// Reads the tensors of a `torch.save` file, natively: no Python, no libtorch. Both formats:
///  - the zip archive of PyTorch >= 1.6: `<prefix>/data.pkl` (a pickle) and `<prefix>/data/<key>`
///    (one raw storage each), stored uncompressed, sizes and offsets from the central directory
///    (zip64 records honoured);
///  - the legacy format the published Once-for-All files use: five pickles in a row (magic number,
///    protocol, system info, the object, the storage keys), then each storage as an int64 element
///    count and its raw bytes.
/// The pickle is read by a restricted machine that knows only the opcodes and globals a state dict
/// needs (ordered dicts, `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter`, the storage
/// types); anything else is refused by name, never executed. Every size read from the file is
/// checked against the file. float32 tensors are read as they are, float16 converted; views
/// (storage offsets, sizes, strides) are honoured.
///
/// Memory: the file is mapped, not read (where the system maps files), and a tensor's values are
/// read when asked for, its pages given back after: importing a supernet holds the network and one
/// tensor, not the file, every tensor and the network at once.

#include <fcntl.h>     // open
#include <sys/mman.h>  // mmap, madvise
#include <sys/stat.h>  // fstat
#include <unistd.h>    // close, pread, sysconf

#include <cerrno>
#include <algorithm>  // min, sort
#include <cmath>      // ldexp
#include <cstdint>
#include <cstdio>  // snprintf
#include <cstring>  // memcpy
#include <fstream>
#include <iterator>  // istreambuf_iterator
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>  // pair, move
#include <vector>

#include "ofa/errors.hpp"

namespace ofa::io {

/** @brief One tensor of a PyTorch file, contiguous (row-major over `shape`). */
struct pytorch_tensor {
  std::vector<std::size_t> shape;
  std::string dtype;        ///< "float32", "float16" (converted to float), "int64", ...
  std::vector<float> data;  ///< the values, for float32 and float16 tensors; empty otherwise
};

class pytorch_state_dict;  // the file opened, each tensor read on demand (defined below)

/** @brief The tensors of a `torch.save`d state dict (a bare dict, or the "state_dict" entry of a
 *  dict that wraps it), in the file's order, all read. Anything else is an io_error naming the file. */
std::vector<std::pair<std::string, pytorch_tensor>> read_pytorch_state_dict(const std::string& path);

// ---------------------------------------------------------------------------
// implementation

namespace detail::pytorch {

[[noreturn]] inline void fail(const std::string& path, const std::string& why) {
  throw io_error("ofa: cannot import '" + path + "': " + why);
}

/// A storage a tensor views: its key, element type and where its bytes are.
struct storage_ref {
  std::string key, type;  // type: "FloatStorage", ...
  std::uint64_t numel = 0;
  const char* bytes = nullptr;  // set once the file's layout is known
};

struct value;
/// Values live in an arena for the whole read: a pickle may build cycles (a dict memoised, then
/// put into itself), which shared ownership would leak.
using value_ptr = value*;

/// A pickled value: the few kinds a state dict is made of.
struct value {
  enum class kind { none, boolean, integer, floating, string, tuple, list, dict, global, storage, tensor, mark };
  kind k = kind::none;
  std::int64_t i = 0;
  double f = 0;
  std::string s;                                    // string; global: "module.name"
  std::vector<value_ptr> items;                     // tuple, list
  std::vector<std::pair<value_ptr, value_ptr>> map;  // dict, in insertion order
  std::shared_ptr<storage_ref> storage;             // storage, tensor
  std::uint64_t offset = 0;                         // tensor: in elements
  std::vector<std::int64_t> size, stride;           // tensor
};

inline std::size_t element_size(const std::string& path, const std::string& type) {
  static const std::map<std::string, std::size_t> sizes{
      {"FloatStorage", 4}, {"HalfStorage", 2}, {"DoubleStorage", 8}, {"LongStorage", 8}, {"IntStorage", 4},
      {"ShortStorage", 2}, {"CharStorage", 1}, {"ByteStorage", 1},   {"BoolStorage", 1}, {"BFloat16Storage", 2}};
  const auto it = sizes.find(type);
  if (it == sizes.end()) fail(path, "it holds a storage of type torch." + type + ", which ofa does not read");
  return it->second;
}

inline std::string dtype_of(const std::string& type) {
  static const std::map<std::string, std::string> names{
      {"FloatStorage", "float32"}, {"HalfStorage", "float16"}, {"DoubleStorage", "float64"},
      {"LongStorage", "int64"},    {"IntStorage", "int32"},    {"ShortStorage", "int16"},
      {"CharStorage", "int8"},     {"ByteStorage", "uint8"},   {"BoolStorage", "bool"},
      {"BFloat16Storage", "bfloat16"}};
  const auto it = names.find(type);
  return it == names.end() ? type : it->second;
}

/// The restricted pickle machine. `storages` collects the storages the persistent ids name.
class unpickler {
 public:
  unpickler(const std::string& path, const char* data, std::size_t size,
            std::map<std::string, std::shared_ptr<storage_ref>>& storages, std::vector<std::unique_ptr<value>>& arena)
      : path_(path), p_(data), end_(data + size), storages_(storages), arena_(arena) {}

  /// Reads one pickle (up to its STOP); returns its value.
  value_ptr load() {
    stack_.clear();
    marks_.clear();
    memo_.clear();
    for (;;) {
      const auto op = static_cast<unsigned char>(byte());
      switch (op) {
        case 0x80: byte(); break;                            // PROTO
        case 0x95: bytes(8); break;                          // FRAME: a length hint
        case '.': return pop();                              // STOP
        case '(': marks_.push_back(stack_.size()); break;     // MARK
        case 'N': push(make(value::kind::none)); break;      // NONE
        case 0x88: push(boolean(true)); break;               // NEWTRUE
        case 0x89: push(boolean(false)); break;              // NEWFALSE
        case 'K': push(integer(std::uint8_t(byte()))); break;  // BININT1
        case 'M': push(integer(little<std::uint16_t>())); break;  // BININT2
        case 'J': push(integer(little<std::int32_t>())); break;   // BININT
        case 0x8a: push(long1()); break;                          // LONG1
        case 'G': push(floating(big_double())); break;            // BINFLOAT
        case 'X': push(string(little<std::uint32_t>())); break;   // BINUNICODE
        case 0x8c: push(string(std::uint8_t(byte()))); break;     // SHORT_BINUNICODE
        case 0x8d: push(string(little<std::uint64_t>())); break;  // BINUNICODE8
        case ')': push(make(value::kind::tuple)); break;          // EMPTY_TUPLE
        case ']': push(make(value::kind::list)); break;           // EMPTY_LIST
        case '}': push(make(value::kind::dict)); break;           // EMPTY_DICT
        case 't': push(tuple(take_to_mark())); break;             // TUPLE
        case 0x85: push(tuple(take(1))); break;                   // TUPLE1
        case 0x86: push(tuple(take(2))); break;                   // TUPLE2
        case 0x87: push(tuple(take(3))); break;                   // TUPLE3
        case 'a': {                                               // APPEND
          auto item = pop();
          list_of(top()).items.push_back(item);
          break;
        }
        case 'e': {  // APPENDS
          auto items = take_to_mark();
          auto& l = list_of(top());
          l.items.insert(l.items.end(), items.begin(), items.end());
          break;
        }
        case 's': {  // SETITEM
          auto v = pop(), k = pop();
          dict_of(top()).map.emplace_back(k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto items = take_to_mark();
          if (items.size() % 2) fail(path_, "its pickle has SETITEMS with an odd number of items");
          auto& d = dict_of(top());
          for (std::size_t j = 0; j < items.size(); j += 2) d.map.emplace_back(items[j], items[j + 1]);
          break;
        }
        case 'q': memo_put(std::uint8_t(byte())); break;            // BINPUT
        case 'r': memo_put(little<std::uint32_t>()); break;         // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;                   // MEMOIZE
        case 'h': push(memo_get(std::uint8_t(byte()))); break;      // BINGET
        case 'j': push(memo_get(little<std::uint32_t>())); break;   // LONG_BINGET
        case 'c': {                                                 // GLOBAL "module\nname\n"
          const auto module = line(), name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop(), module = pop();
          if (name->k != value::kind::string || module->k != value::kind::string)
            fail(path_, "its pickle has a STACK_GLOBAL without two strings");
          push(global(module->s, name->s));
          break;
        }
        case 'R': {  // REDUCE
          auto args = pop(), callable = pop();
          push(reduce(*callable, *args));
          break;
        }
        case 'Q': push(persistent_load(*pop())); break;  // BINPERSID
        case 'b': {                                      // BUILD: only a dict's _metadata, ignored
          (void)pop();
          if (top()->k != value::kind::dict && top()->k != value::kind::tensor)
            fail(path_, "its pickle sets the state of an object ofa does not know");
          break;
        }
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(path_, std::string("its pickle uses opcode ") + hex +
                          ", which a state dict does not need; ofa reads state dicts saved by torch.save");
        }
      }
      if (stack_.size() > max_stack) fail(path_, "its pickle nests too deeply");
    }
  }
  /// Where the next pickle (or the legacy format's storage data) begins.
  const char* position() const { return p_; }

 private:
  static constexpr std::size_t max_stack = 1 << 20;

  value_ptr make(value::kind k) {
    arena_.push_back(std::make_unique<value>());
    arena_.back()->k = k;
    return arena_.back().get();
  }

  char byte() {
    if (p_ >= end_) fail(path_, "its pickle ends early (the file is truncated)");
    return *p_++;
  }
  const char* bytes(std::uint64_t n) {
    if (n > std::uint64_t(end_ - p_)) fail(path_, "its pickle ends early (the file is truncated)");
    const char* at = p_;
    p_ += n;
    return at;
  }
  template <class U>
  U little() {
    U v;
    std::memcpy(&v, bytes(sizeof v), sizeof v);  // pickles are little-endian, as is every CPU ofa runs on
    return v;
  }
  double big_double() {
    const char* b = bytes(8);
    std::uint64_t bits = 0;
    for (int j = 0; j < 8; ++j) bits = bits << 8 | std::uint8_t(b[j]);
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  /// An integer of n little-endian bytes; one wider than 64 bits (the legacy format's magic
  /// number) keeps its bytes in `s` and is no number.
  value_ptr long1() {
    const auto n = std::uint8_t(byte());
    const char* b = bytes(n);
    if (n > 8) {
      auto v = make(value::kind::integer);
      v->s.assign(b, n);
      return v;
    }
    std::uint64_t u = 0;
    for (int j = n - 1; j >= 0; --j) u = u << 8 | std::uint8_t(b[j]);
    if (n > 0 && n < 8 && (std::uint8_t(b[n - 1]) & 0x80)) u |= ~std::uint64_t{0} << (8 * n);  // sign
    return integer(std::int64_t(u));
  }
  std::string line() {
    std::string s;
    for (char c; (c = byte()) != '\n';) {
      s += c;
      if (s.size() > 256) fail(path_, "its pickle names a global longer than any ofa knows");
    }
    return s;
  }
  value_ptr boolean(bool b) {
    auto v = make(value::kind::boolean);
    v->i = b;
    return v;
  }
  value_ptr integer(std::int64_t i) {
    auto v = make(value::kind::integer);
    v->i = i;
    return v;
  }
  value_ptr floating(double f) {
    auto v = make(value::kind::floating);
    v->f = f;
    return v;
  }
  value_ptr string(std::uint64_t n) {
    auto v = make(value::kind::string);
    const char* b = bytes(n);
    v->s.assign(b, n);
    return v;
  }
  value_ptr tuple(std::vector<value_ptr> items) {
    auto v = make(value::kind::tuple);
    v->items = std::move(items);
    return v;
  }
  void push(value_ptr v) { stack_.push_back(std::move(v)); }
  value_ptr pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
      fail(path_, "its pickle pops an empty stack (the file is damaged)");
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const value_ptr& top() {
    if (stack_.empty()) fail(path_, "its pickle works on an empty stack (the file is damaged)");
    return stack_.back();
  }
  std::vector<value_ptr> take(std::size_t n) {
    std::vector<value_ptr> items(n);
    for (std::size_t j = n; j-- > 0;) items[j] = pop();
    return items;
  }
  std::vector<value_ptr> take_to_mark() {
    if (marks_.empty()) fail(path_, "its pickle closes a MARK it never opened (the file is damaged)");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<value_ptr> items(stack_.begin() + std::ptrdiff_t(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  value& list_of(const value_ptr& v) {
    if (v->k != value::kind::list) fail(path_, "its pickle appends to something that is not a list");
    return *v;
  }
  value& dict_of(const value_ptr& v) {
    if (v->k != value::kind::dict) fail(path_, "its pickle sets an item of something that is not a dict");
    return *v;
  }
  void memo_put(std::size_t index) {
    if (index > max_stack) fail(path_, "its pickle memoises at an impossible index");
    if (memo_.size() <= index) memo_.resize(index + 1);
    memo_[index] = top();
  }
  value_ptr memo_get(std::size_t index) {
    if (index >= memo_.size() || !memo_[index]) fail(path_, "its pickle reads a memo entry it never wrote");
    return memo_[index];
  }

  value_ptr global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    const bool storage = module == "torch" && name.size() > 7 && name.ends_with("Storage");
    if (full != "collections.OrderedDict" && full != "torch._utils._rebuild_tensor_v2" &&
        full != "torch._utils._rebuild_parameter" && !storage)
      fail(path_, "its pickle calls " + full + ", which a state dict does not need; ofa refuses it (a pickle " +
                      "can run any code it names), so save the weights alone: torch.save(model.state_dict(), ...)");
    auto v = make(value::kind::global);
    v->s = full;
    return v;
  }

  value_ptr reduce(const value& callable, const value& args) {
    if (callable.k != value::kind::global || args.k != value::kind::tuple)
      fail(path_, "its pickle calls something that is not a known function");
    const auto& a = args.items;
    if (callable.s == "collections.OrderedDict") return make(value::kind::dict);
    if (callable.s == "torch._utils._rebuild_parameter") {
      if (a.empty() || a[0]->k != value::kind::tensor) fail(path_, "a parameter without a tensor");
      return a[0];
    }
    if (callable.s == "torch._utils._rebuild_tensor_v2") {
      if (a.size() < 4 || a[0]->k != value::kind::storage || a[1]->k != value::kind::integer ||
          a[2]->k != value::kind::tuple || a[3]->k != value::kind::tuple)
        fail(path_, "a tensor is rebuilt from arguments ofa does not know");
      auto t = make(value::kind::tensor);
      t->storage = a[0]->storage;
      if (a[1]->i < 0) fail(path_, "a tensor starts at a negative storage offset");
      t->offset = std::uint64_t(a[1]->i);
      for (const auto& d : a[2]->items) {
        if (d->k != value::kind::integer || d->i < 0) fail(path_, "a tensor has an impossible size");
        t->size.push_back(d->i);
      }
      for (const auto& d : a[3]->items) {
        if (d->k != value::kind::integer || d->i < 0) fail(path_, "a tensor has an impossible stride");
        t->stride.push_back(d->i);
      }
      if (t->size.size() != t->stride.size() || t->size.size() > 8)
        fail(path_, "a tensor's sizes and strides do not match");
      return t;
    }
    fail(path_, "its pickle calls " + callable.s + " as a function, which ofa does not");
  }

  value_ptr persistent_load(const value& pid) {
    // ('storage', storage type, key, location, numel[, view metadata])
    if (pid.k != value::kind::tuple || pid.items.size() < 5 || pid.items[0]->s != "storage" ||
        pid.items[1]->k != value::kind::global || pid.items[2]->k != value::kind::string ||
        pid.items[4]->k != value::kind::integer || pid.items[4]->i < 0)
      fail(path_, "its pickle names a persistent object that is not a tensor storage");
    const std::string type = pid.items[1]->s.substr(6);  // after "torch."
    element_size(path_, type);                           // a type ofa reads
    auto& s = storages_[pid.items[2]->s];
    if (!s) {
      s = std::make_shared<storage_ref>();
      s->key = pid.items[2]->s;
      s->type = type;
      s->numel = std::uint64_t(pid.items[4]->i);
    } else if (s->type != type) {
      fail(path_, "storage '" + s->key + "' is named with two types");
    }
    auto v = make(value::kind::storage);
    v->storage = s;
    return v;
  }

  std::string path_;
  const char* p_;
  const char* end_;
  std::map<std::string, std::shared_ptr<storage_ref>>& storages_;
  std::vector<std::unique_ptr<value>>& arena_;
  std::vector<value_ptr> stack_, memo_;
  std::vector<std::size_t> marks_;
};

/// The entries of a zip archive: name -> (data offset, size), for stored entries.
inline std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> zip_entries(const std::string& path,
                                                                                  std::string_view file) {
  const auto u16 = [&](std::uint64_t at) {
    if (at + 2 > file.size()) fail(path, "its zip directory runs past the end of the file (truncated?)");
    return std::uint64_t(std::uint8_t(file[at])) | std::uint64_t(std::uint8_t(file[at + 1])) << 8;
  };
  const auto u32 = [&](std::uint64_t at) { return u16(at) | u16(at + 2) << 16; };
  const auto u64 = [&](std::uint64_t at) { return u32(at) | u32(at + 4) << 32; };
  // The end-of-central-directory record: within the last 64 KiB + 22 bytes.
  std::uint64_t eocd = std::string::npos;
  const std::uint64_t lowest = file.size() > 65557 ? file.size() - 65557 : 0;
  for (std::uint64_t at = file.size() >= 22 ? file.size() - 22 : 0; file.size() >= 22; --at) {
    if (u32(at) == 0x06054b50) {
      eocd = at;
      break;
    }
    if (at == lowest) break;
  }
  if (eocd == std::string::npos) fail(path, "it is a truncated zip archive (no end-of-directory record)");
  std::uint64_t entries = u16(eocd + 10), directory = u32(eocd + 16);
  if ((entries == 0xffff || directory == 0xffffffff) && eocd >= 20 && u32(eocd - 20) == 0x07064b50) {
    const std::uint64_t record = u64(eocd - 20 + 8);  // the zip64 end record
    if (record + 56 > file.size() || u32(record) != 0x06064b50) fail(path, "its zip64 end record is damaged");
    entries = u64(record + 32);
    directory = u64(record + 48);
  }
  if (entries > file.size() / 46) fail(path, "its zip directory claims more entries than the file can hold");
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> out;
  std::uint64_t at = directory;
  for (std::uint64_t e = 0; e < entries; ++e) {
    if (u32(at) != 0x02014b50) fail(path, "its zip directory is damaged (truncated?)");
    const auto method = u16(at + 10);
    std::uint64_t size = u32(at + 24), compressed = u32(at + 20), local = u32(at + 42);
    const auto name_length = u16(at + 28), extra_length = u16(at + 30), comment_length = u16(at + 32);
    if (at + 46 + name_length > file.size()) fail(path, "its zip directory runs past the end of the file");
    std::string name(file.substr(at + 46, name_length));
    // zip64: the sizes and offset that do not fit 32 bits follow in extra field 0x0001, in this order.
    for (std::uint64_t x = at + 46 + name_length; x + 4 <= at + 46 + name_length + extra_length;) {
      const auto id = u16(x), length = u16(x + 2);
      std::uint64_t field = x + 4;
      if (id == 0x0001) {
        if (size == 0xffffffff) size = u64(field), field += 8;
        if (compressed == 0xffffffff) compressed = u64(field), field += 8;
        if (local == 0xffffffff) local = u64(field);
      }
      x += 4 + length;
    }
    if (method != 0)
      fail(path, "its entry '" + name + "' is compressed; torch.save stores entries uncompressed");
    if (u32(local) != 0x04034b50) fail(path, "the zip entry '" + name + "' has no local header (damaged?)");
    const std::uint64_t data = local + 30 + u16(local + 26) + u16(local + 28);
    if (data > file.size() || size > file.size() - data)
      fail(path, "the zip entry '" + name + "' runs past the end of the file (truncated?)");
    out[name] = {data, size};
    at += 46 + name_length + extra_length + comment_length;
  }
  return out;
}

/// The state dict inside `root`: the dict itself, or its "state_dict" entry.
inline const value& state_dict_of(const std::string& path, const value& root) {
  if (root.k != value::kind::dict) fail(path, "it holds no dict of tensors (a state dict) at its top");
  for (const auto& [k, v] : root.map)
    if (k->k == value::kind::string && k->s == "state_dict" && v->k == value::kind::dict) return *v;
  return root;
}

inline float half_to_float(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  if (exponent == 0) return sign * std::ldexp(float(mantissa), -24);
  if (exponent == 31) return mantissa ? std::numeric_limits<float>::quiet_NaN() : sign * INFINITY;
  return sign * std::ldexp(float(mantissa + 1024), exponent - 25);
}

/// The contiguous values of `t` (float32 or float16), checked against its storage; with
/// `values` false only its shape and type (the check is the same).
inline pytorch_tensor materialise(const std::string& path, const std::string& name, const value& t,
                                  bool values = true) {
  pytorch_tensor out;
  const auto& s = *t.storage;
  out.dtype = dtype_of(s.type);
  std::uint64_t count = 1, last = t.offset;
  for (std::size_t d = 0; d < t.size.size(); ++d) {
    out.shape.push_back(std::size_t(t.size[d]));
    if (t.size[d] == 0) count = 0;
    else if (count != 0) {
      if (std::uint64_t(t.size[d]) > (std::uint64_t{1} << 40) / std::max<std::uint64_t>(count, 1))
        fail(path, "tensor '" + name + "' is impossibly large");
      count *= std::uint64_t(t.size[d]);
      // Each step bounded by the storage before it is taken, so the sum cannot wrap around.
      const std::uint64_t span = std::uint64_t(t.size[d] - 1);
      if (span != 0 && std::uint64_t(t.stride[d]) > s.numel / span)
        fail(path, "tensor '" + name + "' reaches past its storage (" + std::to_string(s.numel) + " elements)");
      last += span * std::uint64_t(t.stride[d]);
      if (last > s.numel) fail(path, "tensor '" + name + "' reaches past its storage (" + std::to_string(s.numel) + " elements)");
    }
  }
  if (count > 0 && last >= s.numel)
    fail(path, "tensor '" + name + "' reaches past its storage (" + std::to_string(s.numel) + " elements)");
  if (!values || (out.dtype != "float32" && out.dtype != "float16")) return out;  // num_batches_tracked: none
  out.data.resize(count);
  std::vector<std::uint64_t> index(t.size.size(), 0);
  const std::size_t width = element_size(path, s.type);
  for (std::uint64_t n = 0; n < count; ++n) {
    std::uint64_t at = t.offset;
    for (std::size_t d = 0; d < index.size(); ++d) at += index[d] * std::uint64_t(t.stride[d]);
    const char* p = s.bytes + at * width;
    if (width == 4) {
      std::memcpy(&out.data[n], p, 4);
    } else {
      std::uint16_t h;
      std::memcpy(&h, p, 2);
      out.data[n] = half_to_float(h);
    }
    for (std::size_t d = index.size(); d-- > 0;) {  // the next index, last dimension fastest
      if (++index[d] < std::uint64_t(t.size[d])) break;
      index[d] = 0;
    }
  }
  return out;
}

/// The bytes of a file: mapped where the system maps files (pages read when touched, given back by
/// release(); copy_out() reads a range with pread instead, so that its pages never count as the
/// process's memory), else read whole.
class file_bytes {
 public:
  explicit file_bytes(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw io_error("ofa: cannot open '" + path + "'; check the path");
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      void* p = ::mmap(nullptr, std::size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const char*>(p);
        size_ = std::size_t(st.st_size);
        mapped_ = true;
        return;
      }
    }
    ::close(fd_);
    fd_ = -1;
    std::ifstream in(path, std::ios::binary);  // a pipe, an empty file, a system that does not map
    if (!in) throw io_error("ofa: cannot open '" + path + "'; check the path");
    copy_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    data_ = copy_.data();
    size_ = copy_.size();
  }
  ~file_bytes() {
    if (mapped_) ::munmap(const_cast<char*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  file_bytes(const file_bytes&) = delete;
  file_bytes& operator=(const file_bytes&) = delete;

  std::string_view view() const noexcept { return {data_, size_}; }
  /// Copies [begin, begin + n) (inside view()) to `out`: with pread where the file is open, which
  /// leaves the mapping untouched; false where a read fails (the caller copies from the view).
  bool copy_out(const char* begin, std::size_t n, void* out) const noexcept {
    if (fd_ < 0) return false;
    auto* to = static_cast<char*>(out);
    for (std::size_t done = 0; done < n;) {
      const ssize_t got = ::pread(fd_, to + done, n - done, off_t(begin - data_) + off_t(done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      done += std::size_t(got);
    }
    return true;
  }
  /// [begin, begin + n) is not needed for now: its whole pages leave memory (read again if touched).
  void release(const char* begin, std::size_t n) const noexcept {
    if (!mapped_ || n == 0) return;
    const auto page = std::uintptr_t(::sysconf(_SC_PAGESIZE));
    const auto first = (std::uintptr_t(begin) + page - 1) / page * page,
               last = (std::uintptr_t(begin) + n) / page * page;
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;
  int fd_ = -1;
  std::string copy_;
};

}  // namespace detail::pytorch

/** @brief A `torch.save`d state dict, opened: its structure parsed and every tensor's shape, type
 *  and extent checked against the file, its values read when read(i) asks for them. */
class pytorch_state_dict {
 public:
  /** @brief Name, shape and element type of one tensor (its values: read(i)). */
  struct entry {
    std::string name;
    std::vector<std::size_t> shape;
    std::string dtype;
  };

  explicit pytorch_state_dict(const std::string& path);
  const std::string& path() const noexcept { return path_; }
  const std::vector<entry>& entries() const noexcept { return entries_; }
  /** @brief The values of entries()[i] (float32 and float16 as float; none for other types), read
   *  from the file now; the file's pages for them leave memory after. */
  pytorch_tensor read(std::size_t i) const;
  /** @brief Reads entries()[i]'s values straight into `out` (its element count of floats) where
   *  the tensor is contiguous float32, as the reference's are; false where it is not (use read). */
  bool read_into(std::size_t i, float* out) const;

 private:
  bool contiguous_float32(std::size_t i) const;
  std::string path_;
  std::unique_ptr<detail::pytorch::file_bytes> file_;
  std::map<std::string, std::shared_ptr<detail::pytorch::storage_ref>> storages_;
  std::vector<std::unique_ptr<detail::pytorch::value>> arena_;
  std::vector<const detail::pytorch::value*> tensors_;
  std::vector<entry> entries_;
};

inline pytorch_state_dict::pytorch_state_dict(const std::string& path)
    : path_(path), file_(std::make_unique<detail::pytorch::file_bytes>(path)) {
  namespace pt = detail::pytorch;
  const std::string_view file = file_->view();
  auto& storages = storages_;
  auto& arena = arena_;
  pt::value_ptr root = nullptr;
  if (file.size() >= 4 && file.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    const auto entries = pt::zip_entries(path, file);
    std::string prefix;
    for (const auto& [name, where] : entries)
      if (name.ends_with("/data.pkl") && (prefix.empty() || name.size() < prefix.size() + 8))
        prefix = name.substr(0, name.size() - 8);
    if (prefix.empty()) pt::fail(path, "it is a zip archive without a data.pkl: not a torch.save file");
    if (const auto order = entries.find(prefix + "byteorder"); order != entries.end())
      if (file.substr(order->second.first, order->second.second) != "little")
        pt::fail(path, "it was saved on a big-endian machine; load and save it again on a little-endian one");
    const auto& pickle = entries.at(prefix + "data.pkl");
    pt::unpickler u(path, file.data() + pickle.first, pickle.second, storages, arena);
    root = u.load();
    for (auto& [key, s] : storages) {
      const auto it = entries.find(prefix + "data/" + key);
      if (it == entries.end()) pt::fail(path, "its storage '" + key + "' is missing from the archive");
      if (it->second.second / pt::element_size(path, s->type) < s->numel)
        pt::fail(path, "its storage '" + key + "' is shorter than its " + std::to_string(s->numel) + " elements");
      s->bytes = file.data() + it->second.first;
    }
  } else {
    // Legacy: magic number, protocol, system info, the object, the storage keys; then the storages.
    pt::unpickler u(path, file.data(), file.size(), storages, arena);
    static const std::string legacy_magic{"\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10};  // 0x1950a86a20f9469cfc6c
    if (file.size() < 2 || file[0] != '\x80')
      pt::fail(path, "it is neither a zip archive nor a pickle: not a torch.save file");
    const auto magic = u.load();
    if (magic->k != pt::value::kind::integer || magic->s != legacy_magic)
      pt::fail(path, "it is a pickle but not a torch.save file (no magic number)");
    const auto protocol = u.load();
    if (protocol->k != pt::value::kind::integer || protocol->i != 1001)
      pt::fail(path, "it is a torch.save file of an unknown protocol (ofa reads 1001)");
    const auto info = u.load();
    if (info->k == pt::value::kind::dict)
      for (const auto& [k, v] : info->map)
        if (k->s == "little_endian" && v->k == pt::value::kind::boolean && !v->i)
          pt::fail(path, "it was saved on a big-endian machine; load and save it again on a little-endian one");
    root = u.load();
    const auto keys = u.load();
    if (keys->k != pt::value::kind::list) pt::fail(path, "its list of storages is missing (truncated?)");
    const char* at = u.position();
    const char* end = file.data() + file.size();
    for (const auto& key : keys->items) {
      const auto it = storages.find(key->s);
      if (key->k != pt::value::kind::string || it == storages.end())
        pt::fail(path, "it lists a storage its tensors never name");
      auto& s = *it->second;
      if (end - at < 8) pt::fail(path, "its storage '" + s.key + "' is cut off (the file is truncated)");
      std::uint64_t numel;
      std::memcpy(&numel, at, 8);
      at += 8;
      const std::size_t width = pt::element_size(path, s.type);
      if (numel != s.numel || numel > std::uint64_t(end - at) / width)
        pt::fail(path, "its storage '" + s.key + "' is cut off or its size is damaged (the file is truncated?)");
      s.bytes = at;
      at += numel * width;
    }
  }
  for (const auto& [key, s] : storages)
    if (!s->bytes) pt::fail(path, "its storage '" + key + "' has no data");
  const auto& dict = pt::state_dict_of(path, *root);
  for (const auto& [k, v] : dict.map) {
    if (k->k != pt::value::kind::string) pt::fail(path, "its state dict has a key that is not a string");
    if (v->k != pt::value::kind::tensor) pt::fail(path, "its state dict entry '" + k->s + "' is not a tensor");
    auto shape_only = pt::materialise(path, k->s, *v, false);  // checks its extent now, before any read
    entries_.push_back({k->s, std::move(shape_only.shape), std::move(shape_only.dtype)});
    tensors_.push_back(v);
  }
}

inline bool pytorch_state_dict::contiguous_float32(std::size_t i) const {
  const auto& v = *tensors_.at(i);
  bool contiguous = entries_[i].dtype == "float32";
  std::int64_t expected_stride = 1;
  for (std::size_t d = v.size.size(); d-- > 0 && contiguous;) {
    contiguous = v.size[d] == 1 || v.stride[d] == expected_stride;
    expected_stride *= v.size[d];
  }
  return contiguous;
}

inline bool pytorch_state_dict::read_into(std::size_t i, float* out) const {
  // Straight from the file into `out`: the pages are never the process's (extents checked on opening).
  if (!contiguous_float32(i)) return false;
  const auto& v = *tensors_[i];
  std::size_t count = 1;
  for (auto d : entries_[i].shape) count *= d;
  return file_->copy_out(v.storage->bytes + v.offset * 4, count * 4, out);
}

inline pytorch_tensor pytorch_state_dict::read(std::size_t i) const {
  namespace pt = detail::pytorch;
  const auto& v = *tensors_.at(i);
  if (contiguous_float32(i)) {  // every tensor of a state dict the reference saved
    pytorch_tensor t;
    t.shape = entries_[i].shape;
    t.dtype = entries_[i].dtype;
    std::size_t count = 1;
    for (auto d : t.shape) count *= d;
    t.data.resize(count);
    if (read_into(i, t.data.data())) return t;
  }
  auto t = pt::materialise(path_, entries_[i].name, v);
  const auto& s = *v.storage;
  file_->release(s.bytes, s.numel * pt::element_size(path_, s.type));
  return t;
}

inline std::vector<std::pair<std::string, pytorch_tensor>> read_pytorch_state_dict(const std::string& path) {
  const pytorch_state_dict file(path);
  std::vector<std::pair<std::string, pytorch_tensor>> out;
  for (std::size_t i = 0; i < file.entries().size(); ++i) out.emplace_back(file.entries()[i].name, file.read(i));
  return out;
}

}  // namespace ofa::io
