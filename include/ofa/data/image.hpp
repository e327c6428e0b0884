#pragma once
/// @file
/// Decoded images and raw records: what a dataset's serial read step hands to
/// the parallel decode step.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ofa::data {

/** @brief An 8-bit RGB image, rows of pixels, channels last (HWC). */
struct image {
  int height = 0, width = 0;
  std::vector<std::uint8_t> pixels;  ///< height·width·3
  std::uint8_t at(int y, int x, int c) const { return pixels[(static_cast<std::size_t>(y) * width + x) * 3 + c]; }
};

/** @brief One example as read from storage, before decoding: file bytes or raw pixels. */
struct record {
  std::size_t index = 0;
  int label = 0;
  std::vector<std::uint8_t> bytes;
  std::string source;  ///< file name or "file#record", for error messages
};

}  // namespace ofa::data
