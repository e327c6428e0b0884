#pragma once
/// @file
/// The elastic-kernel transformation of OFA: a k×k kernel is the centre of the
/// next larger kernel passed through a learned (k²×k²) matrix shared by all
/// channels: new[j, c] = Σ_i M[j, i] · centre[i, c] (the reference's
/// F.linear(filter, matrix)). Kernels are stored channels-last [K][K][C].
/// FLOPs 2·k⁴·C forward.

#include <cstddef>
#include <string>

#include "ofa/autograd/tape.hpp"
#include "ofa/autograd/variable.hpp"
#include "ofa/tensor/matrix_view.hpp"

namespace ofa::autograd {

/** @brief The transformed k×k kernel [k][k][channels] from the centre of `source`
 *  ([K][K][C_max], K > k) through `matrix` ([k², k²]). */
template <class T>
variable<T> transform_kernel(const variable<T>& source, const variable<T>& matrix, int k, int channels) {
  profiling::scope timing("kernel_transform");
  const auto& ss = source.value().shape();
  const std::size_t taps = static_cast<std::size_t>(k) * k;
  if (source.value().dimension() != 3 || ss[0] != ss[1] || static_cast<int>(ss[0]) <= k ||
      static_cast<int>(ss[2]) < channels || matrix.value().size() != taps * taps)
    throw shape_error("ofa::autograd::transform_kernel: source " + shape_string(ss) + " and matrix " +
                      shape_string(matrix.value().shape()) + " cannot make a " + std::to_string(k) + "x" +
                      std::to_string(k) + " kernel over " + std::to_string(channels) + " channels");
  const int full = static_cast<int>(ss[0]), max_c = static_cast<int>(ss[2]);
  tensor<T> out(
      shape_type{static_cast<std::size_t>(k), static_cast<std::size_t>(k), static_cast<std::size_t>(channels)});
  auto src = kernel_view<const T>::centre(source.value().data(), full, max_c, k, channels);
  const T* m = matrix.value().data();
  for (std::size_t j = 0; j < taps; ++j) {
    T* o = out.data() + j * channels;
    for (int c = 0; c < channels; ++c) o[c] = T(0);
    for (std::size_t i = 0; i < taps; ++i) {
      const T mji = m[j * taps + i];
      const T* in = src.tap(static_cast<int>(i) / k, static_cast<int>(i) % k);
      for (int c = 0; c < channels; ++c) o[c] += mji * in[c];
    }
  }
  const bool on_tape = tape<T>::recording() && (source.requires_grad() || matrix.requires_grad());
  variable<T> r(std::move(out), on_tape);
  if (on_tape)
    tape<T>::current().record("kernel_transform", [source, matrix, r, k, channels, full, max_c, taps]() {
      const T* g = r.grad().data();
      auto src = kernel_view<const T>::centre(source.value().data(), full, max_c, k, channels);
      const T* m = matrix.value().data();
      if (matrix.requires_grad()) {
        T* dm = matrix.grad().data();
        for (std::size_t j = 0; j < taps; ++j)
          for (std::size_t i = 0; i < taps; ++i) {
            const T* in = src.tap(static_cast<int>(i) / k, static_cast<int>(i) % k);
            T sum = T(0);
            for (int c = 0; c < channels; ++c) sum += g[j * channels + c] * in[c];
            dm[j * taps + i] += sum;
          }
      }
      if (source.requires_grad()) {
        auto ds = kernel_view<T>::centre(source.grad().data(), full, max_c, k, channels);
        for (std::size_t i = 0; i < taps; ++i) {
          T* d = ds.tap(static_cast<int>(i) / k, static_cast<int>(i) % k);
          for (std::size_t j = 0; j < taps; ++j) {
            const T mji = m[j * taps + i];
            for (int c = 0; c < channels; ++c) d[c] += mji * g[j * channels + c];
          }
        }
      }
    });
  return r;
}

}  // namespace ofa::autograd
