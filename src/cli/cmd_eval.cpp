// `patternnet eval`: a model's Fashion-MNIST test accuracy.
#include "cli/commands.h"
#include "pn/core/error.h"
#include "pn/io/idx.h"
#include "pn/nn/data.h"
#include "pn/nn/model_io.h"
#include "pn/nn/trainer.h"

#include <fmt/core.h>

#include <memory>

namespace pn::cli {
namespace {

struct EvalOptions {
  std::string model;
  std::string arch;
  std::string data = "fashion-mnist";
  std::string data_dir;
  std::int64_t limit = 0;
};

int run_eval(const EvalOptions& o) {
  nn::Sequential model = nn::load_model(o.model, o.arch);
  if (o.data != "fashion-mnist") throw Error("--data: only 'fashion-mnist' can be evaluated, got '{}'", o.data);
  auto test_raw = io::load_fashion_mnist(io::fashion_mnist_dir(o.data_dir), "test");
  nn::Dataset test_set{nn::fit_to_input(test_raw.images, model), std::move(test_raw.labels)};
  if (o.limit > 0) test_set = nn::take(test_set, o.limit);
  const double acc = nn::evaluate(model, test_set);
  fmt::print("test accuracy: {:.2f}% ({} images)\n", 100 * acc, test_set.size());
  return 0;
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  auto* sub = app.add_subcommand("eval", "Print a model's Fashion-MNIST test accuracy");
  sub->add_option("--model", o->model, "Model file (.safetensors)")->required();
  sub->add_option("--arch", o->arch, "Bind a file without pn.architecture to this builder");
  sub->add_option("--data", o->data, "Data set (fashion-mnist)");
  sub->add_option("--data-dir", o->data_dir, "Fashion-MNIST folder");
  sub->add_option("--limit", o->limit, "Evaluate the first N test images only")->check(CLI::Range(1, 10000));
  return [o] { return run_eval(*o); };
}

}  // namespace pn::cli
