// Checks the output of `fig4_degradation --quick` (run by the ctest fixture experiment_fig4_quick
// into PN_FIG4_QUICK_DIR): the files are complete and consistent, every curve starts at the clean
// probability, and the qualitative claim of the paper's Fig. 4 that survives a one-epoch network
// holds: PatternAttribution (S_a+-) degrades the prediction faster than a random patch order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifndef PN_FIG4_QUICK_DIR
#error "PN_FIG4_QUICK_DIR must name the folder fig4_degradation --quick writes"
#endif

namespace {

namespace fs = std::filesystem;

const fs::path dir = PN_FIG4_QUICK_DIR;

std::vector<std::vector<std::string>> read_csv(const fs::path& path, const std::string& header) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, header) << path;
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

double number(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  EXPECT_TRUE(end && *end == '\0' && !s.empty()) << "not a number: '" << s << "'";
  return v;
}

struct Curves {
  std::map<std::string, std::vector<double>> probability, still;
};

Curves load_curves() {
  Curves c;
  for (const auto& r : read_csv(dir / "degradation_cnn.csv", "method,n,fraction_replaced,mean_probability,still_original")) {
    EXPECT_EQ(r.size(), 5u);
    if (r.size() != 5) continue;
    auto& p = c.probability[r[0]];
    EXPECT_EQ(number(r[1]), static_cast<double>(p.size())) << r[0] << ": n must run 0, 1, 2, ...";
    p.push_back(number(r[3]));
    c.still[r[0]].push_back(number(r[4]));
  }
  return c;
}

TEST(ExperimentFig4, FilesAreWritten) {
  for (const char* f : {"degradation_cnn.csv", "aopc_cnn.csv", "fig4_cnn.svg", "fig4_cnn.png", "summary.md"}) {
    EXPECT_TRUE(fs::exists(dir / f) && fs::file_size(dir / f) > 0) << (dir / f);
  }
  std::ifstream in(dir / "summary.md");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("random < S_a < S_w < S_x < S_a+-"), std::string::npos);
  EXPECT_NE(text.find("AOPC, best first"), std::string::npos);
}

TEST(ExperimentFig4, EveryCurveStartsAtTheCleanProbability) {
  const Curves c = load_curves();
  for (const char* m : {"random", "lrp_z", "lrp_w_square", "pattern_attribution_linear", "pattern_attribution_two_component", "gradient",
                        "guided_backprop", "lrp_epsilon", "lrp_alpha_beta", "integrated_gradients"}) {
    EXPECT_TRUE(c.probability.contains(m)) << "no curve for " << m;
  }
  ASSERT_TRUE(c.probability.contains("random"));
  const double clean = c.probability.at("random").front();
  EXPECT_GT(clean, 0.5) << "a trained network is confident on average";
  const std::size_t length = c.probability.at("random").size();
  EXPECT_GE(length, 11u);
  for (const auto& [method, p] : c.probability) {
    EXPECT_EQ(p.size(), length) << method;
    EXPECT_NEAR(p.front(), clean, 2e-6) << method << ": n = 0 is the clean image for every method";
    EXPECT_EQ(c.still.at(method).front(), 1.0) << method;
    for (double v : p) {
      EXPECT_GE(v, 0.0) << method;
      EXPECT_LE(v, 1.0) << method;
    }
  }
}

TEST(ExperimentFig4, PatternAttributionDegradesFasterThanRandom) {
  const Curves c = load_curves();
  std::map<std::string, std::pair<double, double>> aopc;  // method -> (aopc, curve_start)
  for (const auto& r : read_csv(dir / "aopc_cnn.csv", "method,aopc,curve_start")) {
    ASSERT_EQ(r.size(), 3u);
    aopc[r[0]] = {number(r[1]), number(r[2])};
  }
  ASSERT_TRUE(aopc.contains("random"));
  ASSERT_TRUE(aopc.contains("pattern_attribution_two_component"));

  // The AOPC file agrees with the curves: (1/steps) Σ_{n>=1} (p(0) - p(n)), start = p(0).
  for (const auto& [method, value] : aopc) {
    ASSERT_TRUE(c.probability.contains(method)) << method;
    const std::vector<double>& p = c.probability.at(method);
    double s = 0;
    for (std::size_t n = 1; n < p.size(); ++n) s += p[0] - p[n];
    EXPECT_NEAR(value.first, s / static_cast<double>(p.size() - 1), 1e-5) << method;
    EXPECT_NEAR(value.second, p[0], 1e-6) << method;
  }

  const double random = aopc.at("random").first, pattern = aopc.at("pattern_attribution_two_component").first;
  EXPECT_LT(random, pattern) << "PatternAttribution (S_a+-) must degrade faster than a random patch order";
  // The same claim on the curves: the random curve lies above PatternAttribution's on average.
  const std::vector<double>& pr = c.probability.at("random");
  const std::vector<double>& pa = c.probability.at("pattern_attribution_two_component");
  double mr = 0, mp = 0;
  for (std::size_t n = 0; n < pr.size(); ++n) mr += pr[n], mp += pa[n];
  EXPECT_GE(mr / static_cast<double>(pr.size()), mp / static_cast<double>(pa.size()));
  // And at the end of the curve more images have lost their original class under S_a+-.
  EXPECT_LE(c.still.at("pattern_attribution_two_component").back(), c.still.at("random").back());
}

}  // namespace
