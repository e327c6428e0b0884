#pragma once
/// @file
/// JPEG (libjpeg-turbo's TurboJPEG API) and PNG (libpng's simplified API)
/// decoding to 8-bit RGB. Every failure is an ofa::data_error naming the source.
/// Link: ofa::ofa carries the libraries when OFA_WITH_IMAGE_CODECS is on.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

// An error here means libjpeg-turbo / libpng headers are missing: install libturbojpeg0-dev,
// libjpeg62-turbo-dev and libpng-dev (scripts/setup.sh does), or use sources that need no codec.
#include <png.h>
#include <turbojpeg.h>

#include "ofa/data/image.hpp"
#include "ofa/errors.hpp"

namespace ofa::data {

/** @brief Decodes JPEG or PNG bytes (detected by signature) to RGB. */
image decode_image(const std::vector<std::uint8_t>& bytes, const std::string& source);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
[[noreturn]] inline void bad_image(const std::string& source, const std::string& why) {
  throw data_error("ofa: cannot decode image '" + source + "': " + why +
                   " (replace or delete the file; ofa train --skip-corrupt skips such images)");
}

/// Images ofa decodes at most: 8192 x 8192 pixels (192 MB of RGB), no side over 16384, and no more
/// pixels than the file could hold (deflate and JPEG compress well under 1:1000 on real images):
/// a header may claim 32768 x 32768 in a few bytes, and the pixels are allocated before decoding.
inline void check_image_size(std::size_t width, std::size_t height, std::size_t file_bytes, const std::string& source) {
  constexpr std::size_t max_side = 16384, max_pixels = std::size_t{8192} * 8192, max_ratio = 2048;
  if (width == 0 || height == 0 || width > max_side || height > max_side || width * height > max_pixels ||
      width * height * 3 > max_ratio * file_bytes + (std::size_t{1} << 20))
    bad_image(source, "its header claims " + std::to_string(width) + " x " + std::to_string(height) +
                          " pixels in a file of " + std::to_string(file_bytes) +
                          " bytes (at most 8192 x 8192, and what the file can hold)");
}

inline image decode_jpeg(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  tjhandle handle = tjInitDecompress();
  if (!handle) bad_image(source, "TurboJPEG could not start");
  struct closer {
    tjhandle h;
    ~closer() { tjDestroy(h); }
  } close{handle};
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  auto* data = const_cast<unsigned char*>(bytes.data());
  if (tjDecompressHeader3(handle, data, static_cast<unsigned long>(bytes.size()), &width, &height, &subsampling,
                          &colorspace) != 0)
    bad_image(source, std::string("not a readable JPEG (") + tjGetErrorStr2(handle) + ")");
  if (width <= 0 || height <= 0) bad_image(source, "impossible size");
  check_image_size(std::size_t(width), std::size_t(height), bytes.size(), source);
  image img;
  img.width = width;
  img.height = height;
  img.pixels.resize(static_cast<std::size_t>(width) * height * 3);
  if (tjDecompress2(handle, data, static_cast<unsigned long>(bytes.size()), img.pixels.data(), width, 0, height,
                    TJPF_RGB, TJFLAG_ACCURATEDCT) != 0) {
    // Truncated files decode with a warning; anything else is an error.
    if (tjGetErrorCode(handle) != TJERR_WARNING)
      bad_image(source, std::string("corrupt JPEG data (") + tjGetErrorStr2(handle) + ")");
    bad_image(source, std::string("truncated or damaged JPEG (") + tjGetErrorStr2(handle) + ")");
  }
  return img;
}

inline image decode_png(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    bad_image(source, std::string("not a readable PNG (") + png.message + ")");
  png.format = PNG_FORMAT_RGB;
  try {
    check_image_size(png.width, png.height, bytes.size(), source);
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  image img;
  img.width = static_cast<int>(png.width);
  img.height = static_cast<int>(png.height);
  img.pixels.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, img.pixels.data(), 0, nullptr)) {
    std::string why = png.message;
    png_image_free(&png);
    bad_image(source, "corrupt PNG data (" + why + ")");
  }
  return img;
}
}  // namespace detail

inline image decode_image(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return detail::decode_jpeg(bytes, source);
  if (bytes.size() >= 8 && bytes[0] == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G')
    return detail::decode_png(bytes, source);
  detail::bad_image(source, bytes.empty() ? "the file is empty" : "neither JPEG nor PNG (unknown signature)");
}

}  // namespace ofa::data
