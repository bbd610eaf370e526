// pn::viz image grids (chapter 8): the layout, the composition of the cells, the refusals, and the
// PNG gnuplot's text is drawn into. The last suite checks the output of `fig5_method_grid --quick`
// when PN_FIG5_DIR names its folder (the quick-mode ctest sets it; otherwise it is skipped).
#include "pn/core/error.h"
#include "pn/io/image.h"
#include "pn/viz/grid.h"

#include "test_files.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using pn::viz::GridLayout;
using pn::viz::ImageGrid;
using pn::viz::RgbImage;
using pntest::message_of;

// A cell whose every byte says where it is: R = 10 r + c, G = y, B = x (all distinct in the tests).
RgbImage tagged_cell(std::int64_t h, std::int64_t w, int r, int c) {
  RgbImage img;
  img.height = h;
  img.width = w;
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) {
      img.pixels.push_back(static_cast<std::uint8_t>(10 * r + c));
      img.pixels.push_back(static_cast<std::uint8_t>(y));
      img.pixels.push_back(static_cast<std::uint8_t>(x));
    }
  }
  return img;
}

ImageGrid tagged_grid(int rows, int cols, std::int64_t h, std::int64_t w) {
  ImageGrid g;
  for (int r = 0; r < rows; ++r) {
    g.cells.emplace_back();
    for (int c = 0; c < cols; ++c) g.cells.back().push_back(tagged_cell(h, w, r, c));
  }
  return g;
}

std::array<int, 3> pixel(const RgbImage& img, std::int64_t y, std::int64_t x) {
  const auto i = static_cast<std::size_t>((y * img.width + x) * 3);
  return {img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]};
}

// Every pixel of every cell, at the layout's place.
void expect_cells_in_place(const ImageGrid& g, const GridLayout& l, const RgbImage& page) {
  for (std::size_t r = 0; r < g.cells.size(); ++r) {
    for (std::size_t c = 0; c < g.cells[r].size(); ++c) {
      const RgbImage& cell = g.cells[r][c];
      for (std::int64_t y = 0; y < cell.height; ++y) {
        for (std::int64_t x = 0; x < cell.width; ++x) {
          ASSERT_EQ(pixel(page, l.cell_y[r] + y, l.cell_x[c] + x), pixel(cell, y, x)) << "cell (" << r << ", " << c << ") pixel (" << y << ", " << x << ")";
        }
      }
    }
  }
}

TEST(grid, LayoutRegularSpacingAndMargins) {
  ImageGrid g = tagged_grid(2, 3, 5, 4);
  g.style.gap = 3;
  g.style.margin = 7;
  const GridLayout l = pn::viz::grid_layout(g);
  EXPECT_EQ(l.rows, 2);
  EXPECT_EQ(l.columns, 3);
  EXPECT_EQ(l.cell_height, 5);
  EXPECT_EQ(l.cell_width, 4);
  // No labels, titles or caption: the cells start at the margin and the page ends a margin after them.
  EXPECT_EQ(l.cell_x, (std::vector<std::int64_t>{7, 14, 21}));
  EXPECT_EQ(l.cell_y, (std::vector<std::int64_t>{7, 15}));
  EXPECT_EQ(l.width, 7 + 3 * 4 + 2 * 3 + 7);
  EXPECT_EQ(l.height, 7 + 2 * 5 + 3 + 7);
}

TEST(grid, LayoutLabelsTitlesAndGroupsMakeRoom) {
  ImageGrid g = tagged_grid(4, 2, 20, 30);
  g.style.row_group = 2;
  g.style.group_gap = 11;
  g.style.gap = 2;
  const GridLayout bare = pn::viz::grid_layout(g);
  // An extra group gap between rows 1 and 2 only.
  EXPECT_EQ(bare.cell_y[1] - bare.cell_y[0], 22);
  EXPECT_EQ(bare.cell_y[2] - bare.cell_y[1], 22 + 11);
  EXPECT_EQ(bare.cell_y[3] - bare.cell_y[2], 22);

  g.row_labels = {"a", "b", "c", "d"};
  g.column_titles = {"one", "two\nlines\nthree"};
  g.title = "title";
  g.caption = "caption\nsecond line";
  const GridLayout l = pn::viz::grid_layout(g);
  EXPECT_GE(l.cell_x[0], bare.cell_x[0] + g.style.row_label_width);  // the label column
  EXPECT_GT(l.label_right, 0);
  EXPECT_LT(l.label_right, l.cell_x[0]);
  // Three header lines above the first row, the title above them, two caption lines below.
  EXPECT_GE(l.cell_y[0], bare.cell_y[0] + 3 * l.line_height);
  EXPECT_LE(l.header_bottom, l.cell_y[0]);
  EXPECT_GE(l.caption_top, l.cell_y[3] + l.cell_height);
  EXPECT_GE(l.height, l.caption_top + 2 * l.line_height);
  // The cell spacing itself is unchanged.
  EXPECT_EQ(l.cell_y[2] - l.cell_y[1], 22 + 11);
  EXPECT_EQ(l.cell_x[1] - l.cell_x[0], 32);
}

