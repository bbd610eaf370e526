#include "pn/viz/grid.h"

#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/viz/gnuplot.h"
#include "pn/core/tensor.h"
#include "pn/io/image.h"

#include <fmt/format.h>


#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>


namespace pn::viz {
namespace {

// pngcairo's line pitch and a generous average glyph width for DejaVu Sans (the widest common
// default), both per point of font size: used to reserve room for text before gnuplot draws it.
constexpr double kLinePerPoint = 1.7;
constexpr double kCharPerPoint = 0.8;
constexpr int kTitleExtraPoints = 3;
constexpr std::int64_t kLabelGap = 10;   // between the row labels and the first column
constexpr std::int64_t kHeaderGap = 4;   // between the column titles and the first row
constexpr std::int64_t kMaxSide = 20000;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out(1);
  for (char c : text) {
    if (c == '\n') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

std::int64_t line_count(const std::string& text) { return text.empty() ? 0 : static_cast<std::int64_t>(lines_of(text).size()); }

// Visible characters of one line: UTF-8 continuation bytes and enhanced-text markup take no room.
std::int64_t visible_chars(const std::string& line) {
  std::int64_t n = 0;
  bool escaped = false;
  for (char ch : line) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) == 0x80) continue;
    if (!escaped && (c == '\\')) {
      escaped = true;
      continue;
    }
    if (!escaped && (c == '_' || c == '^' || c == '{' || c == '}')) continue;
    escaped = false;
    ++n;
  }
  return n;
}

std::int64_t text_width(const std::string& text, int font_size) {
  std::int64_t chars = 0;
  for (const std::string& l : lines_of(text)) chars = std::max(chars, visible_chars(l));
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(chars) * kCharPerPoint * font_size));
}

std::int64_t line_pitch(int font_size) { return static_cast<std::int64_t>(std::lround(kLinePerPoint * font_size)); }

// A gnuplot double-quoted string: \n stays a line break, backslashes (enhanced-text escapes) and
// quotes survive literally.
std::string dquoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c != '\r') {
      out += c;
    }
  }
  out += '"';
  return out;
}

void check_style(const GridStyle& s) {
  const auto in = [](std::int64_t v, std::int64_t lo, std::int64_t hi, const char* name) {
    if (v < lo || v > hi) throw Error("image grid: style.{} = {} is outside [{}, {}]", name, v, lo, hi);
  };
  in(s.gap, 0, 1000, "gap");
  in(s.row_group, 0, 100000, "row_group");
  in(s.group_gap, 0, 1000, "group_gap");
  in(s.margin, 0, 1000, "margin");
  in(s.row_label_width, 0, 5000, "row_label_width");
  in(s.header_lines, 0, 20, "header_lines");
  in(s.font_size, 4, 72, "font_size");
}

void paste(RgbImage& page, const RgbImage& cell, std::int64_t x0, std::int64_t y0) {
  const auto row_bytes = static_cast<std::size_t>(cell.width * 3);
  for (std::int64_t y = 0; y < cell.height; ++y) {
    const auto src = static_cast<std::size_t>(y * cell.width * 3);
    const auto dst = static_cast<std::size_t>(((y0 + y) * page.width + x0) * 3);
    std::copy_n(cell.pixels.begin() + static_cast<std::ptrdiff_t>(src), row_bytes, page.pixels.begin() + static_cast<std::ptrdiff_t>(dst));
  }
}

}  // namespace

std::string plain_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '_' || c == '^' || c == '{' || c == '}' || c == '@' || c == '&' || c == '~' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::int64_t enlargement(std::int64_t side, std::int64_t target) {
  if (side <= 0) throw Error("enlargement: the side must be positive, got {}", side);
  if (target <= side) return 1;
  return (target + side - 1) / side;
}

