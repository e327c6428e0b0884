#pragma once
/// @file
/// Squeeze-excite pieces and pooling on NHWC tensors: global average pool
/// [N,H,W,C] → [N,C] (N·H·W·C FLOPs, one pass), its backward (a broadcast), and
/// the channel scale y[n,h,w,c] = x[n,h,w,c]·s[n,c] with its backward.

#include <algorithm>
#include <cstddef>

#include "ofa/parallel/arena.hpp"

namespace ofa::kernels {

/** @brief out[n,c] = mean over h,w of x[n,h,w,c]. */
template <class T>
void global_avg_pool(std::size_t n, std::size_t hw, std::size_t c, const T* x, T* out) {
  parallel::for_chunks(n, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      T* o = out + i * c;
      std::fill(o, o + c, T(0));
      for (std::size_t p = 0; p < hw; ++p)
        for (std::size_t j = 0; j < c; ++j) o[j] += x[(i * hw + p) * c + j];
      for (std::size_t j = 0; j < c; ++j) o[j] /= T(hw);
    }
  });
}

/** @brief dx[n,h,w,c] = d_out[n,c] / (h·w): overwrites dx, or adds to it when `accumulate`
 *  (the SE input already holds the channel-scale gradient: no temporary, no extra pass). */
template <class T>
void global_avg_pool_backward(std::size_t n, std::size_t hw, std::size_t c, const T* d_out, T* dx,
                              bool accumulate = false) {
  const T inv = T(1) / T(hw);
  parallel::for_chunks(n * hw, 256, [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) {
      const T* g = d_out + (r / hw) * c;
      T* out = dx + r * c;
      if (accumulate)
        for (std::size_t j = 0; j < c; ++j) out[j] += g[j] * inv;
      else
        for (std::size_t j = 0; j < c; ++j) out[j] = g[j] * inv;
    }
  });
}

/** @brief y[n,p,c] = x[n,p,c]·s[n,c]. */
template <class T>
void channel_scale(std::size_t n, std::size_t hw, std::size_t c, const T* x, const T* s, T* y) {
  parallel::for_chunks(n * hw, 256, [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) {
      const T* scale = s + (r / hw) * c;
      const T* in = x + r * c;
      T* out = y + r * c;
      for (std::size_t j = 0; j < c; ++j) out[j] = in[j] * scale[j];
    }
  });
}

/** @brief ds[n,c] = Σ_p dy·x (overwritten); dx = dy·s is channel_scale(dy, s). */
template <class T>
void channel_scale_backward(std::size_t n, std::size_t hw, std::size_t c, const T* x, const T* dy, T* ds) {
  parallel::for_chunks(n, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      // restrict: the sums may stay in registers and the loop vectorise (through plain pointers
      // every store to o could change dy or x, as far as the compiler knows)
      T* __restrict o = ds + i * c;
      const T* __restrict g = dy + i * hw * c;
      const T* __restrict v = x + i * hw * c;
      std::fill(o, o + c, T(0));
      for (std::size_t p = 0; p < hw; ++p)
        for (std::size_t j = 0; j < c; ++j) o[j] += g[p * c + j] * v[p * c + j];
    }
  });
}

}  // namespace ofa::kernels
