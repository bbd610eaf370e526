#include "pn/nn/trainer.h"

#include "pn/autograd/ops.h"
#include "pn/core/error.h"
#include "pn/core/progress.h"
#include "pn/nn/optim.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numbers>
#include <numeric>

namespace pn::nn {

double forward_flops(const Sequential& model) {
  double f = 0.0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const auto& s = model.layer(i).spec;
    const Shape& out = model.output_shape(i);
    if (s.kind == Kind::linear) f += 2.0 * static_cast<double>(s.in * s.out);
    if (s.kind == Kind::conv2d) f += 2.0 * static_cast<double>(s.in * s.kernel * s.kernel) * static_cast<double>(out.numel());
  }
  return f;
}

double evaluate(const Sequential& model, const Dataset& data, std::int64_t batch) {
  if (data.size() == 0) throw Error("evaluate: empty data set");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(data.size()));
  std::iota(idx.begin(), idx.end(), 0);
  std::int64_t correct = 0;
  for (std::int64_t b = 0; b < data.size(); b += batch) {
    const std::int64_t e = std::min(data.size(), b + batch);
    const Tensor logits = model.forward(gather_rows(data.images, idx, b, e));
    const std::int64_t k = logits.dim(1);
    for (std::int64_t i = 0; i < e - b; ++i) {
      const float* row = logits.data() + i * k;
      const auto pred = std::max_element(row, row + k) - row;
      if (pred == data.labels[static_cast<std::size_t>(b + i)]) ++correct;
    }
  }
  return static_cast<double>(correct) / static_cast<double>(data.size());
}

double learning_rate_at(const TrainConfig& cfg, std::int64_t step, std::int64_t steps_per_epoch) {
  const std::int64_t epoch = step / steps_per_epoch;
  const auto warmup_steps = static_cast<std::int64_t>(std::llround(cfg.warmup_epochs * static_cast<double>(steps_per_epoch)));
  const double ramp = step < warmup_steps ? static_cast<double>(step + 1) / static_cast<double>(warmup_steps) : 1.0;
  if (cfg.schedule == "cosine") {
    const double t = static_cast<double>(step) / static_cast<double>(steps_per_epoch * cfg.epochs);
    return ramp * cfg.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
  }
  return ramp * cfg.lr * std::pow(static_cast<double>(cfg.lr_decay), static_cast<double>(epoch));
}

void check_config(const TrainConfig& cfg) {
  if (cfg.epochs < 1) throw Error("train: --epochs must be at least 1, got {}", cfg.epochs);
  if (cfg.batch < 1) throw Error("train: --batch must be at least 1, got {}", cfg.batch);
  if (!(cfg.lr > 0.0f)) throw Error("train: the learning rate must be positive, got {}", cfg.lr);
  if (cfg.schedule != "constant" && cfg.schedule != "cosine") throw Error("train: unknown learning-rate schedule '{}' (constant or cosine)", cfg.schedule);
  if (!(cfg.warmup_epochs >= 0.0) || cfg.warmup_epochs > cfg.epochs) throw Error("train: --warmup must be between 0 and the number of epochs ({}), got {}", cfg.epochs, cfg.warmup_epochs);
  if (cfg.schedule == "cosine" && cfg.lr_decay != 1.0f) throw Error("train: the cosine schedule sets the rate of every step; --lr-decay applies to the constant schedule only");
  if (cfg.optimizer != "adam" && cfg.optimizer != "sgd") throw Error("train: unknown optimizer '{}' (adam or sgd)", cfg.optimizer);
}

std::vector<EpochStats> train(Sequential& model, const Dataset& train_set, const Dataset& test_set, const TrainConfig& cfg,
                              const std::function<void(const EpochStats&)>& on_epoch) {
  check_config(cfg);
  if (train_set.size() == 0) throw Error("train: the training set is empty");
  model.check_input(train_set.images, "train");
  for (std::int32_t l : train_set.labels) {
    if (l < 0 || l >= model.num_classes()) throw Error("train: label {} is outside the model's {} classes", l, model.num_classes());
  }
  Rng rng(cfg.seed);
  std::unique_ptr<Optimizer> opt;
  if (cfg.optimizer == "adam") {
    opt = std::make_unique<Adam>(model.parameters(), cfg.lr, 0.9f, 0.999f, 1e-8f, cfg.weight_decay);
  } else if (cfg.optimizer == "sgd") {
    opt = std::make_unique<Sgd>(model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay);
  } else {
    throw Error("train: unknown optimizer '{}' (adam or sgd)", cfg.optimizer);
  }
  const double flops_per_image = 3.0 * forward_flops(model);
  std::vector<std::int64_t> order(static_cast<std::size_t>(train_set.size()));
  std::vector<EpochStats> history;
  const std::int64_t steps_per_epoch = (train_set.size() + cfg.batch - 1) / cfg.batch;
  std::int64_t step = 0;
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    Progress bar(fmt::format("epoch {}/{}", epoch, cfg.epochs), train_set.size(), "img");
    const auto t0 = std::chrono::steady_clock::now();
    double loss_sum = 0.0;
    std::int64_t correct = 0, seen = 0;
    for (std::int64_t b = 0; b < train_set.size(); b += cfg.batch) {
      const std::int64_t e = std::min(train_set.size(), b + cfg.batch);
      std::vector<std::int32_t> labels;
      for (std::int64_t i = b; i < e; ++i) labels.push_back(train_set.labels[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])]);
      opt->set_learning_rate(static_cast<float>(learning_rate_at(cfg, step++, steps_per_epoch)));
      ag::Var x = ag::Var::constant(gather_rows(train_set.images, order, b, e));
      ag::Var logits = model.forward(x, true, &rng);
      ag::Var loss = ag::softmax_cross_entropy(logits, labels);
      model.zero_grad();
      loss.backward();
      opt->step();
      const float l = loss.value()[0];
      if (!std::isfinite(l)) throw Error("train: the loss became {} in epoch {} (learning rate {} too high?)", l, epoch, opt->learning_rate());
      const std::int64_t k = logits.value().dim(1);
      for (std::int64_t i = 0; i < e - b; ++i) {
        const float* row = logits.value().data() + i * k;
        if (std::max_element(row, row + k) - row == labels[static_cast<std::size_t>(i)]) ++correct;
      }
      loss_sum += static_cast<double>(l) * static_cast<double>(e - b);
      seen += e - b;
      bar.advance(e - b, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(seen)));
    }
    bar.finish();
    EpochStats s;
    s.epoch = epoch;
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    s.train_loss = loss_sum / static_cast<double>(seen);
    s.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
    s.images_per_second = static_cast<double>(seen) / s.seconds;
    s.gflops = s.images_per_second * flops_per_image * 1e-9;
    s.test_accuracy = test_set.size() > 0 ? evaluate(model, test_set) : 0.0;
    history.push_back(s);
    if (on_epoch) on_epoch(s);
  }
  return history;
}

}  // namespace pn::nn
