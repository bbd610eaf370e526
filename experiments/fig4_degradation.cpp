// fig4_degradation: the paper's Fig. 4 (spec §6). Each method's heat map orders an image's
// patches, most relevant first; the patches are replaced by their own per-channel mean one after
// the other and the soft-max probability of the originally predicted class is followed. A heat map
// that finds what the network uses makes the probability fall fast (a large AOPC).
//
// The paper's four signal estimators enter through the attribution they induce (spec §3.2):
//   S_x   -> LRP z-rule          (lrp_z)
//   S_w   -> LRP w²-rule         (lrp_w_square)
//   S_a   -> PatternAttribution with linear patterns
//   S_a+- -> PatternAttribution with two-component patterns
// with a random patch order as the baseline, and further methods for comparison. Every method
// explains the class the network predicts on the clean image. The ranking the paper reports
// (worst to best) is random < S_a < S_w < S_x < S_a+-; summary.md checks each step of it.
#include "common.h"

#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/core/progress.h"
#include "pn/core/rng.h"
#include "pn/eval/degradation.h"
#include "pn/explain/explain.h"
#include "pn/explain/fit_patterns.h"
#include "pn/explain/method.h"
#include "pn/viz/plot.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace ex = pn::explain;
namespace ev = pn::eval;
using pn::Error;
using pn::Tensor;
using pn::experiments::Network;
using pn::experiments::Options;

struct Fig4Options {
  std::int64_t patch = 0;           // 0: 9 for inputs of 100 pixels and more (224), else 4
  std::int64_t steps = 0;           // 0: see default_steps
  std::int64_t images = 0;          // 0: see default_images
  std::int64_t pattern_images = 0;  // 0: see default_pattern_images
  std::int64_t ig_steps = 0;        // 0: 8 with --quick, else 16
  std::int64_t batch = 64;
  std::vector<std::string> methods;  // empty: all
};

// One curve of the figure.
struct Entry {
  std::string key;       // the CSV's method column
  std::string label;     // legend (gnuplot enhanced text: no bare underscores)
  std::string method;    // make_method name; empty for the random baseline
  std::optional<ex::Estimator> patterns;
  std::string estimator;  // the paper's estimator it stands for, or empty
  std::string color;
  bool highlight = false;
};

std::vector<Entry> all_entries(std::int64_t ig_steps) {
  return {
      {"random", "random order", "", std::nullopt, "random", "#000000", true},
      {"lrp_z", "S_x: LRP-z", "lrp_z", std::nullopt, "S_x", "#d62728", true},
      {"lrp_w_square", "S_w: LRP-w^2", "lrp_w_square", std::nullopt, "S_w", "#2ca02c", true},
      {"pattern_attribution_linear", "S_a: PattAttr, linear", "pattern_attribution", ex::Estimator::linear, "S_a", "#1f77b4", true},
      {"pattern_attribution_two_component", "S_{a+-}: PattAttr, two-component", "pattern_attribution",
       ex::Estimator::two_component, "S_a+-", "#ff7f0e", true},
      {"gradient", "gradient", "gradient", std::nullopt, "", "#7f7f7f", false},
      {"guided_backprop", "Guided BackProp", "guided_backprop", std::nullopt, "", "#bcbd22", false},
      {"lrp_epsilon", "LRP-ε (ε = 1e-7)", "lrp_epsilon", std::nullopt, "", "#e377c2", false},
      {"lrp_alpha_beta", "LRP-αβ (α = 1, β = 0)", "lrp_alpha_beta", std::nullopt, "", "#8c564b", false},
      {"integrated_gradients", fmt::format("Integr. Gradients ({} steps)", ig_steps), "integrated_gradients", std::nullopt, "",
       "#17becf", false},
  };
}

std::int64_t ig_steps(const Options& o, const Fig4Options& f) { return f.ig_steps > 0 ? f.ig_steps : o.quick ? 8 : 16; }