TEST(grid, LayoutLongRowLabelsWidenTheLabelColumn) {
  ImageGrid g = tagged_grid(1, 1, 10, 10);
  g.row_labels = {"short"};
  const GridLayout narrow = pn::viz::grid_layout(g);
  g.row_labels = {std::string(60, 'W')};
  const GridLayout wide = pn::viz::grid_layout(g);
  EXPECT_EQ(narrow.cell_x[0] - narrow.label_right, wide.cell_x[0] - wide.label_right);
  EXPECT_GT(wide.label_right, narrow.label_right + 200);
  // Markup takes no room: a subscript's braces and underscore are not counted.
  g.row_labels = {"S_{a+-}"};
  EXPECT_EQ(pn::viz::grid_layout(g).width, narrow.width);
}

TEST(grid, ComposeEveryCellLandsAtItsPlaceOnWhite) {
  ImageGrid g = tagged_grid(3, 4, 6, 5);
  g.row_labels = {"r0", "r1", "r2"};
  g.column_titles = {"c0", "c1", "c2", "c3"};
  g.style.gap = 2;
  const GridLayout l = pn::viz::grid_layout(g);
  const RgbImage page = pn::viz::compose_grid(g);
  ASSERT_EQ(page.width, l.width);
  ASSERT_EQ(page.height, l.height);
  ASSERT_EQ(page.pixels.size(), static_cast<std::size_t>(l.width * l.height * 3));
  expect_cells_in_place(g, l, page);
  // Everything outside the cells is white: count the non-white pixels.
  std::int64_t coloured = 0;
  for (std::int64_t y = 0; y < page.height; ++y)
    for (std::int64_t x = 0; x < page.width; ++x)
      if (pixel(page, y, x) != std::array<int, 3>{255, 255, 255}) ++coloured;
  EXPECT_LE(coloured, 3 * 4 * 6 * 5);
  // The gap between columns 0 and 1 of row 0 is white.
  EXPECT_EQ(pixel(page, l.cell_y[0], l.cell_x[0] + 5), (std::array<int, 3>{255, 255, 255}));
}

TEST(grid, RefusesCellOfAnotherSizeNamingIt) {
  ImageGrid g = tagged_grid(2, 3, 6, 5);
  g.cells[1][2] = tagged_cell(6, 4, 1, 2);
  const std::string m = message_of([&] { pn::viz::grid_layout(g); });
  EXPECT_NE(m.find("cell (row 1, column 2) is 6x4"), std::string::npos) << m;
  EXPECT_NE(m.find("(row 0, column 0) is 6x5"), std::string::npos) << m;
  EXPECT_NE(m.find("same size"), std::string::npos) << m;
  // compose_grid and write_grid_png check first, before anything is drawn.
  EXPECT_THROW(pn::viz::compose_grid(g), pn::Error);
  pntest::TempDir dir;
  EXPECT_THROW(pn::viz::write_grid_png(g, dir.file("g.png")), pn::Error);
  EXPECT_EQ(dir.count(), 0u);
}