GridLayout grid_layout(const ImageGrid& g) {
  check_style(g.style);
  const GridStyle& s = g.style;
  if (g.cells.empty() || g.cells[0].empty()) throw Error("image grid: no cells to draw");
  GridLayout l;
  l.rows = static_cast<std::int64_t>(g.cells.size());
  l.columns = static_cast<std::int64_t>(g.cells[0].size());
  l.cell_height = g.cells[0][0].height;
  l.cell_width = g.cells[0][0].width;
  if (l.cell_height <= 0 || l.cell_width <= 0) {
    throw Error("image grid: cell (row 0, column 0) is {}x{} pixels; cells must not be empty", l.cell_height, l.cell_width);
  }
  for (std::size_t r = 0; r < g.cells.size(); ++r) {
    if (static_cast<std::int64_t>(g.cells[r].size()) != l.columns) {
      throw Error("image grid: row {} has {} cells, but row 0 has {}; every row needs one cell per column", r, g.cells[r].size(),
                  l.columns);
    }
    for (std::size_t c = 0; c < g.cells[r].size(); ++c) {
      const RgbImage& cell = g.cells[r][c];
      if (cell.height != l.cell_height || cell.width != l.cell_width) {
        throw Error("image grid: cell (row {}, column {}) is {}x{} pixels (height x width), but cell (row 0, column 0) is {}x{}; "
                    "every cell must have the same size",
                    r, c, cell.height, cell.width, l.cell_height, l.cell_width);
      }
      if (static_cast<std::int64_t>(cell.pixels.size()) != cell.height * cell.width * 3) {
        throw Error("image grid: cell (row {}, column {}) has {} bytes, but {}x{} RGB pixels need {}", r, c, cell.pixels.size(),
                    cell.height, cell.width, cell.height * cell.width * 3);
      }
    }
  }
  if (!g.column_titles.empty() && static_cast<std::int64_t>(g.column_titles.size()) != l.columns) {
    throw Error("image grid: {} column titles for {} columns", g.column_titles.size(), l.columns);
  }
  if (!g.row_labels.empty() && static_cast<std::int64_t>(g.row_labels.size()) != l.rows) {
    throw Error("image grid: {} row labels for {} rows", g.row_labels.size(), l.rows);
  }
  if (!g.cell_titles.empty()) {
    if (!g.column_titles.empty()) throw Error("image grid: give column titles or cell titles, not both");
    if (static_cast<std::int64_t>(g.cell_titles.size()) != l.rows) {
      throw Error("image grid: cell titles for {} rows, but the grid has {}", g.cell_titles.size(), l.rows);
    }
    for (std::size_t r = 0; r < g.cell_titles.size(); ++r) {
      if (static_cast<std::int64_t>(g.cell_titles[r].size()) != l.columns) {
        throw Error("image grid: row {} has {} cell titles for {} columns", r, g.cell_titles[r].size(), l.columns);
      }
    }
  }

  l.line_height = line_pitch(s.font_size);
  const int title_font = s.font_size + kTitleExtraPoints;
  const std::int64_t title_pitch = line_pitch(title_font);

  std::int64_t y = s.margin;
  l.title_top = y;
  if (!g.title.empty()) y += line_count(g.title) * title_pitch + s.margin / 2;
  std::int64_t header_lines = 0;
  if (!g.column_titles.empty()) {
    header_lines = s.header_lines;
    for (const std::string& t : g.column_titles) header_lines = std::max(header_lines, line_count(t));
  }
  y += header_lines * l.line_height;
  l.header_bottom = y;
  if (header_lines > 0) y += kHeaderGap;
  for (std::int64_t r = 0; r < l.rows; ++r) {
    if (!g.cell_titles.empty()) {
      std::int64_t lines = s.header_lines;
      for (const std::string& t : g.cell_titles[static_cast<std::size_t>(r)]) lines = std::max(lines, line_count(t));
      y += lines * l.line_height;
      l.cell_title_bottom.push_back(y);
      y += kHeaderGap;
    }
    l.cell_y.push_back(y);
    y += l.cell_height;
    if (r + 1 < l.rows) {
      y += s.gap;
      if (s.row_group > 0 && (r + 1) % s.row_group == 0) y += s.group_gap;
    }
  }
  if (!g.caption.empty()) {
    y += s.margin / 2;
    l.caption_top = y;
    y += line_count(g.caption) * l.line_height;
  } else {
    l.caption_top = y;
  }
  l.height = y + s.margin;

  std::int64_t x = s.margin;
  std::int64_t label_width = 0;
  if (!g.row_labels.empty()) {
    label_width = s.row_label_width;
    for (const std::string& t : g.row_labels) label_width = std::max(label_width, text_width(t, s.font_size));
  }
  l.label_right = x + label_width;
  if (label_width > 0) x += label_width + kLabelGap;
  for (std::int64_t c = 0; c < l.columns; ++c) {
    l.cell_x.push_back(x);
    x += l.cell_width + (c + 1 < l.columns ? s.gap : 0);
  }
  l.width = x + s.margin;
  // A title or caption longer than the grid widens the page rather than being cut off.
  l.width = std::max(l.width, text_width(g.title, title_font) + 2 * s.margin);
  l.width = std::max(l.width, text_width(g.caption, s.font_size) + 2 * s.margin);
  if (l.width > kMaxSide || l.height > kMaxSide) {
    throw Error("image grid: {}x{} pixels (width x height) exceeds the {} pixel limit; use fewer or smaller cells", l.width, l.height,
                kMaxSide);
  }
  return l;
}

RgbImage compose_grid(const ImageGrid& g) {
  const GridLayout l = grid_layout(g);
  RgbImage page;
  page.height = l.height;
  page.width = l.width;
  page.pixels.assign(static_cast<std::size_t>(l.height * l.width * 3), 255);
  for (std::int64_t r = 0; r < l.rows; ++r) {
    for (std::int64_t c = 0; c < l.columns; ++c) {
      paste(page, g.cells[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)], l.cell_x[static_cast<std::size_t>(c)],
            l.cell_y[static_cast<std::size_t>(r)]);
    }
  }
  return page;
}

