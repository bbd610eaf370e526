// `patternnet explain`: explanations of a batch (.npy) or an image file, with one method (--method:
// a raw .npy tensor and/or a heatmap PNG, paper §7.4) or many (--methods: a montage per sample in
// the layout of the paper's Fig. 6, the input first and one labelled heatmap per method). Both
// print the model's top-5 predictions, with the ImageNet / Fashion-MNIST class names when the
// model's shape says which classes it has.
#include "cli/commands.h"
#include "cli/method_list.h"
#include "pn/nn/data_source.h"
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/explain/explain.h"
#include "pn/io/image.h"
#include "pn/io/npy.h"
#include "pn/nn/class_names.h"
#include "pn/nn/model_io.h"
#include "pn/nn/preprocess.h"
#include "pn/viz/heatmap.h"
#include "pn/viz/montage.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <system_error>

namespace pn::cli {
namespace {

namespace fs = std::filesystem;

// `explain` runs one backward pass per method over all its images, so preparing a method's rule
// tensors (w ⊙ a, w⁺, w⁻, ...) ahead of it saves nothing: they are derived during the pass instead,
// layer by layer and large dense layers in blocks (prepare_rule_weights with a budget of 0), so a
// VGG-16 explanation needs the weights, the patterns and a few hundred MB (fc6's w⁺ and w⁻ alone
// would be 822 MB). `benchmark` prepares everything, the faster choice for repeated calls.
constexpr std::int64_t kPrepareBudgetFloats = 0;

struct ExplainOptions {
  std::string model, arch, patterns, input, image, method, methods, target = "max", out, heatmap, out_dir, start,
      preprocess = "auto";
  std::optional<double> epsilon, alpha, beta, low, high;
  bool ignore_bias = false, report = false;
  std::int64_t samples = 16, steps = 64, columns = 0;
  double sigma = 0.15;
  std::uint64_t seed = 1;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Milliseconds for the small models' sub-millisecond passes, seconds for VGG-16's.
std::string duration(double seconds) {
  return seconds < 1.0 ? fmt::format("{:.2f} ms", 1e3 * seconds) : fmt::format("{:.3f} s", seconds);
}

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

explain::MethodOptions method_options(const ExplainOptions& o) {
  explain::MethodOptions mo;
  mo.epsilon = o.epsilon, mo.alpha = o.alpha, mo.beta = o.beta, mo.low = o.low, mo.high = o.high;
  mo.ignore_bias = o.ignore_bias;
  mo.samples = o.samples, mo.sigma = o.sigma, mo.steps = o.steps, mo.seed = o.seed;
  if (!o.start.empty()) {
    if (o.start != "one" && o.start != "output") throw Error("--start must be 'one' or 'output', got '{}'", o.start);
    mo.start = o.start == "one" ? explain::Start::one : explain::Start::output;
  }
  return mo;
}

void print_report(const explain::Explanation& e) {
  fmt::print("{:<12} {:<20} {:>14} {:>14} {:>14} {:>12} {:>12} {:>10}\n", "layer", "rule", "sum out", "sum in", "absorbed",
             "min in", "max in", "non-finite");
  for (const auto& f : e.flows) {
    fmt::print("{:<12} {:<20} {:>14.6g} {:>14.6g} {:>14.6g} {:>12.4g} {:>12.4g} {:>10}\n", f.layer, f.rule, f.sum_out, f.sum_in,
               f.sum_out - f.sum_in, f.min_in, f.max_in, f.non_finite);
  }
}

// ---------------------------------------------------------------------------------------------
// Predictions

std::int64_t outputs_per_sample(const Tensor& logits) { return logits.numel() / std::max<std::int64_t>(1, logits.dim(0)); }

// Softmax of one sample's logits, in double and shifted by the maximum so that large logits
// (VGG-16's reach 30 and more) cannot overflow.
std::vector<double> softmax(std::span<const float> z) {
  const float top = *std::max_element(z.begin(), z.end());
  std::vector<double> p(z.size());
  double sum = 0;
  for (std::size_t j = 0; j < z.size(); ++j) sum += p[j] = std::exp(static_cast<double>(z[j]) - top);
  for (double& v : p) v /= sum;
  return p;
}

std::span<const float> logits_of(const Tensor& logits, std::int64_t i) {
  const std::int64_t k = outputs_per_sample(logits);
  return {logits.data() + i * k, static_cast<std::size_t>(k)};
}

// "281 tabby" when the model's classes are known (nn::class_name_for), else "281".
std::string class_label(const nn::Sequential& model, std::int64_t k) {
  const std::string_view name = nn::class_name_for(model, k);
  return name.empty() ? fmt::format("{}", k) : fmt::format("{} {}", k, name);
}

void print_predictions(const nn::Sequential& model, const Tensor& logits) {
  const std::int64_t k = outputs_per_sample(logits), top = std::min<std::int64_t>(5, k);
  for (std::int64_t i = 0; i < logits.dim(0); ++i) {
    const std::span<const float> z = logits_of(logits, i);
    const std::vector<double> p = softmax(z);
    std::vector<std::int64_t> order(static_cast<std::size_t>(k));
    std::iota(order.begin(), order.end(), 0);
    // Stable: equal logits keep index order, as the arg-max target (the first maximum) does.
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
      return z[static_cast<std::size_t>(a)] > z[static_cast<std::size_t>(b)];
    });
    fmt::print("sample {}: top {} of {} outputs\n", i, top, k);
    fmt::print("  {:>4}  {:>5}  {:<24} {:>12}  {:>11}\n", "rank", "class", "name", "logit", "probability");
    for (std::int64_t r = 0; r < top; ++r) {
      const std::int64_t c = order[static_cast<std::size_t>(r)];
      const std::string_view name = nn::class_name_for(model, c);
      fmt::print("  {:>4}  {:>5}  {:<24} {:>12.6g}  {:>11.6f}\n", r + 1, c, name.empty() ? "-" : name, z[static_cast<std::size_t>(c)],
                 p[static_cast<std::size_t>(c)]);
    }
  }
}

// The preprocessing of an --image: --preprocess when given, else the one the patterns were fitted
// with (recorded in their file), else the model's default. Patterns fitted on differently
// preprocessed images describe other inputs: refused.
nn::Preprocess image_preprocess(const ExplainOptions& o, const nn::Sequential& model, const explain::Patterns* patterns) {
  const std::string recorded = patterns ? patterns->preprocess : std::string();
  const nn::Preprocess p = o.preprocess == "auto" && !recorded.empty() ? nn::preprocess_from_name(recorded)
                                                                       : nn::choose_preprocess(o.preprocess, o.arch, model);
  if (!o.image.empty() && !recorded.empty() && recorded != nn::preprocess_name(p)) {
    throw Error("--preprocess {}: the patterns '{}' were fitted on images preprocessed '{}'; explain with the same preprocessing",
                nn::preprocess_name(p), o.patterns, recorded);
  }
  return p;
}

// The batch to explain: an (N, C, H, W) .npy file as it is, or one image file preprocessed.
Tensor load_input(const ExplainOptions& o, const nn::Sequential& model, nn::Preprocess prep) {
  if (!o.input.empty()) {
    Tensor x = io::read_npy(o.input);
    model.check_input(x, o.input.c_str());
    return x;
  }
  return nn::preprocess_image(io::read_image(o.image), model.input_shape(), prep);
}

// ---------------------------------------------------------------------------------------------
// --methods

// `all` leaves out the pattern methods when there are no patterns (with a note); naming one
// without --patterns is an error, as with --method.
std::vector<ListedMethod> parse_methods(const std::string& list, bool have_patterns) {
  std::vector<ListedMethod> out;
  std::vector<std::string> skipped;
  for (ListedMethod& m : parse_method_list(list)) {
    if (is_pattern_method(m.name) && !have_patterns) {
      if (m.named) throw Error("--methods: {} needs --patterns P.safetensors (fit them with `patternnet fit-patterns`)", m.name);
      skipped.push_back(m.name);
      continue;
    }
    out.push_back(std::move(m));
  }
  if (!skipped.empty()) {
    fmt::print("note: no --patterns, so `all` leaves out {} (fit patterns with `patternnet fit-patterns`)\n", fmt::join(skipped, " and "));
  }
  return out;
}

// The model's view of sample i as 8-bit RGB at the model's resolution. An --image input is shown
// as the model sees it (resized and cropped) by undoing the preprocessing; a .npy batch does not
// say how it was preprocessed, so each sample is stretched from its min..max to black..white.
std::vector<std::uint8_t> input_pixels(const Tensor& x, std::int64_t i, std::optional<nn::Preprocess> undo, bool bgr) {
  const std::int64_t c = x.dim(1), h = x.dim(2), w = x.dim(3), plane = h * w;
  const float* s = x.data() + i * c * plane;
  float lo = 0, scale = 1;
  if (!undo) {
    const auto [mn, mx] = std::minmax_element(s, s + c * plane);
    lo = *mn;
    scale = *mx > *mn ? 255.0f / (*mx - *mn) : 0.0f;
  }
  // Pixel value 0..255 of input channel ch.
  const auto value = [&](std::int64_t ch, std::int64_t k) -> float {
    const float v = s[ch * plane + k];
    if (!undo) return scale == 0.0f ? 127.5f : (v - lo) * scale;
    return nn::unpreprocess_value(*undo, *undo == nn::Preprocess::unit ? 0 : ch, v);
  };
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(plane * 3));
  for (std::int64_t k = 0; k < plane; ++k) {
    float gray = 0;
    if (c != 3) {
      for (std::int64_t ch = 0; ch < c; ++ch) gray += value(ch, k);
      gray /= static_cast<float>(c);
    }
    for (std::int64_t out = 0; out < 3; ++out) {
      const float v = c == 3 ? value(bgr ? 2 - out : out, k) : gray;
      rgb[static_cast<std::size_t>(3 * k + out)] = static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0f, 255.0f)));
    }
  }
  return rgb;
}

