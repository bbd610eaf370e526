// Checks what `fig3_correlation --quick` wrote (the test experiment_fig3_quick runs it first): the
// paper's ordering of the estimators on the hidden dense layers of the quick CNN,
// rho(S_a+-) >= rho(S_a) > rho(S_w) > rho(S_rand) (paper §5.3, Fig. 3), read from rho_cnn.csv, and
// that the figure and summary exist. The qualitative claim must hold even on the small data.
#include "pn/nn/builders.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace {

const std::string kDir = PN_FIG3_QUICK_DIR;

// rho[layer][estimator] from the CSV: layer,estimator,mean_rho,median_rho,neurons,undefined.
std::map<std::string, std::map<std::string, double>> read_rho(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "layer,estimator,mean_rho,median_rho,neurons,undefined");
  std::map<std::string, std::map<std::string, double>> rho;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string layer, estimator, mean;
    std::getline(ss, layer, ',');
    std::getline(ss, estimator, ',');
    std::getline(ss, mean, ',');
    rho[layer][estimator] = std::stod(mean);
  }
  return rho;
}

TEST(ExperimentFig3, EstimatorOrderingHoldsOnTheHiddenDenseLayers) {
  const auto rho = read_rho(kDir + "/rho_cnn.csv");
  const pn::nn::Sequential cnn = pn::nn::build_model("cnn");
  int hidden_dense = 0;
  for (std::size_t i = 0; i + 1 < cnn.size(); ++i) {
    const auto& spec = cnn.layer(i).spec;
    if (spec.kind != pn::nn::Kind::conv2d && spec.kind != pn::nn::Kind::linear) continue;
    ASSERT_TRUE(rho.count(spec.name)) << "no row for layer " << spec.name;
    const auto& r = rho.at(spec.name);
    for (const char* e : {"random", "filter", "linear", "two_component"}) {
      ASSERT_TRUE(r.count(e)) << spec.name << " has no " << e;
      EXPECT_GE(r.at(e), 0.0) << spec.name << " " << e;
      EXPECT_LE(r.at(e), 1.0) << spec.name << " " << e;
    }
    // S_a removes the signal far better than the filter or a random direction on every layer.
    EXPECT_GT(r.at("linear"), r.at("filter") + 0.1) << spec.name;
    if (spec.kind != pn::nn::Kind::linear || cnn.layer(i + 1).spec.kind != pn::nn::Kind::relu) continue;
    ++hidden_dense;
    EXPECT_GE(r.at("two_component"), r.at("linear") - 1e-3) << spec.name;
    EXPECT_GT(r.at("filter"), r.at("random")) << spec.name;
  }
  EXPECT_GE(hidden_dense, 1);
}

TEST(ExperimentFig3, WroteFigureAndSummary) {
  for (const char* f : {"fig3_cnn.png", "fig3_cnn.svg", "summary.md"}) {
    EXPECT_TRUE(std::filesystem::exists(kDir + "/" + f)) << f;
    EXPECT_GT(std::filesystem::file_size(kDir + "/" + f), 500u) << f;
  }
}

}  // namespace
