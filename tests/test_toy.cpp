// Chapter 3: the two-dimensional signal/distractor toy and its ReLU companion, checked against
// the closed-form values derived in the chapter; plus the figure renderer (pn::viz) and its
// refusals.
#include "pn/core/error.h"
#include "pn/explain/estimator.h"
#include "pn/explain/pattern_stats.h"
#include "pn/toy/toy2d.h"
#include "pn/viz/plot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace toy = pn::toy;
namespace ex = pn::explain;
using ::testing::HasSubstr;

const double kSigmaY = 1.0 / std::sqrt(3.0);  // y ~ U[-1, 1]

toy::ToyConfig config(std::int64_t n, double noise, std::uint64_t seed = 1) {
  toy::ToyConfig c;
  c.n = n;
  c.noise = noise;
  c.seed = seed;
  return c;
}

// Each test runs in its own process (gtest_discover_tests), so every test computes only the toy
// it needs: the paper's linear toy at the program's defaults (n = 10^5, no noise; patterns and rho
// use the closed-form fit, so the autograd fit, checked on its own, is cut short here) ...
const toy::LinearToyResult& paper_toy() {
  static const toy::LinearToyResult r = [] {
    toy::ToyConfig c = config(100000, 0.0);
    c.train_steps = 10;
    return toy::run_linear_toy(c);
  }();
  return r;
}

// ... the same with isotropic noise (spec §2.2's advice for a held-out rho; training is not what
// is tested with it, so it is kept short) ...
const toy::LinearToyResult& noisy_toy() {
  static const toy::LinearToyResult r = [] {
    toy::ToyConfig c = config(50000, 0.1, 7);
    c.train_steps = 50;
    return toy::run_linear_toy(c);
  }();
  return r;
}

// ... and the ReLU toy at the defaults.
const toy::ReluToyResult& relu_toy() {
  static const toy::ReluToyResult r = toy::run_relu_toy(config(100000, 0.0));
  return r;
}

double cos_to_ideal(const toy::Vec2& w) { return (w[0] - w[1]) / (std::sqrt(2.0) * std::hypot(w[0], w[1])); }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A fresh folder under the test's temporary directory, removed afterwards.
class TempDir {
public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "pn-test-toy-XXXXXX").string();
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

// --- The linear model -----------------------------------------------------------------------

TEST(ToyLinear, FilterIsOrthogonalToTheDistractor) {
  const toy::LinearToyResult l = toy::run_linear_toy(config(100000, 0.0));  // with the full training
  // Both fits find w = (1, -1): the only direction that cancels a_d = (1, 1) while wᵀa_s = 1.
  EXPECT_GT(std::fabs(cos_to_ideal(l.closed_form.w)), 0.999);
  EXPECT_GT(std::fabs(cos_to_ideal(l.trained.w)), 0.999);
  EXPECT_NEAR(l.cos_w_ideal, cos_to_ideal(l.closed_form.w), 1e-12);
  EXPECT_NEAR(l.angle_w_a_d_deg, 90.0, 0.05);
  EXPECT_NEAR(l.angle_trained_a_d_deg, 90.0, 0.1);
  // Noise-free data are fitted exactly (up to float inputs).
  EXPECT_NEAR(l.closed_form.w[0], 1.0, 1e-5);
  EXPECT_NEAR(l.closed_form.w[1], -1.0, 1e-5);
  EXPECT_NEAR(l.closed_form.b, 0.0, 1e-5);
  EXPECT_LT(l.closed_form.mse, 1e-10);
  EXPECT_LT(l.trained.mse, 1e-4);
  EXPECT_NEAR(l.trained.w[0], 1.0, 0.01);
  EXPECT_NEAR(l.trained.w[1], -1.0, 0.01);
}

TEST(ToyLinear, NoiseShrinksTheFilterButKeepsItsDirectionNearlyOrthogonal) {
  const toy::LinearToyResult& l = noisy_toy();
  // Isotropic noise cannot be cancelled; it acts like L2 regularisation (paper §2): shorter w,
  // still close to (1, -1). Population (σ_ε = 0.5, τ = 0.1): w ∝ (0.25 + τ², -0.25).
  EXPECT_GT(std::fabs(cos_to_ideal(l.closed_form.w)), 0.999);
  EXPECT_LT(std::hypot(l.closed_form.w[0], l.closed_form.w[1]), std::sqrt(2.0) * 0.98);
  EXPECT_NEAR(l.closed_form.w[0] / l.closed_form.w[1], -(0.25 + 0.01) / 0.25, 0.01);
}

