#include "pn/viz/montage.h"

#include "pn/core/error.h"

#include <algorithm>

namespace pn::viz {

GridStyle montage_style() {
  GridStyle s;
  s.row_label_width = 0;
  s.header_lines = 2;
  s.gap = 8;
  return s;
}

std::int64_t montage_columns(std::int64_t n) {
  if (n < 1) throw Error("montage: need at least one panel, got {}", n);
  const std::int64_t rows = (n + kMontageMaxColumns - 1) / kMontageMaxColumns;
  return (n + rows - 1) / rows;
}

ImageGrid montage_grid(const Montage& m) {
  if (m.panels.empty()) throw Error("montage: no panels to draw");
  if (m.columns < 0) throw Error("montage: the number of columns must be positive (or 0: automatic), got {}", m.columns);
  const auto n = static_cast<std::int64_t>(m.panels.size());
  const std::int64_t columns = std::min(n, m.columns == 0 ? montage_columns(n) : m.columns);
  const RgbImage& first = m.panels.front().image;
  for (std::size_t i = 1; i < m.panels.size(); ++i) {
    const RgbImage& p = m.panels[i].image;
    if (p.height != first.height || p.width != first.width) {
      throw Error("montage: panel {} ('{}') is {}x{} pixels (height x width), but panel 0 ('{}') is {}x{}", i, m.panels[i].title, p.height,
                  p.width, m.panels.front().title, first.height, first.width);
    }
  }
  RgbImage blank;
  blank.height = first.height;
  blank.width = first.width;
  blank.pixels.assign(static_cast<std::size_t>(first.height * first.width * 3), 255);

  ImageGrid g;
  g.title = m.title;
  g.caption = m.caption;
  g.style = m.style;
  for (std::int64_t start = 0; start < n; start += columns) {
    std::vector<RgbImage> row;
    std::vector<std::string> titles;
    for (std::int64_t i = start; i < start + columns; ++i) {
      if (i < n) {
        row.push_back(m.panels[static_cast<std::size_t>(i)].image);
        titles.push_back(m.panels[static_cast<std::size_t>(i)].title);
      } else {
        row.push_back(blank);
        titles.emplace_back();
      }
    }
    g.cells.push_back(std::move(row));
    g.cell_titles.push_back(std::move(titles));
  }
  return g;
}

void write_montage_png(const Montage& m, const std::string& path) { write_grid_png(montage_grid(m), path); }

}  // namespace pn::viz
