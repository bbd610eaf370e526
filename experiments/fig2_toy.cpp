// Fig. 2 of the paper: the two-dimensional toy (§2). Left panel: the data cloud x = a_s·y + a_d·ε
// with the signal direction a_s, the distractor direction a_d, the fitted filter w and the linear
// pattern a. Right panel: the distractor is rotated (a_d at 10°, 20°, ..., 170°; a_s = (1, 0)
// fixed); for each angle the linear model and the linear pattern are fitted again. The filter turns
// with the distractor, because it must cancel it (w ⟂ a_d), while the pattern stays on a_s: the
// filter says how to extract y, not where y lives in x. Textbook chapter 3.
//   fig2_toy [--quick] [--out DIR] [--seed S] [--noise SIGMA]
#include "common.h"

#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/core/tensor.h"
#include "pn/explain/estimator.h"
#include "pn/explain/pattern_stats.h"
#include "pn/toy/toy2d.h"
#include "pn/viz/plot.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

namespace pn::experiments {
namespace {

using toy::Vec2;

double degrees(double radians) { return radians * 180.0 / std::numbers::pi; }
double radians(double degrees) { return degrees * std::numbers::pi / 180.0; }
double angle_of(const Vec2& v) { return degrees(std::atan2(v[1], v[0])); }
double cosine(const Vec2& a, const Vec2& b) {
  return (a[0] * b[0] + a[1] * b[1]) / (std::hypot(a[0], a[1]) * std::hypot(b[0], b[1]));
}
double tidy(double v) { return std::fabs(v) < 5e-7 ? 0.0 : v; }  // no "-0.000000" in the tables

struct RotationRow {
  double angle_distractor = 0;  // degrees, of a_d
  Vec2 a_d{}, w{}, pattern{};
  double b = 0, mse = 0;
  double angle_w = 0, angle_pattern = 0, cos_w_a_d = 0;
  double angle_w_theory = 0;  // w = (1, -cot θ) points at θ - 90°
  std::vector<float> cloud;   // a few rows for the arrow figure
};

// The linear pattern a = cov[x, y] / (wᵀcov[x, y]) of the fitted output y = wᵀx + b, through the
// same statistics and estimator as the networks' patterns.
Vec2 linear_pattern_of(const toy::ToyData& d, const toy::LinearFit& fit) {
  std::vector<float> z(static_cast<std::size_t>(d.n));
  for (std::int64_t i = 0; i < d.n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    z[k] = static_cast<float>(fit.w[0] * d.x[2 * k] + fit.w[1] * d.x[2 * k + 1] + fit.b);
  }
  explain::PatternStats stats(2, 1, false, false);
  stats.accumulate_rows(d.x.data(), z.data(), d.n);
  const Tensor w = Tensor::from(Shape{1, 2}, std::vector<float>{static_cast<float>(fit.w[0]), static_cast<float>(fit.w[1])});
  explain::FitReport report;
  const Tensor a = explain::linear_pattern(stats, w, report);
  if (report.dead > 0) throw Error("fig2: the fitted output has no variance; no pattern can be defined");
  return {a[0], a[1]};
}

std::vector<RotationRow> rotation(std::int64_t n, double sigma_eps, double noise, std::uint64_t seed, std::int64_t cloud_points) {
  // One stream per angle, so an angle's numbers do not depend on which other angles run.
  Rng master(seed ^ 0xf162ULL);
  std::vector<RotationRow> rows;
  for (int deg = 10; deg <= 170; deg += 10) {
    RotationRow r;
    r.angle_distractor = deg;
    const double t = radians(deg);
    r.a_d = {std::cos(t), std::sin(t)};
    const toy::ToyData d = toy::make_linear_data_along(n, sigma_eps, noise, r.a_d, master.next_u64());
    const toy::LinearFit fit = toy::fit_closed_form(d);
    r.w = fit.w;
    r.b = fit.b;
    r.mse = fit.mse;
    r.pattern = linear_pattern_of(d, fit);
    r.angle_w = angle_of(r.w);
    r.angle_pattern = angle_of(r.pattern);
    r.cos_w_a_d = cosine(r.w, r.a_d);
    r.angle_w_theory = deg - 90.0;
    const std::int64_t k = std::min(cloud_points, d.n);
    r.cloud.assign(d.x.begin(), d.x.begin() + 2 * k);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string rotation_csv(const std::vector<RotationRow>& rows) {
  std::string s = "angle_distractor,angle_w,angle_pattern,cos_w_a_d,angle_w_theory,a_d1,a_d2,w1,w2,b,a1,a2,mse\n";
  for (const auto& r : rows) {
    s += fmt::format("{:g},{:.6f},{:.6f},{:.6e},{:g},{:.6f},{:.6f},{:.6f},{:.6f},{:.6e},{:.6f},{:.6f},{:.6e}\n", r.angle_distractor,
                     tidy(r.angle_w), tidy(r.angle_pattern), r.cos_w_a_d, r.angle_w_theory, r.a_d[0], r.a_d[1], r.w[0], r.w[1], r.b, r.pattern[0],
                     r.pattern[1], r.mse);
  }
  return s;
}

viz::Line line(const std::string& label, const std::string& color, bool markers, bool dashed, double width = 2.5) {
  viz::Line l;
  l.label = label;
  l.color = color;
  l.markers = markers;
  l.dashed = dashed;
  l.width = width;
  return l;
}

// The right panel of Fig. 2 as angles: where the filter and the pattern point as a_d turns.
viz::Figure rotation_figure(const std::vector<RotationRow>& rows, std::int64_t n) {
  viz::Figure f;
  f.title = fmt::format("Rotating the distractor a_d (a_s = (1, 0) fixed, {} samples per angle)", n);
  f.xlabel = "angle of the distractor direction a_d (degrees)";
  f.ylabel = "angle of the direction (degrees)";
  f.xrange = viz::Range{0.0, 180.0};
  f.yrange = viz::Range{-100.0, 190.0};
  f.key = "top left";
  f.width = 1000;
  f.height = 720;
  viz::Line distractor = line("distractor a_d", "#8c564b", false, true, 1.5);
  viz::Line theory = line("theory for w: angle(a_d) - 90° (w ⟂ a_d)", "#d62728", false, true, 1.5);
  viz::Line w = line("filter w (least squares)", "#d62728", true, false);
  viz::Line signal = line("signal direction a_s", "#2ca02c", false, true, 1.5);
  viz::Line a = line("pattern a (S_a)", "#7b3fb5", true, false);
  for (const auto& r : rows) {
    distractor.x.push_back(r.angle_distractor);
    distractor.y.push_back(r.angle_distractor);
    theory.x.push_back(r.angle_distractor);
    theory.y.push_back(r.angle_w_theory);
    w.x.push_back(r.angle_distractor);
    w.y.push_back(r.angle_w);
    signal.x.push_back(r.angle_distractor);
    signal.y.push_back(0.0);
    a.x.push_back(r.angle_distractor);
    a.y.push_back(r.angle_pattern);
  }
  f.lines = {distractor, theory, signal, w, a};
  return f;
}

// Two of the rotated toys drawn as in the left panel: two clouds, two distractors, two filters,
// and two patterns that both lie on a_s. Angles 90° apart would be a poor choice: one filter would
// then lie exactly on the other distractor.
viz::Figure rotation_arrows_figure(const RotationRow& p, const RotationRow& q) {
  viz::Figure f;
  f.title = fmt::format("a_d at {:g}° and at {:g}°: the filters differ, the patterns agree", p.angle_distractor, q.angle_distractor);
  f.xlabel = "x_1";
  f.ylabel = "x_2";
  f.equal_aspect = true;
  f.key = "below left vertical Left reverse";
  f.width = 950;
  f.height = 1050;
  const char* cloud_colors[2] = {"#4c72b0", "#dd8452"};
  const char* filter_colors[2] = {"#d62728", "#9467bd"};
  const char* distractor_colors[2] = {"#2b4f8a", "#a0522d"};  // darker shades of the clouds
  const RotationRow* both[2] = {&p, &q};
  for (int i = 0; i < 2; ++i) {
    const RotationRow& r = *both[i];
    viz::PointSet cloud;
    cloud.label = fmt::format("data with a_d at {:g}°", r.angle_distractor);
    cloud.color = cloud_colors[i];
    cloud.opacity = 0.25;
    cloud.size = 0.4;
    for (std::size_t k = 0; k + 1 < r.cloud.size(); k += 2) {
      cloud.x.push_back(r.cloud[k]);
      cloud.y.push_back(r.cloud[k + 1]);
    }
    f.points.push_back(std::move(cloud));
  }
  f.arrows.push_back(toy::arrow("a_s = (1, 0)   signal direction", "a_s", toy::kSignalDirection, "#2ca02c", 7.0, false));
  for (int i = 0; i < 2; ++i) {
    const RotationRow& r = *both[i];
    f.arrows.push_back(toy::arrow(fmt::format("a_d at {:g}°", r.angle_distractor), "a_d", r.a_d, distractor_colors[i], 2.5, true));
    f.arrows.push_back(toy::arrow(fmt::format("w = ({:.2f}, {:.2f})   filter for a_d at {:g}°", r.w[0], r.w[1], r.angle_distractor), "w",
                             r.w, filter_colors[i], 3.0, false));
    f.arrows.push_back(toy::arrow(fmt::format("a = ({:.2f}, {:.2f})   pattern for a_d at {:g}°", r.pattern[0], r.pattern[1], r.angle_distractor),
                             "", r.pattern, filter_colors[i], 2.0, true));
  }
  toy::fit_ranges(f);  // an equal-aspect box around the clouds and arrow tips
  return f;
}

const RotationRow& row_at(const std::vector<RotationRow>& rows, double angle) {
  for (const auto& r : rows)
    if (r.angle_distractor == angle) return r;
  throw Error("fig2: no rotation row at {}°", angle);
}

void run(const Options& o, double noise) {
  if (!(std::isfinite(noise) && noise >= 0 && noise <= 10)) throw Error("--noise must be a standard deviation in [0, 10], got {}", noise);
  const auto t0 = std::chrono::steady_clock::now();

  // Left panel: the toy of src/pn/toy (a_d = (1, 1)), as `toy2d` draws it.
  toy::ToyConfig c;
  c.seed = o.seed;
  c.noise = noise;
  if (o.quick) {
    c.n = 4000;
    c.train_steps = 400;
    c.figure_points = 1500;
  }
  toy::ToyResult toy_result;
  toy_result.config = c;
  toy_result.linear = toy::run_linear_toy(c);
  const toy::LinearToyResult& lin = toy_result.linear;
  viz::write_svg_and_png(toy::linear_figure(toy_result), out_path(o, "fig2_toy"));

  // Right panel: the rotated distractor. A pattern estimated from n samples is off a_s by about
  // σ_ε σ_y / (√n var y) radians (the sample covariance of ε and y), 0.35° at n = 20000.
  const std::int64_t n = o.quick ? 20000 : 200000;
  const std::vector<RotationRow> rows = rotation(n, c.sigma_eps, noise, o.seed, o.quick ? 800 : 1500);
  write_output(o, "rotation.csv", rotation_csv(rows));
  viz::write_svg_and_png(rotation_figure(rows, n), out_path(o, "fig2_rotation"));
  viz::write_svg_and_png(rotation_arrows_figure(row_at(rows, 30), row_at(rows, 150)), out_path(o, "fig2_rotation_arrows"));

  double max_cos = 0, max_pattern = 0, w_min = 1e9, w_max = -1e9, max_theory = 0;
  for (const auto& r : rows) {
    max_cos = std::max(max_cos, std::fabs(r.cos_w_a_d));
    max_pattern = std::max(max_pattern, std::fabs(r.angle_pattern));
    w_min = std::min(w_min, r.angle_w);
    w_max = std::max(w_max, r.angle_w);
    max_theory = std::max(max_theory, std::fabs(r.angle_w - r.angle_w_theory));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::string md;
  md += "# Fig. 2: the linear toy and the rotated distractor\n\n";
  md += fmt::format("Run: `fig2_toy{}{}` (seed {}), {:.1f} s.\n\n", o.quick ? " --quick" : "", noise > 0 ? fmt::format(" --noise {:g}", noise) : "",
                    o.seed, secs);
  md += "## Setup\n\n";
  md += fmt::format(
      "x = a_s·y + a_d·ε{}, a_s = (1, 0), y ~ U[-1, 1], ε ~ N(0, {:g}²) (paper §2; the paper gives neither the distribution of y "
      "nor σ_ε). Left panel: {} samples (src/pn/toy's fitting set); right panel: {} samples per distractor angle. The linear model "
      "ŷ = wᵀx + b is fitted by least squares; the pattern is the linear estimator S_a of src/pn/explain, a = cov[x, y] / "
      "(wᵀcov[x, y]), from the statistics of the fitted output.\n\n",
      noise > 0 ? fmt::format(" + N(0, {:g}² I)", noise) : "", c.sigma_eps, c.n, n);
  md += "## Left panel (`fig2_toy.svg/.png`): a_d = (1, 1)\n\n";
  md += fmt::format("- filter w = ({:.4f}, {:.4f}) (ideal (1, -1)); angle to a_d {:.3f}°\n", lin.closed_form.w[0], lin.closed_form.w[1],
                    lin.angle_w_a_d_deg);
  md += fmt::format("- trained with Adam: w = ({:.4f}, {:.4f})\n", lin.trained.w[0], lin.trained.w[1]);
  md += fmt::format("- pattern a (S_a) = ({:.4f}, {:.4f}) (the signal direction a_s = (1, 0); max |a - a_s| = {:.4f})\n",
                    lin.pattern_linear[0], lin.pattern_linear[1], lin.pattern_error);
  md += fmt::format("- S_w's pattern w/wᵀw = ({:.4f}, {:.4f}) points along the filter, not the signal\n\n", lin.pattern_filter[0],
                    lin.pattern_filter[1]);
  md += "## Right panel (`fig2_rotation.svg/.png`, `rotation.csv`): a_d = (cos θ, sin θ), θ = 10°, 20°, ..., 170°\n\n";
  md += "| θ (a_d) | angle of w | theory θ - 90° | cos(w, a_d) | angle of a |\n|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows) {
    md += fmt::format("| {:g}° | {:.2f}° | {:g}° | {:.1e} | {:.2f}° |\n", r.angle_distractor, tidy(r.angle_w), r.angle_w_theory, r.cos_w_a_d,
                      tidy(r.angle_pattern));
  }
  md += fmt::format(
      "\nThe filter turns with the distractor: its angle spans {:.1f}° .. {:.1f}° ({:.1f}° in all), within {:.2g}° of θ - 90° "
      "everywhere, and max |cos(w, a_d)| = {:.1e}, i.e. w stays orthogonal to the distractor{}. The pattern does not move: its angle "
      "stays within {:.2f}° of a_s (0°) at every θ. `fig2_rotation_arrows.svg/.png` draws the toys at θ = 30° and 150°: two filters "
      "pointing in different directions, two patterns on a_s.\n\n",
      w_min, w_max, w_max - w_min, max_theory, max_cos,
      noise > 0 ? " (as far as the isotropic noise allows: noise shrinks w towards the signal direction)" : "", max_pattern);
  md += "This is the paper's point: the filter w is determined by the distractor as much as by the signal, so visualising w "
        "(the gradient, for a linear model) shows how y is extracted, not what in x is signal; the pattern a does.\n\n";
  md += "Not comparable: the paper gives no sample size, σ_ε or distribution of y for Fig. 2, so only the directions can be "
        "compared with it, not a particular cloud.\n";
  write_output(o, "summary.md", md);
  fmt::print("fig2_toy: w angle spans {:.1f}° .. {:.1f}°, max |cos(w, a_d)| = {:.1e}, max |pattern angle| = {:.2f}°; written to {} "
             "({:.1f} s)\n",
             w_min, w_max, max_cos, max_pattern, o.out, secs);
}

}  // namespace
}  // namespace pn::experiments

int main(int argc, char** argv) {
  double noise = 0.0;
  return pn::experiments::run_main(
      argc, argv, "fig2_toy: the paper's Fig. 2, the 2-D toy and the rotated distractor", "out/fig2",
      [&noise](CLI::App& app, pn::experiments::Options&) {
        app.add_option("--noise", noise, "Standard deviation of isotropic Gaussian noise added to x")->capture_default_str();
      },
      [&noise](const pn::experiments::Options& o) { pn::experiments::run(o, noise); });
}