// --- Patterns ----------------------------------------------------------------------------------

TEST(ToyLinear, LinearPatternIsTheSignalDirection) {
  // 0.02 at n = 10^5; the statistical error of each component is σ_ε / (σ_y √n) ≈ 0.003 here.
  EXPECT_LT(paper_toy().pattern_error, 0.02);
  const toy::LinearToyResult& l = paper_toy();
  EXPECT_NEAR(l.pattern_linear[0], 1.0, 0.02);
  EXPECT_NEAR(l.pattern_linear[1], 0.0, 0.02);
  EXPECT_NEAR(l.pattern_linear[0] - l.pattern_linear[1], 1.0, 1e-5);  // wᵀa = 1
  // S_w's "pattern" is the filter itself, w / wᵀw = (0.5, -0.5): not a_s.
  EXPECT_NEAR(l.pattern_filter[0], 0.5, 1e-5);
  EXPECT_NEAR(l.pattern_filter[1], -0.5, 1e-5);
  // The two-component estimator reduces to S_a on linear data (spec §2.2): a_+ ≈ a_- ≈ a_s.
  for (const toy::Vec2& a : {l.pattern_positive, l.pattern_negative}) {
    EXPECT_NEAR(a[0], 1.0, 0.02);
    EXPECT_NEAR(a[1], 0.0, 0.02);
  }
}

TEST(ToyLinear, PatternAtTheSampleSizeOfINNvestigatesTest) {
  // iNNvestigate's test: n = 1000, tolerance 0.05. One component's error has standard deviation
  // σ_ε / (σ_y √n) ≈ 0.027 at this size, so 0.05 is a sanity check at a fixed seed rather than a
  // statistical bound; ErrorIsTheSampleCovarianceOfEpsAndY below pins the error down exactly.
  toy::ToyConfig c = config(1000, 0.0);
  c.random_draws = 16;
  const toy::LinearToyResult r = toy::run_linear_toy(c);
  EXPECT_LT(r.pattern_error, 0.05);
  EXPECT_GT(std::fabs(cos_to_ideal(r.trained.w)), 0.999);
}

TEST(ToyLinear, PatternErrorIsTheSampleCovarianceOfEpsAndY) {
  // With w = (1, -1) exactly, y = wᵀx and cov[x, y] = a_s var(y) + a_d cov(ε, y) on any sample,
  // so the fitted a = a_s + a_d · cov(ε, y) / var(y): the estimation error lies along a_d and is
  // exactly the sample correlation of signal and distractor.
  const toy::ToyData d = toy::make_linear_data(1000, 0.5, 0.0, 42);
  std::vector<float> z(static_cast<std::size_t>(d.n));
  for (std::int64_t i = 0; i < d.n; ++i) z[static_cast<std::size_t>(i)] = d.x[static_cast<std::size_t>(2 * i)] - d.x[static_cast<std::size_t>(2 * i + 1)];
  ex::PatternStats s(2, 1, false);
  s.accumulate_rows(d.x.data(), z.data(), d.n);
  ex::FitReport report;
  const pn::Tensor w = pn::Tensor::from(pn::Shape{1, 2}, std::vector<float>{1.0f, -1.0f});
  const pn::Tensor a = ex::linear_pattern(s, w, report);
  double my = 0, me = 0;
  for (std::int64_t i = 0; i < d.n; ++i) my += d.y[static_cast<std::size_t>(i)], me += d.eps[static_cast<std::size_t>(i)];
  my /= static_cast<double>(d.n), me /= static_cast<double>(d.n);
  double cey = 0, vy = 0;
  for (std::int64_t i = 0; i < d.n; ++i) {
    const double dy = d.y[static_cast<std::size_t>(i)] - my;
    cey += (d.eps[static_cast<std::size_t>(i)] - me) * dy;
    vy += dy * dy;
  }
  const double k = cey / vy;
  EXPECT_NEAR(a[0], 1.0 + k, 1e-4);
  EXPECT_NEAR(a[1], k, 1e-4);
  EXPECT_GT(std::fabs(k), 1e-3);  // the sample does have an error to explain
}

