#pragma once
/// @file
/// The embedded synthetic data set: 10 classes of 32×32 RGB images generated
/// from (seed, index), no files needed. The class is the shape (disc, square,
/// triangle, ring, cross, diamond, horizontal bars, vertical bars, checker
/// patch, two dots); colour, size, position, background gradient, distractor
/// clutter and noise are random per image, so colour alone says nothing and a
/// small subnet scores clearly below a large one. It is the README demo's default.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "ofa/data/image.hpp"
#include "ofa/random.hpp"

namespace ofa::data {

class synthetic {
 public:
  static constexpr int side = 32;
  static constexpr int classes = 10;

  /** @brief `count` images; the same (seed, index) always gives the same image. */
  explicit synthetic(std::size_t count = 50000, std::uint64_t seed = 0) : count_(count), seed_(seed) {}

  std::size_t size() const { return count_; }
  int class_count() const { return classes; }
  int label(std::size_t i) const { return static_cast<int>(i % classes); }
  record read(std::size_t i) const {
    record r;
    r.index = i;
    r.label = label(i);
    r.source = "synthetic#" + std::to_string(i);
    return r;
  }
  image decode(const record& r) const { return render(r.index, r.label); }

  static const char* class_name(int c) {
    static const char* names[classes] = {"disc",    "square", "triangle", "ring",    "cross",
                                         "diamond", "hbars",  "vbars",    "checker", "two-dots"};
    return names[c];
  }

 private:
  static bool inside(int shape, double dx, double dy, double r) {
    const double ax = std::abs(dx), ay = std::abs(dy), d2 = dx * dx + dy * dy;
    switch (shape) {
      case 0:
        return d2 <= r * r;
      case 1:
        return ax <= r * 0.85 && ay <= r * 0.85;
      case 2:
        return dy <= r * 0.8 && dy >= -r * 0.8 && ax <= (dy + r * 0.8) * 0.6;
      case 3:
        return d2 <= r * r && d2 >= 0.45 * r * r;
      case 4:
        return (ax <= r * 0.28 && ay <= r) || (ay <= r * 0.28 && ax <= r);
      case 5:
        return ax + ay <= r;
      case 6:
        return ax <= r && ay <= r && static_cast<int>(std::floor((dy + r) / (r * 0.5))) % 2 == 0;
      case 7:
        return ax <= r && ay <= r && static_cast<int>(std::floor((dx + r) / (r * 0.5))) % 2 == 0;
      case 8:
        return ax <= r && ay <= r &&
               (static_cast<int>(std::floor((dx + r) / (r * 0.5))) +
                static_cast<int>(std::floor((dy + r) / (r * 0.5)))) %
                       2 ==
                   0;
      default: {
        const double ex = ax - r * 0.55;
        return ex * ex + dy * dy <= r * r * 0.16;
      }
    }
  }

  image render(std::size_t index, int shape) const {
    rng e = rng::derive(seed_, 0x5947ULL, index);
    image img;
    img.height = img.width = side;
    img.pixels.resize(side * side * 3);
    double bg0[3], bg1[3], fg[3];
    for (int c = 0; c < 3; ++c) {
      bg0[c] = 40 + 150 * e.uniform01();
      bg1[c] = 40 + 150 * e.uniform01();
      fg[c] = 255 * e.uniform01();
    }
    // keep the shape visible: push its colour away from the background mean
    const double contrast = (fg[0] + fg[1] + fg[2]) / 3 - (bg0[0] + bg0[1] + bg0[2] + bg1[0] + bg1[1] + bg1[2]) / 6;
    if (std::abs(contrast) < 50)
      for (double& v : fg) v = std::clamp(v + (contrast >= 0 ? 70.0 : -70.0), 0.0, 255.0);
    const double angle = 6.283185307179586 * e.uniform01();
    const double r = 6 + 6 * e.uniform01();
    const double cx = r + (side - 2 * r) * e.uniform01(), cy = r + (side - 2 * r) * e.uniform01();
    struct blob {
      double x, y, s, col[3];
    } clutter[3];
    const int n_clutter = static_cast<int>(e.uniform_index(4));
    for (int k = 0; k < n_clutter; ++k) {
      clutter[k] = {side * e.uniform01(),
                    side * e.uniform01(),
                    1 + 2 * e.uniform01(),
                    {255 * e.uniform01(), 255 * e.uniform01(), 255 * e.uniform01()}};
    }
    const double noise = 4 + 12 * e.uniform01();
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const double t = (std::cos(angle) * x + std::sin(angle) * y) / side * 0.5 + 0.5;
        double px[3];
        for (int c = 0; c < 3; ++c) px[c] = bg0[c] * (1 - t) + bg1[c] * t;
        for (int k = 0; k < n_clutter; ++k)
          if (std::abs(x - clutter[k].x) <= clutter[k].s && std::abs(y - clutter[k].y) <= clutter[k].s)
            for (int c = 0; c < 3; ++c) px[c] = clutter[k].col[c];
        if (inside(shape, x + 0.5 - cx, y + 0.5 - cy, r))
          for (int c = 0; c < 3; ++c) px[c] = fg[c];
        for (int c = 0; c < 3; ++c)
          img.pixels[static_cast<std::size_t>((y * side + x) * 3 + c)] =
              static_cast<std::uint8_t>(std::clamp(px[c] + noise * e.normal(), 0.0, 255.0));
      }
    return img;
  }

  std::size_t count_;
  std::uint64_t seed_;
};

}  // namespace ofa::data
