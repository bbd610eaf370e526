// The paper's two-dimensional example (§2, Fig. 2) and a small nonlinear companion. Chapter 3.
//
// Linear toy:  x = a_s·y + a_d·ε (+ optional isotropic noise),  a_s = (1, 0), a_d = (1, 1),
//              y ~ U[-1, 1] (the signal), ε ~ N(0, σ_ε²) (the distractor's amplitude).
// A linear model ŷ = wᵀx + b is fitted to y twice: in closed form (least squares) and by training
// a pn::nn linear layer with Adam on the mean squared error. Recovering y needs w ⟂ a_d, so the
// filter is w = (1, -1): orthogonal to the distractor, and so not the signal direction a_s. The
// estimators of src/pn/explain turn the statistics of wᵀx into patterns; rho(S) (paper §5) is
// computed by pn::explain::layer_quality with patterns from the fitting set, the read-out v from
// a second independent set and the correlation measured on a third.
//
// ReLU toy:    x = a_s·y + a_d·(ε + μ·1[y <= 0])  for a neuron h = relu(wᵀx + b), w = (1, -1), b = 0.
// The distractor's mean moves by μ along a_d exactly when the neuron is off. w cancels a_d, so
// h = relu(y) is a perfect detector, yet the shift correlates the distractor with y across the two
// regimes: the linear estimator mistakes it for signal, the two-component estimator, which models
// each regime on its own, does not (chapter 3 derives the numbers).
#pragma once

#include "pn/explain/pattern_stats.h"
#include "pn/viz/plot.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace pn::toy {

using Vec2 = std::array<double, 2>;

inline constexpr Vec2 kSignalDirection{1.0, 0.0};      // a_s
inline constexpr Vec2 kDistractorDirection{1.0, 1.0};  // a_d

struct ToyConfig {
  std::int64_t n = 100000;   // samples in each of the three sets (fit, read-out, evaluation)
  std::uint64_t seed = 1;
  double sigma_eps = 0.5;    // standard deviation of ε
  double noise = 0.0;        // standard deviation of the isotropic noise added to x (linear toy)
  double relu_shift = 1.0;   // μ of the ReLU toy
  // Isotropic noise of the ReLU toy. Its numbers are derived for a gate that equals the sign of y,
  // which noise blurs; the program keeps it at 0 (chapter 3, exercise 4).
  double relu_noise = 0.0;
  int random_draws = 256;    // directions averaged for S_rand
  // Training (autograd fit): mini-batch Adam with a cosine-decaying learning rate.
  int train_steps = 3000;
  std::int64_t train_batch = 64;
  double train_lr = 0.05;
  std::int64_t figure_points = 2500;  // data points drawn in each figure
};

// Throws pn::Error naming the field unless the configuration is usable.
void validate(const ToyConfig& c);

// n samples, rows of x (n x 2, row-major) with the signal y and distractor amplitude ε of each.
struct ToyData {
  std::int64_t n = 0;
  std::vector<float> x;        // n x 2
  std::vector<double> y, eps;  // n
};


ToyData make_linear_data(std::int64_t n, double sigma_eps, double noise, std::uint64_t seed);
ToyData make_relu_data(std::int64_t n, double sigma_eps, double shift, double noise, std::uint64_t seed);
// The linear toy with the distractor along `distractor` instead of a_d = (1, 1): the rotated panel
// of Fig. 2, where turning a_d turns the filter w (it must stay orthogonal to a_d) while the
// pattern stays on a_s. The same seed draws the same y, ε and noise as make_linear_data, which is
// this function with kDistractorDirection. distractor must be finite, non-zero and not parallel
// to a_s (then no filter can separate y from ε); it is used as given, not normalised.
ToyData make_linear_data_along(std::int64_t n, double sigma_eps, double noise, const Vec2& distractor, std::uint64_t seed);

struct LinearFit {
  Vec2 w{};
  double b = 0.0;
  double mse = 0.0;  // mean of (wᵀx + b - y)² over the data it was fitted on
  int steps = 0;     // training steps (0 for the closed form)
  double epochs = 0; // passes over the data (training only)
};

// Ordinary least squares with a bias: w = cov[x]⁻¹ cov[x, y], b = E[y] - wᵀE[x] (in double).
LinearFit fit_closed_form(const ToyData& d);
// A pn::nn::Sequential with one linear layer (2 -> 1), trained with pn::nn::Adam on ag::mse.
LinearFit fit_autograd(const ToyData& d, const ToyConfig& c);