// --- One sample through every method (spec §2.2) -----------------------------------------------

TEST(ToyLinear, SignalsAndAttributionsOfOneSample) {
  const toy::MethodOutputs& m = paper_toy().sample;  // y = 0.6, ε = 0.4, x = (1.0, 0.4)
  EXPECT_DOUBLE_EQ(m.x[0], 1.0);
  EXPECT_DOUBLE_EQ(m.x[1], 0.4);
  EXPECT_NEAR(m.output, 0.6, 1e-5);
  const auto near = [](const toy::Vec2& got, double a, double b, double tol) {
    EXPECT_NEAR(got[0], a, tol);
    EXPECT_NEAR(got[1], b, tol);
  };
  near(m.gradient, 1.0, -1.0, 1e-5);              // the gradient is w
  near(m.signal_identity, 1.0, 0.4, 1e-12);       // S_x: the input, distractor included
  near(m.signal_filter, 0.3, -0.3, 1e-5);         // S_w: (y/2, -y/2), wrong
  near(m.signal_pattern, 0.6, 0.0, 0.02 * 0.6);   // S_a: a·y = the true signal (y, 0)
  near(m.attribution_identity, 1.0, -0.4, 1e-5);  // LRP: (y + ε, -ε), distractor terms ±ε
  near(m.attribution_filter, 0.3, 0.3, 1e-5);     // w²-rule: (y/2, y/2)
  near(m.attribution_pattern, 0.6, 0.0, 0.02 * 0.6);  // PatternAttribution: (y, 0)
  // Every attribution sums to the output (wᵀa = 1 for the pattern).
  for (const toy::Vec2& r : {m.attribution_identity, m.attribution_filter, m.attribution_pattern}) {
    EXPECT_NEAR(r[0] + r[1], m.output, 1e-5);
  }
}

// --- rho -----------------------------------------------------------------------------------------

TEST(ToyLinear, RhoOrdersTheEstimatorsWithIsotropicNoise) {
  const toy::LinearToyResult& l = noisy_toy();
  EXPECT_GT(l.rho_linear, l.rho_filter);
  EXPECT_GT(l.rho_filter, l.rho_random.mean);
  EXPECT_GT(l.rho_linear, 0.95);
  EXPECT_GT(l.rho_linear - l.rho_filter, 0.3);
  EXPECT_EQ(l.rho_random.draws, toy::ToyConfig{}.random_draws);
  EXPECT_LE(l.rho_random.min, l.rho_random.median);
  EXPECT_LE(l.rho_random.median, l.rho_random.max);
}

TEST(ToyLinear, RhoWithoutNoise) {
  // S_w leaves d̂ = (y/2 + ε)·a_d: rho = 1 - σ_y / sqrt(σ_y² + 4σ_ε²) = 0.5 for σ_ε = 0.5.
  const toy::LinearToyResult& l = paper_toy();
  const double want = 1.0 - kSigmaY / std::sqrt(kSigmaY * kSigmaY + 4.0 * 0.25);
  EXPECT_NEAR(want, 0.5, 1e-12);
  EXPECT_NEAR(l.rho_filter_population, want, 1e-12);
  EXPECT_NEAR(l.rho_filter, want, 0.01);
  // In two dimensions every residual x - a·wᵀx (wᵀa = 1) lies on the line orthogonal to w, so an
  // estimation error of a moves along a_d with the distractor itself and cannot be isolated by a
  // read-out: the held-out rho of S_a stays near 1 without noise, and the order is the same.
  EXPECT_GT(l.rho_linear, 0.99);
  EXPECT_GT(l.rho_linear, l.rho_filter);
  EXPECT_GT(l.rho_filter, l.rho_random.mean);
  EXPECT_NEAR(l.rho_two_component, l.rho_linear, 0.01);
  // A random direction is, on average, worse than the filter, but in 2-D not always.
  EXPECT_LT(l.rho_random.min, 0.05);
  EXPECT_GT(l.rho_random.max, 0.95);
}

