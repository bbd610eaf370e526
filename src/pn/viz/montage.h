// pn::viz: a montage of labelled panels, the layout of the paper's Fig. 6 for one image: the input
// first, then one explanation per method, each under its own title, with a title above and a
// caption below. `patternnet explain --methods` draws one per sample.
//
// The panels are wrapped over rows so that a montage of many methods stays viewable: at most
// kMontageMaxColumns panels per row by default, with the rows balanced (15 panels: three rows of
// five, not 6 + 6 + 3). Cells of the last row that hold no panel stay white. The page is an
// ImageGrid with cell titles (viz/grid.h), so the panels are pasted pixel for pixel.
#pragma once

#include "pn/viz/grid.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pn::viz {

inline constexpr std::int64_t kMontageMaxColumns = 6;

// The montage's grid style: no row-label column, two title lines over every panel.
GridStyle montage_style();

struct Panel {
  std::string title;  // gnuplot enhanced text (see grid.h); plain_text() for names with '_'
  RgbImage image;     // every panel the same size
};

struct Montage {
  std::string title;             // above the panels; empty: none
  std::vector<Panel> panels;
  std::string caption;           // below the panels; empty: none
  std::int64_t columns = 0;      // panels per row; 0: montage_columns(panels.size())
  GridStyle style = montage_style();
};

// The automatic number of columns for n panels: the fewest rows of at most kMontageMaxColumns
// panels, then as few columns as those rows need.
std::int64_t montage_columns(std::int64_t n);

// The montage as an image grid (rows of `columns` cells; titles per cell). Throws pn::Error for no
// panels, a negative column count, or panels of different sizes (naming both).
ImageGrid montage_grid(const Montage& m);

// Renders the montage to a PNG at path, atomically (see write_grid_png).
void write_montage_png(const Montage& m, const std::string& path);

}  // namespace pn::viz
