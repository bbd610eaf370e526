// Fig. 5 and 6 of the paper: explanations side by side (§7.4, §8). For a fixed set of test images,
//   fig5_methods_<net>.png     one row per image: Input | Gradient | DeConvNet | Guided BackProp |
//                              PatternNet | LRP | PatternAttribution (the paper's Fig. 6 grid);
//   fig6_estimators_<net>.png  per image a signal row and an attribution row for the estimators
//                              S_x, S_w, S_a and S_a+- (the paper's Fig. 5);
//   grid_<net>.csv             per image and explanation: label, target, prediction, confidence and
//                              summary statistics of the explanation;
//   summary.md                 setup, the LRP variant, what to look at, and what the numbers say.
// Every explanation is of the predicted class (the largest logit, paper §7.3). Textbook chapter 8.
//   fig5_method_grid [--quick] [--out DIR] [--models DIR] [--nets cnn,vgg16-32] [--model M --images DIR]
#include "common.h"

#include "pn/core/error.h"
#include "pn/core/progress.h"
#include "pn/explain/explain.h"
#include "pn/explain/fit_patterns.h"
#include "pn/io/image.h"
#include "pn/nn/data.h"
#include "pn/nn/data_source.h"
#include "pn/nn/preprocess.h"
#include "pn/viz/grid.h"
#include "pn/viz/heatmap.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>

namespace pn::experiments {
namespace {

namespace ex = pn::explain;
namespace fs = std::filesystem;

// Cells are enlarged (nearest neighbour) until their shorter side is at least this many pixels:
// 28 -> 168, 32 -> 160, 224 stays.
constexpr std::int64_t kCellSide = 160;
// LRP for the method grid: the ε-rule with the bias left out of the denominators. With ε -> 0 it
// is the z-rule, the paper's LRP (= the S_x attribution); the small ε only keeps the neurons whose
// input sum is near zero from producing single-pixel spikes that would dominate a heat map
// normalised by its max |.|.
constexpr double kLrpEpsilon = 0.01;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---------------------------------------------------------------------------------------------
// The images

struct Images {
  Tensor x;                           // (n, C, H, W), the model's input
  std::vector<std::int32_t> labels;   // -1: unknown (--images)
  std::vector<std::string> names;     // "test #17" or the file name
  std::vector<viz::RgbImage> shown;   // the input as a picture, at the model's resolution
  bool bgr = false;                   // channels in BGR order (caffe preprocessing)
  std::string how;                    // how they were chosen, for summary.md
};

viz::RgbImage rgb_from_tensor(const Tensor& chw, std::int64_t h, std::int64_t w, float scale) {
  viz::RgbImage img;
  img.height = h;
  img.width = w;
  img.pixels.resize(static_cast<std::size_t>(h * w * 3));
  const std::int64_t c = chw.dim(0), plane = h * w;
  for (std::int64_t i = 0; i < plane; ++i) {
    for (std::int64_t ch = 0; ch < 3; ++ch) {
      const float v = chw[(c == 3 ? ch : 0) * plane + i] * scale;
      img.pixels[static_cast<std::size_t>(3 * i + ch)] = static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0f, 255.0f)));
    }
  }
  return img;
}

Tensor sample(const Tensor& batch, std::int64_t i) {
  const std::int64_t per = batch.numel() / batch.dim(0);
  Shape s = batch.rank() == 4 ? Shape{batch.dim(1), batch.dim(2), batch.dim(3)} : Shape{batch.dim(1)};
  return Tensor::from(s, std::span<const float>(batch.data() + i * per, static_cast<std::size_t>(per)));
}

