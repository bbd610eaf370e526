#include "pn/viz/colormap.h"

#include <cmath>

namespace pn::viz {
namespace {

// The seismic nodes in tenths, so that the whole table is integer arithmetic: 0.3 * 255 = 76.5
// lies exactly on a rounding boundary, and a float computation could land on either side of it.
constexpr int kNodes = 5;
constexpr int kRed[kNodes] = {0, 0, 10, 10, 5};
constexpr int kGreen[kNodes] = {0, 0, 10, 0, 0};
constexpr int kBlue[kNodes] = {3, 10, 10, 0, 0};

constexpr ColorTable make_seismic() {
  ColorTable table{};
  for (int i = 0; i < 256; ++i) {
    // Entry i sits at t = i / 255; with four equal segments, 4t = 4i / 255 = k + r / 255.
    const int k = 4 * i / 255 < 3 ? 4 * i / 255 : 3;
    const int r = 4 * i - 255 * k;  // 0..255
    // 255 * value = (10 * y_k * 255 + 10 * (y_k+1 - y_k) * r) / 10, floored like matplotlib.
    const auto channel = [&](const int* y) {
      return static_cast<std::uint8_t>((y[k] * 255 + (y[k + 1] - y[k]) * r) / 10);
    };
    table[static_cast<std::size_t>(i)] = Rgb8{channel(kRed), channel(kGreen), channel(kBlue)};
  }
  return table;
}

constexpr ColorTable make_gray() {
  ColorTable table{};
  for (int i = 0; i < 256; ++i) {
    const auto v = static_cast<std::uint8_t>(i);
    table[static_cast<std::size_t>(i)] = Rgb8{v, v, v};
  }
  return table;
}

constexpr ColorTable kSeismic = make_seismic();
constexpr ColorTable kGray = make_gray();

}  // namespace

const ColorTable& seismic_table() { return kSeismic; }
const ColorTable& gray_table() { return kGray; }

int diverging_index(double v) {
  if (std::isnan(v)) return 127;
  const double clipped = v < -1.0 ? -1.0 : (v > 1.0 ? 1.0 : v);
  return static_cast<int>((clipped + 1.0) * 127.5);
}

int sequential_index(double u) {
  if (std::isnan(u)) return 0;
  const double clipped = u < 0.0 ? 0.0 : (u > 1.0 ? 1.0 : u);
  return static_cast<int>(clipped * 255.0);
}

Rgb8 seismic(double v) { return kSeismic[static_cast<std::size_t>(diverging_index(v))]; }
Rgb8 gray(double u) { return kGray[static_cast<std::size_t>(sequential_index(u))]; }

}  // namespace pn::viz
