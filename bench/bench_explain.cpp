// The cost of an explanation: every method (except SmoothGrad and Integrated Gradients, which are
// many gradients by design) against the plain gradient on the same model and input, at 2 threads:
// the Fashion-MNIST CNN (batch 16; batch 2 for the smoke run) and VGG-16 at 224x224 (batch 1, random weights: the cost does
// not depend on the values). PatternNet/PatternAttribution use patterns of the weights' shapes.
// Each row reports ms per explanation and the ratio to the gradient measured in the same run.
#include "bench_common.h"

#include "pn/core/rng.h"
#include "pn/explain/explain.h"
#include "pn/nn/builders.h"

#include <fmt/core.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace {

namespace ex = pn::explain;

struct Setup {
  pn::nn::Sequential model;
  pn::Tensor x;
  ex::Patterns patterns;
};

std::shared_ptr<Setup> make_setup(const std::string& arch, std::int64_t batch) {
  auto s = std::make_shared<Setup>();
  s->model = pn::nn::build_model(arch);
  pn::Rng rng(5);
  s->model.init(rng);
  pn::Shape in{batch};
  for (int i = 0; i < s->model.input_shape().rank(); ++i) in.push_back(s->model.input_shape().dim(i));
  s->x = pn::Tensor(in);
  rng.fill_uniform(s->x.values(), -1.0f, 1.0f);
  s->patterns.model_fingerprint = s->model.fingerprint();
  for (std::size_t i = 0; i < s->model.size(); ++i) {
    const auto& l = s->model.layer(i);
    if (!l.spec.has_params()) continue;
    ex::LayerPatterns lp;
    lp.layer = l.spec.name;
    lp.a = l.weight.value().clone();
    s->patterns.layers.push_back(std::move(lp));
  }
  return s;
}

// Seconds per explanation of the gradient, per setup, filled by the gradient rows (which run first).
std::map<std::string, double>& gradient_seconds() {
  static std::map<std::string, double> m;
  return m;
}

// Built on first use, so that a filtered run (the ctest smoke test) never builds VGG-16.
std::shared_ptr<Setup> setup(const std::string& arch, std::int64_t batch) {
  static std::map<std::string, std::shared_ptr<Setup>> cache;
  auto& s = cache[arch + "/" + std::to_string(batch)];
  if (!s) s = make_setup(arch, batch);
  return s;
}

void bench_method(benchmark::State& state, std::string setup_name, std::string arch, std::int64_t batch, std::string method) {
  pn::bench::set_threads(2);
  const std::shared_ptr<Setup> s = setup(arch, batch);
  ex::MethodOptions o;
  if (method == "lrp_zbox") o.low = -1.0, o.high = 1.0;
  const ex::Method m = ex::make_method(method, o);
  const ex::Patterns* p = m.needs_patterns ? &s->patterns : nullptr;
  // The Explainer checks the patterns and derives the rules' weight transforms once (reported as
  // prepare_ms); the rows time what every further explanation costs.
  const auto p0 = std::chrono::steady_clock::now();
  const ex::Explainer explainer(s->model, m, p);
  const double prepare = std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count();
  (void)explainer(s->x);  // warm-up
  double total = 0;
  std::int64_t runs = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const ex::Explanation e = explainer(s->x);
    benchmark::DoNotOptimize(e.result.data());
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++runs;
  }
  const double per = total / static_cast<double>(std::max<std::int64_t>(1, runs));
  if (method == "gradient") gradient_seconds()[setup_name] = per;
  const auto g = gradient_seconds().find(setup_name);
  if (g != gradient_seconds().end()) state.counters["vs_gradient"] = per / g->second;
  state.counters["prepare_ms"] = 1e3 * prepare;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> methods = {"gradient",    "input_x_gradient", "deconvnet",    "guided_backprop",
                                            "pattern_net", "pattern_attribution", "lrp_z",     "lrp_epsilon",
                                            "lrp_zplus",   "lrp_alpha_beta",   "lrp_w_square", "lrp_flat",
                                            "lrp_zbox",    "lrp_preset_a",     "lrp_preset_b", "deep_taylor"};
  struct SetupSpec {
    std::string name, arch;
    std::int64_t batch;
  };
  // "small" (the ctest smoke run, also under the sanitizers) is the CNN at batch 2.
  for (const SetupSpec& sp : {SetupSpec{"small_cnn_batch2", "cnn", 2}, SetupSpec{"cnn_batch16", "cnn", 16},
                              SetupSpec{"vgg16_224_batch1", "vgg16", 1}}) {
    for (const auto& m : methods) {
      benchmark::RegisterBenchmark(fmt::format("explain/{}/{}", sp.name, m).c_str(), bench_method, sp.name, sp.arch, sp.batch, m)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