// Fashion-MNIST: the first test image of each class (full: all ten, in class order; --quick: the
// first four of them in test-set order). --images: the first eight files in name order.
Images pick_images(const Options& o, const Network& net) {
  Images im;
  const Shape& in = net.model.input_shape();
  if (in.rank() != 3) throw Error("fig5: the grid needs an image model (input (C, H, W)), got input {}", in.str());
  const std::int64_t h = in.dim(1), w = in.dim(2);
  std::vector<std::int64_t> idx;
  Labelled data;
  if (net.fashion_mnist) {
    data = load_split(o, net, "test", 0);
    std::vector<std::int64_t> first(fashion_mnist_classes().size(), -1);
    for (std::size_t i = 0; i < data.labels.size(); ++i) {
      const auto k = static_cast<std::size_t>(data.labels[i]);
      if (k < first.size() && first[k] < 0) first[k] = static_cast<std::int64_t>(i);
    }
    for (std::int64_t f : first)
      if (f >= 0) idx.push_back(f);
    if (o.quick) {
      std::sort(idx.begin(), idx.end());
      idx.resize(std::min<std::size_t>(idx.size(), 4));
      im.how = "the first test image of each of the first four classes met in the Fashion-MNIST test set (--quick)";
    } else {
      im.how = "the first Fashion-MNIST test image of each of the ten classes, in class order";
    }
    for (std::int64_t i : idx) {
      im.labels.push_back(data.labels[static_cast<std::size_t>(i)]);
      im.names.push_back(fmt::format("test #{}", i));
    }
  } else {
    data = load_split(o, net, "test", 8);
    std::vector<std::string> files = nn::list_image_files(o.images);
    files.resize(static_cast<std::size_t>(data.x.dim(0)));
    for (std::int64_t i = 0; i < data.x.dim(0); ++i) {
      idx.push_back(i);
      im.labels.push_back(-1);
      im.names.push_back(fs::path(files[static_cast<std::size_t>(i)]).filename().string());
    }
    im.how = fmt::format("the first {} image files of {} in name order", idx.size(), o.images);
    const nn::Preprocess p = nn::choose_preprocess(o.preprocess, o.arch, net.model);
    im.bgr = nn::is_bgr(p);
    if (p != nn::Preprocess::unit) {
      // The network sees mean-subtracted (and for caffe BGR) values; the picture is the file itself
      // with the same resize and crop.
      for (std::size_t i = 0; i < idx.size(); ++i) {
        const Tensor rgb = io::read_image(files[i]);
        const Tensor fitted = h == w ? io::resize_shorter_side_and_crop(rgb, h, h) : io::resize_bilinear(rgb, h, w);
        im.shown.push_back(rgb_from_tensor(fitted, h, w, 1.0f));
      }
    }
  }
  if (idx.empty()) throw Error("fig5: no images to explain");
  im.x = nn::gather_rows(data.x, idx, 0, static_cast<std::int64_t>(idx.size()));
  if (im.shown.empty()) {
    // Inputs scaled to [0, 1] (Fashion-MNIST, the unit preprocessing) are shown as they are.
    for (std::int64_t i = 0; i < im.x.dim(0); ++i) im.shown.push_back(rgb_from_tensor(sample(im.x, i), h, w, 255.0f));
  }
  return im;
}

// ---------------------------------------------------------------------------------------------
// Patterns and explanations

struct FittedPatterns {
  ex::Patterns filter, linear, two_component;
  std::int64_t rows = 0;  // images behind the statistics
  double load_seconds = 0, seconds = 0;
};

// Flags of this program beyond common.h's.
struct GridOptions {
  std::string nets = "cnn,vgg16-32";
  std::int64_t fit_images = 0;  // 0: the defaults below
};

std::int64_t fit_images(const Options& o, const GridOptions& g, const Network& net) {
  if (g.fit_images > 0) return g.fit_images;
  if (o.quick) return 2000;
  if (net.name == "vgg16-32") return 10000;
  return 20000;
}

FittedPatterns fit_all(const Options& o, const GridOptions& g, const Network& net) {
  const auto t0 = std::chrono::steady_clock::now();
  FittedPatterns p;
  const std::int64_t limit = net.fashion_mnist || g.fit_images > 0 ? fit_images(o, g, net) : 2000;
  Labelled train = load_split(o, net, "train", limit);
  p.rows = train.x.dim(0);
  p.load_seconds = seconds_since(t0);
  // One pass of statistics serves both fitted estimators (linear is the all-rows regime).
  ex::StatsCollector collector(net.model, false, true);
  const nn::DataSource src = nn::DataSource::from_tensor(std::move(train.x));
  constexpr std::int64_t kBatch = 128;
  Progress progress(fmt::format("pattern statistics ({})", net.name), src.size(), "images");
  for (std::int64_t b = 0; b < src.size(); b += kBatch) {
    const std::int64_t e = std::min(src.size(), b + kBatch);
    collector.add_batch(src.batch(b, e));
    progress.advance(e - b);
  }
  progress.finish();
  const double stats_done = seconds_since(t0);
  p.linear = ex::fit_patterns(net.model, &collector, ex::Estimator::linear);
  p.two_component = ex::fit_patterns(net.model, &collector, ex::Estimator::two_component);
  p.filter = ex::fit_patterns(net.model, nullptr, ex::Estimator::filter);
  p.seconds = seconds_since(t0);
  fmt::print(stderr, "patterns ({}): data {:.1f} s, statistics {:.1f} s, estimators {:.1f} s\n", net.name, p.load_seconds,
             stats_done - p.load_seconds, p.seconds - stats_done);
  return p;
}

// One explanation of every image: a method with (for the pattern methods) an estimator's patterns.
struct Column {
  std::string method;      // the method's name (method.h)
  std::string estimator;   // the patterns' estimator; "" for methods without patterns
  std::string short_name;  // for tables
  viz::HeatmapKind kind = viz::HeatmapKind::signal;
  ex::Explanation result;
};

