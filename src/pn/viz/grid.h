// pn::viz: a labelled grid of images, as the paper's method comparisons show them (Fig. 5 and 6):
// one picture per cell, a title over every column, a label left of every row, an optional title
// above and a caption below. Chapter 8 draws its method and estimator grids with it.
//
// The cells are pasted pixel for pixel: gnuplot only draws the text (on a white page of the final
// size), the page is decoded and every cell copied into its place, so an explanation is never
// resampled, blurred or colour-shifted by the renderer. The layout depends only on the number of
// rows and columns, the cell size, the style and the number of text lines, except that a row label
// longer than style.row_label_width widens the label column (see grid_layout).
//
// Text uses gnuplot's enhanced syntax as plot.h does (S_{a+-} is a subscript); pass text that is
// not markup (file names, for instance) through plain_text(). '\n' starts a new line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pn::viz {

// An 8-bit RGB picture, interleaved row-major: height * width * 3 bytes (heatmap.h's layout).
struct RgbImage {
  std::int64_t height = 0, width = 0;
  std::vector<std::uint8_t> pixels;
};

struct GridStyle {
  std::int64_t gap = 6;               // pixels between neighbouring cells
  std::int64_t row_group = 0;         // > 0: an extra group_gap after every row_group rows
  std::int64_t group_gap = 14;
  std::int64_t margin = 12;           // around everything
  std::int64_t row_label_width = 170; // minimum width of the row-label column (0 and no labels: none)
  std::int64_t header_lines = 2;      // minimum lines reserved for the column titles
  int font_size = 12;                 // points (pngcairo: about 1.7 * font_size pixels per line)
};

struct ImageGrid {
  std::string title;                         // above everything; empty: none
  std::vector<std::string> column_titles;    // empty, or one per column
  std::vector<std::string> row_labels;       // empty, or one per row
  std::vector<std::vector<RgbImage>> cells;  // cells[row][column]; every cell the same size
  std::string caption;                       // below the grid; empty: none
  // Empty, or a title over every cell (cell_titles[row][column], "" for none): each row then gets
  // a title band of its own (at least style.header_lines lines). For panels wrapped over several
  // rows (viz/montage.h), where a column holds different things in each row; excludes column_titles.
  std::vector<std::vector<std::string>> cell_titles;
  GridStyle style;
};

// Where everything goes, in pixels of the final image (x to the right, y down).
struct GridLayout {
  std::int64_t width = 0, height = 0;      // the whole image
  std::int64_t rows = 0, columns = 0;
  std::int64_t cell_height = 0, cell_width = 0;
  std::int64_t line_height = 0;            // one line of text
  std::int64_t title_top = 0;              // first line of the title
  std::int64_t header_bottom = 0;          // baseline region of the column titles ends here
  std::int64_t label_right = 0;            // row labels are right-aligned at this x
  std::int64_t caption_top = 0;            // first line of the caption
  std::vector<std::int64_t> cell_x, cell_y;  // left column of each grid column, top row of each grid row
  std::vector<std::int64_t> cell_title_bottom;  // with cell_titles: where each row's title band ends
};

// Checks the grid (a pn::Error names the offending row/column and both sizes: cells of another
// size, a row with another number of columns, a pixel buffer of the wrong length, as many labels
// or titles as rows or columns, nothing to draw, a style value out of range) and lays it out.
GridLayout grid_layout(const ImageGrid& grid);

// The cells on a white page of the layout's size, without any text: what write_grid_png pastes
// over gnuplot's text page.
RgbImage compose_grid(const ImageGrid& grid);

// The gnuplot script that draws the text of the grid on a white page of the layout's size into
// png_path. Exposed for the tests, like plot.h's gnuplot_script.
std::string grid_text_script(const ImageGrid& grid, const GridLayout& layout, const std::string& png_path);

// Renders the grid to a PNG at path, atomically (a failed or interrupted run leaves no file).
// Throws pn::Error for an invalid grid (before anything runs), an unwritable destination, or when
// gnuplot is missing or fails (quoting its message).
void write_grid_png(const ImageGrid& grid, const std::string& path);

// text with gnuplot's enhanced-text markup characters (_ ^ { } @ & ~ \) escaped, so that it is
// shown literally.
std::string plain_text(const std::string& text);

// The integer factor that enlarges a side of `side` pixels to at least `target` pixels (1 when it
// is already that large): nearest-neighbour enlargement keeps 28-pixel images sharp.
std::int64_t enlargement(std::int64_t side, std::int64_t target);

}  // namespace pn::viz