viz::RgbImage picture(const std::vector<std::uint8_t>& rgb, std::int64_t h, std::int64_t w, std::int64_t factor) {
  viz::RgbImage img;
  img.height = h * factor;
  img.width = w * factor;
  img.pixels = viz::upscale_nearest(rgb, h, w, factor);
  return img;
}

Tensor sample_of(const Tensor& batch, std::int64_t i) {
  const std::int64_t per = batch.numel() / batch.dim(0);
  return Tensor::from(Shape{batch.dim(1), batch.dim(2), batch.dim(3)},
                      std::span<const float>(batch.data() + i * per, static_cast<std::size_t>(per)));
}

viz::HeatmapKind heatmap_kind(const explain::Method& m) {
  return m.family == explain::Family::attribution ? viz::HeatmapKind::attribution : viz::HeatmapKind::signal;
}

std::string shorten(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(0, n - 3) + "..."; }

struct MethodResult {
  explain::Method method;
  Tensor result;
  double prepare_seconds = 0;  // the Explainer: checks and the rules' derived weights
  double seconds = 0;          // the backward pass(es) on the shared trace
};

constexpr const char* kMontageCaption =
    "Each panel is normalised on its own; every method explains the same output of the same forward pass.\n"
    "Gradient and signal methods: x / (2 max|x|) + 1/2 per channel, mid-gray = 0.\n"
    "Attribution methods: channel sum / max|.|, seismic: red positive, white 0, blue negative.";

