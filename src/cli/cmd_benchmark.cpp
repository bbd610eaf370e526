// `patternnet benchmark`: how long the forward pass and each explanation method take on this
// machine, in-process, as a table or one JSON object. The JSON layout is a public interface
// (README: "Benchmark your machine"); keep it stable.
#include "cli/commands.h"
#include "cli/method_list.h"
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/core/tensor.h"
#include "pn/explain/explain.h"
#include "pn/explain/fit_patterns.h"
#include "pn/explain/patterns.h"
#include "pn/kernels/kernels.h"
#include "pn/nn/builders.h"
#include "pn/nn/model_io.h"

#include <fmt/core.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pn::cli {
namespace {

// Fixed seeds: two runs on one machine time the same weights and the same input.
constexpr std::uint64_t kWeightSeed = 5;
constexpr std::uint64_t kInputSeed = 7;
// The random input's range; lrp_zbox needs bounds, and these are the true ones of that input.
constexpr float kInputLow = -1.0f, kInputHigh = 1.0f;

struct BenchmarkOptions {
  std::string arch, model, patterns, methods, statistics;
  std::int64_t batch = 1, repeat = 5;
  bool json = false;
};

struct Timing {
  double median_ms = 0, min_ms = 0;  // per image
};

struct MethodTiming {
  std::string name;
  Timing t;
  double prepare_ms = 0;  // once per Explainer: its cost does not grow with the batch
};

std::vector<std::string> parse_methods(const std::string& list) {
  std::vector<std::string> names;
  for (const ListedMethod& m : parse_method_list(list)) names.push_back(m.name);
  return names;
}

explain::Method method_for(const std::string& name) {
  explain::MethodOptions o;
  // Only lrp_zbox requires bounds; deep_taylor would switch its first-layer rule if given them.
  if (name == "lrp_zbox") o.low = kInputLow, o.high = kInputHigh;
  return explain::make_method(name, o);
}

// The weights themselves, stamped with the model's fingerprint so the Explainer accepts them. A
// pattern method's cost depends only on the patterns' shapes, not their values.
explain::Patterns weights_as_patterns(const nn::Sequential& model) {
  explain::Patterns p;
  p.model_fingerprint = model.fingerprint();
  for (std::size_t i = 0; i < model.size(); ++i) {
    const auto& l = model.layer(i);
    if (!l.spec.has_params()) continue;
    explain::LayerPatterns lp;
    lp.layer = l.spec.name;
    lp.a = l.weight.value().clone();
    p.layers.push_back(std::move(lp));
  }
  return p;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// One untimed warm-up call (first-touch allocations, GEMM workspaces, caches), then `repeat` timed calls.
template <class F>
Timing time_calls(F&& call, std::int64_t repeat, std::int64_t batch) {
  call();
  std::vector<double> ms;
  for (std::int64_t r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    ms.push_back(ms_since(t0) / static_cast<double>(batch));
  }
  std::sort(ms.begin(), ms.end());
  const std::size_t n = ms.size();
  const double median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  return {median, ms.front()};
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (u < 0x20) out += fmt::format("\\u{:04x}", u);
    else out += c;
  }
  return out + "\"";
}

// %g keeps sub-microsecond per-image times of the small models meaningful; JSON accepts its
// exponent form, and the times are finite.
std::string json_number(double v) { return fmt::format("{:.6g}", v); }

// Four significant digits for the table, without switching to exponent form for slow runs.
std::string ms_text(double ms) { return ms >= 1000 ? fmt::format("{:.0f}", ms) : fmt::format("{:.4g}", ms); }

int run_benchmark(const BenchmarkOptions& o) {
  if (o.batch < 1) throw Error("--batch must be at least 1, got {}", o.batch);
  if (!o.statistics.empty() && o.statistics != "linear" && o.statistics != "two_component") {
    throw Error("--statistics: unknown estimator '{}'; use linear or two_component (the two that fit from data)", o.statistics);
  }
  if (o.repeat < 1) throw Error("--repeat must be at least 1, got {}", o.repeat);
  const auto& archs = nn::model_names();
  if (std::find(archs.begin(), archs.end(), o.arch) == archs.end()) {
    throw Error("--arch: unknown architecture '{}' (known: {})", o.arch, fmt::join(archs, ", "));
  }
  const std::vector<std::string> names = parse_methods(o.methods);
  std::vector<explain::Method> methods;
  methods.reserve(names.size());
  for (const auto& n : names) methods.push_back(method_for(n));
  const bool any_pattern_method =
      std::any_of(methods.begin(), methods.end(), [](const explain::Method& m) { return m.needs_patterns; });

  nn::Sequential model;
  if (o.model.empty()) {
    model = nn::build_model(o.arch);
    Rng rng(kWeightSeed);
    model.init(rng);
  } else {
    model = nn::load_model(o.model, o.arch);
  }
  std::optional<explain::Patterns> patterns;
  if (!o.patterns.empty()) {
    patterns = explain::load_patterns(o.patterns);
    explain::check_patterns_match(*patterns, model, o.patterns);
    explain::release_negative_patterns(*patterns);
  } else if (any_pattern_method) {
    patterns = weights_as_patterns(model);
  }

  Shape in{o.batch};
  for (const std::int64_t d : model.input_shape()) in.push_back(d);
  Tensor x(in);
  Rng input_rng(kInputSeed);
  input_rng.fill_uniform(x.values(), kInputLow, kInputHigh);

  const int threads = omp_get_max_threads();
  const std::string isa = kernels::active().name;
  const std::string weights = o.model.empty() ? "random" : o.model;
  const std::string patterns_source = !o.patterns.empty() ? o.patterns : (any_pattern_method ? "weights-standin" : "");

  if (!o.json) {
    fmt::print("arch {}, input {}, batch {}, repeat {}, threads {}, ISA {}, weights {}\n", o.arch, model.input_shape(), o.batch,
               o.repeat, threads, isa,
               o.model.empty() ? fmt::format("random (He init, seed {})", kWeightSeed) : o.model);
    fmt::print("input: a seeded random batch (seed {}), uniform in [{}, {}]\n", kInputSeed, kInputLow, kInputHigh);
    if (any_pattern_method && o.patterns.empty()) {
      fmt::print("note: no --patterns: pattern_net / pattern_attribution use the weights as patterns, a timing stand-in "
                 "(their cost does not depend on the values)\n");
    } else if (!o.patterns.empty() && !any_pattern_method) {
      fmt::print("note: --patterns {} is not used by the listed methods\n", o.patterns);
    }
    if (std::find(names.begin(), names.end(), "lrp_zbox") != names.end()) {
      fmt::print("note: lrp_zbox uses the random input's bounds, --low {} --high {}\n", kInputLow, kInputHigh);
    }
    for (const auto& m : methods) {
      if (m.wrapper == explain::Method::Wrapper::smoothgrad) {
        fmt::print("note: smoothgrad runs {} gradients per image (the default --samples of `explain`)\n", m.samples);
      } else if (m.wrapper == explain::Method::Wrapper::integrated_gradients) {
        fmt::print("note: integrated_gradients runs {} gradients per image (the default --steps of `explain`)\n", m.steps);
      }
    }
    std::fflush(stdout);  // the header before a long VGG-16 run, not after it
  }

  // The statistics a fit accumulates (fit-patterns' default float runs), every dense and conv layer:
  // the sums are allocated once (3 GB for VGG-16's two-component estimator, most of it fc6's), then
  // each timed call adds the batch, forward pass included.
  std::optional<Timing> statistics;
  std::size_t statistics_layers = 0;
  if (!o.statistics.empty()) {
    explain::StatsCollector collector(model, false, o.statistics == "two_component");
    statistics_layers = collector.layer_indices().size();
    statistics = time_calls([&] { collector.add_batch(x); }, o.repeat, o.batch);
  }
  const Timing forward = time_calls([&] { (void)model.forward(x); }, o.repeat, o.batch);
  std::vector<MethodTiming> results;
  for (auto& m : methods) {
    MethodTiming r;
    r.name = m.name;
    const auto p0 = std::chrono::steady_clock::now();
    const explain::Patterns* p = m.needs_patterns && patterns ? &*patterns : nullptr;
    const explain::Explainer explainer(model, std::move(m), p,
                                       o.patterns.empty() ? "the weights stand-in" : o.patterns);
    r.prepare_ms = ms_since(p0);
    r.t = time_calls([&] { (void)explainer(x); }, o.repeat, o.batch);
    results.push_back(std::move(r));
  }

  if (o.json) {
    std::string s = "{";
    s += fmt::format("\"arch\": {}, \"input_shape\": [{}], \"batch\": {}, \"repeat\": {}, \"threads\": {}, \"isa\": {}, ",
                     json_string(o.arch), fmt::join(model.input_shape(), ", "), o.batch, o.repeat, threads, json_string(isa));
    s += fmt::format("\"weights\": {}, \"patterns\": {}, ", json_string(weights),
                     patterns_source.empty() ? std::string("null") : json_string(patterns_source));
    s += fmt::format("\"forward\": {{\"median_ms\": {}, \"min_ms\": {}}}, ", json_number(forward.median_ms),
                     json_number(forward.min_ms));
    if (statistics) {
      s += fmt::format("\"statistics\": {{\"estimator\": {}, \"layers\": {}, \"median_ms\": {}, \"min_ms\": {}, "
                       "\"images_per_s\": {}}}, ",
                       json_string(o.statistics), statistics_layers, json_number(statistics->median_ms),
                       json_number(statistics->min_ms), json_number(1000.0 / statistics->median_ms));
    }
    s += "\"methods\": [";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      s += fmt::format("{}{{\"name\": {}, \"median_ms\": {}, \"min_ms\": {}, \"prepare_ms\": {}}}", i ? ", " : "",
                       json_string(r.name), json_number(r.t.median_ms), json_number(r.t.min_ms), json_number(r.prepare_ms));
    }
    s += "]}";
    fmt::print("{}\n", s);
    return 0;
  }