// Spec §2.2's table for one input: what every method returns.
struct MethodOutputs {
  double y = 0, eps = 0;       // the sample's signal and distractor amplitudes
  Vec2 x{};
  double output = 0;           // wᵀx (the bias is a constant input: it gets no signal)
  Vec2 gradient{};             // w
  Vec2 signal_identity{};      // S_x(x) = x
  Vec2 signal_filter{};        // S_w(x) = w wᵀx / wᵀw
  Vec2 signal_pattern{};       // S_a(x) = a wᵀx (PatternNet)
  Vec2 attribution_identity{}; // w ⊙ x (LRP, z-rule)
  Vec2 attribution_filter{};   // w ⊙ S_w(x) (w²-rule)
  Vec2 attribution_pattern{};  // w ⊙ a·wᵀx (PatternAttribution)
};
MethodOutputs explain_sample(const Vec2& w, const Vec2& a, double y, double eps);

struct RandomRho {
  double mean = 0, median = 0, min = 0, max = 0;
  int draws = 0;
};

struct LinearToyResult {
  LinearFit closed_form, trained;
  double angle_w_a_d_deg = 0;       // angle between the closed-form w and a_d
  double cos_w_ideal = 0;           // cos(w, (1, -1))
  double angle_trained_a_d_deg = 0;
  double cos_trained_ideal = 0;
  double sigma_y = 0;               // of the fitted output wᵀx on the fitting set
  Vec2 pattern_linear{}, pattern_filter{}, pattern_positive{}, pattern_negative{};
  double pattern_error = 0;         // max_i |a_i - a_s,i| for the linear pattern
  MethodOutputs sample;
  double rho_filter = 0, rho_linear = 0, rho_two_component = 0;
  RandomRho rho_random;
  double rho_filter_population = 0; // 1 - σ_y / sqrt(σ_y² + 4σ_ε²), the noise-free value
  std::vector<float> cloud;         // the first figure_points rows of the fitting set (for the figure)
};

struct ReluToyResult {
  Vec2 w{1.0, -1.0};
  double b = 0.0;
  double active_fraction = 0;          // rows with wᵀx + b > 0
  Vec2 pattern_linear{}, pattern_positive{}, pattern_negative{};
  Vec2 pattern_linear_population{}, pattern_positive_population{}, pattern_negative_population{};
  double pattern_error_linear = 0, pattern_error_positive = 0;  // max_i |a_i - a_s,i|
  // rho over all rows (both satisfy cov[x, y] = cov[S(x), y] there, so both are near 1) and
  // over the rows where the ReLU is open, where the explanation is used.
  double rho_all_linear = 0, rho_all_two_component = 0, rho_all_filter = 0;
  double rho_active_linear = 0, rho_active_two_component = 0, rho_active_filter = 0;
  double rho_active_linear_population = 0;
  std::vector<float> cloud;            // rows for the figure
  std::vector<char> cloud_active;      // their ReLU gate
};

struct ToyResult {
  ToyConfig config;
  LinearToyResult linear;
  ReluToyResult relu;
  double seconds = 0;
};

// Both toys (validate() first); each can also run alone, with the same numbers.
ToyResult run_toy(const ToyConfig& c);
LinearToyResult run_linear_toy(const ToyConfig& c);
ReluToyResult run_relu_toy(const ToyConfig& c);

// The statistics of `copies` neurons with identical filters, from those of one neuron: the same
// numbers as accumulating the rows with z repeated `copies` times, without the copies' cost. The
// S_rand baseline evaluates all its random directions as one layer of such neurons.
explain::PatternStats replicate_neuron(const explain::PatternStats& one, std::int64_t copies);

// Every number of the result as one JSON object (the `toy2d --json` output; no point clouds).
std::string to_json(const ToyResult& r);

// The figures: the linear toy's cloud with a_s, a_d, w and a as arrows, and the ReLU toy's cloud
// coloured by the gate with w, a (S_a) and a_+ (S_a+-).
viz::Figure linear_figure(const ToyResult& r);
viz::Figure relu_figure(const ToyResult& r);

// Building blocks of those figures, shared with experiments/fig2_toy: an arrow from the origin to
// `to`, and the padded, equal-aspect bounding box of a figure's points and arrow tips.
viz::Arrow arrow(const std::string& label, const std::string& tip, const Vec2& to, const std::string& color, double width,
                 bool dashed = false);
void fit_ranges(viz::Figure& f);

}  // namespace pn::toy