std::vector<Entry> chosen_entries(const Options& o, const Fig4Options& f) {
  std::vector<Entry> all = all_entries(ig_steps(o, f));
  if (f.methods.empty()) return all;
  std::vector<Entry> out;
  for (const std::string& m : f.methods) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const Entry& e) { return e.key == m; });
    if (it == all.end()) {
      std::vector<std::string> keys;
      for (const Entry& e : all) keys.push_back(e.key);
      throw Error("--methods: unknown entry '{}'; known: {}", m, fmt::join(keys, ", "));
    }
    out.push_back(*it);
  }
  return out;
}

// Spec §6 uses 9x9 patches on 224x224 images (about 4% of the side); 4x4 on 28x28 and 32x32
// keeps a patch at a similar share of the object while still giving 49 / 64 patches to order.
std::int64_t default_patch(std::int64_t height) { return height >= 100 ? 9 : 4; }

// The paper's 100 steps at 224x224 (100 of 625 patches). On the small Fashion-MNIST frames the
// garment covers about half of the image: the first half of the patches holds nearly all of the
// ranking's information, the rest is mostly black background whose replacement changes nothing.
std::int64_t default_steps(const ev::PatchGrid& g) {
  return g.height >= 100 ? std::min<std::int64_t>(100, g.count()) : (g.count() + 1) / 2;
}

// Sized so that the full run (cnn and vgg16-32, networks already trained) takes at most about 20
// minutes on two idle cores. Measured cost per test image for all ten curves, in CPU seconds of
// one core: cnn 0.13 s (25 steps of 9 MFLOP forwards), vgg16-32 4.5 s (32 steps of 625 MFLOP
// forwards, plus Integrated Gradients' 16 gradients); the pattern statistics cost 1.5 ms (cnn) and
// 83 ms (vgg16-32) per training image. cnn: 1000 + 30000 images ~ 175 s; vgg16-32: 300 + 3000
// images ~ 1600 s; at 1.6-1.8 cores of useful work 16-19 minutes in all.
std::int64_t default_images(const Options& o, const Network& net) {
  if (o.quick) return 200;
  if (net.name == "cnn") return 1000;
  if (net.name == "vgg16-32") return 300;
  return 100;
}

std::int64_t default_pattern_images(const Options& o, const Network& net) {
  if (o.quick) return 2000;
  if (net.name == "cnn") return 30000;  // the paper: the first half of the training set
  if (net.name == "vgg16-32") return 3000;
  return 1000;
}

Tensor rows(const Tensor& x, std::int64_t begin, std::int64_t end) {
  pn::Shape s{end - begin};
  for (int i = 1; i < x.rank(); ++i) s.push_back(x.dim(i));
  Tensor out(s);
  const std::int64_t per = x.numel() / std::max<std::int64_t>(1, x.dim(0));
  std::memcpy(out.data(), x.data() + begin * per, static_cast<std::size_t>((end - begin) * per) * sizeof(float));
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Result {
  Entry entry;
  ev::Curve curve;
  double aopc = 0;
  std::vector<double> aopc_i;  // per image
  double seconds = 0;
};

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); }

// Standard error of the mean of v.
double std_error(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean_of(v);
  double ss = 0.0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1) / static_cast<double>(v.size()));
}