  const auto g = std::find_if(results.begin(), results.end(), [](const MethodTiming& r) { return r.name == "gradient"; });
  const bool has_gradient = g != results.end();
  const double gradient_ms = has_gradient ? g->t.median_ms : 0.0;
  fmt::print("\n{:<22} {:>16} {:>14} {:>10}{}\n", "method", "median ms/image", "min ms/image", "x forward",
             has_gradient ? fmt::format(" {:>10}", "x gradient") : "");
  const auto row = [&](const std::string& name, const Timing& t) {
    fmt::print("{:<22} {:>16} {:>14} {:>10.2f}{}\n", name, ms_text(t.median_ms), ms_text(t.min_ms),
               t.median_ms / forward.median_ms,
               has_gradient ? fmt::format(" {:>10.2f}", t.median_ms / gradient_ms) : "");
  };
  row("forward", forward);
  for (const auto& r : results) row(r.name, r.t);
  if (statistics) {
    fmt::print("\nstatistics {} ({} dense and conv layers, forward pass included): median {} ms/image, min {} ms/image, "
               "{:.3g} images/s\n",
               o.statistics, statistics_layers, ms_text(statistics->median_ms), ms_text(statistics->min_ms),
               1000.0 / statistics->median_ms);
  }
  if (!results.empty()) {
    fmt::print("\nExplainer preparation (ms, once per method, outside the timed calls):");
    for (std::size_t i = 0; i < results.size(); ++i) {
      fmt::print("{} {} {}", i ? "," : "", results[i].name, ms_text(results[i].prepare_ms));
    }
    fmt::print("\n");
  }
  return 0;
}

}  // namespace

