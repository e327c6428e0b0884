#pragma once
/// @file
/// The elastic-kernel transformation of OFA: a k×k kernel is the centre of the
/// next larger kernel passed through a learned (k²×k²) matrix shared by all
/// channels: new[j, c] = Σ_i M[j, i] · centre[i, c] (the reference's
/// F.linear(filter, matrix)). Kernels are stored channels-last [K][K][C].
/// FLOPs 2·k⁴·C forward; the forward and both gradients are GEMMs over the
/// gathered centre taps.

#include <algorithm>  // copy
#include <cstddef>
#include <memory>
#include <string>

#include "ofa/autograd/tape.hpp"
#include "ofa/autograd/variable.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/profiling.hpp"
#include "ofa/tensor/matrix_view.hpp"

namespace ofa::autograd {

namespace detail {
/// The centre k×k taps of a [K][K][C_max] kernel, first `channels` channels, as [k²][channels].
template <class T>
pooled_vector<T> gather_centre(const tensor<T>& source, int full, int max_c, int k, int channels) {
  auto src = kernel_view<const T>::centre(source.data(), full, max_c, k, channels);
  pooled_vector<T> out(static_cast<std::size_t>(k) * k * channels);
  for (int i = 0; i < k * k; ++i)
    std::copy(src.tap(i / k, i % k), src.tap(i / k, i % k) + channels,
              out.data() + static_cast<std::size_t>(i) * channels);
  return out;
}
}  // namespace detail

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
  const int t = static_cast<int>(taps), c = channels;
  tensor<T> out(
      shape_type{static_cast<std::size_t>(k), static_cast<std::size_t>(k), static_cast<std::size_t>(channels)});
  // The centre taps gathered into [k²][C]: the transform and both its gradients are then GEMMs.
  const auto centre =
      std::make_shared<pooled_vector<T>>(detail::gather_centre(source.value(), full, max_c, k, channels));
  kernels::gemm_any<T>(kernels::trans::no, kernels::trans::no, t, c, t, T(1), matrix.value().data(), t, centre->data(),
                       c, T(0), out.data(), c);
  const bool on_tape = tape<T>::recording() && (source.requires_grad() || matrix.requires_grad());
  variable<T> r(std::move(out), on_tape);
  if (on_tape)
    tape<T>::current().record("kernel_transform", [source, matrix, r, k, c, t, full, max_c, centre]() {
      const T* g = r.grad().data();
      if (matrix.requires_grad())  // dM += G·Sᵀ
        kernels::gemm_any<T>(kernels::trans::no, kernels::trans::yes, t, t, c, T(1), g, c, centre->data(), c, T(1),
                             matrix.grad().data(), t);
      if (source.requires_grad()) {  // dS = Mᵀ·G, added into the centre taps
        pooled_vector<T> d_centre(static_cast<std::size_t>(t) * c);
        kernels::gemm_any<T>(kernels::trans::yes, kernels::trans::no, t, c, t, T(1), matrix.value().data(), t, g, c,
                             T(0), d_centre.data(), c);
        auto ds = kernel_view<T>::centre(source.grad().data(), full, max_c, k, c);
        for (int i = 0; i < t; ++i) {
          T* d = ds.tap(i / k, i % k);
          const T* add = d_centre.data() + static_cast<std::size_t>(i) * c;
          for (int ch = 0; ch < c; ++ch) d[ch] += add[ch];
        }
      }
    });
  return r;
}

}  // namespace ofa::autograd
