#pragma once
/// @file
/// Strided views of max-size weights: the active slice of a weight (first
/// `rows` rows, first `cols` columns) is a pointer and a leading dimension,
/// never a copy on the hot path.

#include <cstddef>

namespace ofa {

/** @brief A rows×cols row-major matrix whose rows are `ld` elements apart (ld >= cols). */
template <class T>
struct matrix_view {
  T* data = nullptr;
  int rows = 0;
  int cols = 0;
  int ld = 0;

  T& operator()(int r, int c) const noexcept { return data[static_cast<std::ptrdiff_t>(r) * ld + c]; }
  /** @brief The top-left r×c corner: an active slice of a max-size weight. */
  matrix_view block(int r, int c) const noexcept { return {data, r, c, ld}; }
};

/** @brief A view of the centre k×k taps of a K×K depthwise kernel stored [K][K][C]
 *  (channels last), for the first `channels` channels. */
template <class T>
struct kernel_view {
  T* data = nullptr;    ///< tap (0, 0), channel 0 of the active k×k
  int kernel_size = 0;  ///< k
  int channels = 0;     ///< active channels
  int row_stride = 0;   ///< elements between tap rows (K·C_max)
  int tap_stride = 0;   ///< elements between taps in a row (C_max)

  /** @brief The centre k×k of a full K×K×C_max weight. */
  static kernel_view centre(T* full, int full_kernel, int max_channels, int k, int active_channels) noexcept {
    const int offset = (full_kernel - k) / 2;
    return {full + (static_cast<std::ptrdiff_t>(offset) * full_kernel + offset) * max_channels, k, active_channels,
            full_kernel * max_channels, max_channels};
  }
  T* tap(int ky, int kx) const noexcept {
    return data + static_cast<std::ptrdiff_t>(ky) * row_stride + static_cast<std::ptrdiff_t>(kx) * tap_stride;
  }
};

}  // namespace ofa