int run_methods(const ExplainOptions& o) {
  if (!o.out.empty()) {
    throw Error("--out writes one method's result; with --methods use --heatmap M.png (a montage) and/or --out-dir DIR (one heatmap per method)");
  }
  if (o.heatmap.empty() && o.out_dir.empty() && !o.report) {
    throw Error("nothing to write: give --heatmap M.png (a montage), --out-dir DIR (one heatmap per method) and/or --report");
  }
  if (o.columns < 0) throw Error("--columns must be 0 (automatic) or a positive number of panels per row, got {}", o.columns);
  const explain::MethodOptions mo = method_options(o);
  const std::vector<ListedMethod> listed = parse_methods(o.methods, !o.patterns.empty());
  if (listed.empty()) throw Error("--methods '{}' leaves no method to run", o.methods);
  const std::optional<std::int64_t> target = parse_target(o.target);
  if (!o.heatmap.empty()) require_writable_destination(o.heatmap);
  // "each/" names the folder "each": without the slash, the writability check looks at its parent.
  std::string out_dir = o.out_dir;
  while (out_dir.size() > 1 && out_dir.back() == '/') out_dir.pop_back();
  if (!out_dir.empty()) {
    std::error_code ec;
    if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec)) throw Error("--out-dir '{}' exists and is not a folder", o.out_dir);
    // An existing folder must be writable; a missing one is created at the end, in a writable parent.
    require_writable_destination(fs::exists(out_dir, ec) ? (fs::path(out_dir) / "x.png").string() : out_dir);
  }

  const nn::Sequential model = nn::load_model(o.model, o.arch);
  if ((!o.heatmap.empty() || !o.out_dir.empty()) && model.input_shape().rank() != 3) {
    throw Error("--heatmap and --out-dir need an image model; this model's input is {}", model.input_shape().str());
  }
  std::optional<explain::Patterns> patterns;
  if (!o.patterns.empty()) {
    patterns = explain::load_patterns(o.patterns);
    explain::check_patterns_match(*patterns, model, o.patterns);
    explain::release_negative_patterns(*patterns);
  }
  const nn::Preprocess prep = image_preprocess(o, model, patterns ? &*patterns : nullptr);
  const Tensor x = load_input(o, model, prep);

  // lrp_zbox needs the box the inputs live in. Without --low/--high it is the range of the
  // preprocessing (pixels 0..255), which holds every --image input by construction; a .npy batch
  // may have been preprocessed otherwise, so its values are checked against the box, and
  // lrp_zbox is left out (from `all`) or refused (by name) when they fall outside.
  std::vector<explain::Method> methods;
  std::string zbox_note;
  for (const ListedMethod& lm : listed) {
    explain::MethodOptions m = mo;
    if (lm.name == "lrp_zbox" && !(o.low || o.high)) {
      const auto [lo, hi] = nn::preprocess_range(prep);  // the box every preprocessed pixel lies in
      const auto [mn, mx] = std::minmax_element(x.values().begin(), x.values().end());
      if (*mn < lo || *mx > hi) {
        const std::string why = fmt::format("the input's values [{:.6g}, {:.6g}] leave the range [{:.6g}, {:.6g}] of the {} preprocessing",
                                            *mn, *mx, lo, hi, nn::preprocess_name(prep));
        if (lm.named) throw Error("--methods lrp_zbox: {}; give the bounds with --low and --high", why);
        fmt::print("note: `all` leaves out lrp_zbox: {} (give --low and --high to include it)\n", why);
        continue;
      }
      m.low = lo, m.high = hi;
      zbox_note = fmt::format("lrp_zbox: input bounds [{:.6g}, {:.6g}], the range of pixels 0..255 after the {} preprocessing.", lo, hi,
                              nn::preprocess_name(prep));
      fmt::print("note: {} Give --low and --high to choose others.\n", zbox_note);
    }
    methods.push_back(explain::make_method(lm.name, m));
    if (lm.name == "lrp_zbox" && zbox_note.empty()) {
      zbox_note = fmt::format("lrp_zbox: input bounds [{:.6g}, {:.6g}] (--low, --high).", methods.back().first->low, methods.back().first->high);
    }
  }

  // One forward pass for every method.
  const auto t0 = std::chrono::steady_clock::now();
  const explain::TracedForward fwd = explain::trace_forward(model, x, target);
  const double forward_secs = seconds_since(t0);
  print_predictions(model, fwd.trace.output);
  const std::int64_t n = x.dim(0);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto s = static_cast<std::size_t>(i);
    fmt::print("sample {}: explaining output {} = {:.6g}\n", i, class_label(model, fwd.targets[s]), fwd.target_outputs[s]);
  }
  fmt::print("forward pass (shared by {} methods): {}\n", methods.size(), duration(forward_secs));

  // One Explainer at a time (each checks its method against the model and the patterns).
  std::vector<MethodResult> results;
  for (explain::Method& m : methods) {
    const auto t1 = std::chrono::steady_clock::now();
    std::optional<explain::Explainer> explainer;
    explainer.emplace(model, m, patterns ? &*patterns : nullptr, o.patterns, kPrepareBudgetFloats);
    const double prepare_secs = seconds_since(t1);
    const auto t2 = std::chrono::steady_clock::now();
    explain::Explanation e = explainer->explain_traced(fwd, o.report);
    explainer.reset();
    MethodResult r{std::move(m), std::move(e.result), prepare_secs, seconds_since(t2)};
    const std::int64_t per = r.result.numel() / std::max<std::int64_t>(1, n);
    std::string sums;
    for (std::int64_t i = 0; i < n; ++i) {
      double sum = 0;
      for (std::int64_t k = 0; k < per; ++k) sum += r.result[i * per + k];
      sums += fmt::format("{}{:.6g}", i ? ", " : "", sum);
    }
    fmt::print("{:<22} {:<12} prepare {:>10}, backward {:>10}   sum {}\n", r.method.name, explain::family_name(r.method.family),
               duration(r.prepare_seconds), duration(r.seconds), sums);
    if (o.report) print_report(e);
    results.push_back(std::move(r));
  }
  fmt::print("{} methods for {} sample(s) in {}\n", results.size(), n, duration(seconds_since(t0)));

  const bool bgr = nn::is_bgr(prep);
  if (!o.heatmap.empty()) {
    // Every montage is composed (and every value checked) before the first file is written.
    const std::int64_t h = x.dim(2), w = x.dim(3), factor = viz::auto_scale(h, w);
    const std::vector<std::string> paths = viz::heatmap_paths(o.heatmap, n);
    const std::string model_name = fs::path(o.model).filename().string();
    std::vector<viz::Montage> montages;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto s = static_cast<std::size_t>(i);
      const std::span<const float> z = logits_of(fwd.trace.output, i);
      const std::vector<double> p = softmax(z);
      const auto best = static_cast<std::int64_t>(std::max_element(z.begin(), z.end()) - z.begin());
      const std::int64_t t = fwd.targets[s];
      const std::string source = o.image.empty() ? fmt::format("{} sample {}", fs::path(o.input).filename().string(), i)
                                                 : fs::path(o.image).filename().string();
      viz::Montage mt;
      mt.columns = o.columns;
      mt.title = viz::plain_text(fmt::format("Predicted: {} (logit {:.4g}, softmax {:.3f})\nExplained: output {} (logit {:.4g}, softmax {:.3f})",
                                             class_label(model, best), z[static_cast<std::size_t>(best)], p[static_cast<std::size_t>(best)],
                                             class_label(model, t), z[static_cast<std::size_t>(t)], p[static_cast<std::size_t>(t)]));
      mt.caption = viz::plain_text(fmt::format("{}, {}.\n{}{}", shorten(model_name, 40), shorten(source, 40), kMontageCaption,
                                               zbox_note.empty() ? "" : "\n" + zbox_note));
      mt.panels.push_back({viz::plain_text("input\n" + shorten(source, 26)),
                           picture(input_pixels(x, i, o.image.empty() ? std::nullopt : std::optional(prep), bgr), h, w, factor)});
      for (const MethodResult& r : results) {
        std::vector<std::uint8_t> rgb;
        try {
          rgb = viz::heatmap_image(sample_of(r.result, i), heatmap_kind(r.method), bgr);
        } catch (const Error& e) {
          throw Error("--heatmap: {} of sample {}: {}", r.method.name, i, e.what());
        }
        mt.panels.push_back({viz::plain_text(fmt::format("{}\n({})", r.method.name, explain::family_name(r.method.family))),
                             picture(rgb, h, w, factor)});
      }
      (void)viz::grid_layout(viz::montage_grid(mt));  // refuses an impossible page before anything is written
      montages.push_back(std::move(mt));
    }
    for (std::size_t i = 0; i < montages.size(); ++i) {
      viz::write_montage_png(montages[i], paths[i]);
      fmt::print("wrote {} ({} panels)\n", paths[i], montages[i].panels.size());
    }
  }
  if (!out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) throw Error("--out-dir: cannot create folder '{}': {}", o.out_dir, ec.message());
    for (const MethodResult& r : results) {
      const auto written = viz::write_heatmaps((fs::path(out_dir) / (r.method.name + ".png")).string(), r.result, heatmap_kind(r.method), bgr);
      for (const auto& f : written) fmt::print("wrote {}\n", f);
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// --method

int run_method(const ExplainOptions& o) {
  if (o.out.empty() && o.heatmap.empty() && !o.report) throw Error("nothing to write: give --out R.npy, --heatmap R.png and/or --report");
  if (!o.out_dir.empty()) throw Error("--out-dir writes one heatmap per method of --methods; with --method use --heatmap R.png");
  const explain::Method method = explain::make_method(o.method, method_options(o));
  const std::optional<std::int64_t> target = parse_target(o.target);
  if (!o.out.empty()) require_writable_destination(o.out);
  if (!o.heatmap.empty()) require_writable_destination(o.heatmap);

  const nn::Sequential model = nn::load_model(o.model, o.arch);
  std::optional<explain::Patterns> patterns;
  if (!o.patterns.empty()) {
    patterns = explain::load_patterns(o.patterns);
    if (!method.needs_patterns) explain::check_patterns_match(*patterns, model, o.patterns);  // else the Explainer checks
    explain::release_negative_patterns(*patterns);
  } else if (method.needs_patterns) {
    throw Error("--method {} needs --patterns P.safetensors (fit them with `patternnet fit-patterns`)", o.method);
  }
  const nn::Preprocess prep = image_preprocess(o, model, patterns ? &*patterns : nullptr);
  const Tensor x = load_input(o, model, prep);

  const explain::Explainer explainer(model, method, patterns ? &*patterns : nullptr, o.patterns, kPrepareBudgetFloats);
  const auto t0 = std::chrono::steady_clock::now();
  const explain::TracedForward fwd = explain::trace_forward(model, x, target);
  const explain::Explanation e = explainer.explain_traced(fwd, o.report);
  const double secs = seconds_since(t0);
  print_predictions(model, fwd.trace.output);
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
    const auto written = viz::write_heatmaps(o.heatmap, e.result, heatmap_kind(method), nn::is_bgr(prep));
    for (const auto& f : written) fmt::print("wrote {}\n", f);
  }
  return 0;
}

