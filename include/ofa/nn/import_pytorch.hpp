#pragma once
/// @file
/// A supernet's weights from a PyTorch state dict of the reference implementation (the published
/// Once-for-All files, or one saved by its training code). Names: the reference's renames on load
/// (`.mobile_inverted_conv.` -> `.conv.`, `.bn.bn.` -> `.bn.`, `.conv.conv.weight` -> `.conv.weight`,
/// `.linear.linear.` -> `.linear.`), `num_batches_tracked` ignored. Layouts: PyTorch's OIHW dense
/// convolutions become ofa's [O][kh][kw][I], depthwise [C][1][K][K] become [K][K][C], 1x1
/// convolutions [O][I][1][1] become [O][I]. Every tensor is checked against the space before any
/// weight changes; missing and unexpected keys are named.

#include <algorithm>  // min
#include <map>
#include <string>
#include <utility>  // move
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/io/pytorch.hpp"
#include "ofa/nn/elastic_net.hpp"

namespace ofa::nn {

/** @brief `name` as the reference's model names it after its renames on load. */
std::string canonical_pytorch_name(std::string name);

/** @brief Loads `tensors` (io::read_pytorch_state_dict of `source`) into `net`: every parameter and
 *  BN buffer of the space, or nothing (an io_error naming `source` and the keys at fault). */
template <class Space>
void import_pytorch(elastic_net<Space>& net, const std::vector<std::pair<std::string, io::pytorch_tensor>>& tensors,
                    const std::string& source);

/** @brief Loads an opened file into `net`, as above: every name and shape is checked before any
 *  weight changes, then each tensor is read from the file straight into its place (the memory of
 *  the network and one tensor, not of the file, its tensors and the network). */
template <class Space>
void import_pytorch(elastic_net<Space>& net, const io::pytorch_state_dict& file);

/** @brief Opens `path` and imports it. */
template <class Space>
void import_pytorch(elastic_net<Space>& net, const std::string& path) {
  import_pytorch(net, io::pytorch_state_dict(path));
}

// ---------------------------------------------------------------------------
// implementation

inline std::string canonical_pytorch_name(std::string name) {
  const auto replace = [&](const std::string& from, const std::string& to) {
    for (auto at = name.find(from); at != std::string::npos; at = name.find(from, at + to.size()))
      name.replace(at, from.size(), to);
  };
  replace(".mobile_inverted_conv.", ".conv.");
  replace(".bn.bn.", ".bn.");
  replace(".conv.conv.weight", ".conv.weight");
  replace(".linear.linear.", ".linear.");
  return name;
}

namespace detail {
/// Whether a PyTorch tensor of shape `s` holds an ofa tensor of `shape` (in PyTorch's layout).
inline bool layouts_correspond(const std::vector<std::size_t>& s, const shape_type& shape) {
  if (shape.size() == 4)  // dense convolution [O][kh][kw][I] from [O][I][kh][kw]
    return s.size() == 4 && s[0] == shape[0] && s[1] == shape[3] && s[2] == shape[1] && s[3] == shape[2];
  if (shape.size() == 3)  // depthwise [K][K][C] from [C][1][K][K]
    return s.size() == 4 && s[0] == shape[2] && s[1] == 1 && s[2] == shape[0] && s[3] == shape[1];
  // Matrices, vectors, and 1x1 convolutions [O][I][1][1]: the same values in the same order.
  std::vector<std::size_t> squeezed = s;
  if (shape.size() == 2 && s.size() == 4 && s[2] == 1 && s[3] == 1) squeezed.resize(2);
  return squeezed == std::vector<std::size_t>(shape.begin(), shape.end());
}

/// `t` (PyTorch's layout) written into `out` (ofa's), whose shape layouts_correspond() accepted.
inline void to_ofa_layout(const io::pytorch_tensor& t, tensor<float>& out) {
  const auto& s = t.shape;
  const auto& shape = out.shape();
  if (shape.size() == 4) {
    const std::size_t o_n = s[0], i_n = s[1], h_n = s[2], w_n = s[3];
    for (std::size_t o = 0; o < o_n; ++o)
      for (std::size_t i = 0; i < i_n; ++i)
        for (std::size_t h = 0; h < h_n; ++h)
          for (std::size_t w = 0; w < w_n; ++w)
            out.data()[((o * h_n + h) * w_n + w) * i_n + i] = t.data[((o * i_n + i) * h_n + h) * w_n + w];
  } else if (shape.size() == 3) {
    const std::size_t c_n = s[0], h_n = s[2], w_n = s[3];
    for (std::size_t c = 0; c < c_n; ++c)
      for (std::size_t h = 0; h < h_n; ++h)
        for (std::size_t w = 0; w < w_n; ++w) out.data()[(h * w_n + w) * c_n + c] = t.data[(c * h_n + h) * w_n + w];
  } else {
    std::copy(t.data.begin(), t.data.end(), out.data());
  }
}

inline std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

inline std::string some_of(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < std::min<std::size_t>(names.size(), 5); ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 5) s += " and " + std::to_string(names.size() - 5) + " more";
  return s;
}
}  // namespace detail

