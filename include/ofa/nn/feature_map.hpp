#pragma once
/// @file
/// feature_map: an NHWC activation between two stages of a static_net, its own storage or a
/// view of the caller's images.

#include <cstddef>

#include "ofa/tensor/pool.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::nn {

/** @brief An NHWC activation between two stages: its own storage, or a view of the caller's images. */
struct feature_map {
  int n = 0, h = 0, w = 0, c = 0;
  pooled_vector<float> storage;
  const float* external = nullptr;

  const float* data() const { return external ? external : storage.data(); }
  std::size_t size() const { return static_cast<std::size_t>(n) * h * w * c; }
  /** @brief A view of NHWC images (no copy); they must outlive the view. */
  static feature_map view(const tensor<float>& images) {
    feature_map f;
    f.n = static_cast<int>(images.shape()[0]);
    f.h = static_cast<int>(images.shape()[1]);
    f.w = static_cast<int>(images.shape()[2]);
    f.c = static_cast<int>(images.shape()[3]);
    f.external = images.data();
    return f;
  }
  /** @brief Storage for a [n, h, w, c] result. */
  float* reset(int n_, int h_, int w_, int c_) {
    n = n_, h = h_, w = w_, c = c_;
    external = nullptr;
    storage.resize(size());
    return storage.data();
  }
};

}  // namespace ofa::nn
