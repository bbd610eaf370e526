// Conformance with iNNvestigate 1.0.9 (the paper authors' library): every analyzer and single-
// layer model of tests/data/innvestigate-layer (see tests/data/README.md) is rebuilt from its
// manifest, explained with the matching method and compared within the manifest's tolerance.
#include "pn/explain/explain.h"
#include "pn/io/npy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

namespace {

namespace fs = std::filesystem;
namespace ex = pn::explain;
using pn::Shape;
using pn::Tensor;

const fs::path kData = fs::path(PN_TEST_DATA_DIR) / "innvestigate-layer";

// iNNvestigate analyzer -> our method (with the manifest's parameters).
ex::Method method_for(const std::string& analyzer, const nlohmann::json& params) {
  ex::MethodOptions o;
  if (analyzer == "Gradient") return ex::make_method("gradient", o);
  if (analyzer == "InputTimesGradient") return ex::make_method("input_x_gradient", o);
  if (analyzer == "IntegratedGradients") {
    o.steps = params.at("steps").get<std::int64_t>();
    return ex::make_method("integrated_gradients", o);
  }
  if (analyzer == "Deconvnet") return ex::make_method("deconvnet", o);
  if (analyzer == "GuidedBackprop") return ex::make_method("guided_backprop", o);
  if (analyzer == "LRPZ") return ex::make_method("lrp_z", o);
  if (analyzer == "LRPEpsilon") {
    o.epsilon = params.at("epsilon").get<double>();
    return ex::make_method("lrp_epsilon", o);
  }
  if (analyzer == "LRPAlpha1Beta0") {
    o.alpha = params.at("alpha").get<double>();
    o.beta = params.at("beta").get<double>();
    return ex::make_method("lrp_alpha_beta", o);
  }
  throw std::runtime_error("no method for analyzer " + analyzer);
}

pn::nn::Sequential model_for(const nlohmann::json& manifest, const fs::path& dir) {
  std::vector<pn::nn::LayerSpec> specs;
  int k = 0;
  for (const auto& l : manifest.at("layers")) {
    pn::nn::LayerSpec s;
    s.name = "layer" + std::to_string(k++);
    s.kind = pn::nn::kind_from_name(l.at("type").get<std::string>());
    if (s.kind == pn::nn::Kind::conv2d) {
      s.in = l.at("in_channels").get<std::int64_t>();
      s.out = l.at("out_channels").get<std::int64_t>();
      s.padding = l.at("padding").get<std::int64_t>();
    }
    if (l.contains("kernel")) s.kernel = l.at("kernel").get<std::int64_t>();
    if (l.contains("stride")) s.stride = l.at("stride").get<std::int64_t>();
    specs.push_back(s);
  }
  pn::nn::LayerSpec flat;
  flat.name = "flatten";
  flat.kind = pn::nn::Kind::flatten;
  specs.push_back(flat);
  Shape input;
  for (const auto& d : manifest.at("input_shape")) input.push_back(d.get<std::int64_t>());
  pn::nn::Sequential model(input, specs);
  if (fs::exists(dir / "weight.npy")) {
    model.layer(0).weight.mutable_value() = pn::io::read_npy((dir / "weight.npy").string());
    model.layer(0).bias.mutable_value() = pn::io::read_npy((dir / "bias.npy").string());
  }
  return model;
}

struct Case {
  std::string analyzer, layer;
};

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const auto& a : fs::directory_iterator(kData)) {
    if (!a.is_directory()) continue;
    for (const auto& l : fs::directory_iterator(a.path())) {
      if (l.is_directory()) cases.push_back({a.path().filename().string(), l.path().filename().string()});
    }
  }
  std::sort(cases.begin(), cases.end(), [](const Case& x, const Case& y) { return x.analyzer + x.layer < y.analyzer + y.layer; });
  return cases;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.analyzer << "/" << c.layer; }

class Conformance : public ::testing::TestWithParam<Case> {};

TEST_P(Conformance, MatchesInnvestigate) {
  const Case& c = GetParam();
  const fs::path dir = kData / c.analyzer / c.layer;
  std::ifstream in(dir / "manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(in);
  const pn::nn::Sequential model = model_for(manifest, dir);
  const Tensor x = pn::io::read_npy((kData / c.analyzer / "input.npy").string());
  const Tensor want = pn::io::read_npy((dir / "attribution.npy").string());
  const Tensor want_out = pn::io::read_npy((dir / "output.npy").string());

  // The model reproduces the reference's layer output.
  const Tensor out = model.forward(x);
  ASSERT_EQ(out.numel(), want_out.numel());
  for (std::int64_t i = 0; i < out.numel(); ++i) ASSERT_NEAR(out[i], want_out[i], 1e-4 + 1e-4 * std::fabs(want_out[i])) << "output " << i;

  const ex::Method m = method_for(c.analyzer, manifest.at("params"));
  const auto targets = manifest.at("target_index").get<std::vector<std::int64_t>>();
  const double rtol = manifest.at("tolerance").at("rtol").get<double>(), atol = manifest.at("tolerance").at("atol").get<double>();
  for (std::size_t s = 0; s < targets.size(); ++s) {
    // One sample at a time, with its target (the reference's per-sample arg-max).
    Tensor xs(Shape{1, x.dim(1), x.dim(2), x.dim(3)});
    std::copy_n(x.data() + static_cast<std::int64_t>(s) * xs.numel(), xs.numel(), xs.data());
    const ex::Explanation e = ex::explain(model, xs, m, nullptr, targets[s]);
    ASSERT_EQ(e.result.numel(), xs.numel());
    std::int64_t bad = 0;
    double worst = 0;
    for (std::int64_t i = 0; i < xs.numel(); ++i) {
      const double w = want[static_cast<std::int64_t>(s) * xs.numel() + i], g = e.result[i];
      const double excess = std::fabs(g - w) - (atol + rtol * std::fabs(w));
      if (excess > 0) {
        ++bad;
        worst = std::max(worst, std::fabs(g - w));
      }
    }
    EXPECT_EQ(bad, 0) << c.analyzer << "/" << c.layer << " sample " << s << ": " << bad << " values outside rtol " << rtol
                      << " atol " << atol << " (worst |diff| " << worst << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Innvestigate, Conformance, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.analyzer + "_" + p.param.layer; });

TEST(ConformanceData, AllReferenceCasesArePresent) {
  // 8 analyzers x 6 layer models: a missing folder would silently shrink the suite.
  EXPECT_EQ(all_cases().size(), 48u);
}

}  // namespace