TEST(grid, RefusesRaggedRowsWrongBuffersAndCounts) {
  ImageGrid ragged = tagged_grid(2, 3, 4, 4);
  ragged.cells[1].pop_back();
  EXPECT_NE(message_of([&] { pn::viz::grid_layout(ragged); }).find("row 1 has 2 cells, but row 0 has 3"), std::string::npos);

  ImageGrid short_buffer = tagged_grid(1, 2, 4, 4);
  short_buffer.cells[0][1].pixels.pop_back();
  EXPECT_NE(message_of([&] { pn::viz::grid_layout(short_buffer); }).find("cell (row 0, column 1) has 47 bytes, but 4x4 RGB pixels need 48"),
            std::string::npos);

  ImageGrid labels = tagged_grid(2, 2, 4, 4);
  labels.row_labels = {"only one"};
  EXPECT_NE(message_of([&] { pn::viz::grid_layout(labels); }).find("1 row labels for 2 rows"), std::string::npos);
  ImageGrid titles = tagged_grid(2, 2, 4, 4);
  titles.column_titles = {"a", "b", "c"};
  EXPECT_NE(message_of([&] { pn::viz::grid_layout(titles); }).find("3 column titles for 2 columns"), std::string::npos);

  EXPECT_NE(message_of([] { pn::viz::grid_layout(ImageGrid{}); }).find("no cells"), std::string::npos);
  ImageGrid empty_cell = tagged_grid(1, 1, 4, 4);
  empty_cell.cells[0][0] = RgbImage{};
  EXPECT_NE(message_of([&] { pn::viz::grid_layout(empty_cell); }).find("must not be empty"), std::string::npos);

  ImageGrid style = tagged_grid(1, 1, 4, 4);
  style.style.gap = -1;
  EXPECT_NE(message_of([&] { pn::viz::grid_layout(style); }).find("style.gap = -1"), std::string::npos);

  ImageGrid huge = tagged_grid(1, 1, 4, 4);
  huge.cells[0][0] = tagged_cell(4, 30000, 0, 0);
  EXPECT_NE(message_of([&] { pn::viz::grid_layout(huge); }).find("exceeds the 20000 pixel limit"), std::string::npos);
}

TEST(grid, TextScriptPlacesEveryTextInPixels) {
  ImageGrid g = tagged_grid(2, 2, 10, 10);
  g.title = "The \"title\"";
  g.column_titles = {"first", "second\nline"};
  g.row_labels = {"row a", "row b"};
  g.caption = "caption";
  const GridLayout l = pn::viz::grid_layout(g);
  const std::string s = pn::viz::grid_text_script(g, l, "/tmp/x.png");
  EXPECT_NE(s.find(fmt::format("set terminal pngcairo size {},{}", l.width, l.height)), std::string::npos) << s;
  EXPECT_NE(s.find(fmt::format("set xrange [0:{}]", l.width)), std::string::npos) << s;
  EXPECT_NE(s.find(fmt::format("set yrange [{}:0]", l.height)), std::string::npos) << s;
  EXPECT_NE(s.find("set label \"The \\\"title\\\"\""), std::string::npos) << s;
  EXPECT_NE(s.find("set label \"second\\nline\""), std::string::npos) << s;
  EXPECT_NE(s.find(fmt::format("set label \"row b\" at {:.1f},", static_cast<double>(l.label_right))), std::string::npos) << s;
  EXPECT_NE(s.find("set output \"/tmp/x.png\""), std::string::npos) << s;
}

TEST(grid, PlainTextEscapesMarkup) {
  EXPECT_EQ(pn::viz::plain_text("a_b^c{d}@e&f~g\\h"), "a\\_b\\^c\\{d\\}\\@e\\&f\\~g\\\\h");
  EXPECT_EQ(pn::viz::plain_text("plain text 1.5"), "plain text 1.5");
}

TEST(grid, EnlargementFactor) {
  EXPECT_EQ(pn::viz::enlargement(28, 160), 6);
  EXPECT_EQ(pn::viz::enlargement(32, 160), 5);
  EXPECT_EQ(pn::viz::enlargement(160, 160), 1);
  EXPECT_EQ(pn::viz::enlargement(224, 160), 1);
  EXPECT_THROW(pn::viz::enlargement(0, 160), pn::Error);
}

RgbImage decode(const std::string& path) {
  const pn::Tensor t = pn::io::read_image(path);
  RgbImage img;
  img.height = t.dim(1);
  img.width = t.dim(2);
  const std::int64_t plane = img.height * img.width;
  for (std::int64_t i = 0; i < plane; ++i)
    for (std::int64_t c = 0; c < 3; ++c) img.pixels.push_back(static_cast<std::uint8_t>(t[c * plane + i]));
  return img;
}