ex::Method method_for(const std::string& name) {
  ex::MethodOptions mo;
  if (name == "lrp_epsilon") {
    mo.epsilon = kLrpEpsilon;
    mo.ignore_bias = true;
  }
  // input x gradient is the S_x attribution: start it at the logit like the other attributions
  // (only the scale changes; the sums in the CSV are then comparable).
  if (name == "input_x_gradient") mo.start = ex::Start::output;
  return ex::make_method(name, mo);
}

Column explain_all(const Network& net, const Images& im, const std::string& name, const std::string& estimator,
                   const ex::Patterns* patterns, const std::string& short_name) {
  Column c;
  c.method = name;
  c.estimator = estimator;
  c.short_name = short_name;
  const ex::Method m = method_for(name);
  c.kind = m.family == ex::Family::attribution ? viz::HeatmapKind::attribution : viz::HeatmapKind::signal;
  const ex::Explainer explainer(net.model, m, patterns, fmt::format("the {} patterns", estimator));
  c.result = explainer(im.x);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Numbers per explanation

struct Stats {
  double sum = 0, max_abs = 0;
  double background_share = std::numeric_limits<double>::quiet_NaN();  // of sum |m| on pixels where the input is 0
  double roughness = 0;  // sum of |differences| between 4-neighbours / sum |m|: 0 flat, ~4 for isolated speckles
};

Stats stats_of(const Tensor& e, const Tensor& x, bool has_background) {
  Stats s;
  const std::int64_t c = e.dim(0), h = e.dim(1), w = e.dim(2), plane = h * w;
  std::vector<double> m(static_cast<std::size_t>(plane), 0.0);
  std::vector<char> background(static_cast<std::size_t>(plane), 1);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    for (std::int64_t i = 0; i < plane; ++i) {
      const double v = e[ch * plane + i];
      s.sum += v;
      s.max_abs = std::max(s.max_abs, std::fabs(v));
      m[static_cast<std::size_t>(i)] += v;
      if (x[ch * plane + i] != 0.0f) background[static_cast<std::size_t>(i)] = 0;
    }
  }
  double mass = 0, bg = 0, tv = 0;
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t xx = 0; xx < w; ++xx) {
      const auto i = static_cast<std::size_t>(y * w + xx);
      mass += std::fabs(m[i]);
      if (background[i]) bg += std::fabs(m[i]);
      if (xx + 1 < w) tv += std::fabs(m[i] - m[i + 1]);
      if (y + 1 < h) tv += std::fabs(m[i] - m[i + static_cast<std::size_t>(w)]);
    }
  }
  if (has_background) s.background_share = mass > 0 ? bg / mass : 0.0;
  s.roughness = mass > 0 ? tv / mass : 0.0;
  return s;
}

