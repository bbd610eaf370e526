// `patternnet explain`: one explanation of a batch (.npy) or an image file with any method, written
// as a raw .npy tensor and/or a heatmap PNG (paper §7.4), with per-layer diagnostics on request.
#include "cli/commands.h"
#include "pn/nn/data_source.h"
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/explain/explain.h"
#include "pn/io/image.h"
#include "pn/io/npy.h"
#include "pn/nn/model_io.h"
#include "pn/nn/preprocess.h"
#include "pn/viz/heatmap.h"

#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <optional>

namespace pn::cli {
namespace {

struct ExplainOptions {
  std::string model, arch, patterns, input, image, method, target = "max", out, heatmap, start, preprocess = "auto";
  std::optional<double> epsilon, alpha, beta, low, high;
  bool ignore_bias = false, report = false;
  std::int64_t samples = 16, steps = 64;
  double sigma = 0.15;
  std::uint64_t seed = 1;
};

std::optional<std::int64_t> parse_target(const std::string& t) {
  if (t == "max") return std::nullopt;
  std::size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(t, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != t.size() || v < 0) throw Error("--target must be 'max' or a non-negative output index, got '{}'", t);
  return static_cast<std::int64_t>(v);
}

void print_report(const explain::Explanation& e) {
  fmt::print("{:<12} {:<20} {:>14} {:>14} {:>14} {:>12} {:>12} {:>10}\n", "layer", "rule", "sum out", "sum in", "absorbed",
             "min in", "max in", "non-finite");
  for (const auto& f : e.flows) {
    fmt::print("{:<12} {:<20} {:>14.6g} {:>14.6g} {:>14.6g} {:>12.4g} {:>12.4g} {:>10}\n", f.layer, f.rule, f.sum_out, f.sum_in,
               f.sum_out - f.sum_in, f.min_in, f.max_in, f.non_finite);
  }
}

int run_explain(const ExplainOptions& o) {
  if (o.input.empty() == o.image.empty()) throw Error("give exactly one of --input X.npy and --image FILE");
  if (o.out.empty() && o.heatmap.empty() && !o.report) throw Error("nothing to write: give --out R.npy, --heatmap R.png and/or --report");
  explain::MethodOptions mo;
  mo.epsilon = o.epsilon, mo.alpha = o.alpha, mo.beta = o.beta, mo.low = o.low, mo.high = o.high;
  mo.ignore_bias = o.ignore_bias;
  mo.samples = o.samples, mo.sigma = o.sigma, mo.steps = o.steps, mo.seed = o.seed;
  if (!o.start.empty()) {
    if (o.start != "one" && o.start != "output") throw Error("--start must be 'one' or 'output', got '{}'", o.start);
    mo.start = o.start == "one" ? explain::Start::one : explain::Start::output;
  }
  const explain::Method method = explain::make_method(o.method, mo);
  const std::optional<std::int64_t> target = parse_target(o.target);
  if (!o.out.empty()) require_writable_destination(o.out);
  if (!o.heatmap.empty()) require_writable_destination(o.heatmap);

  const nn::Sequential model = nn::load_model(o.model, o.arch);
  std::optional<explain::Patterns> patterns;
  if (!o.patterns.empty()) {
    patterns = explain::load_patterns(o.patterns);
    if (!method.needs_patterns) explain::check_patterns_match(*patterns, model, o.patterns);  // else the Explainer checks
  } else if (method.needs_patterns) {
    throw Error("--method {} needs --patterns P.safetensors (fit them with `patternnet fit-patterns`)", o.method);
  }
  const nn::Preprocess prep = nn::choose_preprocess(o.preprocess, o.arch, model);
  Tensor x;
  if (!o.input.empty()) {
    x = io::read_npy(o.input);
    model.check_input(x, o.input.c_str());
  } else {
    x = nn::preprocess_image(io::read_image(o.image), model.input_shape(), prep);
  }

  const explain::Explainer explainer(model, method, patterns ? &*patterns : nullptr, o.patterns);
  const auto t0 = std::chrono::steady_clock::now();
  const explain::Explanation e = explainer(x, target, o.report);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (std::size_t i = 0; i < e.targets.size(); ++i) {
    fmt::print("sample {}: output {} = {:.6g}", i, e.targets[i], e.target_outputs[i]);
    double sum = 0;
    const std::int64_t per = e.result.numel() / std::max<std::int64_t>(1, e.result.dim(0));
    for (std::int64_t k = 0; k < per; ++k) sum += e.result[static_cast<std::int64_t>(i) * per + k];
    fmt::print(", {} sum {:.6g}\n", explain::family_name(method.family), sum);
  }
  fmt::print("{} ({}) for {} sample(s) in {:.3f} s\n", method.name, explain::family_name(method.family), e.targets.size(), secs);
  if (o.report) print_report(e);
  if (!o.out.empty()) {
    io::write_npy(o.out, e.result);
    fmt::print("wrote {}\n", o.out);
  }
  if (!o.heatmap.empty()) {
    if (e.result.rank() != 4) throw Error("--heatmap needs an image model; this model's input is {}", model.input_shape().str());
    const viz::HeatmapKind kind = method.family == explain::Family::attribution ? viz::HeatmapKind::attribution : viz::HeatmapKind::signal;
    const auto written = viz::write_heatmaps(o.heatmap, e.result, kind, nn::is_bgr(prep));
    for (const auto& f : written) fmt::print("wrote {}\n", f);
  }
  return 0;
}

}  // namespace

Runner add_explain(CLI::App& app) {
  auto o = std::make_shared<ExplainOptions>();
  auto* sub = app.add_subcommand("explain", "Explain a model's outputs with one method (gradient, PatternNet, LRP, ...)");
  sub->add_option("--model", o->model, "Model file (.safetensors)")->required();
  sub->add_option("--arch", o->arch, "Bind a file without pn.architecture to this builder (e.g. vgg16)");
  sub->add_option("--patterns", o->patterns, "Patterns file from `patternnet fit-patterns` (pattern_net, pattern_attribution)");
  sub->add_option("--input", o->input, "(N, C, H, W) float32/float64 .npy batch");
  sub->add_option("--image", o->image, "PNG/JPEG image, preprocessed for the model (see --preprocess)");
  sub->add_option("--preprocess", o->preprocess, "auto, caffe, torchvision or unit (for --image)");
  sub->add_option("--method", o->method, "Method name (see `patternnet explain --help` and the README)")->required();
  sub->add_option("--target", o->target, "Output unit to explain: max (per sample) or an index");
  sub->add_option("--start", o->start, "Start value at the target: one or output (default: per method)");
  sub->add_option("--epsilon", o->epsilon, "Stabiliser of lrp_epsilon (1e-7) and of the presets' dense layers (0.1)");
  sub->add_option("--alpha", o->alpha, "lrp_alpha_beta: weight of the positive part (default 1)");
  sub->add_option("--beta", o->beta, "lrp_alpha_beta: weight of the negative part (default 0)");
  sub->add_option("--low", o->low, "Lower input bound (lrp_zbox, bounded deep_taylor)");
  sub->add_option("--high", o->high, "Upper input bound (lrp_zbox, bounded deep_taylor)");
  sub->add_flag("--ignore-bias", o->ignore_bias, "Leave biases out of the LRP denominators");
  sub->add_option("--samples", o->samples, "smoothgrad: noisy samples (default 16)");
  sub->add_option("--sigma", o->sigma, "smoothgrad: noise std relative to the input's range (default 0.15)");
  sub->add_option("--steps", o->steps, "integrated_gradients: steps from the zero baseline (default 64)");
  sub->add_option("--seed", o->seed, "smoothgrad: noise seed");
  sub->add_option("--out", o->out, "Write the (N, C, H, W) float32 result (.npy)");
  sub->add_option("--heatmap", o->heatmap, "Write the heatmap (.png; one file per sample for a batch)");
  sub->add_flag("--report", o->report, "Per-layer relevance sums, absorbed relevance, min/max, non-finite values");
  return [o] { return run_explain(*o); };
}

}  // namespace pn::cli