TEST(grid, PngCellsArePixelExactAndTextIsDrawn) {
  ImageGrid g = tagged_grid(2, 3, 40, 30);
  g.title = "A grid";
  g.column_titles = {"Gradient", "PatternNet S_{a+-}", "three"};
  g.row_labels = {"true: Sneaker\npred: Sneaker", "second"};
  g.caption = "caption line";
  pntest::TempDir dir;
  const std::string path = dir.file("grid.png");
  pn::viz::write_grid_png(g, path);
  EXPECT_EQ(dir.count(), 1u);  // no temporary left behind
  const GridLayout l = pn::viz::grid_layout(g);
  const RgbImage page = decode(path);
  ASSERT_EQ(page.width, l.width);
  ASSERT_EQ(page.height, l.height);
  expect_cells_in_place(g, l, page);
  // Dark text pixels in the header band, the label column, the title and the caption band.
  const auto dark_in = [&](std::int64_t y0, std::int64_t y1, std::int64_t x0, std::int64_t x1) {
    int n = 0;
    for (std::int64_t y = y0; y < y1; ++y)
      for (std::int64_t x = x0; x < x1; ++x) {
        const auto p = pixel(page, y, x);
        if (p[0] < 100 && p[1] < 100 && p[2] < 100) ++n;
      }
    return n;
  };
  EXPECT_GT(dark_in(l.title_top, l.cell_y[0] - 2 * l.line_height, 0, l.width), 20);                  // title
  EXPECT_GT(dark_in(l.header_bottom - l.line_height, l.header_bottom, l.cell_x[0], l.cell_x[0] + l.cell_width), 20);  // "Gradient"
  EXPECT_GT(dark_in(l.cell_y[0], l.cell_y[0] + l.cell_height, 0, l.label_right + 1), 20);             // row 0's label
  EXPECT_GT(dark_in(l.caption_top, l.height, 0, l.width), 20);                                        // caption
}

TEST(grid, PngUnwritableDestinationIsAnErrorNamingIt) {
  const ImageGrid g = tagged_grid(1, 1, 4, 4);
  const std::string m = message_of([&] { pn::viz::write_grid_png(g, "/nonexistent-folder/grid.png"); });
  EXPECT_NE(m.find("/nonexistent-folder"), std::string::npos) << m;
}

// ---------------------------------------------------------------------------------------------
// The output of `fig5_method_grid --quick` (the quick cnn: 28x28 inputs enlarged 6x to 168-pixel
// cells; four images; the methods grid with 7 columns, the estimator grid with 2 images x
// (signal, attribution) rows and 4 columns).

std::string fig5_dir() {
  const char* d = std::getenv("PN_FIG5_DIR");
  return d ? std::string(d) : std::string();
}

// A grid of blank cells with the structure fig5_method_grid draws (its texts fit the cells, so the
// page size follows from the structure alone).
GridLayout expected_layout(int rows, int cols, std::int64_t cell, int title_lines, int caption_lines, int header_lines,
                           std::int64_t row_group) {
  ImageGrid g;
  RgbImage blank;
  blank.height = blank.width = cell;
  blank.pixels.assign(static_cast<std::size_t>(cell * cell * 3), 0);
  g.cells.assign(static_cast<std::size_t>(rows), std::vector<RgbImage>(static_cast<std::size_t>(cols), blank));
  g.row_labels.assign(static_cast<std::size_t>(rows), "x");
  g.column_titles.assign(static_cast<std::size_t>(cols), "t");
  for (int i = 1; i < header_lines; ++i) g.column_titles[0] += "\nt";
  g.title = "t";
  for (int i = 1; i < title_lines; ++i) g.title += "\nt";
  g.caption = "c";
  for (int i = 1; i < caption_lines; ++i) g.caption += "\nc";
  g.style.row_group = row_group;
  g.style.header_lines = header_lines;
  return pn::viz::grid_layout(g);
}

