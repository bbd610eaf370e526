// `patternnet quality`: rho(S) per layer for several estimators (paper §5, Fig. 3). Patterns are
// fitted on one split of the data, the read-out v on a second, and rho measured on a third:
// Fashion-MNIST uses the two halves of the training set and the test set (the paper's protocol);
// a .npy data set or a folder of images is cut into three consecutive thirds.
#include "cli/commands.h"
#include "pn/nn/data_source.h"
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/core/progress.h"
#include "pn/dist/mpi.h"
#include "pn/dist/reduce_stats.h"
#include "pn/explain/fit_patterns.h"
#include "pn/explain/quality_table.h"
#include "pn/io/idx.h"
#include "pn/io/npy.h"
#include "pn/nn/data.h"
#include "pn/nn/model_io.h"

#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>
#include <sstream>

namespace pn::cli {
namespace {

struct QualityOptions {
  std::string model, arch, data, data_dir, estimators = "random,filter,linear,two_component", out, preprocess = "auto";
  std::int64_t limit = 0;
  std::int64_t batch = 0;  // 0: nn::batch_for_memory
  double ridge = 1e-6;
  std::uint64_t seed = 1;
  double memory_gb = 0;  // 0: explain::default_quality_memory_budget()
};

Tensor take_rows(const Tensor& x, std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(end - begin));
  std::iota(idx.begin(), idx.end(), begin);
  return nn::gather_rows(x, idx, 0, end - begin);
}

int run_quality(const QualityOptions& o) {
  std::vector<explain::Estimator> estimators;
  {
    std::stringstream ss(o.estimators);
    std::string name;
    while (std::getline(ss, name, ',')) {
      const auto e = explain::estimator_from_name(name);
      if (e == explain::Estimator::identity) throw Error("--estimators: rho is undefined for identity (its residual is zero)");
      estimators.push_back(e);
    }
    if (estimators.empty()) throw Error("--estimators is empty");
  }
  require_writable_destination(o.out);
  const nn::Sequential model = nn::load_model(o.model, o.arch);

  // The three splits.
  nn::DataSource fit_x, v_x, eval_x;
  const std::vector<std::string> images =
      o.data != "fashion-mnist" && std::filesystem::is_directory(o.data) ? nn::list_image_files(o.data) : std::vector<std::string>{};
  if (!images.empty()) {
    // A folder of images: three consecutive thirds of the files in name order.
    const nn::DataSource all = nn::DataSource::from_images(images, model.input_shape(), nn::choose_preprocess(o.preprocess, o.arch, model));
    std::int64_t third = all.size() / 3;
    if (o.limit > 0) third = std::min(third, o.limit);
    if (third < 2) throw Error("--data '{}': {} images cannot be cut into three splits", o.data, all.size());
    fit_x = all.slice(0, third);
    v_x = all.slice(third, 2 * third);
    eval_x = all.slice(2 * third, 3 * third);
  } else if (o.data == "fashion-mnist") {
    const std::string dir = io::fashion_mnist_dir(o.data_dir);
    const Tensor train = nn::fit_to_input(io::load_fashion_mnist(dir, "train").images, model);
    const Tensor test = nn::fit_to_input(io::load_fashion_mnist(dir, "test").images, model);
    const std::int64_t half = train.dim(0) / 2;
    const std::int64_t n = o.limit > 0 ? std::min(o.limit, half) : half;
    fit_x = nn::DataSource::from_tensor(take_rows(train, 0, n));
    v_x = nn::DataSource::from_tensor(take_rows(train, half, half + n));
    eval_x = nn::DataSource::from_tensor(take_rows(test, 0, std::min(test.dim(0), o.limit > 0 ? o.limit : test.dim(0))));
  } else {
    const Tensor x = io::read_npy(o.data);
    model.check_input(x, o.data.c_str());
    std::int64_t third = x.dim(0) / 3;
    if (o.limit > 0) third = std::min(third, o.limit);
    if (third < 2) throw Error("--data '{}': {} samples cannot be cut into three splits", o.data, x.dim(0));
    fit_x = nn::DataSource::from_tensor(take_rows(x, 0, third));
    v_x = nn::DataSource::from_tensor(take_rows(x, third, 2 * third));
    eval_x = nn::DataSource::from_tensor(take_rows(x, 2 * third, 3 * third));
  }
  if (dist::is_root()) fmt::print("splits: patterns {} samples, read-out {} samples, evaluation {} samples\n", fit_x.size(), v_x.size(),
             eval_x.size());

  // Under mpirun every rank collects its shard of each split and rank 0 sums and evaluates.
  explain::QualityParts parts;
  if (dist::size() > 1) {
    parts.part = {dist::rank(), dist::size()};
    parts.reduce = [](std::vector<explain::PatternStats>& s) {
      dist::reduce_stats(s);
      return dist::is_root();
    };
  }
  const std::vector<explain::QualityRow> rows =
      explain::quality_per_layer(model, {fit_x, v_x, eval_x}, estimators, o.ridge, o.seed,
                                 o.batch > 0 ? o.batch : nn::batch_for_memory(model), parts, o.memory_gb * 1e9);
  if (!dist::is_root()) return 0;
  fmt::print("{:<12}", "layer");
  for (auto e : estimators) fmt::print(" {:>22}", fmt::format("{} mean/median", explain::estimator_name(e)));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i % estimators.size() == 0) fmt::print("\n{:<12}", rows[i].layer);
    fmt::print(" {:>10.4f} / {:>9.4f}", rows[i].quality.mean, rows[i].quality.median);
  }
  fmt::print("\n");
  for (std::size_t i = 0; i < rows.size(); i += estimators.size()) {
    if (!rows[i].skipped.empty()) fmt::print("{}: skipped: {} (--memory-budget)\n", rows[i].layer, rows[i].skipped);
  }
  const std::string csv = explain::quality_csv(rows);
  write_file_atomic(o.out, csv);
  fmt::print("rho per layer written to {}\n", o.out);
  return 0;
}

}  // namespace

Runner add_quality(CLI::App& app) {
  auto o = std::make_shared<QualityOptions>();
  auto* sub = app.add_subcommand("quality", "rho(S) per layer for several signal estimators (paper Fig. 3)");
  sub->add_option("--model", o->model, "Model file (.safetensors)")->required();
  sub->add_option("--arch", o->arch, "Bind a file without pn.architecture to this builder");
  sub->add_option("--data", o->data, "fashion-mnist, an (N, C, H, W) .npy file or a folder of images")->required();
  sub->add_option("--preprocess", o->preprocess, "For image folders: auto, caffe, torchvision or unit");
  sub->add_option("--data-dir", o->data_dir, "Fashion-MNIST folder");
  sub->add_option("--estimators", o->estimators, "Comma-separated: random, filter, linear, two_component");
  sub->add_option("--limit", o->limit, "At most N samples per split")->check(CLI::PositiveNumber);
  sub->add_option("--batch", o->batch, "Samples per forward pass (default 128, fewer for large inputs, as fit-patterns)")
      ->check(CLI::Range(1, 65536));
  sub->add_option("--ridge", o->ridge, "Ridge of the read-out, relative to the mean input variance")->check(CLI::PositiveNumber);
  sub->add_option("--seed", o->seed, "Seed of the random estimator");
  sub->add_option("--out", o->out, "CSV file to write")->required();
  sub->add_option("--memory-budget", o->memory_gb,
                  "GB the statistics and solves may take (default: 3/4 of physical memory); layers beyond it are skipped "
                  "and named")
      ->check(CLI::PositiveNumber);
  return [o] { return run_quality(*o); };
}

}  // namespace pn::cli