double pearson(const Tensor& a, const Tensor& b) {
  const std::int64_t n = a.numel();
  double ma = 0, mb = 0;
  for (std::int64_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= static_cast<double>(n), mb /= static_cast<double>(n);
  double sab = 0, saa = 0, sbb = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

// ---------------------------------------------------------------------------------------------
// The figures

viz::RgbImage enlarged(std::vector<std::uint8_t> rgb, std::int64_t h, std::int64_t w, std::int64_t factor) {
  viz::RgbImage img;
  img.height = h * factor;
  img.width = w * factor;
  img.pixels = factor == 1 ? std::move(rgb) : viz::upscale_nearest(rgb, h, w, factor);
  return img;
}

viz::RgbImage cell_of(const Column& col, std::int64_t i, bool bgr, std::int64_t factor) {
  const Tensor e = sample(col.result.result, i);
  return enlarged(viz::heatmap_image(e, col.kind, bgr), e.dim(1), e.dim(2), factor);
}

std::string class_name(const Network& net, std::int64_t k) {
  const auto& names = fashion_mnist_classes();
  if (net.fashion_mnist && k >= 0 && k < static_cast<std::int64_t>(names.size())) return names[static_cast<std::size_t>(k)];
  return fmt::format("class {}", k);
}

struct Prediction {
  std::vector<std::int64_t> label;
  std::vector<double> confidence;  // softmax probability of the predicted class
};

Prediction predict(const Network& net, const Tensor& x) {
  const Tensor logits = net.model.forward(x);
  const std::int64_t n = logits.dim(0), k = logits.numel() / n;
  Prediction p;
  for (std::int64_t i = 0; i < n; ++i) {
    const float* z = logits.data() + i * k;
    const std::int64_t best = std::max_element(z, z + k) - z;
    double sum = 0;
    for (std::int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(z[j]) - z[best]);
    p.label.push_back(best);
    p.confidence.push_back(1.0 / sum);
  }
  return p;
}

std::string shorten(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(0, n - 3) + "..."; }

std::string row_label(const Network& net, const Images& im, const Prediction& pred, std::size_t i) {
  const std::string truth = im.labels[i] >= 0 ? "true: " + class_name(net, im.labels[i]) : viz::plain_text(shorten(im.names[i], 16));
  return fmt::format("{}\npred: {}\nsoftmax {:.3f}", truth, class_name(net, pred.label[i]), pred.confidence[i]);
}

const Column& find(const std::vector<Column>& cols, const std::string& method, const std::string& estimator) {
  for (const Column& c : cols)
    if (c.method == method && c.estimator == estimator) return c;
  throw Error("fig5: no explanation {} [{}]", method, estimator);
}

std::string fit_source(const Network& net) { return net.fashion_mnist ? "training images" : "images of the folder"; }

std::string network_title(const Network& net, const Options& o) {
  if (!net.fashion_mnist) return fmt::format("{} on {}", viz::plain_text(net.name), viz::plain_text(o.images));
  return fmt::format("{} on Fashion-MNIST (test accuracy {:.1f}%)", net.name, 100.0 * net.test_accuracy);
}

// Titles, captions and row labels are kept within the width of the cells (one title line of at most
// ~100 characters, caption lines of at most ~80, labels of at most 17), so the pages' sizes follow
// from the number of rows and columns alone (the quick-mode test checks them).
constexpr const char* kMethodCaption =
    "Each explanation is of the predicted class and normalised on its own.\n"
    "Signals (Gradient, DeConvNet, Guided BackProp, PatternNet): x / (2 max|x|) + 1/2, mid-gray = 0.\n"
    "Attributions (LRP, PatternAttribution): channel sum / max|.|, seismic: red positive, white 0, blue negative.";
constexpr const char* kEstimatorCaption =
    "Signal rows: x / (2 max|x|) + 1/2, mid-gray = 0; the S_x signal is the input itself.\n"
    "Attribution rows: channel sum / max|.|, seismic: red +, white 0, blue -.\n"
    "S_w: a = w / w^Tw per neuron, so its attribution w ⊙ a = w^2 / w^Tw is the w^2-rule.";

void write_method_grid(const Options& o, const Network& net, const Images& im, const Prediction& pred, const std::vector<Column>& cols,
                       const FittedPatterns& pats, std::int64_t factor) {
  struct Entry {
    std::string method, estimator, title;
  };
  const std::vector<Entry> entries = {{"gradient", "", "Gradient\n(function)"},
                                      {"deconvnet", "", "DeConvNet\n(signal)"},
                                      {"guided_backprop", "", "Guided BackProp\n(signal)"},
                                      {"pattern_net", "two_component", "PatternNet S_{a+-}\n(signal)"},
                                      {"lrp_epsilon", "", "LRP (ε-rule)\n(attribution)"},
                                      {"pattern_attribution", "two_component", "PatternAttribution\nS_{a+-}\n(attribution)"}};
  viz::ImageGrid g;
  g.title = fmt::format("Explanations of {}; patterns from {} {}", network_title(net, o), pats.rows, fit_source(net));
  g.column_titles.push_back("Input");
  for (const Entry& e : entries) g.column_titles.push_back(e.title);
  for (std::size_t i = 0; i < im.shown.size(); ++i) {
    const auto n = static_cast<std::int64_t>(i);
    std::vector<viz::RgbImage> row;
    row.push_back(enlarged(im.shown[i].pixels, im.shown[i].height, im.shown[i].width, factor));
    for (const Entry& e : entries) row.push_back(cell_of(find(cols, e.method, e.estimator), n, im.bgr, factor));
    g.cells.push_back(std::move(row));
    g.row_labels.push_back(row_label(net, im, pred, i));
  }
  g.caption = kMethodCaption;
  viz::write_grid_png(g, out_path(o, fmt::format("fig5_methods_{}.png", net.name)));
}

std::int64_t estimator_images(const Options& o, std::int64_t available) { return std::min<std::int64_t>(available, o.quick ? 2 : 3); }

void write_estimator_grid(const Options& o, const Network& net, const Images& im, const Prediction& pred, const std::vector<Column>& cols,
                          const FittedPatterns& pats, std::int64_t factor) {
  viz::ImageGrid g;
  g.title = fmt::format("Signal estimators: {} on {}\n{}patterns from {} {}", viz::plain_text(net.name),
                        net.fashion_mnist ? "Fashion-MNIST" : viz::plain_text(shorten(o.images, 30)),
                        net.test_accuracy > 0 ? fmt::format("test accuracy {:.1f}%, ", 100.0 * net.test_accuracy) : "", pats.rows,
                        fit_source(net));
  g.column_titles = {"S_x (identity)\ninput /\nLRP-z = x ⊙ ∇", "S_w (filter)\na = w / w^Tw\nw^2-rule",
                     "S_a (linear)\nPatternNet /\nPatternAttribution", "S_{a+-} (two-comp.)\nPatternNet /\nPatternAttribution"};
  g.style.row_group = 2;
  g.style.header_lines = 3;
  const std::int64_t n = estimator_images(o, im.x.dim(0));
  const std::string est[3] = {"filter", "linear", "two_component"};
  for (std::int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const Tensor x = sample(im.x, i);
    std::vector<viz::RgbImage> signal, attribution;
    signal.push_back(enlarged(viz::signal_image(x, im.bgr), x.dim(1), x.dim(2), factor));
    attribution.push_back(cell_of(find(cols, "input_x_gradient", ""), i, im.bgr, factor));
    for (const std::string& e : est) {
      signal.push_back(cell_of(find(cols, "pattern_net", e), i, im.bgr, factor));
      attribution.push_back(cell_of(find(cols, "pattern_attribution", e), i, im.bgr, factor));
    }
    g.cells.push_back(std::move(signal));
    g.row_labels.push_back(row_label(net, im, pred, k) + "\nsignal");
    g.cells.push_back(std::move(attribution));
    g.row_labels.push_back("attribution");
  }
  g.caption = kEstimatorCaption;
  viz::write_grid_png(g, out_path(o, fmt::format("fig6_estimators_{}.png", net.name)));
}

// ---------------------------------------------------------------------------------------------
// One network

struct NetworkReport {
  std::string name;
  std::string md;
};

std::string csv_value(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : std::string(); }

NetworkReport run_network(const Options& o, const GridOptions& g, const Network& net) {
  const auto t0 = std::chrono::steady_clock::now();
  const Images im = pick_images(o, net);
  const std::int64_t n = im.x.dim(0);
  const Prediction pred = predict(net, im.x);
  const FittedPatterns pats = fit_all(o, g, net);

  std::vector<Column> cols;
  cols.push_back(explain_all(net, im, "gradient", "", nullptr, "Gradient"));
  cols.push_back(explain_all(net, im, "deconvnet", "", nullptr, "DeConvNet"));
  cols.push_back(explain_all(net, im, "guided_backprop", "", nullptr, "Guided BackProp"));
  cols.push_back(explain_all(net, im, "pattern_net", "two_component", &pats.two_component, "PatternNet S_a+-"));
  cols.push_back(explain_all(net, im, "lrp_epsilon", "", nullptr, "LRP-ε"));
  cols.push_back(explain_all(net, im, "pattern_attribution", "two_component", &pats.two_component, "PatternAttribution S_a+-"));
  cols.push_back(explain_all(net, im, "input_x_gradient", "", nullptr, "S_x attribution (LRP-z = x ⊙ ∇)"));
  cols.push_back(explain_all(net, im, "pattern_net", "filter", &pats.filter, "S_w signal"));
  cols.push_back(explain_all(net, im, "pattern_attribution", "filter", &pats.filter, "S_w attribution (w²-rule)"));
  cols.push_back(explain_all(net, im, "pattern_net", "linear", &pats.linear, "PatternNet S_a"));
  cols.push_back(explain_all(net, im, "pattern_attribution", "linear", &pats.linear, "PatternAttribution S_a"));

  const std::int64_t side = std::min(im.x.dim(2), im.x.dim(3));
  const std::int64_t factor = viz::enlargement(side, kCellSide);
  write_method_grid(o, net, im, pred, cols, pats, factor);
  write_estimator_grid(o, net, im, pred, cols, pats, factor);

  // The CSV and the per-method means for the summary.
  std::string csv = "network,image,source,label,label_name,target,prediction,prediction_name,confidence,method,estimator,family,"
                    "target_logit,sum,max_abs,background_share,roughness\n";
  struct Mean {
    double bg = 0, rough = 0;
    int count = 0;
  };
  std::map<std::string, Mean> means;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const Tensor x = sample(im.x, i);
    for (const Column& c : cols) {
      const Tensor e = sample(c.result.result, i);
      const Stats s = stats_of(e, x, net.fashion_mnist);
      for (double v : {s.sum, s.max_abs, s.roughness}) {
        if (!std::isfinite(v)) throw Error("fig5: {} [{}] of image {} is not finite", c.method, c.estimator, i);
      }
      csv += fmt::format("{},{},\"{}\",{},\"{}\",{},{},\"{}\",{:.6f},{},{},{},{:.6g},{:.6g},{:.6g},{},{:.6g}\n", net.name, i, im.names[k],
                         im.labels[k], im.labels[k] >= 0 ? class_name(net, im.labels[k]) : "", c.result.targets[k], pred.label[k],
                         class_name(net, pred.label[k]), pred.confidence[k], c.method, c.estimator.empty() ? "none" : c.estimator,
                         c.kind == viz::HeatmapKind::signal ? (c.method == "gradient" ? "function" : "signal") : "attribution",
                         c.result.target_outputs[k], s.sum, s.max_abs, csv_value(s.background_share), s.roughness);
      Mean& m = means[c.short_name];
      m.bg += s.background_share;
      m.rough += s.roughness;
      ++m.count;
    }
  }
  write_output(o, fmt::format("grid_{}.csv", net.name), csv);

  // LRP-ε (bias ignored) against input x gradient (= LRP-z in a bias-free network).
  double corr = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    corr += pearson(sample(find(cols, "lrp_epsilon", "").result.result, i), sample(find(cols, "input_x_gradient", "").result.result, i));
  }
  corr /= static_cast<double>(n);

  NetworkReport rep;
  rep.name = net.name;
  std::string& md = rep.md;
  md += fmt::format("## {}\n\n", net.name);
  md += fmt::format("- network: {} ({}){}\n", net.name, net.recipe,
                    net.test_accuracy > 0 ? fmt::format(", test accuracy {:.2f}%", 100.0 * net.test_accuracy) : "");
  md += fmt::format("- images: {}\n", im.how);
  md += fmt::format("- patterns: linear (S_a) and two-component (S_a+-) from one pass of statistics over {} {} ({:.1f} s); filter (S_w) "
                    "from the weights\n",
                    pats.rows, net.fashion_mnist ? "Fashion-MNIST training images" : "images of the folder (the same images)",
                    pats.seconds);
  md += fmt::format("- files: `fig5_methods_{0}.png`, `fig6_estimators_{0}.png`, `grid_{0}.csv`; {1:.1f} s in all\n\n", net.name,
                    seconds_since(t0));
  md += "| image | label | prediction | softmax |\n|---|---|---|---:|\n";
  for (std::int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    md += fmt::format("| {} | {} | {} | {:.3f} |\n", im.names[k], im.labels[k] >= 0 ? class_name(net, im.labels[k]) : "?",
                      class_name(net, pred.label[k]), pred.confidence[k]);
  }
  md += "\nMeans over the images (roughness: Σ|differences of 4-neighbours| / Σ|value| of the channel-summed map — about 4 for "
        "isolated speckles, small for smooth shapes; background: share of Σ|value| on pixels where the input is exactly 0):\n\n";
  md += "| explanation | roughness | background share |\n|---|---:|---:|\n";
  for (const Column& c : cols) {
    const Mean& m = means[c.short_name];
    md += fmt::format("| {} | {:.3f} | {} |\n", c.short_name, m.rough / m.count,
                      net.fashion_mnist ? fmt::format("{:.3f}", m.bg / m.count) : std::string("n/a"));
  }
  const auto rough = [&](const std::string& name) { return means[name].rough / means[name].count; };
  const double pn_r = rough("PatternNet S_a+-"), pa_r = rough("PatternAttribution S_a+-");
  md += "\nWhat the numbers say (the paper's claims: PatternNet gives a cleaner signal than the gradient, DeConvNet and Guided "
        "BackProp; PatternAttribution a crisper heat map than LRP):\n\n";
  md += fmt::format("- PatternNet S_a+- roughness {:.3f} vs gradient {:.3f}, DeConvNet {:.3f}, Guided BackProp {:.3f}: {}.\n", pn_r,
                    rough("Gradient"), rough("DeConvNet"), rough("Guided BackProp"),
                    pn_r < std::min({rough("Gradient"), rough("DeConvNet"), rough("Guided BackProp")})
                        ? "the smoothest of the signal methods"
                        : (pn_r < rough("Gradient") ? "smoother than the gradient, not than every other signal method"
                                                    : "not smoother than the gradient here"));
  md += fmt::format("- PatternAttribution S_a+- roughness {:.3f} vs LRP-ε {:.3f} and LRP-z (x ⊙ ∇) {:.3f}: {}.\n", pa_r, rough("LRP-ε"),
                    rough("S_x attribution (LRP-z = x ⊙ ∇)"),
                    pa_r < rough("LRP-ε") ? "smoother than LRP" : "not smoother than LRP here");
  md += fmt::format("- Estimators (PatternAttribution): S_w {:.3f}, S_a {:.3f}, S_a+- {:.3f}; (PatternNet): S_w {:.3f}, S_a {:.3f}, "
                    "S_a+- {:.3f}.\n",
                    rough("S_w attribution (w²-rule)"), rough("PatternAttribution S_a"), pa_r, rough("S_w signal"), rough("PatternNet S_a"),
                    pn_r);
  md += fmt::format("- LRP-ε (ε = {:g}, bias ignored) against LRP-z = input ⊙ gradient: mean Pearson correlation {:.3f} over the "
                    "images.\n",
                    kLrpEpsilon, corr);
  double pn_max = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const Tensor e = sample(find(cols, "pattern_net", "two_component").result.result, i);
    for (float v : e.values()) pn_max = std::max(pn_max, static_cast<double>(std::fabs(v)));
  }
  md += fmt::format("- PatternNet's raw signal reaches max |.| = {:.3g} for a logit of order 10: every layer multiplies by a pattern "
                    "with |a| >= 1/|w| (wᵀa = 1), so the scale grows through the network (spec §9.5); only the normalised picture "
                    "is meaningful.\n\n",
                    pn_max);
  return rep;
}

