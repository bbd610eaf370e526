// Colour maps for explanation heatmaps (paper §7.4, Fig. 5 and 6): matplotlib's diverging
// 'seismic' map, through which attributions are shown (blue negative, white zero, red positive),
// and a sequential gray map. Each is a 256-entry table of 8-bit RGB, looked up by integer index
// the way the paper's code does: index int((v + 1) * 127.5) for v in [-1, 1].
// Not here: normalising an explanation to [-1, 1] (viz/heatmap.h).
#pragma once

#include <array>
#include <cstdint>

namespace pn::viz {

struct Rgb8 {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb8&) const = default;
};

using ColorTable = std::array<Rgb8, 256>;

// matplotlib's 'seismic': straight segments through (0, 0, 0.3), (0, 0, 1), (1, 1, 1), (1, 0, 0),
// (0.5, 0, 0) at positions 0, 0.25, 0.5, 0.75, 1, sampled at i / 255. Each channel value c is
// stored as floor(255 c) computed exactly, as matplotlib's 8-bit output truncates: entry 0 is
// (0, 0, 76), entry 127 (253, 253, 255), entry 128 (255, 253, 253), entry 255 (127, 0, 0). There
// is no pure white entry: 0.5 falls between entries 127 and 128.
const ColorTable& seismic_table();

// Entry i is (i, i, i).
const ColorTable& gray_table();

// Index int((v + 1) * 127.5) for v in [-1, 1]: -1 -> 0, 0 -> 127, 1 -> 255; v is clipped to
// [-1, 1] first, and NaN gives 127 (the neutral middle) rather than undefined behaviour.
int diverging_index(double v);

// Index int(u * 255) for u in [0, 1] (clipped; NaN gives 0).
int sequential_index(double u);

// v in [-1, 1] -> seismic colour; u in [0, 1] -> gray.
Rgb8 seismic(double v);
Rgb8 gray(double u);

}  // namespace pn::viz
