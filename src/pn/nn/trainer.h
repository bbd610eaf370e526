// Mini-batch training and evaluation. Chapter 2.
// One epoch visits the training set in an order drawn from the seeded Rng; dropout masks come from
// the same generator, so a seed and a thread count determine every bit of the trained weights.
#pragma once

#include "pn/nn/data.h"
#include "pn/nn/sequential.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pn::nn {

struct TrainConfig {
  int epochs = 1;
  std::int64_t batch = 64;
  std::string optimizer = "adam";  // "adam" or "sgd"
  float lr = 1e-3f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
  float lr_decay = 1.0f;  // the learning rate is multiplied by this after every epoch
  // "constant": lr (times lr_decay after each epoch); "cosine": every step t of T in the whole run uses
  // lr * (1 + cos(pi t / T)) / 2, annealing smoothly to zero so the last updates average out the
  // mini-batch noise that a constant rate leaves in the weights.
  std::string schedule = "constant";
  // Linear warm-up over the first warmup_epochs of the run (a fraction of an epoch is fine): step t of
  // those W steps uses (t + 1) / W of the scheduled rate. A deep network without normalisation layers
  // takes a high rate only after its first updates have brought the activations to a sane scale.
  double warmup_epochs = 0.0;
  std::uint64_t seed = 1;
};

struct EpochStats {
  int epoch = 0;
  double train_loss = 0.0;
  double train_accuracy = 0.0;
  double test_accuracy = 0.0;
  double seconds = 0.0;
  double images_per_second = 0.0;
  double gflops = 0.0;  // training arithmetic rate: 3x the forward FLOPs per image
};

// The learning rate of step `step` (0-based, counted over the whole run) when an epoch has
// steps_per_epoch steps: lr · lr_decay^epoch (constant) or lr (1 + cos(π step / total)) / 2 (cosine),
// times (step + 1) / W during the W = round(warmup_epochs · steps_per_epoch) warm-up steps.
double learning_rate_at(const TrainConfig& cfg, std::int64_t step, std::int64_t steps_per_epoch);

// Forward multiply-adds x 2 for one sample (dense and conv layers).
double forward_flops(const Sequential& model);

// Fraction of correct top-1 predictions.
double evaluate(const Sequential& model, const Dataset& data, std::int64_t batch = 256);

// Throws pn::Error naming the flag for an invalid or conflicting setting (epochs, batch, rate,
// schedule, warm-up, optimizer); train() calls it, and the command line calls it before loading data.
void check_config(const TrainConfig& cfg);

// Trains in place; on_epoch (optional) sees each epoch's statistics as it ends.
std::vector<EpochStats> train(Sequential& model, const Dataset& train_set, const Dataset& test_set, const TrainConfig& cfg,
                              const std::function<void(const EpochStats&)>& on_epoch = {});

}  // namespace pn::nn