// Mean and paired standard error of AOPC(a) - AOPC(b) over the same images.
std::pair<double, double> paired_difference(const Result& a, const Result& b) {
  std::vector<double> d(a.aopc_i.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = a.aopc_i[i] - b.aopc_i[i];
  return {mean_of(d), std_error(d)};
}

struct NetworkReport {
  std::string name, recipe;
  double test_accuracy = 0, subset_accuracy = -1;
  std::int64_t images = 0, pattern_images = 0, patch = 0, steps = 0, patches = 0, height = 0, width = 0;
  std::int64_t target_mismatches = 0;
  bool fashion_mnist = true;
  double fit_seconds = 0, total_seconds = 0;
  std::vector<Result> results;
};

const Result* find_estimator(const NetworkReport& rep, const std::string& estimator) {
  for (const Result& r : rep.results) {
    if (r.entry.estimator == estimator) return &r;
  }
  return nullptr;
}

NetworkReport run_network(const Options& o, const Fig4Options& f, const Network& net, const std::vector<Entry>& entries) {
  const auto t_net = std::chrono::steady_clock::now();
  NetworkReport rep;
  rep.name = net.name;
  rep.recipe = net.recipe;
  rep.test_accuracy = net.test_accuracy;
  rep.fashion_mnist = net.fashion_mnist;
  const pn::Shape& in = net.model.input_shape();
  if (in.rank() != 3) throw Error("fig4_degradation: network '{}' takes inputs of shape {}, not images (C, H, W)", net.name, in);
  rep.height = in[1];
  rep.width = in[2];
  rep.patch = f.patch > 0 ? f.patch : default_patch(rep.height);
  const ev::PatchGrid grid = ev::patch_grid(rep.height, rep.width, rep.patch);
  rep.patches = grid.count();
  rep.steps = f.steps > 0 ? f.steps : default_steps(grid);
  if (rep.steps > grid.count()) {
    throw Error("--steps {} exceeds the {} patches of a {} x {} input with --patch {}", rep.steps, grid.count(), rep.height, rep.width,
                rep.patch);
  }

  const pn::experiments::Labelled test =
      pn::experiments::load_split(o, net, "test", f.images > 0 ? f.images : default_images(o, net));
  rep.images = test.x.dim(0);
  if (rep.images == 0) throw Error("fig4_degradation: no test images for network '{}'", net.name);

  // Both pattern sets come from one pass of statistics (with the positive-regime sums).
  std::map<ex::Estimator, ex::Patterns> patterns;
  if (std::any_of(entries.begin(), entries.end(), [](const Entry& e) { return e.patterns.has_value(); })) {
    const auto t_fit = std::chrono::steady_clock::now();
    const pn::experiments::Labelled train =
        pn::experiments::load_split(o, net, "train", f.pattern_images > 0 ? f.pattern_images : default_pattern_images(o, net));
    rep.pattern_images = train.x.dim(0);
    ex::StatsCollector collector(net.model, false, true);
    pn::Progress bar(fmt::format("{}: pattern statistics", net.name), rep.pattern_images, "img");
    for (std::int64_t b = 0; b < rep.pattern_images; b += 128) {
      const std::int64_t e = std::min(rep.pattern_images, b + 128);
      collector.add_batch(rows(train.x, b, e));
      bar.advance(e - b);
    }
    bar.finish();
    for (const Entry& e : entries) {
      if (e.patterns && !patterns.contains(*e.patterns)) patterns.emplace(*e.patterns, ex::fit_patterns(net.model, &collector, *e.patterns));
    }
    rep.fit_seconds = seconds_since(t_fit);
    fmt::print(stderr, "{}: patterns fitted on {} training images in {}\n", net.name, rep.pattern_images,
               pn::format_duration(rep.fit_seconds));
  }

  ex::MethodOptions mo;
  mo.steps = ig_steps(o, f);
  mo.seed = o.seed;
  // Explanations per chunk of images bound the memory of the attributions and of Integrated
  // Gradients' interpolated copies.
  constexpr std::int64_t chunk = 50;
  pn::Progress bar(fmt::format("{}: degradation", net.name), rep.images * static_cast<std::int64_t>(entries.size()), "img");
  for (const Entry& entry : entries) {
    const auto t0 = std::chrono::steady_clock::now();
    Result r;
    r.entry = entry;
    std::optional<ex::Explainer> explainer;
    if (!entry.method.empty()) {
      explainer.emplace(net.model, ex::make_method(entry.method, mo), entry.patterns ? &patterns.at(*entry.patterns) : nullptr,
                        fmt::format("the {} patterns", entry.patterns ? ex::estimator_name(*entry.patterns) : ""));
    }
    pn::Rng rng(o.seed);
    for (std::int64_t b = 0; b < rep.images; b += chunk) {
      const std::int64_t e = std::min(rep.images, b + chunk);
      const Tensor x = rows(test.x, b, e);
      std::vector<std::vector<std::int64_t>> orders;
      std::vector<std::int64_t> targets;
      if (explainer) {
        // The target is the arg-max on the clean image: the class whose probability is followed.
        ex::Explanation expl = (*explainer)(x);
        orders = ev::orders_from_attributions(expl.result, rep.patch);
        targets = std::move(expl.targets);
      } else {
        for (std::int64_t i = b; i < e; ++i) orders.push_back(ev::random_order(grid.count(), rng));
      }
      const ev::Curve c = ev::degradation_curve(net.model, x, orders, {rep.patch, rep.steps, f.batch});
      for (std::size_t i = 0; i < targets.size(); ++i) rep.target_mismatches += targets[i] != c.original_class[i] ? 1 : 0;
      r.curve.append(c);
      bar.advance(e - b, entry.key);
    }
    r.aopc = r.curve.aopc();
    r.aopc_i = r.curve.aopc_per_image();
    r.seconds = seconds_since(t0);
    fmt::print(stderr, "{}: {:<34} AOPC {:.4f} ({})\n", net.name, entry.key, r.aopc, pn::format_duration(r.seconds));
    rep.results.push_back(std::move(r));
  }
  bar.finish();

  if (!rep.results.empty() && !test.labels.empty() && test.labels.front() >= 0) {
    std::int64_t right = 0;
    const auto& cls = rep.results.front().curve.original_class;
    for (std::size_t i = 0; i < cls.size(); ++i) right += cls[i] == test.labels[i] ? 1 : 0;
    rep.subset_accuracy = static_cast<double>(right) / static_cast<double>(cls.size());
  }
  rep.total_seconds = seconds_since(t_net);
  return rep;
}

std::vector<const Result*> best_first(const NetworkReport& rep) {
  std::vector<const Result*> v;
  for (const Result& r : rep.results) v.push_back(&r);
  std::stable_sort(v.begin(), v.end(), [](const Result* a, const Result* b) { return a->aopc > b->aopc; });
  return v;
}

void write_network_outputs(const Options& o, const NetworkReport& rep) {
  std::string curves = "method,n,fraction_replaced,mean_probability,still_original\n";
  for (const Result& r : rep.results) {
    const std::vector<double> p = r.curve.mean_probability(), s = r.curve.still_original();
    for (std::size_t n = 0; n < p.size(); ++n) {
      curves += fmt::format("{},{},{:.6f},{:.6f},{:.6f}\n", r.entry.key, n, static_cast<double>(n) / static_cast<double>(rep.patches),
                            p[n], s[n]);
    }
  }
  pn::experiments::write_output(o, fmt::format("degradation_{}.csv", rep.name), curves);

  std::string aopc = "method,aopc,curve_start\n";
  for (const Result* r : best_first(rep)) aopc += fmt::format("{},{:.6f},{:.6f}\n", r->entry.key, r->aopc, r->curve.mean_probability()[0]);
  pn::experiments::write_output(o, fmt::format("aopc_{}.csv", rep.name), aopc);

  pn::viz::Figure fig;
  fig.title = fmt::format("Fig. 4, {}: {} test images, {}x{} patches (legend: AOPC)", rep.name, rep.images, rep.patch, rep.patch);
  fig.xlabel = "patches replaced by their mean (most relevant first)";
  fig.ylabel = "mean soft-max probability of the original class";
  fig.xrange = pn::viz::Range{0.0, static_cast<double>(rep.steps)};
  fig.yrange = pn::viz::Range{0.0, 1.0};
  fig.key = "outside right top Left reverse";
  fig.width = 1300;
  fig.height = 760;
  // The baseline and the paper's four estimators first (top of the legend), thick and solid; the
  // other methods thin and dashed.
  for (int pass = 0; pass < 2; ++pass) {
    for (const Result& r : rep.results) {
      if (r.entry.highlight != (pass == 0)) continue;
      pn::viz::Line line;
      line.label = fmt::format("{} ({:.3f})", r.entry.label, r.aopc);
      line.color = r.entry.color;
      line.width = r.entry.highlight ? 3.0 : 1.5;
      line.dashed = !r.entry.highlight;
      const std::vector<double> p = r.curve.mean_probability();
      for (std::size_t n = 0; n < p.size(); ++n) {
        line.x.push_back(static_cast<double>(n));
        line.y.push_back(p[n]);
      }
      fig.lines.push_back(std::move(line));
    }
  }
  pn::viz::write_svg_and_png(fig, pn::experiments::out_path(o, fmt::format("fig4_{}", rep.name)));
}

// One step of the paper's ranking: better (the paper's) should have the larger AOPC than worse.
std::string verdict(const Result& worse, const Result& better, int& holds, int& reversed, int& open) {
  const auto [d, se] = paired_difference(better, worse);
  std::string v;
  if (d > 2.0 * se) {
    v = "holds";
    ++holds;
  } else if (d < -2.0 * se) {
    v = "**does not hold** (reversed)";
    ++reversed;
  } else {
    v = "not resolved (difference within 2 paired standard errors)";
    ++open;
  }
  return fmt::format("| {} < {} | {:.4f} | {:.4f} | {:+.4f} ± {:.4f} | {} |\n", worse.entry.estimator, better.entry.estimator, worse.aopc,
                     better.aopc, d, se, v);
}

std::string network_summary(const NetworkReport& rep, std::int64_t ig) {
  std::string s = fmt::format("## Network `{}`\n\n", rep.name);
  s += fmt::format("- Network: {}.\n", rep.recipe);
  if (rep.test_accuracy > 0) s += fmt::format("- Test accuracy (Fashion-MNIST test set, as stored with the model): {:.2f}%.\n", 100 * rep.test_accuracy);
  if (rep.subset_accuracy >= 0) s += fmt::format("- Accuracy on the {} images used here: {:.2f}%.\n", rep.images, 100 * rep.subset_accuracy);
  s += fmt::format("- Images: the first {} {} ({}x{}); every method explains the class predicted on the clean image, "
                   "and the curve follows that class's soft-max probability.\n",
                   rep.images, rep.fashion_mnist ? "test images" : "images of the --images folder", rep.height, rep.width);
  if (rep.pattern_images > 0) {
    s += fmt::format("- Patterns (linear S_a and two-component S_a+-) fitted on the first {} {} ({}).\n", rep.pattern_images,
                     rep.fashion_mnist ? "training images" : "images of the --images folder (the same images that are degraded: no training split)",
                     pn::format_duration(rep.fit_seconds));
  }
  s += fmt::format("- Patches: {}x{}, {} per image; the curve runs over n = 0 .. {} replaced patches ({:.0f}% of the patches).\n",
                   rep.patch, rep.patch, rep.patches, rep.steps, 100.0 * static_cast<double>(rep.steps) / static_cast<double>(rep.patches));
  s += fmt::format("- Integrated Gradients: {} steps (left Riemann sum, zero baseline); LRP-ε with ε = 1e-7; LRP-αβ with α = 1, β = 0.\n",
                   ig);
  if (rep.target_mismatches > 0) {
    s += fmt::format("- Note: for {} explanation(s) the explained arg-max differed from the arg-max of the curve's clean pass "
                     "(a near-tie between two logits, evaluated in different batches).\n",
                     rep.target_mismatches);
  }
  s += fmt::format("- Run time: {} for this network.\n\n", pn::format_duration(rep.total_seconds));

  s += "### AOPC, best first\n\n";
  s += "AOPC = (1/steps) Σ_{n=1..steps} (p̄(0) − p̄(n)): the area over the mean probability curve; higher = faster drop = better. "
       "± is the standard error over images.\n\n";
  s += "| rank | method | estimator | AOPC | p̄(0) | p̄(steps) | still original at steps | no-op steps | time |\n";
  s += "|---:|---|---|---:|---:|---:|---:|---:|---:|\n";
  int rank = 0;
  for (const Result* r : best_first(rep)) {
    const std::vector<double> p = r->curve.mean_probability(), so = r->curve.still_original();
    s += fmt::format("| {} | {} | {} | {:.4f} ± {:.4f} | {:.4f} | {:.4f} | {:.1f}% | {:.1f}% | {} |\n", ++rank, r->entry.key,
                     r->entry.estimator.empty() ? "" : r->entry.estimator, r->aopc, std_error(r->aopc_i), p.front(), p.back(),
                     100.0 * so.back(), 100.0 * r->curve.noop_fraction(), pn::format_duration(r->seconds));
  }
  s += "\n*no-op steps*: the share of the steps that replaced a patch already constant in every channel (on Fashion-MNIST mostly "
       "the black background, exactly 0 in the input): the image does not change, so such a step cannot lower the probability. "
       "Attributions multiplied by the input (LRP-z, -ε, -αβ, Integrated Gradients) are exactly 0 on such patches and reach them "
       "only after every patch with positive evidence.\n";

  s += "\n### Against the paper's ranking\n\n";
  s += "The paper (spec §6) orders the estimators, worst to best: random < S_a < S_w < S_x < S_a+-. Each step is checked with the "
       "paired difference of per-image AOPCs (same images for every method):\n\n";
  const std::vector<std::string> ladder = {"random", "S_a", "S_w", "S_x", "S_a+-"};
  std::vector<const Result*> steps;
  for (const std::string& e : ladder) steps.push_back(find_estimator(rep, e));
  if (std::any_of(steps.begin(), steps.end(), [](const Result* r) { return r == nullptr; })) {
    s += "Not every estimator was run (--methods), so the ranking is not checked.\n\n";
    return s;
  }
  s += "| paper's claim | AOPC (worse) | AOPC (better) | difference ± paired SE | here |\n|---|---:|---:|---:|---|\n";
  int holds = 0, reversed = 0, open = 0;
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) s += verdict(*steps[i], *steps[i + 1], holds, reversed, open);
  s += fmt::format("\nOf the four steps of the paper's ranking, {} hold, {} are reversed and {} are not resolved.", holds, reversed, open);
  // All ten pairs the ranking implies (e.g. S_a < S_a+-), not only the adjacent ones.
  int pair_holds = 0, pair_reversed = 0, pair_open = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (std::size_t j = i + 1; j < steps.size(); ++j) {
      const auto [d, se] = paired_difference(*steps[j], *steps[i]);
      (d > 2.0 * se ? pair_holds : d < -2.0 * se ? pair_reversed : pair_open) += 1;
    }
  }
  s += fmt::format(" Of all ten pairwise orderings it implies, {} hold, {} are reversed and {} are not resolved.\n\n", pair_holds,
                   pair_reversed, pair_open);
  std::vector<const Result*> observed(steps.begin(), steps.end());
  std::stable_sort(observed.begin(), observed.end(), [](const Result* a, const Result* b) { return a->aopc < b->aopc; });
  std::vector<std::string> names;
  for (const Result* r : observed) names.push_back(r->entry.estimator);
  s += fmt::format("Observed order here, worst to best by AOPC: {} (paper: random < S_a < S_w < S_x < S_a+-).\n\n", fmt::join(names, " < "));

  const Result& pa = *steps.back();
  const Result* best_other = nullptr;
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
    if (!best_other || steps[i]->aopc > best_other->aopc) best_other = steps[i];
  }
  const auto [gap, gap_se] = paired_difference(pa, *best_other);
  if (gap > 2.0 * gap_se) {
    s += fmt::format("The central claim, S_a+- (PatternAttribution) gives the fastest drop of the four estimators, **holds**: "
                     "its AOPC is {:.4f} above the next best ({}, {:.4f}; ± {:.4f}), {:.0f}% more.\n",
                     gap, best_other->entry.estimator, best_other->aopc, gap_se, 100.0 * gap / std::max(1e-12, best_other->aopc));
  } else if (gap < -2.0 * gap_se) {
    s += fmt::format("The central claim, S_a+- (PatternAttribution) gives the fastest drop, **does not hold** here: {} has the larger "
                     "AOPC ({:.4f} against {:.4f}; difference {:+.4f} ± {:.4f}).\n",
                     best_other->entry.estimator, best_other->aopc, pa.aopc, gap, gap_se);
  } else {
    s += fmt::format("The central claim, S_a+- (PatternAttribution) gives the fastest drop, is **not resolved**: it and {} are within two "
                     "paired standard errors ({:+.4f} ± {:.4f}).\n",
                     best_other->entry.estimator, gap, gap_se);
  }
  const Result* best = best_first(rep).front();
  if (best != &pa) {
    s += fmt::format("Among all methods run, the fastest drop is `{}` (AOPC {:.4f}), not PatternAttribution.\n", best->entry.key, best->aopc);
  } else {
    s += "Among all methods run, PatternAttribution (S_a+-) has the largest AOPC.\n";
  }
  s += "\n";
  return s;
}

