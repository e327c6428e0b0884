#pragma once
/// @file
/// Weight initialisation as the reference (MyNetwork.init_model("he_fout")):
/// convolutions N(0, sqrt(2 / (k²·out_channels))), also depthwise ones (the
/// reference uses out_channels whatever the groups); linear layers
/// U(-1/sqrt(in), 1/sqrt(in)) with zero bias; BN weight 1, bias 0.

#include <cmath>

#include "ofa/random.hpp"
#include "ofa/tensor/tensor.hpp"

namespace ofa::nn {

/** @brief He fan-out normal init of a conv weight with `k` taps per side and `out_channels`. */
template <class T>
void init_he_fan_out(tensor<T>& w, int k, int out_channels, rng& engine) {
  const double stddev = std::sqrt(2.0 / (static_cast<double>(k) * k * out_channels));
  for (auto& v : w) v = static_cast<T>(stddev * engine.normal());
}

/** @brief Uniform(-1/sqrt(in), 1/sqrt(in)) init of a linear weight. */
template <class T>
void init_linear(tensor<T>& w, int in_features, rng& engine) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  for (auto& v : w) v = static_cast<T>(bound * (2.0 * engine.uniform01() - 1.0));
}

}  // namespace ofa::nn