int run_explain(const ExplainOptions& o) {
  if (!o.method.empty() && !o.methods.empty()) {
    throw Error("give either --method NAME (one explanation) or --methods LIST|all (a montage of several), not both");
  }
  if (o.method.empty() && o.methods.empty()) throw Error("give --method NAME (one explanation) or --methods LIST|all (a montage of several)");
  if (o.input.empty() == o.image.empty()) throw Error("give exactly one of --input X.npy and --image FILE");
  return o.methods.empty() ? run_method(o) : run_methods(o);
}

}  // namespace

Runner add_explain(CLI::App& app) {
  auto o = std::make_shared<ExplainOptions>();
  auto* sub = app.add_subcommand("explain", "Explain a model's outputs with one method or a montage of several (gradient, PatternNet, LRP, ...)");
  sub->add_option("--model", o->model, "Model file (.safetensors)")->required();
  sub->add_option("--arch", o->arch, "Bind a file without pn.architecture to this builder (e.g. vgg16)");
  sub->add_option("--patterns", o->patterns, "Patterns file from `patternnet fit-patterns` (pattern_net, pattern_attribution)");
  sub->add_option("--input", o->input, "(N, C, H, W) float32/float64 .npy batch");
  sub->add_option("--image", o->image, "PNG/JPEG image, preprocessed for the model (see --preprocess)");
  sub->add_option("--preprocess", o->preprocess, "auto, caffe, torchvision or unit (for --image)");
  sub->add_option("--method", o->method, "One method's name (see the README); or use --methods");
  sub->add_option("--methods", o->methods,
                  "Comma-separated method names, or all (every method except smoothgrad and integrated_gradients; the pattern "
                  "methods only with --patterns): one shared forward pass, a montage per sample with --heatmap");
  sub->add_option("--target", o->target, "Output unit to explain: max (per sample) or an index");
  sub->add_option("--start", o->start, "Start value at the target: one or output (default: per method)");
  sub->add_option("--epsilon", o->epsilon, "Stabiliser of lrp_epsilon (1e-7) and of the presets' dense layers (0.1)");
  sub->add_option("--alpha", o->alpha, "lrp_alpha_beta: weight of the positive part (default 1)");
  sub->add_option("--beta", o->beta, "lrp_alpha_beta: weight of the negative part (default 0)");
  sub->add_option("--low", o->low, "Lower input bound (lrp_zbox, bounded deep_taylor; --methods: default from the preprocessing)");
  sub->add_option("--high", o->high, "Upper input bound (lrp_zbox, bounded deep_taylor; --methods: default from the preprocessing)");
  sub->add_flag("--ignore-bias", o->ignore_bias, "Leave biases out of the LRP denominators");
  sub->add_option("--samples", o->samples, "smoothgrad: noisy samples (default 16)");
  sub->add_option("--sigma", o->sigma, "smoothgrad: noise std relative to the input's range (default 0.15)");
  sub->add_option("--steps", o->steps, "integrated_gradients: steps from the zero baseline (default 64)");
  sub->add_option("--seed", o->seed, "smoothgrad: noise seed");
  sub->add_option("--out", o->out, "--method: write the (N, C, H, W) float32 result (.npy)");
  sub->add_option("--heatmap", o->heatmap,
                  "Write the heatmap (--method) or the montage of the methods (--methods) as PNG; one file per sample for a batch");
  sub->add_option("--out-dir", o->out_dir, "--methods: also write each method's heatmap to DIR/<method>.png");
  sub->add_option("--columns", o->columns, "--methods: panels per montage row (default 0: at most 6, rows balanced)");
  sub->add_flag("--report", o->report, "Per-layer relevance sums, absorbed relevance, min/max, non-finite values");
  return [o] { return run_explain(*o); };
}

}  // namespace pn::cli