TEST(fig5, QuickFiguresHaveTheExpectedSize) {
  const std::string dir = fig5_dir();
  if (dir.empty()) GTEST_SKIP() << "PN_FIG5_DIR is not set (the fig5_method_grid --quick ctest sets it)";
  const auto size_of = [&](const std::string& name) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    EXPECT_TRUE(std::filesystem::exists(path)) << path;
    return decode(path);
  };
  const RgbImage methods = size_of("fig5_methods_cnn.png");
  const GridLayout lm = expected_layout(4, 7, 168, 1, 3, 3, 0);
  EXPECT_EQ(methods.width, lm.width);
  EXPECT_EQ(methods.height, lm.height);
  const RgbImage estimators = size_of("fig6_estimators_cnn.png");
  const GridLayout le = expected_layout(4, 4, 168, 2, 3, 3, 2);
  EXPECT_EQ(estimators.width, le.width);
  EXPECT_EQ(estimators.height, le.height);
  // The input column shows a Fashion-MNIST garment: black background, bright object.
  int bright = 0, black = 0;
  for (std::int64_t y = 0; y < 168; ++y)
    for (std::int64_t x = 0; x < 168; ++x) {
      const auto p = pixel(methods, lm.cell_y[0] + y, lm.cell_x[0] + x);
      EXPECT_TRUE(p[0] == p[1] && p[1] == p[2]) << "the input cell is gray";
      bright += p[0] > 128;
      black += p[0] == 0;
    }
  EXPECT_GT(bright, 168 * 168 / 20);
  EXPECT_GT(black, 168 * 168 / 5);
  // The attribution columns are coloured (seismic), not gray.
  int coloured = 0;
  for (std::int64_t y = 0; y < 168; ++y)
    for (std::int64_t x = 0; x < 168; ++x) {
      const auto p = pixel(methods, lm.cell_y[0] + y, lm.cell_x[6] + x);
      coloured += (p[0] != p[2]);
    }
  EXPECT_GT(coloured, 168 * 168 / 20);
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

TEST(fig5, QuickCsvHasOneFiniteRowPerImageAndExplanation) {
  const std::string dir = fig5_dir();
  if (dir.empty()) GTEST_SKIP() << "PN_FIG5_DIR is not set (the fig5_method_grid --quick ctest sets it)";
  std::ifstream in(std::filesystem::path(dir) / "grid_cnn.csv");
  ASSERT_TRUE(in) << dir << "/grid_cnn.csv";
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const std::vector<std::string> header = split_csv(line);
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* name : {"image", "label", "target", "prediction", "confidence", "method", "estimator", "sum", "max_abs",
                           "background_share", "roughness", "target_logit"}) {
    ASSERT_TRUE(col.count(name)) << "column " << name << " missing from " << line;
  }
  std::map<std::pair<std::string, std::string>, std::map<std::string, int>> seen;  // (method, estimator) -> image -> count
  std::set<std::string> images;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++rows;
    const std::vector<std::string> f = split_csv(line);
    ASSERT_EQ(f.size(), header.size()) << line;
    for (const char* name : {"label", "target", "prediction", "confidence", "sum", "max_abs", "background_share", "roughness", "target_logit"}) {
      const std::string& v = f[col[name]];
      char* end = nullptr;
      const double d = std::strtod(v.c_str(), &end);
      EXPECT_TRUE(!v.empty() && end == v.c_str() + v.size() && std::isfinite(d)) << name << " = '" << v << "' in " << line;
    }
    const double conf = std::strtod(f[col["confidence"]].c_str(), nullptr);
    EXPECT_GT(conf, 0.0);
    EXPECT_LE(conf, 1.0);
    EXPECT_EQ(f[col["target"]], f[col["prediction"]]) << "every explanation is of the predicted class";
    EXPECT_GT(std::strtod(f[col["max_abs"]].c_str(), nullptr), 0.0) << "an all-zero explanation: " << line;
    ++seen[{f[col["method"]], f[col["estimator"]]}][f[col["image"]]];
    images.insert(f[col["image"]]);
  }
  EXPECT_EQ(images.size(), 4u);
  for (const auto& [key, per_image] : seen) {
    EXPECT_EQ(per_image.size(), images.size()) << key.first << " [" << key.second << "] is missing images";
    for (const auto& [image, count] : per_image) EXPECT_EQ(count, 1) << key.first << " [" << key.second << "] image " << image;
  }
  // The six methods of the grid and the estimator comparison's five more.
  for (const auto& key : std::vector<std::pair<std::string, std::string>>{{"gradient", "none"},
                                                                          {"deconvnet", "none"},
                                                                          {"guided_backprop", "none"},
                                                                          {"pattern_net", "two_component"},
                                                                          {"lrp_epsilon", "none"},
                                                                          {"pattern_attribution", "two_component"},
                                                                          {"input_x_gradient", "none"},
                                                                          {"pattern_net", "filter"},
                                                                          {"pattern_attribution", "filter"},
                                                                          {"pattern_net", "linear"},
                                                                          {"pattern_attribution", "linear"}}) {
    EXPECT_TRUE(seen.count(key)) << key.first << " [" << key.second << "] missing";
  }
  EXPECT_EQ(seen.size(), 11u);
  EXPECT_EQ(rows, 4 * 11);
}

}  // namespace
