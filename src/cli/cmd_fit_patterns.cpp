// `patternnet fit-patterns`: streams a data set through a model, collects every dense and conv
// layer's pattern statistics and writes the fitted patterns with a per-layer report.
#include "cli/commands.h"
#include "pn/nn/data_source.h"
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/core/progress.h"
#include "pn/explain/fit_patterns.h"
#include "pn/io/idx.h"
#include "pn/io/npy.h"
#include "pn/nn/data.h"
#include "pn/nn/model_io.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <numeric>
#include <vector>

namespace pn::cli {
namespace {

struct FitOptions {
  std::string model, arch, data, data_dir, estimator, out, preprocess = "auto";
  std::int64_t limit = 0;
  std::int64_t batch = 128;
  std::uint64_t seed = 1;
};

Tensor load_inputs(const FitOptions& o, const nn::Sequential& model);

// The data set: a folder of image files streams (read and preprocessed per batch); everything else
// is one tensor in memory.
nn::DataSource load_source(const FitOptions& o, const nn::Sequential& model) {
  if (o.data != "fashion-mnist" && std::filesystem::is_directory(o.data)) {
    std::vector<std::string> images = nn::list_image_files(o.data);
    if (!images.empty()) return nn::DataSource::from_images(std::move(images), model.input_shape(), nn::choose_preprocess(o.preprocess, o.arch, model));
  }
  return nn::DataSource::from_tensor(load_inputs(o, model));
}

// The data set as one tensor in the model's input shape: Fashion-MNIST's training split, one .npy
// batch, or a folder of .npy batches (read in name order).
Tensor load_inputs(const FitOptions& o, const nn::Sequential& model) {
  if (o.data == "fashion-mnist") {
    auto d = io::load_fashion_mnist(io::fashion_mnist_dir(o.data_dir), "train");
    return nn::fit_to_input(d.images, model);
  }
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  if (fs::is_directory(o.data)) {
    for (const auto& e : fs::directory_iterator(o.data)) {
      if (e.path().extension() == ".npy") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw Error("--data '{}' is a folder without .npy or image (.png, .jpg, .jpeg, .bmp) files", o.data);
  } else if (fs::exists(o.data)) {
    files.push_back(o.data);
  } else {
    throw Error("--data '{}' is neither 'fashion-mnist', a .npy file nor a folder of them", o.data);
  }
  std::vector<Tensor> parts;
  std::int64_t rows = 0;
  for (const auto& f : files) {
    Tensor t = io::read_npy(f);
    model.check_input(t, f.c_str());
    rows += t.dim(0);
    parts.push_back(std::move(t));
  }
  Shape s = parts[0].shape();
  Shape all{rows};
  for (int i = 1; i < s.rank(); ++i) all.push_back(s[i]);
  Tensor x(all);
  std::int64_t off = 0;
  for (const auto& p : parts) {
    std::copy(p.data(), p.data() + p.numel(), x.data() + off);
    off += p.numel();
  }
  return x;
}

int run_fit(const FitOptions& o) {
  const explain::Estimator est = explain::estimator_from_name(o.estimator);
  if (est == explain::Estimator::identity) throw Error("--estimator identity has no pattern to fit (S_x(x) = x)");
  require_writable_destination(o.out);
  const nn::Sequential model = nn::load_model(o.model, o.arch);
  const nn::DataSource data = load_source(o, model);
  std::int64_t n = data.size();
  if (o.limit > 0) n = std::min(n, o.limit);
  if (n == 0) throw Error("--data '{}' holds no samples", o.data);

  // The linear estimator needs no regime sums: a third of the statistics work.
  explain::StatsCollector collector(model, false, est == explain::Estimator::two_component);
  const bool needs_data = est == explain::Estimator::linear || est == explain::Estimator::two_component;
  if (needs_data) {
    Progress bar("fit-patterns", n, "img");
    for (std::int64_t b = 0; b < n; b += o.batch) {
      const std::int64_t e = std::min(n, b + o.batch);
      collector.add_batch(data.batch(b, e));
      bar.advance(e - b);
    }
    bar.finish();
    fmt::print("statistics from {} samples in {} ({:.0f} samples/s)\n", n, format_duration(bar.elapsed_seconds()),
               static_cast<double>(n) / std::max(1e-9, bar.elapsed_seconds()));
  }
  const explain::Patterns p = explain::fit_patterns(model, needs_data ? &collector : nullptr, est, o.seed);
  fmt::print("{:<12} {:>14} {:>8} {:>6} {:>10} {:>14}\n", "layer", "rows", "neurons", "dead", "dead a-", "max|wᵀa-1|");
  for (const auto& l : p.layers) {
    fmt::print("{:<12} {:>14.0f} {:>8} {:>6} {:>10} {:>14.2e}\n", l.layer, l.rows, l.report.neurons, l.report.dead,
               est == explain::Estimator::two_component ? std::to_string(l.report.dead_negative) : "-",
               l.report.max_constraint_error);
  }
  explain::save_patterns(o.out, p);
  fmt::print("{} patterns for {} layers written to {}\n", explain::estimator_name(est), p.layers.size(), o.out);
  return 0;
}

}  // namespace

Runner add_fit_patterns(CLI::App& app) {
  auto o = std::make_shared<FitOptions>();
  auto* sub = app.add_subcommand("fit-patterns", "Fit signal-estimator patterns of every dense and conv layer");
  sub->add_option("--model", o->model, "Model file (.safetensors)")->required();
  sub->add_option("--arch", o->arch, "Bind a file without pn.architecture to this builder (e.g. vgg16)");
  sub->add_option("--data", o->data, "fashion-mnist, an (N, C, H, W) .npy file, a folder of them, or a folder of images")->required();
  sub->add_option("--preprocess", o->preprocess, "For image folders: auto, caffe, torchvision or unit");
  sub->add_option("--data-dir", o->data_dir, "Fashion-MNIST folder");
  sub->add_option("--estimator", o->estimator, "linear, two_component, filter or random")->required();
  sub->add_option("--limit", o->limit, "Use the first N samples only")->check(CLI::PositiveNumber);
  sub->add_option("--batch", o->batch, "Samples per forward pass")->check(CLI::Range(1, 65536));
  sub->add_option("--seed", o->seed, "Seed of the random estimator");
  sub->add_option("--out", o->out, "Patterns file to write (.safetensors)")->required();
  return [o] { return run_fit(*o); };
}

}  // namespace pn::cli