// --- The ReLU toy ----------------------------------------------------------------------------------

TEST(ToyRelu, PatternsMatchTheirPopulationValues) {
  const toy::ReluToyResult& u = relu_toy();
  EXPECT_NEAR(u.active_fraction, 0.5, 0.01);
  // a = a_s - (3/4) μ a_d = (0.25, -0.75); a_+ = a_s; a_- = a_s - (3/2) μ a_d = (-0.5, -1.5).
  EXPECT_NEAR(u.pattern_linear[0], 0.25, 0.02);
  EXPECT_NEAR(u.pattern_linear[1], -0.75, 0.02);
  EXPECT_NEAR(u.pattern_positive[0], 1.0, 0.02);
  EXPECT_NEAR(u.pattern_positive[1], 0.0, 0.02);
  EXPECT_NEAR(u.pattern_negative[0], -0.5, 0.03);
  EXPECT_NEAR(u.pattern_negative[1], -1.5, 0.03);
  EXPECT_NEAR(u.pattern_linear_population[0], 0.25, 1e-12);
  EXPECT_NEAR(u.pattern_negative_population[1], -1.5, 1e-12);
  EXPECT_LT(u.pattern_error_positive, 0.02);
  EXPECT_GT(u.pattern_error_linear, 0.7);
}

TEST(ToyRelu, TwoComponentBeatsLinearWhereTheNeuronFires) {
  const toy::ReluToyResult& u = relu_toy();
  // Where the ReLU is open S_a leaves a_d((3/4)μy + ε): rho ≈ 0.603; S_a+- leaves a_d ε: rho ≈ 1.
  EXPECT_GT(u.rho_active_two_component, 0.97);
  EXPECT_GT(u.rho_active_two_component - u.rho_active_linear, 0.3);
  EXPECT_NEAR(u.rho_active_linear, u.rho_active_linear_population, 0.02);
  EXPECT_NEAR(u.rho_active_linear_population, 0.6026, 1e-3);
  // Over all samples both satisfy cov[x, y] = cov[S(x), y] (Eq. 2) and cannot be told apart.
  EXPECT_NEAR(u.rho_all_linear, 1.0, 0.02);
  EXPECT_NEAR(u.rho_all_two_component, 1.0, 0.02);
}

// --- Library pieces and refusals ---------------------------------------------------------------------

TEST(ToyLibrary, ReplicatedNeuronEqualsAccumulatingRepeatedOutputs) {
  const toy::ToyData d = toy::make_relu_data(500, 0.5, 1.0, 0.1, 3);
  const std::int64_t k = 3;
  std::vector<float> z1, zk;
  for (std::int64_t i = 0; i < d.n; ++i) {
    const float z = d.x[static_cast<std::size_t>(2 * i)] - d.x[static_cast<std::size_t>(2 * i + 1)] + 0.1f;
    z1.push_back(z);
    for (std::int64_t j = 0; j < k; ++j) zk.push_back(z);
  }
  ex::PatternStats one(2, 1, true), many(2, k, true);
  one.accumulate_rows(d.x.data(), z1.data(), d.n);
  many.accumulate_rows(d.x.data(), zk.data(), d.n);
  const ex::PatternStats rep = toy::replicate_neuron(one, k);
  ASSERT_EQ(rep.neurons(), k);
  for (std::int64_t j = 0; j < k; ++j) {
    EXPECT_NEAR(rep.mean_y(j), many.mean_y(j), 1e-9);
    EXPECT_NEAR(rep.var_y(j), many.var_y(j), 1e-9);
    EXPECT_NEAR(rep.positive_rows(j), many.positive_rows(j), 0.0);
    for (bool positive : {true, false}) {
      const auto a = rep.regime_numerator(j, positive), b = many.regime_numerator(j, positive);
      for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-9);
    }
    const auto a = rep.cov_xy(j), b = many.cov_xy(j);
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-9);
  }
  EXPECT_THROW(toy::replicate_neuron(many, 2), pn::Error);
}

