// `patternnet train`: trains mlp, cnn or vgg16-32 on Fashion-MNIST and writes the model file.
#include "cli/commands.h"
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/core/progress.h"
#include "pn/io/idx.h"
#include "pn/nn/builders.h"
#include "pn/nn/model_io.h"
#include "pn/nn/trainer.h"

#include <fmt/core.h>
#include <omp.h>

#include <memory>

namespace pn::cli {
namespace {

struct TrainOptions {
  std::string arch;
  std::string data = "fashion-mnist";
  std::string data_dir;
  std::string out;
  int epochs = 1;
  std::int64_t batch = 0;
  std::int64_t limit = 0;
  std::string optimizer;
  float lr = 0.0f;
  float weight_decay = -1.0f;
  float lr_decay = 1.0f;
  std::string schedule;
  double warmup = -1.0;
  float dropout = -1.0f;
  std::uint64_t seed = 1;
};

int run_train(const TrainOptions& o) {
  if (o.data != "fashion-mnist") throw Error("--data: only 'fashion-mnist' can be trained on, got '{}'", o.data);
  require_writable_destination(o.out);
  nn::Sequential model = nn::build_model(o.arch);
  if (o.arch == "vgg16") throw Error("--arch vgg16 is the 224x224 ImageNet network; train vgg16-32 on Fashion-MNIST");
  // Defaults per network (see README "Training"): Adam for the small networks, SGD with momentum
  // for the deep one.
  nn::TrainConfig cfg;
  cfg.epochs = o.epochs;
  cfg.seed = o.seed;
  cfg.batch = o.batch > 0 ? o.batch : 64;
  cfg.optimizer = !o.optimizer.empty() ? o.optimizer : (o.arch == "vgg16-32" ? "sgd" : "adam");
  cfg.lr = o.lr > 0 ? o.lr : (cfg.optimizer == "sgd" ? 0.01f : 1e-3f);
  cfg.weight_decay = o.weight_decay >= 0 ? o.weight_decay : (o.arch == "vgg16-32" ? 5e-4f : 0.0f);
  cfg.lr_decay = o.lr_decay;
  cfg.schedule = !o.schedule.empty() ? o.schedule : (o.arch == "vgg16-32" && o.lr_decay == 1.0f ? "cosine" : "constant");
  cfg.warmup_epochs = o.warmup >= 0 ? o.warmup : 0.0;
  if (o.dropout >= 0) {
    // The probability is part of the architecture: the written model file records it.
    for (std::size_t i = 0; i < model.size(); ++i) {
      if (model.layer(i).spec.kind == nn::Kind::dropout) model.layer(i).spec.p = o.dropout;
    }
  }

  nn::check_config(cfg);

  const std::string dir = io::fashion_mnist_dir(o.data_dir);
  auto train_raw = io::load_fashion_mnist(dir, "train");
  auto test_raw = io::load_fashion_mnist(dir, "test");
  nn::Dataset train_set{nn::fit_to_input(train_raw.images, model), std::move(train_raw.labels)};
  nn::Dataset test_set{nn::fit_to_input(test_raw.images, model), std::move(test_raw.labels)};
  if (o.limit > 0) {
    train_set = nn::take(train_set, o.limit);
    test_set = nn::take(test_set, std::max<std::int64_t>(1000, o.limit / 6));
  }

  Rng init_rng(o.seed ^ 0x5eedULL);
  model.init(init_rng);
  fmt::print("training {} ({} parameters, {:.1f} MFLOP per forward) on {} Fashion-MNIST images, testing on {}\n", o.arch,
             model.parameter_count(), nn::forward_flops(model) * 1e-6, train_set.size(), test_set.size());
  fmt::print("optimizer {} lr {} ({} schedule, {} epochs warm-up) batch {} weight decay {} seed {} threads {}\n", cfg.optimizer,
             cfg.lr, cfg.schedule, cfg.warmup_epochs, cfg.batch, cfg.weight_decay, cfg.seed, omp_get_max_threads());
  const auto history = nn::train(model, train_set, test_set, cfg, [&](const nn::EpochStats& s) {
    fmt::print("epoch {}/{}  loss {:.4f}  train {:.2f}%  test {:.2f}%  {}  {:.0f} img/s  {:.1f} GFLOP/s\n", s.epoch,
               cfg.epochs, s.train_loss, 100 * s.train_accuracy, 100 * s.test_accuracy, format_duration(s.seconds),
               s.images_per_second, s.gflops);
    std::fflush(stdout);
  });
  double total = 0;
  for (const auto& s : history) total += s.seconds;
  nn::save_model(o.out, model,
                 {{"pn.trained_on", "fashion-mnist"},
                  {"pn.test_accuracy", fmt::format("{:.4f}", history.back().test_accuracy)},
                  {"pn.epochs", std::to_string(cfg.epochs)},
                  {"pn.seed", std::to_string(cfg.seed)}});
  fmt::print("done: {} epochs in {}, test accuracy {:.2f}%, model written to {}\n", cfg.epochs, format_duration(total),
             100 * history.back().test_accuracy, o.out);
  return 0;
}

}  // namespace

Runner add_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  auto* sub = app.add_subcommand("train", "Train a network on Fashion-MNIST and write it as safetensors");
  sub->add_option("--arch", o->arch, "Network: mlp, cnn or vgg16-32")->required()->check(CLI::IsMember({"mlp", "cnn", "vgg16-32"}));
  sub->add_option("--data", o->data, "Data set (fashion-mnist)");
  sub->add_option("--data-dir", o->data_dir, "Fashion-MNIST folder (default $PN_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist)");
  sub->add_option("--epochs", o->epochs, "Passes over the training set")->check(CLI::Range(1, 1000));
  sub->add_option("--out", o->out, "Model file to write (.safetensors)")->required();
  sub->add_option("--batch", o->batch, "Mini-batch size (default 64)")->check(CLI::Range(1, 65536));
  sub->add_option("--limit", o->limit, "Train on the first N images only (quick runs)")->check(CLI::Range(1, 60000));
  sub->add_option("--optimizer", o->optimizer, "adam or sgd (default: adam; sgd for vgg16-32)")->check(CLI::IsMember({"adam", "sgd"}));
  sub->add_option("--lr", o->lr, "Learning rate (default 1e-3 adam, 1e-2 sgd)")->check(CLI::PositiveNumber);
  sub->add_option("--weight-decay", o->weight_decay, "L2 weight decay (default 0; 5e-4 for vgg16-32)")->check(CLI::NonNegativeNumber);
  sub->add_option("--lr-decay", o->lr_decay, "Multiply the learning rate by this after each epoch")->check(CLI::Range(0.0f, 1.0f));
  sub->add_option("--lr-schedule", o->schedule,
                  "constant (with --lr-decay per epoch) or cosine (annealed to zero over the run; default for vgg16-32)")
      ->check(CLI::IsMember({"constant", "cosine"}));
  sub->add_option("--warmup", o->warmup, "Epochs (fractions allowed) of linear learning-rate warm-up (default 0)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--dropout", o->dropout, "Override the probability of every dropout layer (0 disables them)")
      ->check(CLI::Range(0.0f, 0.95f));
  sub->add_option("--seed", o->seed, "Seed of initialisation, shuffling and dropout");
  return [o] { return run_train(*o); };
}

}  // namespace pn::cli
