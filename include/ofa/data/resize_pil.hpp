#pragma once
/// @file
/// Image resizing as PIL's `Image.resize(..., BILINEAR)` does it, which the reference's ImageNet
/// evaluation uses (torchvision's Resize on PIL images): a triangle filter whose support grows with
/// the reduction (so shrinking low-passes, unlike plain bilinear sampling), a horizontal pass then
/// a vertical one, coefficients in 22-bit fixed point and 8-bit results after each pass. Resizing
/// as PIL does matters because the published supernets' accuracies were measured on its output.
/// Cost: about (2·support + 1) multiply-adds per channel and pass for every output pixel.

#include <algorithm>  // clamp, min, max
#include <cmath>      // ceil
#include <cstdint>
#include <vector>

#include "ofa/data/image.hpp"
#include "ofa/errors.hpp"

namespace ofa::data {

/** @brief `img` resized to `width` × `height` with PIL's bilinear filter (8-bit RGB). */
image resize_like_pil(const image& img, int width, int height);

/** @brief The reference's evaluation geometry (torchvision Resize(ceil(r / crop)) then
 *  CenterCrop(r)): the shorter side resized to ceil(resolution / crop_fraction), the longer in
 *  proportion (rounded down), then the centre `resolution` square (offsets rounded half to even). */
image resize_and_centre_crop_like_reference(const image& img, int resolution, double crop_fraction = 0.875);

// ---------------------------------------------------------------------------
// implementation

namespace detail::pil {
/// One output coordinate's source range and fixed-point weights.
struct taps {
  int first = 0;
  std::vector<std::int32_t> weights;
};

inline constexpr int precision_bits = 32 - 8 - 2;

inline std::vector<taps> coefficients(int in_size, int out_size) {
  const double scale = double(in_size) / out_size, filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the triangle filter's support is 1
  std::vector<taps> out(static_cast<std::size_t>(out_size));
  std::vector<double> k;
  for (int x = 0; x < out_size; ++x) {
    const double centre = (x + 0.5) * scale;
    const int first = std::max(static_cast<int>(centre - support + 0.5), 0);
    const int last = std::min(static_cast<int>(centre + support + 0.5), in_size);
    k.assign(static_cast<std::size_t>(std::max(last - first, 0)), 0.0);
    double total = 0;
    for (int i = 0; i < last - first; ++i) {
      const double t = std::abs((i + first - centre + 0.5) / filter_scale);
      k[std::size_t(i)] = t < 1.0 ? 1.0 - t : 0.0;
      total += k[std::size_t(i)];
    }
    auto& o = out[std::size_t(x)];
    o.first = first;
    for (double w : k) {
      const double normalised = total != 0.0 ? w / total : w;
      o.weights.push_back(static_cast<std::int32_t>(normalised * (1 << precision_bits) + (normalised < 0 ? -0.5 : 0.5)));
    }
  }
  return out;
}

inline std::uint8_t clip8(std::int64_t v) {
  return static_cast<std::uint8_t>(std::clamp<std::int64_t>(v >> precision_bits, 0, 255));
}
}  // namespace detail::pil

inline image resize_like_pil(const image& img, int width, int height) {
  if (width < 1 || height < 1 || img.width < 1 || img.height < 1)
    throw config_error("ofa::data::resize_like_pil: cannot resize " + std::to_string(img.width) + "x" +
                       std::to_string(img.height) + " to " + std::to_string(width) + "x" + std::to_string(height));
  namespace pil = detail::pil;
  const std::int64_t half = std::int64_t{1} << (pil::precision_bits - 1);
  image across = img;
  if (width != img.width) {
    const auto h = pil::coefficients(img.width, width);
    across.width = width;
    across.pixels.assign(std::size_t(width) * std::size_t(img.height) * 3, 0);
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < 3; ++c) {
          std::int64_t s = half;
          const auto& t = h[std::size_t(x)];
          for (std::size_t i = 0; i < t.weights.size(); ++i) s += img.at(y, t.first + int(i), c) * std::int64_t(t.weights[i]);
          across.pixels[(std::size_t(y) * std::size_t(width) + std::size_t(x)) * 3 + std::size_t(c)] = pil::clip8(s);
        }
  }
  if (height == img.height) return across;
  const auto v = pil::coefficients(img.height, height);
  image out;
  out.width = width;
  out.height = height;
  out.pixels.assign(std::size_t(width) * std::size_t(height) * 3, 0);
  for (int y = 0; y < height; ++y) {
    const auto& t = v[std::size_t(y)];
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        std::int64_t s = half;
        for (std::size_t i = 0; i < t.weights.size(); ++i) s += across.at(t.first + int(i), x, c) * std::int64_t(t.weights[i]);
        out.pixels[(std::size_t(y) * std::size_t(width) + std::size_t(x)) * 3 + std::size_t(c)] = pil::clip8(s);
      }
  }
  return out;
}

inline image resize_and_centre_crop_like_reference(const image& img, int resolution, double crop_fraction) {
  const int shorter = static_cast<int>(std::ceil(resolution / crop_fraction));
  const bool wide = img.width > img.height;
  const int short_side = wide ? img.height : img.width, long_side = wide ? img.width : img.height;
  const int new_long = static_cast<int>(double(shorter) * long_side / short_side);  // truncated, as torchvision
  const int w = wide ? new_long : shorter, h = wide ? shorter : new_long;
  const image resized = short_side == shorter ? img : resize_like_pil(img, w, h);
  // torchvision's CenterCrop: int(round((size - crop) / 2)), Python's round: half to even.
  const int top = static_cast<int>(std::nearbyint((resized.height - resolution) / 2.0));
  const int left = static_cast<int>(std::nearbyint((resized.width - resolution) / 2.0));
  image out;
  out.width = out.height = resolution;
  out.pixels.resize(std::size_t(resolution) * std::size_t(resolution) * 3);
  for (int y = 0; y < resolution; ++y)
    for (int x = 0; x < resolution; ++x)
      for (int c = 0; c < 3; ++c)
        out.pixels[(std::size_t(y) * std::size_t(resolution) + std::size_t(x)) * 3 + std::size_t(c)] =
            resized.at(y + top, x + left, c);
  return out;
}

}  // namespace ofa::data
