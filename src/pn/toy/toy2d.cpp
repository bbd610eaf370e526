#include "pn/toy/toy2d.h"

#include "pn/autograd/ops.h"
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/core/tensor.h"
#include "pn/explain/estimator.h"
#include "pn/explain/pattern_stats.h"
#include "pn/explain/quality.h"
#include "pn/nn/optim.h"
#include "pn/nn/sequential.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

namespace pn::toy {
namespace {

namespace ex = pn::explain;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The illustrative sample of the method table: y = 0.6, ε = 0.4, so x = (1.0, 0.4) and every
// method's output can be checked by hand against spec §2.2.
constexpr double kSampleY = 0.6, kSampleEps = 0.4;

double dot(const Vec2& a, const Vec2& b) { return a[0] * b[0] + a[1] * b[1]; }
double norm(const Vec2& a) { return std::sqrt(dot(a, a)); }
double cosine(const Vec2& a, const Vec2& b) { return dot(a, b) / (norm(a) * norm(b)); }
double angle_deg(const Vec2& a, const Vec2& b) {
  return std::acos(std::clamp(cosine(a, b), -1.0, 1.0)) * 180.0 / std::numbers::pi;
}
double max_abs_diff(const Vec2& a, const Vec2& b) { return std::max(std::fabs(a[0] - b[0]), std::fabs(a[1] - b[1])); }
Vec2 scaled(const Vec2& a, double s) { return {a[0] * s, a[1] * s}; }
Vec2 minus(const Vec2& a, const Vec2& b) { return {a[0] - b[0], a[1] - b[1]}; }
Vec2 hadamard(const Vec2& a, const Vec2& b) { return {a[0] * b[0], a[1] * b[1]}; }

Tensor weight_tensor(const Vec2& w) {
  return Tensor::from(Shape{1, 2}, std::vector<float>{static_cast<float>(w[0]), static_cast<float>(w[1])});
}
Tensor bias_tensor(double b) { return Tensor::from(Shape{1}, std::vector<float>{static_cast<float>(b)}); }
Vec2 row_of(const Tensor& t, std::int64_t j) { return {t[2 * j], t[2 * j + 1]}; }

// The layer's statistics over a data set: rows x with their bias-inclusive pre-activations
// z = wᵀx + b (the ReLU gate is z > 0). active_only keeps just the rows where the gate is open.
ex::PatternStats stats_of(const ToyData& d, const Vec2& w, double b, bool active_only) {
  const float w0 = static_cast<float>(w[0]), w1 = static_cast<float>(w[1]), bf = static_cast<float>(b);
  std::vector<float> x, z;
  z.reserve(static_cast<std::size_t>(d.n));
  for (std::int64_t r = 0; r < d.n; ++r) {
    const float x0 = d.x[static_cast<std::size_t>(2 * r)], x1 = d.x[static_cast<std::size_t>(2 * r + 1)];
    const float zr = w0 * x0 + w1 * x1 + bf;
    if (active_only) {
      if (!(zr > 0.0f)) continue;
      x.push_back(x0);
      x.push_back(x1);
    }
    z.push_back(zr);
  }
  ex::PatternStats s(2, 1, true);
  s.accumulate_rows(active_only ? x.data() : d.x.data(), z.data(), static_cast<std::int64_t>(z.size()));
  return s;
}

// rho(S) of the one neuron, NaN where the criterion is undefined (no variance in y).
double rho_of(const ex::PatternStats& readout, const ex::PatternStats& eval, const Tensor& w, const Tensor& b,
              const Tensor& a_pos, const Tensor& a_neg) {
  if (readout.rows() < 3 || eval.rows() < 3) return kNaN;
  const ex::LayerQuality q = ex::layer_quality(readout, eval, w, b, a_pos, a_neg);
  return q.rho.empty() ? kNaN : q.rho[0];
}

// The data sets of one toy: patterns and the fits come from `fit`, the read-out v of rho from
// `readout`, and rho is measured on `eval`; three independent draws of n samples.
struct Sets {
  ToyData fit, readout, eval;
};

std::vector<float> first_rows(const ToyData& d, std::int64_t count) {
  const std::int64_t k = std::min(count, d.n);
  return {d.x.begin(), d.x.begin() + 2 * k};
}

LinearToyResult run_linear(const ToyConfig& c, const Sets& s, std::uint64_t random_seed) {
  LinearToyResult r;
  r.closed_form = fit_closed_form(s.fit);
  r.trained = fit_autograd(s.fit, c);
  const Vec2 ideal{1.0, -1.0};
  r.angle_w_a_d_deg = angle_deg(r.closed_form.w, kDistractorDirection);
  r.cos_w_ideal = cosine(r.closed_form.w, ideal);
  r.angle_trained_a_d_deg = angle_deg(r.trained.w, kDistractorDirection);
  r.cos_trained_ideal = cosine(r.trained.w, ideal);

  // The fitted model is the layer whose signal is estimated.
  const Vec2 w = r.closed_form.w;
  const double b = r.closed_form.b;
  const Tensor wt = weight_tensor(w), bt = bias_tensor(b);
  const ex::PatternStats fit = stats_of(s.fit, w, b, false);
  const ex::PatternStats readout = stats_of(s.readout, w, b, false);
  const ex::PatternStats eval = stats_of(s.eval, w, b, false);
  r.sigma_y = std::sqrt(fit.var_y(0));

  ex::FitReport report;
  const Tensor a_filter = ex::filter_pattern(wt, report);
  const Tensor a_linear = ex::linear_pattern(fit, wt, report);
  const ex::TwoComponentPattern a_two = ex::two_component_pattern(fit, wt, report);
  r.pattern_filter = row_of(a_filter, 0);
  r.pattern_linear = row_of(a_linear, 0);
  r.pattern_positive = row_of(a_two.positive, 0);
  r.pattern_negative = row_of(a_two.negative, 0);
  r.pattern_error = max_abs_diff(r.pattern_linear, kSignalDirection);
  r.sample = explain_sample(w, r.pattern_linear, kSampleY, kSampleEps);

  r.rho_filter = rho_of(readout, eval, wt, bt, a_filter, a_filter);
  r.rho_linear = rho_of(readout, eval, wt, bt, a_linear, a_linear);
  r.rho_two_component = rho_of(readout, eval, wt, bt, a_two.positive, a_two.negative);

  // S_rand: in two dimensions one random direction can land anywhere between useless and
  // excellent (about a third of them beat S_w here), so the baseline is the average over many
  // directions, as the paper's per-layer mean averages over neurons with a direction each. The
  // draws are the neurons of one layer of identical filters, so one call of layer_quality
  // evaluates them all.
  const std::int64_t k = c.random_draws;
  Tensor w_many(Shape{k, 2}), b_many(Shape{k});
  for (std::int64_t j = 0; j < k; ++j) {
    w_many[2 * j] = wt[0];
    w_many[2 * j + 1] = wt[1];
    b_many[j] = bt[0];
  }
  Rng rng(random_seed);
  ex::FitReport random_report;
  const Tensor a_random = ex::random_pattern(w_many, rng, random_report);
  const ex::LayerQuality q = ex::layer_quality(replicate_neuron(readout, k), replicate_neuron(eval, k), w_many, b_many,
                                               a_random, a_random);
  std::vector<double> rhos;
  for (double v : q.rho)
    if (std::isfinite(v)) rhos.push_back(v);
  r.rho_random.draws = static_cast<int>(rhos.size());
  if (!rhos.empty()) {
    std::sort(rhos.begin(), rhos.end());
    r.rho_random.mean = q.mean;
    r.rho_random.median = q.median;
    r.rho_random.min = rhos.front();
    r.rho_random.max = rhos.back();
  } else {
    r.rho_random.mean = r.rho_random.median = r.rho_random.min = r.rho_random.max = kNaN;
  }

  // S_w's residual is (y/2 + ε)·a_d (for w = (1, -1)): the read-out along a_d recovers y with
  // correlation σ_y/2 / sqrt(σ_y²/4 + σ_ε²).
  const double sy = 1.0 / std::sqrt(3.0);
  r.rho_filter_population = 1.0 - sy / std::sqrt(sy * sy + 4.0 * c.sigma_eps * c.sigma_eps);
  r.cloud = first_rows(s.fit, c.figure_points);
  return r;
}

ReluToyResult run_relu(const ToyConfig& c, const Sets& s) {
  ReluToyResult r;
  const Tensor wt = weight_tensor(r.w), bt = bias_tensor(r.b);
  const ex::PatternStats fit = stats_of(s.fit, r.w, r.b, false);
  const ex::PatternStats readout = stats_of(s.readout, r.w, r.b, false);
  const ex::PatternStats eval = stats_of(s.eval, r.w, r.b, false);
  const ex::PatternStats readout_on = stats_of(s.readout, r.w, r.b, true);
  const ex::PatternStats eval_on = stats_of(s.eval, r.w, r.b, true);
  r.active_fraction = fit.positive_rows(0) / fit.rows();

  ex::FitReport report;
  const Tensor a_filter = ex::filter_pattern(wt, report);
  const Tensor a_linear = ex::linear_pattern(fit, wt, report);
  const ex::TwoComponentPattern a_two = ex::two_component_pattern(fit, wt, report);
  r.pattern_linear = row_of(a_linear, 0);
  r.pattern_positive = row_of(a_two.positive, 0);
  r.pattern_negative = row_of(a_two.negative, 0);
  r.pattern_error_linear = max_abs_diff(r.pattern_linear, kSignalDirection);
  r.pattern_error_positive = max_abs_diff(r.pattern_positive, kSignalDirection);

  // Noise-free population values (y ~ U[-1, 1], so E[y] = 0, var y = 1/3, and the shift
  // μ·1[y <= 0] has cov(1[y <= 0], y) = -1/4):
  //   a   = cov[x, y] / var y                = a_s - (3/4) μ a_d
  //   a_+ = (E+[xy] - E+[x] E[y]) / (...)    = a_s            (no shift where the neuron fires)
  //   a_- = (E-[xy] - E-[x] E[y]) / (...)    = a_s - (3/2) μ a_d  (E-[y] = -1/2, E[y] = 0)
  const double mu = c.relu_shift;
  r.pattern_linear_population = minus(kSignalDirection, scaled(kDistractorDirection, 0.75 * mu));
  r.pattern_positive_population = kSignalDirection;
  r.pattern_negative_population = minus(kSignalDirection, scaled(kDistractorDirection, 1.5 * mu));
  // Where the neuron fires, S_a leaves d̂ = (a_s - a) y + a_d ε = a_d ((3/4) μ y + ε), with
  // y ~ U[0, 1] (variance 1/12): a read-out along a_d finds y with that correlation.
  {
    const double k = 0.75 * mu, s_on = std::sqrt(1.0 / 12.0);
    r.rho_active_linear_population = 1.0 - std::fabs(k) * s_on / std::sqrt(k * k * s_on * s_on + c.sigma_eps * c.sigma_eps);
  }

  r.rho_all_filter = rho_of(readout, eval, wt, bt, a_filter, a_filter);
  r.rho_all_linear = rho_of(readout, eval, wt, bt, a_linear, a_linear);
  r.rho_all_two_component = rho_of(readout, eval, wt, bt, a_two.positive, a_two.negative);
  // On the open-gate rows every estimator is a single pattern: S_a+- uses a_+ there (passing
  // a_+ twice is the same residual x - a_+ y, without a degenerate negative regime).
  r.rho_active_filter = rho_of(readout_on, eval_on, wt, bt, a_filter, a_filter);
  r.rho_active_linear = rho_of(readout_on, eval_on, wt, bt, a_linear, a_linear);
  r.rho_active_two_component = rho_of(readout_on, eval_on, wt, bt, a_two.positive, a_two.positive);

  r.cloud = first_rows(s.fit, c.figure_points);
  for (std::size_t i = 0; i + 1 < r.cloud.size(); i += 2) {
    const double z = r.w[0] * r.cloud[i] + r.w[1] * r.cloud[i + 1] + r.b;
    r.cloud_active.push_back(z > 0 ? 1 : 0);
  }
  return r;
}

nlohmann::ordered_json vec(const Vec2& v) { return nlohmann::ordered_json::array({v[0], v[1]}); }

nlohmann::ordered_json fit_json(const LinearFit& f) {
  nlohmann::ordered_json j;
  j["w"] = vec(f.w);
  j["b"] = f.b;
  j["mse"] = f.mse;
  if (f.steps > 0) {
    j["steps"] = f.steps;
    j["epochs"] = f.epochs;
  }
  return j;
}

std::string v2(const Vec2& v) { return fmt::format("({:.2f}, {:.2f})", v[0] + 0.0, v[1] + 0.0); }

// Colours: a colour-blind-safe set with the data cloud in a muted tone beneath the arrows.
constexpr const char* kCloud = "#4c72b0";
constexpr const char* kCloudOff = "#9a9a9a";
constexpr const char* kCloudOn = "#dd8452";
constexpr const char* kSignal = "#2ca02c";
constexpr const char* kDistractor = "#8c564b";
constexpr const char* kFilter = "#d62728";
constexpr const char* kPattern = "#7b3fb5";
constexpr const char* kPatternPos = "#1f5fbf";

}  // namespace

// Bounding box of the plotted points and arrow tips, padded, for an equal-aspect figure.
void fit_ranges(viz::Figure& f) {
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  const auto take = [&](double x, double y) {
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  };
  for (const auto& p : f.points)
    for (std::size_t i = 0; i < p.x.size(); ++i) take(p.x[i], p.y[i]);
  for (const auto& a : f.arrows) take(a.x1, a.y1);
  const double pad = 0.08 * std::max(x1 - x0, y1 - y0);
  f.xrange = viz::Range{x0 - pad, x1 + pad};
  f.yrange = viz::Range{y0 - pad, y1 + pad};
}

viz::Arrow arrow(const std::string& label, const std::string& tip, const Vec2& to, const std::string& color, double width,
                 bool dashed) {
  viz::Arrow a;
  a.label = label;
  a.tip_label = tip;
  a.x1 = to[0];
  a.y1 = to[1];
  a.color = color;
  a.width = width;
  a.dashed = dashed;
  return a;
}


// The O x D sums are neuron-major (PatternStats::Raw), so each neuron's block is repeated whole.
explain::PatternStats replicate_neuron(const ex::PatternStats& s, std::int64_t copies) {
  ex::PatternStats::Raw raw = s.raw();
  if (raw.o != 1) throw Error("toy: replicate_neuron expects the statistics of one neuron, got {}", raw.o);
  const auto repeat = [copies](std::vector<double>& v) {
    const std::vector<double> one = v;
    v.clear();
    for (std::int64_t i = 0; i < copies; ++i) v.insert(v.end(), one.begin(), one.end());
  };
  for (auto* v : {&raw.shift_y, &raw.sy, &raw.syy, &raw.npos, &raw.sypos, &raw.syypos, &raw.sxy, &raw.sxpos, &raw.sxypos}) repeat(*v);
  raw.o = copies;
  return ex::PatternStats::from_raw(std::move(raw));
}

void validate(const ToyConfig& c) {
  if (c.n < 10 || c.n > 1'000'000) throw Error("toy: n must be between 10 and 1000000 samples, got {}", c.n);
  if (!(std::isfinite(c.sigma_eps) && c.sigma_eps > 0 && c.sigma_eps <= 100)) {
    throw Error("toy: sigma_eps must be in (0, 100], got {}", c.sigma_eps);
  }
  if (!(std::isfinite(c.noise) && c.noise >= 0 && c.noise <= 100)) {
    throw Error("toy: the noise standard deviation must be in [0, 100], got {}", c.noise);
  }
  if (!(std::isfinite(c.relu_noise) && c.relu_noise >= 0 && c.relu_noise <= 100)) {
    throw Error("toy: relu_noise must be in [0, 100], got {}", c.relu_noise);
  }
  if (!std::isfinite(c.relu_shift) || std::fabs(c.relu_shift) > 100) throw Error("toy: relu_shift must be finite and at most 100 in size, got {}", c.relu_shift);
  if (c.random_draws < 1 || c.random_draws > 100000) throw Error("toy: random_draws must be between 1 and 100000, got {}", c.random_draws);
  if (c.train_steps < 1 || c.train_steps > 10'000'000) throw Error("toy: train_steps must be between 1 and 10000000, got {}", c.train_steps);
  if (c.train_batch < 1) throw Error("toy: train_batch must be positive, got {}", c.train_batch);
  if (!(std::isfinite(c.train_lr) && c.train_lr > 0)) throw Error("toy: train_lr must be positive, got {}", c.train_lr);
  if (c.figure_points < 0) throw Error("toy: figure_points must not be negative, got {}", c.figure_points);
}

ToyData make_linear_data(std::int64_t n, double sigma_eps, double noise, std::uint64_t seed) {
  return make_relu_data(n, sigma_eps, 0.0, noise, seed);
}

namespace {

// Both toys' sampler; the distractor direction is a parameter only for the rotated panel.
ToyData draw_toy(std::int64_t n, double sigma_eps, double shift, double noise, const Vec2& a_d, std::uint64_t seed) {
  if (n < 1) throw Error("toy: cannot draw {} samples", n);
  Rng rng(seed);
  ToyData d;
  d.n = n;
  d.x.resize(static_cast<std::size_t>(2 * n));
  d.y.resize(static_cast<std::size_t>(n));
  d.eps.resize(static_cast<std::size_t>(n));
  // [book:draw_toy]
  for (std::int64_t i = 0; i < n; ++i) {
    const double y = rng.uniform(-1.0, 1.0);
    const double eps = rng.normal(0.0, sigma_eps);
    // The noise is always drawn, so the same seed gives the same y and ε at every noise level.
    const double n0 = rng.normal(), n1 = rng.normal();
    const double amp = eps + (y <= 0.0 ? shift : 0.0);  // distractor amplitude along a_d
    const std::size_t k = static_cast<std::size_t>(i);
    d.y[k] = y;
    d.eps[k] = eps;
    d.x[2 * k] = static_cast<float>(kSignalDirection[0] * y + a_d[0] * amp + noise * n0);
    d.x[2 * k + 1] = static_cast<float>(kSignalDirection[1] * y + a_d[1] * amp + noise * n1);
  }
  // [/book:draw_toy]
  return d;
}

}  // namespace

ToyData make_relu_data(std::int64_t n, double sigma_eps, double shift, double noise, std::uint64_t seed) {
  return draw_toy(n, sigma_eps, shift, noise, kDistractorDirection, seed);
}

ToyData make_linear_data_along(std::int64_t n, double sigma_eps, double noise, const Vec2& distractor, std::uint64_t seed) {
  if (!(std::isfinite(distractor[0]) && std::isfinite(distractor[1]))) {
    throw Error("toy: the distractor direction ({}, {}) is not finite", distractor[0], distractor[1]);
  }
  // |sin| of the angle to a_s = (1, 0): below 1e-9 the distractor hides the signal completely.
  const double len = std::hypot(distractor[0], distractor[1]);
  if (!(len > 0) || std::fabs(distractor[1]) / len < 1e-9) {
    throw Error("toy: the distractor direction ({}, {}) is zero or parallel to the signal direction a_s = (1, 0)", distractor[0],
                distractor[1]);
  }
  return draw_toy(n, sigma_eps, 0.0, noise, distractor, seed);
}

LinearFit fit_closed_form(const ToyData& d) {
  if (d.n < 3) throw Error("toy: a least-squares fit needs at least 3 samples, got {}", d.n);
  const double n = static_cast<double>(d.n);
  double m0 = 0, m1 = 0, my = 0;
  for (std::int64_t i = 0; i < d.n; ++i) {
    m0 += d.x[static_cast<std::size_t>(2 * i)];
    m1 += d.x[static_cast<std::size_t>(2 * i + 1)];
    my += d.y[static_cast<std::size_t>(i)];
  }
  m0 /= n, m1 /= n, my /= n;
  double s00 = 0, s01 = 0, s11 = 0, s0y = 0, s1y = 0;
  for (std::int64_t i = 0; i < d.n; ++i) {
    const double a = d.x[static_cast<std::size_t>(2 * i)] - m0, c = d.x[static_cast<std::size_t>(2 * i + 1)] - m1;
    const double t = d.y[static_cast<std::size_t>(i)] - my;
    s00 += a * a, s01 += a * c, s11 += c * c, s0y += a * t, s1y += c * t;
  }
  // Normal equations on centred data (the bias absorbs the means): cov[x] w = cov[x, y].
  const double det = s00 * s11 - s01 * s01;
  if (!(det > 1e-12 * s00 * s11)) throw Error("toy: the inputs are collinear; least squares has no unique solution");
  LinearFit f;
  f.w = {(s11 * s0y - s01 * s1y) / det, (s00 * s1y - s01 * s0y) / det};
  f.b = my - f.w[0] * m0 - f.w[1] * m1;
  double se = 0;
  for (std::int64_t i = 0; i < d.n; ++i) {
    const double p = f.w[0] * d.x[static_cast<std::size_t>(2 * i)] + f.w[1] * d.x[static_cast<std::size_t>(2 * i + 1)] + f.b;
    const double e = p - d.y[static_cast<std::size_t>(i)];
    se += e * e;
  }
  f.mse = se / n;
  return f;
}

LinearFit fit_autograd(const ToyData& d, const ToyConfig& c) {
  nn::LayerSpec fc;
  fc.name = "fc";
  fc.kind = nn::Kind::linear;
  fc.in = 2;
  fc.out = 1;
  nn::Sequential model(Shape{2}, {fc});
  Rng rng(c.seed ^ 0x5eedf17ULL);
  model.init(rng);
  const float lr = static_cast<float>(c.train_lr);
  nn::Adam adam(model.parameters(), lr);

  const std::int64_t batch = std::min(c.train_batch, d.n);
  std::vector<std::int64_t> order(static_cast<std::size_t>(d.n));
  std::iota(order.begin(), order.end(), 0);
  std::int64_t pos = d.n;  // forces a shuffle before the first step
  Tensor xb(Shape{batch, 2}), yb(Shape{batch, 1});
  for (int step = 0; step < c.train_steps; ++step) {
    for (std::int64_t r = 0; r < batch; ++r, ++pos) {
      if (pos == d.n) {
        for (std::int64_t i = d.n - 1; i > 0; --i) {
          const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
          std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
        }
        pos = 0;
      }
      const std::size_t k = static_cast<std::size_t>(order[static_cast<std::size_t>(pos)]);
      xb[2 * r] = d.x[2 * k];
      xb[2 * r + 1] = d.x[2 * k + 1];
      yb[r] = static_cast<float>(d.y[k]);
    }
    // Cosine decay to zero: large steps find the minimum, small ones settle into it (with noisy
    // data a constant rate would leave w jittering by about the rate).
    const double progress = static_cast<double>(step) / static_cast<double>(c.train_steps);
    adam.set_learning_rate(static_cast<float>(c.train_lr * 0.5 * (1.0 + std::cos(std::numbers::pi * progress))));
    model.zero_grad();
    const ag::Var out = model.forward(ag::Var::constant(xb.clone()), true, &rng);
    ag::Var loss = ag::mse(out, yb);
    loss.backward();
    adam.step();
  }
  const Tensor& w = model.layer(0).weight.value();
  LinearFit f;
  f.w = {w[0], w[1]};
  f.b = model.layer(0).bias.value()[0];
  double se = 0;
  for (std::int64_t i = 0; i < d.n; ++i) {
    const double p = f.w[0] * d.x[static_cast<std::size_t>(2 * i)] + f.w[1] * d.x[static_cast<std::size_t>(2 * i + 1)] + f.b;
    const double e = p - d.y[static_cast<std::size_t>(i)];
    se += e * e;
  }
  f.mse = se / static_cast<double>(d.n);
  f.steps = c.train_steps;
  f.epochs = static_cast<double>(c.train_steps) * static_cast<double>(batch) / static_cast<double>(d.n);
  return f;
}

MethodOutputs explain_sample(const Vec2& w, const Vec2& a, double y, double eps) {
  MethodOutputs m;
  m.y = y;
  m.eps = eps;
  m.x = {kSignalDirection[0] * y + kDistractorDirection[0] * eps, kSignalDirection[1] * y + kDistractorDirection[1] * eps};
  m.output = dot(w, m.x);
  m.gradient = w;
  m.signal_identity = m.x;
  m.signal_filter = scaled(w, m.output / dot(w, w));
  m.signal_pattern = scaled(a, m.output);
  m.attribution_identity = hadamard(w, m.x);
  m.attribution_filter = hadamard(w, m.signal_filter);
  m.attribution_pattern = hadamard(w, m.signal_pattern);
  return m;
}

namespace {

// One seed names everything: each data set and the random directions get their own stream, the
// same whether the two toys run together or alone.
struct Seeds {
  std::uint64_t linear[3], relu[3], random;
};
Seeds derive_seeds(std::uint64_t seed) {
  Rng master(seed);
  Seeds s{};
  for (auto& v : s.linear) v = master.next_u64();
  for (auto& v : s.relu) v = master.next_u64();
  s.random = master.next_u64();
  return s;
}

}  // namespace

LinearToyResult run_linear_toy(const ToyConfig& c) {
  validate(c);
  const Seeds seeds = derive_seeds(c.seed);
  const Sets sets{make_linear_data(c.n, c.sigma_eps, c.noise, seeds.linear[0]),
                  make_linear_data(c.n, c.sigma_eps, c.noise, seeds.linear[1]),
                  make_linear_data(c.n, c.sigma_eps, c.noise, seeds.linear[2])};
  return run_linear(c, sets, seeds.random);
}

ReluToyResult run_relu_toy(const ToyConfig& c) {
  validate(c);
  const Seeds seeds = derive_seeds(c.seed);
  const Sets sets{make_relu_data(c.n, c.sigma_eps, c.relu_shift, c.relu_noise, seeds.relu[0]),
                  make_relu_data(c.n, c.sigma_eps, c.relu_shift, c.relu_noise, seeds.relu[1]),
                  make_relu_data(c.n, c.sigma_eps, c.relu_shift, c.relu_noise, seeds.relu[2])};
  return run_relu(c, sets);
}

ToyResult run_toy(const ToyConfig& c) {
  validate(c);
  const auto start = std::chrono::steady_clock::now();
  ToyResult r;
  r.config = c;
  r.linear = run_linear_toy(c);
  r.relu = run_relu_toy(c);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::string to_json(const ToyResult& r) {
  using J = nlohmann::ordered_json;
  const ToyConfig& c = r.config;
  J j;
  j["config"] = {{"n", c.n},
                 {"seed", c.seed},
                 {"noise", c.noise},
                 {"sigma_eps", c.sigma_eps},
                 {"relu_shift", c.relu_shift},
                 {"relu_noise", c.relu_noise},
                 {"a_s", vec(kSignalDirection)},
                 {"a_d", vec(kDistractorDirection)},
                 {"y_distribution", "uniform[-1,1]"},
                 {"random_draws", c.random_draws},
                 {"train_steps", c.train_steps},
                 {"train_batch", c.train_batch},
                 {"train_lr", c.train_lr}};
  const LinearToyResult& l = r.linear;
  J lin;
  lin["closed_form"] = fit_json(l.closed_form);
  lin["closed_form"]["angle_w_a_d_deg"] = l.angle_w_a_d_deg;
  lin["closed_form"]["cos_w_ideal"] = l.cos_w_ideal;
  lin["trained"] = fit_json(l.trained);
  lin["trained"]["angle_w_a_d_deg"] = l.angle_trained_a_d_deg;
  lin["trained"]["cos_w_ideal"] = l.cos_trained_ideal;
  lin["sigma_y"] = l.sigma_y;
  lin["patterns"] = {{"filter", vec(l.pattern_filter)},
                     {"linear", vec(l.pattern_linear)},
                     {"two_component_positive", vec(l.pattern_positive)},
                     {"two_component_negative", vec(l.pattern_negative)},
                     {"a_s", vec(kSignalDirection)},
                     {"linear_max_abs_error", l.pattern_error}};
  const MethodOutputs& m = l.sample;
  lin["sample"] = {{"y", m.y},
                   {"eps", m.eps},
                   {"x", vec(m.x)},
                   {"output", m.output},
                   {"gradient", vec(m.gradient)},
                   {"signal", {{"identity", vec(m.signal_identity)}, {"filter", vec(m.signal_filter)}, {"linear", vec(m.signal_pattern)}}},
                   {"attribution",
                    {{"identity", vec(m.attribution_identity)},
                     {"filter", vec(m.attribution_filter)},
                     {"linear", vec(m.attribution_pattern)}}}};
  lin["rho"] = {{"identity", nullptr},
                {"random", l.rho_random.mean},
                {"random_median", l.rho_random.median},
                {"random_min", l.rho_random.min},
                {"random_max", l.rho_random.max},
                {"random_draws", l.rho_random.draws},
                {"filter", l.rho_filter},
                {"filter_population", l.rho_filter_population},
                {"linear", l.rho_linear},
                {"two_component", l.rho_two_component}};
  j["linear"] = lin;

  const ReluToyResult& u = r.relu;
  J relu;
  relu["w"] = vec(u.w);
  relu["b"] = u.b;
  relu["active_fraction"] = u.active_fraction;
  relu["patterns"] = {{"linear", vec(u.pattern_linear)},
                      {"two_component_positive", vec(u.pattern_positive)},
                      {"two_component_negative", vec(u.pattern_negative)},
                      {"linear_population", vec(u.pattern_linear_population)},
                      {"two_component_positive_population", vec(u.pattern_positive_population)},
                      {"two_component_negative_population", vec(u.pattern_negative_population)},
                      {"linear_max_abs_error", u.pattern_error_linear},
                      {"two_component_positive_max_abs_error", u.pattern_error_positive}};
  relu["rho_all"] = {{"filter", u.rho_all_filter}, {"linear", u.rho_all_linear}, {"two_component", u.rho_all_two_component}};
  relu["rho_active"] = {{"filter", u.rho_active_filter},
                        {"linear", u.rho_active_linear},
                        {"linear_population", u.rho_active_linear_population},
                        {"two_component", u.rho_active_two_component}};
  j["relu"] = relu;
  j["seconds"] = r.seconds;
  return j.dump(2);
}

viz::Figure linear_figure(const ToyResult& r) {
  const LinearToyResult& l = r.linear;
  viz::Figure f;
  f.title = fmt::format("x = a_s y + a_d ε:  signal along a_s, distractor along a_d  (n = {}{})", r.config.n,
                        r.config.noise > 0 ? fmt::format(", noise {:g}", r.config.noise) : "");
  f.xlabel = "x_1";
  f.ylabel = "x_2";
  f.equal_aspect = true;
  f.key = "below left vertical Left reverse";
  f.width = 950;
  f.height = 1000;
  viz::PointSet cloud;
  cloud.label = fmt::format("data ({} of {} samples)", l.cloud.size() / 2, r.config.n);
  cloud.color = kCloud;
  cloud.opacity = 0.28;
  cloud.size = 0.45;
  for (std::size_t i = 0; i + 1 < l.cloud.size(); i += 2) {
    cloud.x.push_back(l.cloud[i]);
    cloud.y.push_back(l.cloud[i + 1]);
  }
  f.points.push_back(std::move(cloud));
  // a_s beneath (wide, light) so that the pattern a, which should coincide with it, stays visible.
  f.arrows.push_back(arrow("a_s = (1, 0)   signal direction", "a_s", kSignalDirection, kSignal, 7.0));
  f.arrows.push_back(arrow("a_d = (1, 1)   distractor direction", "a_d", kDistractorDirection, kDistractor, 3.5));
  f.arrows.push_back(arrow(fmt::format("w = {}   filter (closed form)", v2(l.closed_form.w)), "w", l.closed_form.w, kFilter, 3.5));
  f.arrows.push_back(arrow(fmt::format("a = {}   pattern S_a", v2(l.pattern_linear)), "a", l.pattern_linear, kPattern, 2.5, true));
  // Tip labels of a_s and a would overlap: label the pattern on the legend only.
  f.arrows.back().tip_label.clear();
  fit_ranges(f);
  return f;
}

viz::Figure relu_figure(const ToyResult& r) {
  const ReluToyResult& u = r.relu;
  viz::Figure f;
  f.title = fmt::format("h = relu(x_1 - x_2): the distractor shifts by {:g}·a_d where the neuron is off", r.config.relu_shift);
  f.xlabel = "x_1";
  f.ylabel = "x_2";
  f.equal_aspect = true;
  f.key = "below left vertical Left reverse";
  f.width = 950;
  f.height = 1100;
  viz::PointSet on, off;
  on.label = "neuron on (w^T x + b > 0)";
  off.label = "neuron off";
  on.color = kCloudOn;
  off.color = kCloudOff;
  on.opacity = off.opacity = 0.3;
  on.size = off.size = 0.45;
  for (std::size_t i = 0; i + 1 < u.cloud.size(); i += 2) {
    viz::PointSet& p = u.cloud_active[i / 2] ? on : off;
    p.x.push_back(u.cloud[i]);
    p.y.push_back(u.cloud[i + 1]);
  }
  f.points.push_back(std::move(off));
  f.points.push_back(std::move(on));
  f.arrows.push_back(arrow("a_s = (1, 0)   signal direction", "a_s", kSignalDirection, kSignal, 7.0));
  f.arrows.push_back(arrow("a_d = (1, 1)   distractor direction", "a_d", kDistractorDirection, kDistractor, 3.5));
  f.arrows.push_back(arrow(fmt::format("w = {}   filter", v2(u.w)), "w", u.w, kFilter, 3.5));
  f.arrows.push_back(arrow(fmt::format("a = {}   S_a (linear)", v2(u.pattern_linear)), "a", u.pattern_linear, kPattern, 3.0));
  f.arrows.push_back(arrow(fmt::format("a_+ = {}   S_{{a+-}} (two-component)", v2(u.pattern_positive)), "", u.pattern_positive,
                           kPatternPos, 2.5, true));
  fit_ranges(f);
  return f;
}

}  // namespace pn::toy
