#pragma once
/// @file
/// The reference's accuracy predictors, from their PyTorch files, as ofa predictors that predict
/// what the reference predicts for the same subnet. Two layouts exist:
///  - the tutorial's `Sequential(Linear(128, h), ReLU, ..., Linear(h, 1))` (keys 0.*, 2.*, 4.*, 6.*):
///    input kernel one-hots (3 a block slot), expand one-hots, then the resolution one-hot of 8 bins
///    (r - 112) / 16; the last bias is the mean accuracy;
///  - the `nas` module's `layers.<i>.0.{weight,bias}`, `layers.<L>.weight` (no bias) and `base_acc`,
///    over the encoding ofa uses too (ofa::encode_arch: resolution one-hot first). The published
///    ResNet50 predictor's resolution one-hot has its own eight sizes (128, 144, 160, 176, 192, 224,
///    240, 256): a resolution of the space between them is predicted as the nearest of them.
/// The first layer's columns are laid out again for ofa's encoding, the output is scaled to ofa's
/// percentage points.

#include <cstdlib>  // abs
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/io/pytorch.hpp"
#include "ofa/search/accuracy_predictor.hpp"
#include "ofa/space/arch_encoding.hpp"

namespace ofa::search {

/** @brief The predictor in `tensors` (io::read_pytorch_state_dict of `source`), either layout. */
template <class Space>
accuracy_predictor<Space> import_pytorch_predictor(
    const std::vector<std::pair<std::string, io::pytorch_tensor>>& tensors, const std::string& source);

template <class Space>
accuracy_predictor<Space> import_pytorch_predictor(const std::string& path) {
  return import_pytorch_predictor<Space>(io::read_pytorch_state_dict(path), path);
}

// ---------------------------------------------------------------------------
// implementation

namespace detail {
/// The image sizes the reference's published ResNet50 predictor encodes (its tutorial's list); none
/// for other spaces.
template <class Space>
std::vector<int> published_resnet_sizes() {
  if constexpr (Space::blocks == space::block_kind::bottleneck) return {128, 144, 160, 176, 192, 224, 240, 256};
  return {};
}
/// The index of the value of `sizes` nearest to `r` (the smaller on a tie).
inline std::size_t nearest_index(const std::vector<int>& sizes, int r) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < sizes.size(); ++i)
    if (std::abs(sizes[i] - r) < std::abs(sizes[best] - r)) best = i;
  return best;
}
}  // namespace detail