Runner add_benchmark(CLI::App& app) {
  auto o = std::make_shared<BenchmarkOptions>();
  auto* sub = app.add_subcommand(
      "benchmark", "Time the forward pass and explanation methods on this machine (median and min ms per image)");
  sub->add_option("--arch", o->arch, "Architecture: mlp, cnn, vgg16 or vgg16-32")->required();
  sub->add_option("--model", o->model, "Model file (.safetensors); default: the architecture with seeded random He-init weights");
  sub->add_option("--patterns", o->patterns,
                  "Patterns file for pattern_net / pattern_attribution; default: the weights as a timing stand-in");
  sub->add_option("--methods", o->methods,
                  "Comma-separated method names, or all (every method except smoothgrad and integrated_gradients, "
                  "which are many gradients each and run only when named)")
      ->required();
  sub->add_option("--batch", o->batch, "Images per call; times are reported per image (default 1)");
  sub->add_option("--repeat", o->repeat, "Timed calls per method after one warm-up call (default 5)");
  sub->add_option("--statistics", o->statistics,
                  "Also time the pattern statistics of a fit (linear or two_component), every dense and conv layer, "
                  "forward pass included; reported in images/s");
  sub->add_flag("--json", o->json, "Print one JSON object instead of the table (layout: README, 'Benchmark your machine')");
  return [o] { return run_benchmark(*o); };
}

}  // namespace pn::cli