std::string summary(const std::vector<NetworkReport>& reports, const Fig4Options& f, const Options& o) {
  std::string s = "# Fig. 4: image degradation\n\n";
  s += "Each method's attribution is summed over the colour channels and the pixels of each non-overlapping patch; the patches are "
       "replaced, highest sum first, by their own per-channel mean (in the network's input space), and the soft-max probability of "
       "the class predicted on the clean image is averaged over the images. The baseline replaces the patches in a random order "
       "(one seeded permutation per image).\n\n";
  s += "Choices the paper leaves open (spec §6, §11), made here:\n\n"
       "- Border: where the side is not a multiple of the patch size the last row/column of patches is narrower and covers the "
       "remainder (iNNvestigate reflect-pads instead); the 28x28 and 32x32 inputs with 4x4 patches have no remainder.\n"
       "- The patch's own per-channel mean, not the image's.\n"
       "- The y-axis is the raw probability, not normalised to the clean value; heat maps are computed once on the clean image.\n"
       "- Patch scores are signed sums (a negative attribution sends a patch to the end of the order); ties keep the lower patch "
       "index first.\n"
       "- `fraction_replaced` in the CSV is n divided by the number of patches.\n";
  s += o.model_file.empty() ? "- Data: Fashion-MNIST and networks trained on it, not ImageNet and VGG-16: the paper's numbers are not "
                         "comparable, only the ranking is.\n\n"
                       : fmt::format("- Data: the network of --model and the images of --images ({}), not the paper's ImageNet "
                                     "validation images.\n\n",
                                     o.images);
  s += fmt::format("Run: `fig4_degradation{}` (seed {}).\n\n", o.quick ? " --quick" : "", o.seed);
  for (const NetworkReport& r : reports) s += network_summary(r, ig_steps(o, f));
  s += "Files: `degradation_<net>.csv` (method, n, fraction_replaced, mean_probability, still_original), `aopc_<net>.csv` "
       "(method, aopc, curve_start), `fig4_<net>.svg/.png`.\n";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Fig4Options f;
  return pn::experiments::run_main(
      argc, argv, "Fig. 4: image degradation (AOPC) of every explanation method", "out/fig4",
      [&](CLI::App& app, Options&) {
        app.add_option("--patch", f.patch, "Patch side in pixels (default: 9 for 224x224 inputs, 4 for 28x28 / 32x32)")
            ->check(CLI::PositiveNumber);
        app.add_option("--steps", f.steps, "Patches replaced, n = 0 .. steps (default: 100 at 224x224, half of the patches otherwise)")
            ->check(CLI::PositiveNumber);
        app.add_option("--test-images", f.images, "Test images per network (default: 200 --quick, 1000 cnn, 300 vgg16-32)")
            ->check(CLI::PositiveNumber);
        app.add_option("--pattern-images", f.pattern_images,
                       "Training images the patterns are fitted on (default: 2000 --quick, 30000 cnn, 3000 vgg16-32)")
            ->check(CLI::PositiveNumber);
        app.add_option("--ig-steps", f.ig_steps, "Integrated Gradients steps (default: 8 --quick, 16 otherwise)")->check(CLI::PositiveNumber);
        app.add_option("--batch", f.batch, "Perturbed images per forward pass")->capture_default_str()->check(CLI::Range(1, 4096));
        app.add_option("--methods", f.methods, "Only these curves (e.g. random,pattern_attribution_two_component)")->delimiter(',');
      },
      [&](const Options& o) {
        const std::vector<Entry> entries = chosen_entries(o, f);
        pn::require_writable_destination(pn::experiments::out_path(o, "summary.md"));
        std::vector<Network> nets = pn::experiments::networks(o, {"cnn", "vgg16-32"});
        std::vector<NetworkReport> reports;
        for (Network& net : nets) {
          reports.push_back(run_network(o, f, net, entries));
          write_network_outputs(o, reports.back());
        }
        pn::experiments::write_output(o, "summary.md", summary(reports, f, o));
        fmt::print("fig4_degradation: wrote {}\n", pn::experiments::out_path(o, "summary.md"));
      });
}
