#pragma once
/// @file
/// Augmentation, resizing and normalisation in one pass: every recipe picks a
/// source box (crop, padding, flip) and the output is bilinearly sampled from
/// it at the batch's resolution, so cropping and resizing cost one read.
/// All randomness comes from the rng the caller derives from (seed, epoch, index).

#include <algorithm>
#include <array>
#include <cmath>

#include "ofa/data/image.hpp"
#include "ofa/data/resize_pil.hpp"
#include "ofa/random.hpp"

namespace ofa::data {

/** @brief How training (and evaluation) images are prepared. */
struct augmentation {
  enum class recipe {
    cifar,     ///< random crop with padding + horizontal flip (train); the whole image (eval)
    imagenet,  ///< random-resized crop + flip (train); the reference's resize to r / 87.5% and centre crop (eval)
    none       ///< the whole image, resized
  };
  recipe kind = recipe::cifar;
  bool train = true;
  int padding = 4;                                         ///< cifar: zero padding before the random crop
  bool flip = true;                                        ///< random horizontal flip
  float scale_min = 0.08f, scale_max = 1.0f;               ///< imagenet: crop area fraction
  float ratio_min = 3.0f / 4.0f, ratio_max = 4.0f / 3.0f;  ///< imagenet: crop aspect ratio
  float eval_crop = 0.875f;                                ///< imagenet eval: centre crop fraction
  float jitter = 0.0f;  ///< colour jitter: brightness/contrast/saturation in [1-j, 1+j]
  std::array<float, 3> mean{0.4914f, 0.4822f, 0.4465f};  ///< CIFAR-10 statistics by default
  std::array<float, 3> stddev{0.2470f, 0.2435f, 0.2616f};
};

/** @brief The preprocessing of a space's images: the reference's ImageNet recipe and statistics for
 *  spaces of ImageNet resolutions (the largest 128 or more), CIFAR's otherwise. */
template <class Space>
augmentation default_augmentation(bool train) {
  augmentation a;
  a.train = train;
  if (Space::resolution_set.max() >= 128) {
    a.kind = augmentation::recipe::imagenet;
    a.mean = {0.485f, 0.456f, 0.406f};
    a.stddev = {0.229f, 0.224f, 0.225f};
  }
  return a;
}

/** @brief Writes `resolution`×`resolution`×3 normalised floats (HWC) of `img` to `out`. */
void transform_image(const image& img, const augmentation& aug, int resolution, rng& engine, float* out);

// ---------------------------------------------------------------------------
// implementation

inline void transform_image(const image& img, const augmentation& aug, int resolution, rng& engine, float* out) {
  using R = augmentation::recipe;
  if (aug.kind == R::imagenet && !aug.train) {
    // Evaluation as the reference measures the published accuracies: PIL's resize, centre crop.
    const image crop = resize_and_centre_crop_like_reference(img, resolution, aug.eval_crop);
    for (std::size_t i = 0; i < crop.pixels.size(); ++i)
      out[i] = static_cast<float>((crop.pixels[i] / 255.0 - aug.mean[i % 3]) / aug.stddev[i % 3]);
    return;
  }
  const double H = img.height, W = img.width;
  double x0 = 0, y0 = 0, bw = W, bh = H;  // source box
  bool flip = false;
  if (aug.kind == R::cifar && aug.train) {
    const int p = aug.padding;
    x0 = static_cast<double>(engine.uniform_index(std::uint64_t(2 * p + 1))) - p;
    y0 = static_cast<double>(engine.uniform_index(std::uint64_t(2 * p + 1))) - p;
  } else if (aug.kind == R::imagenet && aug.train) {
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double area = H * W * (aug.scale_min + (aug.scale_max - aug.scale_min) * engine.uniform01());
      const double log_r =
          std::log(aug.ratio_min) + (std::log(aug.ratio_max) - std::log(aug.ratio_min)) * engine.uniform01();
      const double ratio = std::exp(log_r);
      const double w = std::round(std::sqrt(area * ratio)), h = std::round(std::sqrt(area / ratio));
      if (w >= 1 && h >= 1 && w <= W && h <= H) {
        x0 = std::floor((W - w + 1) * engine.uniform01());
        y0 = std::floor((H - h + 1) * engine.uniform01());
        bw = w;
        bh = h;
        found = true;
      }
    }
    if (!found) {  // fall back to a centre crop of the whole image
      bw = bh = std::min(W, H);
      x0 = (W - bw) / 2;
      y0 = (H - bh) / 2;
    }
  }
  if (aug.train && aug.flip) flip = engine.bernoulli(0.5);
  double brightness = 1, contrast = 1, saturation = 1;
  if (aug.train && aug.jitter > 0) {
    brightness = 1 + aug.jitter * (2 * engine.uniform01() - 1);
    contrast = 1 + aug.jitter * (2 * engine.uniform01() - 1);
    saturation = 1 + aug.jitter * (2 * engine.uniform01() - 1);
  }
  auto pixel = [&](int y, int x, int c) -> double {  // zero outside the image (padding)
    if (y < 0 || x < 0 || y >= img.height || x >= img.width) return 0.0;
    return img.at(y, x, c);
  };
  const double sx = bw / resolution, sy = bh / resolution;
  const bool same_size = bw == resolution && bh == resolution;
  for (int oy = 0; oy < resolution; ++oy) {
    for (int ox = 0; ox < resolution; ++ox) {
      const int ux = flip ? resolution - 1 - ox : ox;
      double rgb[3];
      if (same_size) {  // a pure crop: no interpolation
        for (int c = 0; c < 3; ++c) rgb[c] = pixel(static_cast<int>(y0) + oy, static_cast<int>(x0) + ux, c);
      } else {  // bilinear, align_corners = false, clamped to the box
        const double fy = std::clamp(y0 + (oy + 0.5) * sy - 0.5, y0, y0 + bh - 1);
        const double fx = std::clamp(x0 + (ux + 0.5) * sx - 0.5, x0, x0 + bw - 1);
        const int iy = static_cast<int>(std::floor(fy)), ix = static_cast<int>(std::floor(fx));
        const double wy = fy - iy, wx = fx - ix;
        for (int c = 0; c < 3; ++c)
          rgb[c] = (1 - wy) * ((1 - wx) * pixel(iy, ix, c) + wx * pixel(iy, ix + 1, c)) +
                   wy * ((1 - wx) * pixel(iy + 1, ix, c) + wx * pixel(iy + 1, ix + 1, c));
      }
      if (brightness != 1 || contrast != 1 || saturation != 1) {
        const double grey = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
        for (double& v : rgb) v = std::clamp(((v - grey) * saturation + grey) * contrast * brightness, 0.0, 255.0);
      }
      float* o = out + (static_cast<std::size_t>(oy) * resolution + ox) * 3;
      for (int c = 0; c < 3; ++c)
        o[c] = static_cast<float>((rgb[c] / 255.0 - aug.mean[std::size_t(c)]) / aug.stddev[std::size_t(c)]);
    }
  }
}

}  // namespace ofa::data
