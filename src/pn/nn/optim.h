// Optimizers: SGD with momentum and L2 weight decay, and Adam.
// Chapter 2. Both update the parameters in place from their accumulated gradients; the caller
// zeroes gradients between steps. Parameters without a gradient (unused) are skipped.
#pragma once

#include "pn/autograd/var.h"

#include <vector>

namespace pn::nn {

class Optimizer {
public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void set_learning_rate(float lr) { lr_ = lr; }
  float learning_rate() const { return lr_; }

protected:
  explicit Optimizer(float lr) : lr_(lr) {}
  float lr_;
};

// v = momentum·v + (g + weight_decay·w);  w -= lr·v
class Sgd : public Optimizer {
public:
  Sgd(std::vector<ag::Var> params, float lr, float momentum = 0.9f, float weight_decay = 0.0f);
  void step() override;

private:
  std::vector<ag::Var> params_;
  std::vector<Tensor> velocity_;
  float momentum_, weight_decay_;
};

// Kingma & Ba: m = b1·m + (1-b1)·g, v = b2·v + (1-b2)·g², w -= lr·m̂ / (sqrt(v̂) + eps) with bias
// corrections m̂ = m/(1-b1^t), v̂ = v/(1-b2^t); weight_decay adds weight_decay·w to g (L2).
class Adam : public Optimizer {
public:
  Adam(std::vector<ag::Var> params, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
       float weight_decay = 0.0f);
  void step() override;

private:
  std::vector<ag::Var> params_;
  std::vector<Tensor> m_, v_;
  float beta1_, beta2_, eps_, weight_decay_;
  int t_ = 0;
};

}  // namespace pn::nn
