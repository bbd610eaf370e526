// `toy2d`: the paper's two-dimensional example (§2, Fig. 2) and the ReLU toy of chapter 3.
// Fits the linear model in closed form and with the autograd core, prints what every explanation
// method and signal estimator makes of it (or, with --json, every number as one JSON object) and,
// with --out, draws the figures. The work is in src/pn/toy/toy2d.cpp; this file is the interface.
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/toy/toy2d.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

namespace {

using pn::toy::Vec2;

struct Options {
  std::int64_t n = 100000;
  std::uint64_t seed = 1;
  double noise = 0.0;
  std::string out;
  bool json = false;
};

std::string v2(const Vec2& v) { return fmt::format("({:8.4f}, {:8.4f})", v[0] + 0.0, v[1] + 0.0); }
std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : std::string("n/a"); }

// The output folder is created (with its parents) and checked before any work, so a bad --out
// fails at once.
void prepare_out_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw pn::Error("--out: cannot create folder '{}': {}", dir, ec.message());
  if (!std::filesystem::is_directory(dir)) throw pn::Error("--out: '{}' is not a folder", dir);
  pn::require_writable_destination(dir + "/toy2d.svg");
}

void print_report(const pn::toy::ToyResult& r) {
  const auto& c = r.config;
  const auto& l = r.linear;
  fmt::print("toy2d: x = a_s·y + a_d·ε,  a_s = (1, 0), a_d = (1, 1),  y ~ U[-1, 1],  ε ~ N(0, {:g}²)", c.sigma_eps);
  if (c.noise > 0) fmt::print(",  + isotropic noise N(0, {:g}² I)", c.noise);
  fmt::print("\n       {} samples each to fit, to fit the read-out v of rho, and to measure rho (seed {})\n\n", c.n, c.seed);

  fmt::print("1. The linear model ŷ = wᵀx + b\n");
  fmt::print("   {:<26} {:<22} {:>9} {:>11} {:>14} {:>14}\n", "fit", "w", "b", "MSE", "angle(w, a_d)", "cos(w, (1,-1))");
  const auto fit_row = [](const char* name, const pn::toy::LinearFit& f, double angle, double cosine) {
    fmt::print("   {:<26} {:<22} {:>9.4f} {:>11.3e} {:>13.3f}° {:>14.6f}\n", name, v2(f.w), f.b + 0.0, f.mse, angle, cosine);
  };
  fit_row("closed form (least sq.)", l.closed_form, l.angle_w_a_d_deg, l.cos_w_ideal);
  fit_row("autograd (Adam on MSE)", l.trained, l.angle_trained_a_d_deg, l.cos_trained_ideal);
  fmt::print("   {:<26} {:<22} {:>9} {:>11} {:>13}° {:>14}\n", "ideal (noise-free)", v2({1.0, -1.0}), "0", "0", "90.000", "1");
  fmt::print("   (autograd: {} steps of {} samples, {:.1f} epochs, cosine-decayed learning rate from {:g})\n\n", l.trained.steps,
             c.train_batch, l.trained.epochs, c.train_lr);

  fmt::print("2. Patterns a (wᵀa = 1) fitted on the statistics of wᵀx, against the signal direction a_s = (1, 0)\n");
  fmt::print("   {:<34} {}\n", "estimator", "a");
  fmt::print("   {:<34} {}\n", "S_w    filter: w / wᵀw", v2(l.pattern_filter));
  fmt::print("   {:<34} {:<22}  max |a - a_s| = {:.4f}\n", "S_a    linear: cov[x,y] / var y", v2(l.pattern_linear), l.pattern_error);
  fmt::print("   {:<34} {}\n", "S_a+-  two-component: a_+", v2(l.pattern_positive));
  fmt::print("   {:<34} {}\n\n", "S_a+-  two-component: a_-", v2(l.pattern_negative));

  const auto& m = l.sample;
  fmt::print("3. One sample: y = {:g}, ε = {:g}, x = ({:g}, {:g}); output wᵀx = {:.4f}\n", m.y, m.eps, m.x[0], m.x[1], m.output);
  fmt::print("   {:<40} {:<12} {:<22} {}\n", "method", "family", "output", "sum");
  const auto row = [](const char* method, const char* family, const Vec2& v, bool sum) {
    if (sum) {
      fmt::print("   {:<40} {:<12} {:<22} {:.4f}\n", method, family, v2(v), v[0] + v[1]);
    } else {
      fmt::print("   {:<40} {:<12} {}\n", method, family, v2(v));
    }
  };
  row("gradient / saliency: w", "function", m.gradient, false);
  row("S_x signal: x", "signal", m.signal_identity, false);
  row("S_w signal: w wᵀx / wᵀw", "signal", m.signal_filter, false);
  row("S_a signal: a wᵀx (PatternNet)", "signal", m.signal_pattern, false);
  row("LRP / z-rule: w ⊙ x (S_x)", "attribution", m.attribution_identity, true);
  row("w²-rule: w ⊙ S_w(x)", "attribution", m.attribution_filter, true);
  row("PatternAttribution: w ⊙ a wᵀx (S_a)", "attribution", m.attribution_pattern, true);
  fmt::print("   (true signal a_s·y = ({:g}, 0), distractor a_d·ε = ({:g}, {:g}))\n\n", m.y, m.eps, m.eps);

  fmt::print("4. Quality rho(S) = 1 - max_v corr(wᵀx, vᵀ(x - S(x))): patterns on set 1, v on set 2, rho on set 3\n");
  fmt::print("   {:<26} {:>8}\n", "estimator", "rho");
  fmt::print("   {:<26} {:>8}   (the residual x - S(x) is zero)\n", "S_x    identity", "n/a");
  fmt::print("   {:<26} {:>8}   (mean of {} random directions; median {}, range {} .. {})\n", "S_rand random", num(l.rho_random.mean),
             l.rho_random.draws, num(l.rho_random.median), num(l.rho_random.min), num(l.rho_random.max));
  fmt::print("   {:<26} {:>8}   (noise-free population value 1 - σ_y/sqrt(σ_y² + 4σ_ε²) = {:.4f})\n", "S_w    filter",
             num(l.rho_filter), l.rho_filter_population);
  fmt::print("   {:<26} {:>8}\n", "S_a    linear", num(l.rho_linear));
  fmt::print("   {:<26} {:>8}\n", "S_a+-  two-component", num(l.rho_two_component));
  fmt::print("   (rho is measured on held-out data; a read-out whose correlation turns negative there counts as 0)\n\n");

  const auto& u = r.relu;
  fmt::print("5. ReLU toy: h = relu(wᵀx + b), w = (1, -1), b = 0; x = a_s·y + a_d·(ε + {:g}·[y <= 0])\n", c.relu_shift);
  fmt::print("   the neuron is on for {:.1f}% of the samples; the distractor's mean moves by {:g}·a_d when it is off\n",
             100.0 * u.active_fraction, c.relu_shift);
  fmt::print("   {:<30} {:<22} {:<22} {}\n", "pattern", "fitted", "noise-free population", "max |a - a_s|");
  fmt::print("   {:<30} {:<22} {:<22} {:.4f}\n", "S_a    linear a", v2(u.pattern_linear), v2(u.pattern_linear_population),
             u.pattern_error_linear);
  fmt::print("   {:<30} {:<22} {:<22} {:.4f}\n", "S_a+-  a_+ (neuron on)", v2(u.pattern_positive), v2(u.pattern_positive_population),
             u.pattern_error_positive);
  fmt::print("   {:<30} {:<22} {}\n", "S_a+-  a_- (neuron off)", v2(u.pattern_negative), v2(u.pattern_negative_population));
  fmt::print("   {:<26} {:>14} {:>20}\n", "rho", "all samples", "where the neuron is on");
  fmt::print("   {:<26} {:>14} {:>20}\n", "S_w    filter", num(u.rho_all_filter), num(u.rho_active_filter));
  fmt::print("   {:<26} {:>14} {:>20}   (population {:.4f})\n", "S_a    linear", num(u.rho_all_linear), num(u.rho_active_linear),
             u.rho_active_linear_population);
  fmt::print("   {:<26} {:>14} {:>20}\n", "S_a+-  two-component", num(u.rho_all_two_component), num(u.rho_active_two_component));
  fmt::print("\n({:.2f} s)\n", r.seconds);
}

