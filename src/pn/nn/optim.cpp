#include "pn/nn/optim.h"

#include <cmath>

namespace pn::nn {

Sgd::Sgd(std::vector<ag::Var> params, float lr, float momentum, float weight_decay)
    : Optimizer(lr), params_(std::move(params)), momentum_(momentum), weight_decay_(weight_decay) {
  for (const auto& p : params_) velocity_.push_back(Tensor::zeros(p.shape()));
}

void Sgd::step() {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].has_grad()) continue;
    Tensor& w = params_[i].mutable_value();
    const Tensor& g = params_[i].grad();
    Tensor& v = velocity_[i];
    for (std::int64_t j = 0, n = w.numel(); j < n; ++j) {
      v[j] = momentum_ * v[j] + g[j] + weight_decay_ * w[j];
      w[j] -= lr_ * v[j];
    }
  }
}

Adam::Adam(std::vector<ag::Var> params, float lr, float beta1, float beta2, float eps, float weight_decay)
    : Optimizer(lr), params_(std::move(params)), beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay) {
  for (const auto& p : params_) {
    m_.push_back(Tensor::zeros(p.shape()));
    v_.push_back(Tensor::zeros(p.shape()));
  }
}

void Adam::step() {
  ++t_;
  const float c1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta1_), t_));
  const float c2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta2_), t_));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].has_grad()) continue;
    Tensor& w = params_[i].mutable_value();
    const Tensor& g = params_[i].grad();
    Tensor& m = m_[i];
    Tensor& v = v_[i];
    for (std::int64_t j = 0, n = w.numel(); j < n; ++j) {
      const float gj = g[j] + weight_decay_ * w[j];
      m[j] = beta1_ * m[j] + (1.0f - beta1_) * gj;
      v[j] = beta2_ * v[j] + (1.0f - beta2_) * gj * gj;
      w[j] -= lr_ * (m[j] / c1) / (std::sqrt(v[j] / c2) + eps_);
    }
  }
}

}  // namespace pn::nn