// What the figures of the reference runs showed, looked at by eye when this program was written.
// They are not recomputed: the Results section holds this run's numbers.
std::string reference_observations() {
  return "## Observations from the reference runs\n\n"
         "Written after looking at the figures of the runs made with this program (seed 1): `--quick` (cnn trained one epoch on "
         "3000 images, 78.7% test accuracy, patterns from 2000 images), the full cnn (92.1%, patterns from 20000 images) and the "
         "full vgg16-32 (89.3%, patterns from 10000 images). They describe those runs; check them against this run's figures.\n\n"
         "- Signals. As in the paper, PatternNet S_a+- is the least noisy signal: a smooth, filled silhouette of the garment on a "
         "mid-gray background, where the gradient is speckle and DeConvNet shows edges over a checkerboard texture. It is not "
         "sharper, though: PatternNet is blurred and loses interior detail (the \"Lee\" print of the pullover, seams, the "
         "sneaker's laces) that Guided BackProp shows crisply; on these small gray images Guided BackProp is the sharpest signal. "
         "On the cnn, PatternNet's background carries faint periodic stripes.\n"
         "- Attributions. On vgg16-32 the paper's picture is reproduced: PatternAttribution S_a+- traces the garment's outline and "
         "parts (sleeves, waistband, the bag's handle), mostly positive, while LRP is a speckled mix of signs confined to the "
         "object. On the full cnn it is not: PatternAttribution is a scattered map with a checkerboard texture that reaches into "
         "the background (about 40% of its |mass| on pixels where the input is 0) and is no crisper than LRP; the quick cnn's "
         "PatternAttribution followed the outlines better. Not being multiplied by the input, PatternAttribution can put "
         "relevance on the empty background; LRP cannot.\n"
         "- Estimators (the paper's Fig. 5). The paper's ordering holds on both networks: the S_x signal is the input and its "
         "attribution (LRP-z) a noisy mix of signs; S_w's signal is texture without the object and its attribution (the "
         "w²-rule) a dense red blob over the whole image, background included; S_a's signal has the object's rough shape with "
         "wrong shading and a dense attribution; S_a+- gives the most input-like signal and the sparsest, most object-shaped "
         "attribution (a crisp outline on vgg16-32).\n"
         "- Scale. PatternNet's raw values are huge: max |.| about 3e4 on the cnn and 9e31 on vgg16-32, within a factor 10^7 of "
         "float32's limit (3.4e38), because each of the 13 conv layers multiplies by patterns with |a| >= 1/|w|. A deeper network "
         "or a larger input could overflow; iNNvestigate rescales at every layer for this reason (spec §9.5).\n\n";
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

void run(const Options& o, const GridOptions& g) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> archs = split_list(g.nets);
  if (archs.empty()) throw Error("--nets '{}': name at least one network (cnn, vgg16-32)", g.nets);
  if (g.fit_images < 0) throw Error("--fit-images must be >= 0 (0: the default), got {}", g.fit_images);
  for (const std::string& a : archs) {
    if (a != "cnn" && a != "vgg16-32" && a != "mlp") throw Error("--nets: unknown network '{}' (cnn, vgg16-32)", a);
    if (a == "mlp") throw Error("--nets: the mlp has no image input to draw the explanations on (cnn, vgg16-32)");
  }
  const std::vector<Network> nets = networks(o, archs);
  std::vector<NetworkReport> reports;
  for (const Network& net : nets) {
    reports.push_back(run_network(o, g, net));
    fmt::print("fig5_method_grid: {} done ({:.1f} s so far)\n", net.name, seconds_since(t0));
  }

  std::string md = "# Fig. 5 and 6: explanation methods and signal estimators side by side\n\n";
  std::string flags = o.quick ? " --quick" : "";
  if (g.nets != GridOptions{}.nets) flags += " --nets " + g.nets;
  if (g.fit_images > 0) flags += fmt::format(" --fit-images {}", g.fit_images);
  if (!o.model_file.empty()) flags += " --model " + o.model_file;
  if (!o.images.empty()) flags += " --images " + o.images;
  md += fmt::format("Run: `fig5_method_grid{}` (seed {}), {:.1f} s.\n\n", flags, o.seed, seconds_since(t0));
  md += "## Setup\n\n";
  md += "- `fig5_methods_<net>.png` is the paper's method grid (its Fig. 6, and the authors' `all_methods.py` layout): one row "
        "per image with its true label, the predicted label and the softmax confidence; columns Input, Gradient (function), "
        "DeConvNet, Guided BackProp, PatternNet (signals), LRP, PatternAttribution (attributions). PatternNet and "
        "PatternAttribution use the two-component patterns S_a+-, as in the paper.\n";
  md += "- `fig6_estimators_<net>.png` is the estimator comparison (the paper's Fig. 5): per image a signal row and an "
        "attribution row for S_x, S_w, S_a and S_a+-. S_x: the signal is the input, the attribution LRP-z = input ⊙ gradient "
        "(`input_x_gradient`, started at the logit). S_w: PatternNet / PatternAttribution with the filter patterns a = w / wᵀw; "
        "in this code base `pattern_attribution` with those patterns is exactly the backward pass through w ⊙ w / wᵀw with the "
        "gradient's ReLU gates, i.e. the w²-rule of spec §3.2 (the `lrp_w_square` method instead lets relevance pass closed "
        "ReLUs and, in padded convolutions, normalises over the taps inside the image, so it is not the S_w attribution). "
        "S_x has no pattern (`fit_patterns` refuses the identity estimator), hence input ⊙ gradient.\n";
  md += fmt::format("- LRP variant: `lrp_epsilon` with ε = {:g} and the bias left out of the denominators. The paper's LRP is the "
                    "z-rule (the S_x attribution); the ε-rule tends to it as ε -> 0 and only damps neurons whose input sum is near "
                    "zero, which would otherwise put single-pixel spikes into a heat map normalised by its max |.|. "
                    "`lrp_alpha_beta` (z⁺) was not used: it keeps only positive contributions, a different estimator from the "
                    "paper's LRP.\n",
                    kLrpEpsilon);
  md += "- Visualisation (spec §7.4): signals as x / (2 max|x|) + 1/2 (mid-gray = 0), attributions summed over channels, "
        "divided by max|.| and coloured with 'seismic' (red positive, blue negative); every explanation normalised on its own, "
        "enlarged with nearest neighbour. Every explanation is of the predicted class.\n\n";
  md += "## What to look at\n\n";
  md += "- Compare methods only within a family (function / signal / attribution), as the paper says.\n";
  md += "- Signals: does the method show the garment (PatternNet should reproduce the object's shape and, on the input's "
        "background, stay near mid-gray) or mostly edges and speckle (gradient, DeConvNet)?\n";
  md += "- Attributions: LRP can only be non-zero where the input is non-zero (it is input x something); PatternAttribution is "
        "not multiplied by the input, so it can also mark pixels whose absence matters.\n";
  md += "- Estimators: the S_x signal is the whole input (distractor included); S_w's signal follows the filters; S_a and S_a+- "
        "should look most like the object.\n\n";
  md += "## Results\n\n";
  for (const NetworkReport& r : reports) md += r.md;
  md += reference_observations();
  md += "## Caveats\n\n";
  md += "- The paper shows a VGG-16 on ImageNet photographs; these are small networks on 28x28 (cnn) or 32x32 (vgg16-32) gray "
        "images, so colour, texture and background clutter — where the paper's differences are most visible — do not arise. "
        "Fashion-MNIST's background is exactly 0, which makes LRP's maps clean outside the object by construction.\n";
  md += "- The roughness and background numbers are crude summaries chosen here, not the paper's; the paper's Fig. 5/6 "
        "comparison is visual only.\n";
  if (o.quick) md += "- --quick: the network is trained for one epoch on 3000 images and the patterns use 2000 images; the "
                     "explanations are correspondingly rougher than a full run's.\n";
  write_output(o, "summary.md", md);
}

}  // namespace
}  // namespace pn::experiments

int main(int argc, char** argv) {
  pn::experiments::GridOptions g;
  return pn::experiments::run_main(
      argc, argv, "fig5_method_grid: the paper's Fig. 5 and 6, explanation methods and signal estimators side by side", "out/fig5",
      [&g](CLI::App& app, pn::experiments::Options&) {
        app.add_option("--nets", g.nets, "Fashion-MNIST networks to explain, comma-separated (--quick: the quick cnn only)")
            ->capture_default_str();
        app.add_option("--fit-images", g.fit_images,
                       "Training images behind the patterns (0: 2000 with --quick, else 20000 for the cnn, 10000 for vgg16-32; "
                       "2000 for --images)")
            ->capture_default_str();
      },
      [&g](const pn::experiments::Options& o) { pn::experiments::run(o, g); });
}