int run(const Options& o) {
  if (o.n < 10) throw pn::Error("--n must be at least 10 samples, got {}", o.n);
  if (o.n > 1'000'000) throw pn::Error("--n must be at most 1000000 samples, got {}", o.n);
  if (!std::isfinite(o.noise) || o.noise < 0) throw pn::Error("--noise must be a standard deviation >= 0, got {}", o.noise);
  if (o.noise > 100) throw pn::Error("--noise must be at most 100, got {}", o.noise);
  if (!o.out.empty()) prepare_out_dir(o.out);

  pn::toy::ToyConfig c;
  c.n = o.n;
  c.seed = o.seed;
  c.noise = o.noise;
  const pn::toy::ToyResult r = pn::toy::run_toy(c);

  if (o.json) {
    fmt::print("{}\n", pn::toy::to_json(r));
  } else {
    print_report(r);
  }
  std::fflush(stdout);
  if (!o.out.empty()) {
    const std::string a = o.out + "/toy2d", b = o.out + "/toy2d_relu";
    pn::viz::write_svg_and_png(pn::toy::linear_figure(r), a);
    pn::viz::write_svg_and_png(pn::toy::relu_figure(r), b);
    // With --json stdout holds exactly the JSON object; the note goes to stderr.
    std::FILE* note = o.json ? stderr : stdout;
    fmt::print(note, "figures written: {0}.svg {0}.png {1}.svg {1}.png\n", a, b);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"toy2d: the two-dimensional signal/distractor example of PatternNet / PatternAttribution (textbook chapter 3)"};
  Options o;
  app.add_option("--n", o.n, "Samples in each of the three data sets (fit, read-out, evaluation)")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the data, the training and the random directions")->capture_default_str();
  app.add_option("--noise", o.noise, "Standard deviation of isotropic Gaussian noise added to x of the linear toy")->capture_default_str();
  app.add_option("--out", o.out, "Folder for toy2d.svg/.png and toy2d_relu.svg/.png (created if missing)");
  app.add_flag("--json", o.json, "Print every number as one JSON object instead of the tables");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run(o);
  } catch (const pn::Error& e) {
    fmt::print(stderr, "toy2d: error: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "toy2d: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "toy2d: unexpected error: {}\n", e.what());
    return 1;
  }
}
