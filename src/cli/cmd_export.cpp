// `patternnet export`: a slice of Fashion-MNIST as an (N, 1, 28, 28) float32 .npy batch (values in
// [0, 1], the scale the project's models are trained on), with its labels on stdout — the input
// `patternnet explain --input` and `fit-patterns --data` take.
#include "cli/commands.h"
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/io/idx.h"
#include "pn/io/npy.h"

#include <fmt/core.h>

#include <algorithm>
#include <memory>

namespace pn::cli {
namespace {

struct ExportOptions {
  std::string data = "fashion-mnist", data_dir, split = "test", out;
  std::int64_t first = 0, count = 1;
};

int run_export(const ExportOptions& o) {
  if (o.data != "fashion-mnist") throw Error("--data must be 'fashion-mnist', got '{}'", o.data);
  if (o.split != "train" && o.split != "test") throw Error("--split must be 'train' or 'test', got '{}'", o.split);
  require_writable_destination(o.out);
  const auto d = io::load_fashion_mnist(io::fashion_mnist_dir(o.data_dir), o.split);
  const std::int64_t n = d.images.dim(0);
  if (o.first >= n) throw Error("--first {} is past the {} images of the {} split", o.first, n, o.split);
  const std::int64_t count = std::min(o.count, n - o.first);
  Tensor x(Shape{count, 1, 28, 28});
  std::copy_n(d.images.data() + o.first * 784, count * 784, x.data());
  io::write_npy(o.out, x);
  fmt::print("labels:");
  for (std::int64_t i = 0; i < count; ++i) fmt::print(" {}", d.labels[static_cast<std::size_t>(o.first + i)]);
  fmt::print("\nwrote {} images ({} split, from {}) to {}\n", count, o.split, o.first, o.out);
  return 0;
}

}  // namespace

Runner add_export(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  auto* sub = app.add_subcommand("export", "Write a slice of Fashion-MNIST as an (N, 1, 28, 28) .npy batch");
  sub->add_option("--data", o->data, "Data set (fashion-mnist)");
  sub->add_option("--data-dir", o->data_dir, "Fashion-MNIST folder");
  sub->add_option("--split", o->split, "train or test (default test)");
  sub->add_option("--first", o->first, "Index of the first image")->check(CLI::NonNegativeNumber);
  sub->add_option("--count", o->count, "Number of images")->check(CLI::PositiveNumber);
  sub->add_option("--out", o->out, "The .npy file to write")->required();
  return [o] { return run_export(*o); };
}

}  // namespace pn::cli
