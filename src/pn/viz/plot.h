// pn::viz: small two-dimensional figures (scatter clouds, lines, arrows), rendered by gnuplot to
// SVG and PNG. Chapter 3 draws the toy example's data cloud with the signal, distractor, filter
// and pattern directions; later chapters draw correlation curves with the same description.
//
// A Figure is plain data. Rendering writes one gnuplot script (the data inline, as datablocks),
// runs `gnuplot` on it in a scratch folder, and moves each finished image into place atomically
// (pn::AtomicFile), so a failed or interrupted run never leaves a half-written figure. gnuplot is
// run without a shell; when it is missing or fails, the pn::Error names the command and quotes
// gnuplot's own message.
//
// Text (titles, labels, legend entries) uses gnuplot's enhanced-text syntax: a_s sets s as a
// subscript, x^2 a superscript, and {} groups (a_{+-}). UTF-8 (ε, ρ, ᵀ) is passed through.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pn::viz {

struct Range {
  double min = 0.0, max = 1.0;
};

// A scatter cloud. Colours are "#rrggbb"; opacity 0 is invisible, 1 opaque (a large cloud reads
// best at 0.2-0.4, where its density shows).
struct PointSet {
  std::string label;  // legend entry; empty: none
  std::vector<double> x, y;
  std::string color = "#1f77b4";
  double opacity = 1.0;
  double size = 0.5;  // gnuplot point size (1 is about a character's height)
};

// A polyline, optionally with a marker at every vertex.
struct Line {
  std::string label;
  std::vector<double> x, y;
  std::string color = "#000000";
  double width = 2.0;
  bool markers = false;
  bool dashed = false;
};

// An arrow from (x0, y0) to (x1, y1), drawn above clouds and lines.
struct Arrow {
  std::string label;      // legend entry; empty: none
  std::string tip_label;  // short text placed just beyond the head; empty: none
  double x0 = 0.0, y0 = 0.0, x1 = 0.0, y1 = 0.0;
  std::string color = "#000000";
  double width = 3.0;
  bool dashed = false;
};

struct Figure {
  std::string title, xlabel, ylabel;
  bool equal_aspect = false;             // one unit on x has the length of one unit on y
  std::optional<Range> xrange, yrange;   // unset: gnuplot's autoscaling
  std::vector<std::pair<double, std::string>> xtics;  // custom tick labels, literal text (e.g. layer names); empty: numeric
  std::string key = "top left";          // gnuplot legend placement; empty hides the legend
  int width = 900, height = 900;         // pixels (PNG) and user units (SVG)
  std::vector<PointSet> points;          // drawn first
  std::vector<Line> lines;
  std::vector<Arrow> arrows;             // drawn last
};

enum class Format { svg, png };

// The gnuplot script that draws f into each (format, output path) pair, in order. Throws
// pn::Error for an inconsistent figure (mismatched x/y sizes, a malformed colour, non-finite
// coordinates, nothing to draw). Exposed so tests can inspect it without running gnuplot.
std::string gnuplot_script(const Figure& f, const std::vector<std::pair<Format, std::string>>& outputs);

// Renders f into each destination (written atomically, folders must exist). Throws pn::Error
// when a destination is not writable, gnuplot cannot be run, or gnuplot fails.
void render(const Figure& f, const std::vector<std::pair<Format, std::string>>& outputs);

// base + ".svg" and base + ".png" from one gnuplot run.
void write_svg_and_png(const Figure& f, const std::string& base);

}  // namespace pn::viz