std::string grid_text_script(const ImageGrid& g, const GridLayout& l, const std::string& png_path) {
  const GridStyle& s = g.style;
  std::string out;
  out += "set encoding utf8\n";
  out += fmt::format("set terminal pngcairo size {},{} enhanced font 'Sans,{}' background rgb 'white'\n", l.width, l.height, s.font_size);
  out += fmt::format("set output {}\n", dquoted(png_path));
  // One plot unit per pixel, y downwards, no border, ticks or legend: labels are placed in
  // pixels. gnuplot centres each label's first line vertically on its anchor.
  out += "unset border\nunset tics\nunset key\n";
  out += "set lmargin at screen 0\nset rmargin at screen 1\nset bmargin at screen 0\nset tmargin at screen 1\n";
  out += fmt::format("set xrange [0:{}]\nset yrange [{}:0]\n", l.width, l.height);
  const auto label = [&out](const std::string& text, double x, double y, const char* align, const std::string& font) {
    out += fmt::format("set label {} at {:.1f},{:.1f} {} front{}\n", dquoted(text), x, y, align, font.empty() ? "" : " font '" + font + "'");
  };
  const double lh = static_cast<double>(l.line_height);
  if (!g.title.empty()) {
    const int title_font = s.font_size + kTitleExtraPoints;
    label(g.title, static_cast<double>(l.width) / 2.0, static_cast<double>(l.title_top) + static_cast<double>(line_pitch(title_font)) / 2.0, "center",
          fmt::format("Sans:Bold,{}", title_font));
  }
  for (std::size_t c = 0; c < g.column_titles.size(); ++c) {
    // The last line sits just above the cells, whatever the number of lines.
    const double n = static_cast<double>(line_count(g.column_titles[c]));
    const double first = static_cast<double>(l.header_bottom) - lh / 2.0 - (n - 1.0) * lh;
    label(g.column_titles[c], static_cast<double>(l.cell_x[c]) + static_cast<double>(l.cell_width) / 2.0, first, "center", "");
  }
  for (std::size_t r = 0; r < g.cell_titles.size(); ++r) {
    for (std::size_t c = 0; c < g.cell_titles[r].size(); ++c) {
      const std::string& t = g.cell_titles[r][c];
      if (t.empty()) continue;
      const double n = static_cast<double>(line_count(t));
      const double first = static_cast<double>(l.cell_title_bottom[r]) - lh / 2.0 - (n - 1.0) * lh;
      label(t, static_cast<double>(l.cell_x[c]) + static_cast<double>(l.cell_width) / 2.0, first, "center", "");
    }
  }
  for (std::size_t r = 0; r < g.row_labels.size(); ++r) {
    const double n = static_cast<double>(line_count(g.row_labels[r]));
    const double first = static_cast<double>(l.cell_y[r]) + static_cast<double>(l.cell_height) / 2.0 - (n - 1.0) * lh / 2.0;
    label(g.row_labels[r], static_cast<double>(l.label_right), first, "right", "");
  }
  if (!g.caption.empty()) label(g.caption, static_cast<double>(s.margin), static_cast<double>(l.caption_top) + lh / 2.0, "left", "");
  // Nothing to plot: NaN draws no point but makes gnuplot render the page with its labels.
  out += "plot NaN notitle\nunset output\n";
  return out;
}

void write_grid_png(const ImageGrid& g, const std::string& path) {
  const GridLayout l = grid_layout(g);
  require_writable_destination(path);
  RgbImage page;
  page.height = l.height;
  page.width = l.width;
  {
    ScratchDir scratch("pn-grid");
    const std::string text_png = scratch.path() + "/text.png", script = scratch.path() + "/grid.gp";
    write_file_atomic(script, grid_text_script(g, l, text_png));
    try {
      run_gnuplot(script, scratch.path() + "/gnuplot.log");
    } catch (const Error& e) {
      scratch.keep();
      throw Error("image grid for '{}': {} (script and log kept in '{}')", path, e.what(), scratch.path());
    }
    const Tensor text = io::read_image(text_png);
    if (text.dim(1) != l.height || text.dim(2) != l.width) {
      scratch.keep();
      throw Error("image grid for '{}': gnuplot drew a {}x{} page, expected {}x{} (height x width)", path, text.dim(1), text.dim(2),
                  l.height, l.width);
    }
    page.pixels.resize(static_cast<std::size_t>(l.height * l.width * 3));
    const std::int64_t plane = l.height * l.width;
    for (std::int64_t i = 0; i < plane; ++i) {
      for (std::int64_t ch = 0; ch < 3; ++ch) {
        const float v = std::clamp(text[ch * plane + i], 0.0f, 255.0f);
        page.pixels[static_cast<std::size_t>(3 * i + ch)] = static_cast<std::uint8_t>(std::lround(v));
      }
    }
  }
  for (std::int64_t r = 0; r < l.rows; ++r) {
    for (std::int64_t c = 0; c < l.columns; ++c) {
      paste(page, g.cells[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)], l.cell_x[static_cast<std::size_t>(c)],
            l.cell_y[static_cast<std::size_t>(r)]);
    }
  }
  io::write_png(path, page.pixels, page.height, page.width);
}

}  // namespace pn::viz