template <class Space>
accuracy_predictor<Space> import_pytorch_predictor(
    const std::vector<std::pair<std::string, io::pytorch_tensor>>& tensors, const std::string& source) {
  const auto fail = [&](const std::string& why) {
    throw io_error("ofa: cannot import the predictor '" + source + "': " + why);
  };
  std::map<std::string, const io::pytorch_tensor*> by_name;
  for (const auto& [name, t] : tensors) by_name[name] = &t;
  const auto get = [&](const std::string& name, std::size_t rank) -> const io::pytorch_tensor& {
    const auto it = by_name.find(name);
    if (it == by_name.end()) fail("it lacks '" + name + "'");
    if (it->second->data.empty() || it->second->shape.size() != rank)
      fail("'" + name + "' is not a float tensor of rank " + std::to_string(rank));
    return *it->second;
  };
  // Linear layers in order: (weight name, bias name or "").
  std::vector<std::pair<std::string, std::string>> linears;
  double base = 0;
  const bool tutorial = by_name.count("0.weight") > 0;
  if (tutorial) {
    for (int i = 0; by_name.count(std::to_string(i) + ".weight"); i += 2)
      linears.emplace_back(std::to_string(i) + ".weight", std::to_string(i) + ".bias");
  } else if (by_name.count("layers.0.0.weight")) {
    int i = 0;
    for (; by_name.count("layers." + std::to_string(i) + ".0.weight"); ++i)
      linears.emplace_back("layers." + std::to_string(i) + ".0.weight", "layers." + std::to_string(i) + ".0.bias");
    linears.emplace_back("layers." + std::to_string(i) + ".weight", "");
    const auto it = by_name.find("base_acc");
    if (it == by_name.end() || it->second->data.size() != 1) fail("it lacks 'base_acc' (one number)");
    base = it->second->data[0];
  } else {
    fail("it is neither the tutorial's Sequential (keys 0.weight, 2.weight, ...) nor the nas predictor "
         "(layers.0.0.weight, ..., base_acc)");
  }
  if (linears.size() < 2 || linears.size() > 65) fail("it has " + std::to_string(linears.size()) + " linear layers");
  const int layers = int(linears.size()) - 1;
  const auto& first = get(linears[0].first, 2);
  const std::size_t hidden = first.shape[0], in = first.shape[1];
  const std::size_t ours = arch_encoding_size<Space>(), resolutions = Space::resolution_set.size;
  // Column c of ofa's encoding is the file's column column_of[c]; -1: no input there.
  std::vector<long> column_of(ours);
  if (tutorial) {
    constexpr std::size_t bins = 8;  // (r - 112) / 16
    if (in + resolutions != ours + bins)
      fail("its first layer takes " + std::to_string(in) + " inputs; this space's blocks and 8 resolution bins need " +
           std::to_string(ours - resolutions + bins));
    const std::size_t blocks = ours - resolutions;
    for (std::size_t r = 0; r < resolutions; ++r) {
      const int bin = (Space::resolution_set[r] - 112) / 16;
      if (bin < 0 || bin >= int(bins)) fail("resolution " + std::to_string(Space::resolution_set[r]) + " has no bin");
      column_of[r] = long(blocks + std::size_t(bin));
    }
    for (std::size_t c = resolutions; c < ours; ++c) column_of[c] = long(c - resolutions);
  } else if (const auto sizes = detail::published_resnet_sizes<Space>();
             !sizes.empty() && in == ours - resolutions + sizes.size()) {
    // The published ResNet50 predictor: its own eight image sizes first, then the same encoding as ofa's.
    for (std::size_t r = 0; r < resolutions; ++r)
      column_of[r] = long(detail::nearest_index(sizes, Space::resolution_set[r]));
    for (std::size_t c = resolutions; c < ours; ++c) column_of[c] = long(c - resolutions + sizes.size());
  } else {
    if (in != ours)
      fail("its first layer takes " + std::to_string(in) + " inputs; this space's encoding has " +
           std::to_string(ours) + " (is it another space's predictor?)");
    for (std::size_t c = 0; c < ours; ++c) column_of[c] = long(c);
  }
  std::map<std::string, tensor<float>> weights;
  for (int l = 0; l <= layers; ++l) {
    const auto& w = get(linears[std::size_t(l)].first, 2);
    const std::size_t out = w.shape[0], from = w.shape[1];
    const std::size_t want_out = l == layers ? 1 : hidden, want_in = l == 0 ? in : hidden;
    if (out != want_out || from != want_in)
      fail("'" + linears[std::size_t(l)].first + "' has shape [" + std::to_string(out) + ", " + std::to_string(from) +
           "], expected [" + std::to_string(want_out) + ", " + std::to_string(want_in) + "]");
    const std::size_t columns = l == 0 ? ours : from;
    tensor<float> t(shape_type{out, columns});
    // ofa's output is in percentage points; the file's in fractions.
    const float scale = l == layers ? 100.0f : 1.0f;
    for (std::size_t o = 0; o < out; ++o)
      for (std::size_t c = 0; c < columns; ++c) {
        const long source_column = l == 0 ? column_of[c] : long(c);
        t.data()[o * columns + c] = scale * w.data[o * from + std::size_t(source_column)];
      }
    weights.emplace("layers." + std::to_string(l) + ".weight", std::move(t));
    if (l < layers) {
      const auto& b = get(linears[std::size_t(l)].second, 1);
      if (b.shape[0] != out) fail("'" + linears[std::size_t(l)].second + "' does not match its layer");
      tensor<float> bias(shape_type{out});
      std::copy(b.data.begin(), b.data.end(), bias.data());
      weights.emplace("layers." + std::to_string(l) + ".bias", std::move(bias));
    } else if (tutorial) {
      base = get(linears[std::size_t(l)].second, 1).data.at(0);  // the mean accuracy
    }
  }
  if (!(base >= 0 && base <= 1)) fail("its mean accuracy " + std::to_string(base) + " is not a fraction");
  return accuracy_predictor<Space>::from_weights(int(hidden), layers, base, weights, source);
}

}  // namespace ofa::search
