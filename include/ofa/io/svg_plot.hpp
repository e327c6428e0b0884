#pragma once
/// @file
/// A small SVG chart writer (lines or points, several series, linear axes with
/// ticks, a legend): the training curves of `ofa plot` and the accuracy-against-cost
/// fronts of the search. No dependency; the file opens in any browser.

#include <algorithm>
#include <cmath>  // floor, log10, pow
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "ofa/errors.hpp"
#include "ofa/io/write_atomically.hpp"

namespace ofa::io {

/** @brief One series: points (x, y), drawn as a polyline or as markers. */
struct plot_series {
  std::string name;
  std::vector<double> x, y;
  bool points = false;
};

/** @brief A chart: title, axis labels, series. */
struct plot {
  std::string title, x_label, y_label;
  std::vector<plot_series> series;
  int width = 760, height = 440;
};

/** @brief The chart as SVG text. */
std::string to_svg(const plot& p);
/** @brief Writes to_svg(p) to `path` (temporary file, then rename); throws ofa::io_error. */
void save_svg(const plot& p, const std::string& path);

// ---------------------------------------------------------------------------
// implementation

namespace detail {
inline std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  return out;
}
/// About five round tick values covering [lo, hi].
inline std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}
inline std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace detail

inline std::string to_svg(const plot& p) {
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : p.series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // no data: an empty frame
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  // A marker at the first or last x would be cut in half by the frame: leave room for it.
  if (std::any_of(p.series.begin(), p.series.end(), [](const plot_series& s) { return s.points; })) {
    const double x_pad = (x1 - x0) * 0.03;
    x0 -= x_pad, x1 += x_pad;
  }
  const double left = 70, right = p.width - 190.0, top = 40, bottom = p.height - 50.0;
  auto X = [&](double v) { return left + (v - x0) / (x1 - x0) * (right - left); };
  auto Y = [&](double v) { return bottom - (v - y0) / (y1 - y0) * (bottom - top); };
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(p.width) + "\" height=\"" +
                    std::to_string(p.height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg +=
      "<text x=\"" + detail::number(left) + "\" y=\"22\" font-size=\"15\">" + detail::escape_xml(p.title) + "</text>\n";
  for (double t : detail::ticks(x0, x1))
    svg += "<line x1=\"" + detail::number(X(t)) + "\" y1=\"" + detail::number(top) + "\" x2=\"" + detail::number(X(t)) +
           "\" y2=\"" + detail::number(bottom) + "\" stroke=\"#eee\"/><text x=\"" + detail::number(X(t)) + "\" y=\"" +
           detail::number(bottom + 16) + "\" text-anchor=\"middle\">" + detail::number(t) + "</text>\n";
  for (double t : detail::ticks(y0, y1))
    svg += "<line x1=\"" + detail::number(left) + "\" y1=\"" + detail::number(Y(t)) + "\" x2=\"" +
           detail::number(right) + "\" y2=\"" + detail::number(Y(t)) + "\" stroke=\"#eee\"/><text x=\"" +
           detail::number(left - 6) + "\" y=\"" + detail::number(Y(t) + 4) + "\" text-anchor=\"end\">" +
           detail::number(t) + "</text>\n";
  svg += "<rect x=\"" + detail::number(left) + "\" y=\"" + detail::number(top) + "\" width=\"" +
         detail::number(right - left) + "\" height=\"" + detail::number(bottom - top) +
         "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg += "<text x=\"" + detail::number((left + right) / 2) + "\" y=\"" + detail::number(p.height - 12.0) +
         "\" text-anchor=\"middle\">" + detail::escape_xml(p.x_label) + "</text>\n";
  svg += "<text transform=\"translate(16," + detail::number((top + bottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + detail::escape_xml(p.y_label) + "</text>\n";
  for (std::size_t k = 0; k < p.series.size(); ++k) {
    const auto& s = p.series[k];
    const std::string colour = colours[k % 10];
    if (s.points) {
      for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
        svg += "<circle cx=\"" + detail::number(X(s.x[i])) + "\" cy=\"" + detail::number(Y(s.y[i])) +
               "\" r=\"3.5\" fill=\"" + colour + "\"/>\n";
    } else {
      svg += "<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"" + colour + "\" points=\"";
      for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
        svg += detail::number(X(s.x[i])) + "," + detail::number(Y(s.y[i])) + " ";
      svg += "\"/>\n";
    }
    const double ly = top + 14.0 + 18.0 * double(k);
    svg += "<rect x=\"" + detail::number(right + 14) + "\" y=\"" + detail::number(ly - 9) +
           "\" width=\"12\" height=\"12\" fill=\"" + colour + "\"/><text x=\"" + detail::number(right + 32) +
           "\" y=\"" + detail::number(ly + 1) + "\">" + detail::escape_xml(s.name) + "</text>\n";
  }
  return svg + "</svg>\n";
}

inline void save_svg(const plot& p, const std::string& path) {
  write_atomically(path, to_svg(p));
}

}  // namespace ofa::io