TEST(ToyLibrary, EachToyAloneGivesTheNumbersOfTheFullRun) {
  toy::ToyConfig c = config(3000, 0.05, 11);
  c.train_steps = 30;
  const toy::ToyResult both = toy::run_toy(c);
  const toy::LinearToyResult lin = toy::run_linear_toy(c);
  const toy::ReluToyResult relu = toy::run_relu_toy(c);
  EXPECT_EQ(lin.closed_form.w, both.linear.closed_form.w);
  EXPECT_EQ(lin.trained.w, both.linear.trained.w);
  EXPECT_EQ(lin.rho_random.mean, both.linear.rho_random.mean);
  EXPECT_EQ(relu.pattern_positive, both.relu.pattern_positive);
  EXPECT_EQ(relu.rho_active_linear, both.relu.rho_active_linear);
}

TEST(ToyLibrary, RefusesBadConfigurations) {
  const auto message = [](toy::ToyConfig c) {
    try {
      toy::run_toy(c);
    } catch (const pn::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(message(config(0, 0.0)), HasSubstr("n must be between 10"));
  EXPECT_THAT(message(config(5, 0.0)), HasSubstr("got 5"));
  EXPECT_THAT(message(config(1000, -0.1)), HasSubstr("noise"));
  EXPECT_THAT(message(config(1000, std::nan(""))), HasSubstr("noise"));
  toy::ToyConfig c = config(1000, 0.0);
  c.sigma_eps = 0.0;
  EXPECT_THAT(message(c), HasSubstr("sigma_eps"));
  c = config(1000, 0.0);
  c.random_draws = 0;
  EXPECT_THAT(message(c), HasSubstr("random_draws"));
}

TEST(ToyLibrary, JsonHoldsEveryNumber) {
  toy::ToyConfig c = config(5000, 0.02, 3);
  c.train_steps = 100;
  const toy::ToyResult r = toy::run_toy(c);
  const nlohmann::json j = nlohmann::json::parse(toy::to_json(r));
  EXPECT_EQ(j.at("config").at("n").get<std::int64_t>(), 5000);
  EXPECT_DOUBLE_EQ(j.at("config").at("noise").get<double>(), 0.02);
  EXPECT_DOUBLE_EQ(j.at("linear").at("closed_form").at("w").at(0).get<double>(), r.linear.closed_form.w[0]);
  EXPECT_DOUBLE_EQ(j.at("linear").at("trained").at("w").at(1).get<double>(), r.linear.trained.w[1]);
  EXPECT_DOUBLE_EQ(j.at("linear").at("closed_form").at("angle_w_a_d_deg").get<double>(), r.linear.angle_w_a_d_deg);
  EXPECT_DOUBLE_EQ(j.at("linear").at("patterns").at("linear").at(0).get<double>(), r.linear.pattern_linear[0]);
  EXPECT_DOUBLE_EQ(j.at("linear").at("sample").at("attribution").at("identity").at(1).get<double>(),
                   r.linear.sample.attribution_identity[1]);
  EXPECT_DOUBLE_EQ(j.at("linear").at("sample").at("signal").at("filter").at(0).get<double>(), r.linear.sample.signal_filter[0]);
  EXPECT_TRUE(j.at("linear").at("rho").at("identity").is_null());
  for (const char* key : {"random", "filter", "linear", "two_component"}) {
    EXPECT_TRUE(j.at("linear").at("rho").at(key).is_number()) << key;
  }
  EXPECT_DOUBLE_EQ(j.at("relu").at("rho_active").at("two_component").get<double>(), r.relu.rho_active_two_component);
  EXPECT_DOUBLE_EQ(j.at("relu").at("rho_all").at("linear").get<double>(), r.relu.rho_all_linear);
}

// --- Figures ----------------------------------------------------------------------------------------

TEST(ToyFigures, WritesSvgAndPng) {
  TempDir dir;
  toy::ToyConfig c = config(2000, 0.0);
  c.random_draws = 8;
  c.train_steps = 20;
  c.figure_points = 300;
  const toy::ToyResult r = toy::run_toy(c);
  pn::viz::write_svg_and_png(toy::linear_figure(r), (dir.path() / "toy2d").string());
  pn::viz::write_svg_and_png(toy::relu_figure(r), (dir.path() / "toy2d_relu").string());
  for (const char* name : {"toy2d", "toy2d_relu"}) {
    const std::string png = read_file(dir.path() / (std::string(name) + ".png"));
    ASSERT_GE(png.size(), 8u) << name;
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << name;
    const std::string svg = read_file(dir.path() / (std::string(name) + ".svg"));
    EXPECT_THAT(svg, HasSubstr("<svg")) << name;
  }
  // Nothing but the four figures: no temporary files left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()), 4);
}

pn::viz::Figure small_figure() {
  pn::viz::Figure f;
  f.title = "it's a test";
  pn::viz::PointSet p;
  p.label = "points";
  p.x = {0.0, 1.0, std::nan("")};
  p.y = {0.0, 1.0, 2.0};
  f.points.push_back(p);
  pn::viz::Arrow a;
  a.label = "w";
  a.tip_label = "w";
  a.x1 = 1.0;
  a.y1 = -1.0;
  f.arrows.push_back(a);
  return f;
}

TEST(ToyFigures, ScriptQuotesTextAndInlinesTheData) {
  const std::string s = pn::viz::gnuplot_script(small_figure(), {{pn::viz::Format::svg, "/tmp/x.svg"}});
  EXPECT_THAT(s, HasSubstr("set title 'it''s a test'"));
  EXPECT_THAT(s, HasSubstr("$P0 << EOD\n0 0\n1 1\nNaN 2\nEOD"));
  EXPECT_THAT(s, HasSubstr("$A0 << EOD\n0 0 1 -1\nEOD"));
  EXPECT_THAT(s, HasSubstr("set terminal svg"));
  EXPECT_THAT(s, HasSubstr("set output '/tmp/x.svg'"));
}

TEST(ToyFigures, RefusesInconsistentFigures) {
  pn::viz::Figure f = small_figure();
  f.points[0].y.pop_back();
  EXPECT_THROW(pn::viz::gnuplot_script(f, {}), pn::Error);
  f = small_figure();
  f.arrows[0].color = "red";
  EXPECT_THROW(pn::viz::gnuplot_script(f, {}), pn::Error);
  f = small_figure();
  f.points[0].x[0] = INFINITY;
  EXPECT_THROW(pn::viz::gnuplot_script(f, {}), pn::Error);
  EXPECT_THROW(pn::viz::gnuplot_script(pn::viz::Figure{}, {}), pn::Error);
}

TEST(ToyFigures, UnwritableDestinationIsAClearError) {
  try {
    pn::viz::write_svg_and_png(small_figure(), "/nonexistent-folder-pn/toy2d");
    FAIL() << "no error";
  } catch (const pn::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot write '/nonexistent-folder-pn/toy2d.svg'"));
  }
}

TEST(ToyFigures, MissingGnuplotIsAClearError) {
  TempDir dir;
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", dir.path().c_str(), 1);  // an empty folder: no gnuplot on PATH
  std::string message = "no error";
  try {
    pn::viz::write_svg_and_png(small_figure(), (dir.path() / "fig").string());
  } catch (const pn::Error& e) {
    message = e.what();
  }
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_THAT(message, HasSubstr("cannot run 'gnuplot"));
  EXPECT_THAT(message, HasSubstr("gnuplot-nox"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "fig.svg"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "fig.png"));
}

TEST(ToyFigures, GnuplotFailureNamesTheCommandAndQuotesIt) {
  TempDir dir;
  pn::viz::Figure f = small_figure();
  f.key = "no-such-key-position";  // passed to gnuplot verbatim: it rejects the script
  std::string message = "no error";
  try {
    pn::viz::write_svg_and_png(f, (dir.path() / "fig").string());
  } catch (const pn::Error& e) {
    message = e.what();
  }
  EXPECT_THAT(message, HasSubstr("'gnuplot "));
  EXPECT_THAT(message, HasSubstr("failed"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "fig.svg"));
  // The failing script is kept for inspection; this test removes it.
  const auto at = message.find("kept in '");
  ASSERT_NE(at, std::string::npos) << message;
  const auto begin = at + 9, end = message.find('\'', begin);
  const std::filesystem::path kept = message.substr(begin, end - begin);
  EXPECT_TRUE(std::filesystem::exists(kept / "figure.gp"));
  std::error_code ec;
  if (kept.filename().string().rfind("pn-plot-", 0) == 0) std::filesystem::remove_all(kept, ec);
}

}  // namespace