namespace detail {
/// The import of tensors known by name, shape and type, whose values read(i) gives: every name and
/// shape checked first, then each read into its place; read_into(i, out) may read one straight into
/// its place where the layouts are the same (returning false where it cannot).
template <class Space, class Read, class ReadInto>
void import_tensors(elastic_net<Space>& net, const std::vector<io::pytorch_state_dict::entry>& entries, Read&& read,
                    ReadInto&& read_into, const std::string& source) {
  const auto fail = [&](const std::string& why) {
    throw io_error("ofa: cannot import '" + source + "': " + why);
  };
  std::map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].name.ends_with("num_batches_tracked")) continue;
    by_name[canonical_pytorch_name(entries[i].name)] = i;
  }
  auto state = net.state();
  std::vector<std::pair<tensor<float>*, std::size_t>> targets;
  std::vector<std::string> missing, unexpected;
  std::map<std::string, bool> known;
  const auto take = [&](const std::string& name, tensor<float>& target) {
    known[name] = true;
    const auto it = by_name.find(name);
    if (it == by_name.end()) return missing.push_back(name);
    const auto& e = entries[it->second];
    if (e.dtype != "float32" && e.dtype != "float16")
      fail("'" + name + "' is " + e.dtype + "; ofa reads float32 and float16 weights");
    if (!layouts_correspond(e.shape, shape_type(target.shape().begin(), target.shape().end())))
      fail("'" + name + "' has shape " + shape_text(e.shape) + " but the space needs " + shape_string(target.shape()) +
           " (in ofa's layout); import it with the space it was trained as");
    targets.emplace_back(&target, it->second);
  };
  for (auto& p : state.parameters) take(p.name, p.value.value());
  for (auto& b : state.buffers) take(b.name, *b.value);
  for (const auto& [name, index] : by_name)
    if (!known.count(name)) unexpected.push_back(name);
  if (!unexpected.empty())
    fail(std::to_string(unexpected.size()) + " keys are not of this space (" + some_of(unexpected) +
         "); is it another space's file?");
  if (!missing.empty())
    fail("it lacks " + std::to_string(missing.size()) + " of the space's tensors (" + some_of(missing) + ")");
  for (auto& [target, index] : targets) {
    // Matrices, vectors and 1×1 convolutions hold their values in the same order in both layouts.
    const bool same_order = target->dimension() <= 2;
    if (!(same_order && read_into(index, target->data()))) to_ofa_layout(read(index), *target);
  }
}
}  // namespace detail

template <class Space>
void import_pytorch(elastic_net<Space>& net, const std::vector<std::pair<std::string, io::pytorch_tensor>>& tensors,
                    const std::string& source) {
  std::vector<io::pytorch_state_dict::entry> entries;
  for (const auto& [name, t] : tensors) {
    std::size_t count = 1;
    for (auto d : t.shape) count *= d;
    if ((t.dtype == "float32" || t.dtype == "float16") && t.data.size() != count)
      throw io_error("ofa: cannot import '" + source + "': '" + name + "' holds " + std::to_string(t.data.size()) +
                     " values for its shape " + detail::shape_text(t.shape));
    entries.push_back({name, t.shape, t.dtype});
  }
  detail::import_tensors(
      net, entries, [&](std::size_t i) -> const io::pytorch_tensor& { return tensors[i].second; },
      [](std::size_t, float*) { return false; }, source);
}

template <class Space>
void import_pytorch(elastic_net<Space>& net, const io::pytorch_state_dict& file) {
  detail::import_tensors(
      net, file.entries(), [&](std::size_t i) { return file.read(i); },
      [&](std::size_t i, float* out) { return file.read_into(i, out); }, file.path());
}

}  // namespace ofa::nn
