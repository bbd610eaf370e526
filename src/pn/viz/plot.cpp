#include "pn/viz/plot.h"

#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/viz/gnuplot.h"

#include <fmt/format.h>


#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>


namespace pn::viz {
namespace {

const char* format_name(Format f) { return f == Format::svg ? "svg" : "png"; }

// gnuplot's single-quoted strings take every character literally except the quote itself,
// which is doubled; enhanced-text markup (a_s, x^2) still applies.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

void check_color(const std::string& c, const char* what) {
  const bool ok = c.size() == 7 && c[0] == '#' &&
                  std::all_of(c.begin() + 1, c.end(), [](char h) { return std::isxdigit(static_cast<unsigned char>(h)) != 0; });
  if (!ok) throw Error("figure: {} colour '{}' is not of the form #rrggbb", what, c);
}

// gnuplot reads "#AARRGGBB" with AA the transparency (00 opaque, ff invisible).
std::string argb(const std::string& rgb, double opacity) {
  const double t = 1.0 - std::clamp(opacity, 0.0, 1.0);
  const int aa = static_cast<int>(std::lround(t * 255.0));
  return fmt::format("#{:02x}{}", aa, rgb.substr(1));
}

// NaN is written as a gap (gnuplot skips it: an undefined value in a curve); infinities are
// a caller's mistake.
void append_value(std::string& out, double v, const char* what) {
  if (std::isinf(v)) throw Error("figure: {} has an infinite coordinate", what);
  if (std::isnan(v)) {
    out += "NaN";
  } else {
    out += fmt::format("{:.7g}", v);
  }
}

void check_xy(const std::vector<double>& x, const std::vector<double>& y, const std::string& label, const char* kind) {
  if (x.size() != y.size()) {
    throw Error("figure: {} '{}' has {} x values but {} y values", kind, label, x.size(), y.size());
  }
}

std::string datablock(const std::string& name, const std::vector<double>& x, const std::vector<double>& y, const char* what) {
  std::string out = fmt::format("${} << EOD\n", name);
  for (std::size_t i = 0; i < x.size(); ++i) {
    append_value(out, x[i], what);
    out += ' ';
    append_value(out, y[i], what);
    out += '\n';
  }
  out += "EOD\n";
  return out;
}

std::string terminal(Format f, const Figure& fig) {
  if (f == Format::svg) {
    return fmt::format("set terminal svg size {},{} dynamic enhanced font 'Sans,16' background rgb 'white'\n", fig.width,
                       fig.height);
  }
  return fmt::format("set terminal pngcairo size {},{} enhanced font 'Sans,15' background rgb 'white'\n", fig.width,
                     fig.height);
}

}  // namespace

std::string gnuplot_script(const Figure& f, const std::vector<std::pair<Format, std::string>>& outputs) {
  if (f.width <= 0 || f.height <= 0 || f.width > 20000 || f.height > 20000) {
    throw Error("figure: size {}x{} is not between 1 and 20000 pixels", f.width, f.height);
  }
  if (f.points.empty() && f.lines.empty() && f.arrows.empty()) throw Error("figure '{}' has nothing to draw", f.title);
  for (const Range* r : {f.xrange ? &*f.xrange : nullptr, f.yrange ? &*f.yrange : nullptr}) {
    if (r && !(std::isfinite(r->min) && std::isfinite(r->max) && r->min < r->max)) {
      throw Error("figure: axis range [{}, {}] is empty or not finite", r->min, r->max);
    }
  }

  std::string s;
  s += "set encoding utf8\n";
  // Datablocks first: every plot command below reads from them.
  for (std::size_t i = 0; i < f.points.size(); ++i) {
    const PointSet& p = f.points[i];
    check_xy(p.x, p.y, p.label, "point set");
    check_color(p.color, "point set");
    s += datablock(fmt::format("P{}", i), p.x, p.y, "a point set");
  }
  for (std::size_t i = 0; i < f.lines.size(); ++i) {
    const Line& l = f.lines[i];
    check_xy(l.x, l.y, l.label, "line");
    check_color(l.color, "line");
    s += datablock(fmt::format("L{}", i), l.x, l.y, "a line");
  }
  for (std::size_t i = 0; i < f.arrows.size(); ++i) {
    const Arrow& a = f.arrows[i];
    check_color(a.color, "arrow");
    for (double v : {a.x0, a.y0, a.x1, a.y1}) {
      if (!std::isfinite(v)) throw Error("figure: arrow '{}' has a non-finite end point", a.label);
    }
    s += fmt::format("$A{} << EOD\n{:.7g} {:.7g} {:.7g} {:.7g}\nEOD\n", i, a.x0, a.y0, a.x1 - a.x0, a.y1 - a.y0);
  }

  s += fmt::format("set title {}\n", quoted(f.title));
  s += fmt::format("set xlabel {}\nset ylabel {}\n", quoted(f.xlabel), quoted(f.ylabel));
  if (f.equal_aspect) s += "set size ratio -1\n";
  if (f.xrange) s += fmt::format("set xrange [{:.7g}:{:.7g}]\n", f.xrange->min, f.xrange->max);
  if (f.yrange) s += fmt::format("set yrange [{:.7g}:{:.7g}]\n", f.yrange->min, f.yrange->max);
  if (!f.xtics.empty()) {
    s += "set xtics (";
    for (std::size_t i = 0; i < f.xtics.size(); ++i) {
      s += fmt::format("{}{} {:.7g}", i ? ", " : "", quoted(f.xtics[i].second), f.xtics[i].first);
    }
    // Custom ticks name categories (layer names such as conv1_1): literal text, not markup.
    s += ") noenhanced\n";
  }
  s += "set grid lc rgb '#d9d9d9' lw 1\n";
  s += "set xzeroaxis lt 1 lc rgb '#9a9a9a' lw 1\n";
  // The vertical zero axis only where x is a number; on a categorical axis x = 0 is the first category.
  if (f.xtics.empty()) s += "set yzeroaxis lt 1 lc rgb '#9a9a9a' lw 1\n";
  s += "set border lc rgb '#404040'\n";
  if (f.key.empty()) {
    s += "unset key\n";
  } else {
    s += fmt::format("set key {} box lc rgb '#bbbbbb' opaque samplen 2.5 spacing 1.25 width 1\n", f.key);
  }
  // Arrow-tip labels: just beyond the head, in the arrow's colour.
  for (const Arrow& a : f.arrows) {
    if (a.tip_label.empty()) continue;
    const double dx = a.x1 - a.x0, dy = a.y1 - a.y0, len = std::hypot(dx, dy);
    const double ux = len > 0 ? dx / len : 0.0, uy = len > 0 ? dy / len : 0.0;
    s += fmt::format("set label {} at {:.7g},{:.7g} center offset character {:.3f},{:.3f} tc rgb '{}' front\n",
                     quoted(a.tip_label), a.x1, a.y1, 1.3 * ux, 1.1 * uy, a.color);
  }

  // One plot command, repeated for every output. Clouds carry no legend sample of their own (a
  // tiny translucent dot is unreadable); a keyentry draws an opaque, larger one instead.
  std::vector<std::string> items;
  for (std::size_t i = 0; i < f.points.size(); ++i) {
    const PointSet& p = f.points[i];
    items.push_back(fmt::format("$P{} using 1:2 with points pt 7 ps {:.3g} lc rgb '{}' notitle", i, p.size, argb(p.color, p.opacity)));
    if (!p.label.empty()) {
      items.push_back(fmt::format("keyentry with points pt 7 ps {:.3g} lc rgb '{}' title {}", std::max(p.size, 1.5),
                                  argb(p.color, std::max(p.opacity, 0.85)), quoted(p.label)));
    }
  }
  for (std::size_t i = 0; i < f.lines.size(); ++i) {
    const Line& l = f.lines[i];
    items.push_back(fmt::format("$L{} using 1:2 with {} lw {:.3g} dt {} lc rgb '{}' {}", i, l.markers ? "linespoints pt 7 ps 1.2" : "lines",
                                l.width, l.dashed ? 2 : 1, l.color, l.label.empty() ? "notitle" : "title " + quoted(l.label)));
  }
  for (std::size_t i = 0; i < f.arrows.size(); ++i) {
    const Arrow& a = f.arrows[i];
    items.push_back(fmt::format("$A{} using 1:2:3:4 with vectors head filled size screen 0.022,18 lw {:.3g} dt {} lc rgb '{}' {}",
                                i, a.width, a.dashed ? 2 : 1, a.color, a.label.empty() ? "notitle" : "title " + quoted(a.label)));
  }
  std::string plot = "plot ";
  for (std::size_t i = 0; i < items.size(); ++i) plot += (i ? ", \\\n     " : "") + items[i];
  plot += '\n';

  for (const auto& [format, path] : outputs) {
    s += terminal(format, f);
    s += fmt::format("set output {}\n", quoted(path));
    s += plot;
    s += "unset output\n";
  }
  return s;
}

void render(const Figure& f, const std::vector<std::pair<Format, std::string>>& outputs) {
  if (outputs.empty()) return;
  for (const auto& out : outputs) require_writable_destination(out.second);
  ScratchDir scratch("pn-plot");
  std::vector<std::pair<Format, std::string>> raw;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    raw.emplace_back(outputs[i].first, fmt::format("{}/figure{}.{}", scratch.path(), i, format_name(outputs[i].first)));
  }
  const std::string script_path = scratch.path() + "/figure.gp";
  write_file_atomic(script_path, gnuplot_script(f, raw));
  bool ran = false;
  try {
    run_gnuplot(script_path, scratch.path() + "/gnuplot.log", &ran);
  } catch (const Error& e) {
    if (!ran) throw;
    scratch.keep();
    throw Error("{} (script and log kept in '{}')", e.what(), scratch.path());
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string image = read_file_bytes(raw[i].second);
    if (image.empty()) {
      throw Error("'gnuplot {}' exited normally but wrote no {} image", script_path, format_name(outputs[i].first));
    }
    write_file_atomic(outputs[i].second, image);
  }
}

void write_svg_and_png(const Figure& f, const std::string& base) {
  render(f, {{Format::svg, base + ".svg"}, {Format::png, base + ".png"}});
}

}  // namespace pn::viz
