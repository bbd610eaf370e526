#include "pn/autograd/ops.h"

#include "pn/core/error.h"
#include "pn/kernels/kernels.h"

#include <algorithm>
#include <cmath>
#include <memory>

namespace pn::ag {
namespace {

// Gradient flow into a parent only when it wants one.
bool wants(const Node& n, std::size_t i) { return n.parents.size() > i && n.parents[i]->requires_grad; }

}  // namespace

Var linear(const Var& x, const Var& w, const Var& b) {
  const Tensor* bias = b ? &b.value() : nullptr;
  Tensor y = ops::linear_forward(x.value(), w.value(), bias);
  std::vector<Var> parents{x, w};
  if (b) parents.push_back(b);
  return Var::make(std::move(y), "linear", parents, [](Node& self) {
    const Tensor& dy = self.grad;
    const Tensor& xv = self.parents[0]->value;
    const Tensor& wv = self.parents[1]->value;
    if (wants(self, 0)) self.parents[0]->accumulate(ops::matmul(dy, wv));  // dx = dy · W
    if (wants(self, 1)) ops::matmul_into(dy, xv, true, false, self.parents[1]->grad_or_zeros(), true);  // dW += dyᵀ x
    if (wants(self, 2)) {
      Tensor& db = self.parents[2]->grad_or_zeros();
      kernels::active().channel_sums(dy.data(), db.data(), dy.dim(0), dy.dim(1), 1, true);
    }
  });
}

Var conv2d(const Var& x, const Var& w, const Var& b, ops::Conv2dSpec spec) {
  const Tensor* bias = b ? &b.value() : nullptr;
  Tensor y = ops::conv2d_forward(x.value(), w.value(), bias, spec);
  std::vector<Var> parents{x, w};
  if (b) parents.push_back(b);
  return Var::make(std::move(y), "conv2d", parents, [spec](Node& self) {
    const Tensor& dy = self.grad;
    const Tensor& xv = self.parents[0]->value;
    const Tensor& wv = self.parents[1]->value;
    if (wants(self, 0)) self.parents[0]->accumulate(ops::conv2d_backward_data(dy, wv, xv.shape(), spec));
    if (wants(self, 1) || wants(self, 2)) {
      Tensor& dw = self.parents[1]->grad_or_zeros();
      Tensor* db = wants(self, 2) ? &self.parents[2]->grad_or_zeros() : nullptr;
      ops::conv2d_backward_weight(xv, dy, spec, dw, db, true);
    }
  });
}

Var maxpool2d(const Var& x, ops::PoolSpec spec) {
  auto r = ops::maxpool2d_forward(x.value(), spec);
  auto switches = std::make_shared<std::vector<std::int32_t>>(std::move(r.argmax));
  const Shape in_shape = x.shape();
  return Var::make(std::move(r.y), "maxpool2d", {x}, [switches, in_shape, spec](Node& self) {
    self.parents[0]->accumulate(ops::maxpool2d_backward(self.grad, *switches, in_shape, spec));
  });
}

Var avgpool2d(const Var& x, ops::PoolSpec spec) {
  const Shape in_shape = x.shape();
  return Var::make(ops::avgpool2d_forward(x.value(), spec), "avgpool2d", {x}, [in_shape, spec](Node& self) {
    self.parents[0]->accumulate(ops::avgpool2d_backward(self.grad, in_shape, spec));
  });
}

// [book:relu]
Var relu(const Var& x) {
  return Var::make(ops::relu_forward(x.value()), "relu", {x}, [](Node& self) {
    self.parents[0]->accumulate(ops::relu_backward(self.grad, self.parents[0]->value));
  });
}
// [/book:relu]

Var flatten(const Var& x) {
  const Shape in = x.shape();
  if (in.rank() < 1) throw Error("flatten: input must have a batch axis, got shape {}", in);
  const std::int64_t n = in[0];
  const std::int64_t rest = n == 0 ? 0 : in.numel() / n;
  Tensor y = x.value().clone().reshaped(Shape{n, rest});
  return Var::make(std::move(y), "flatten", {x}, [in](Node& self) {
    self.parents[0]->accumulate(self.grad.clone().reshaped(in));
  });
}

Var dropout(const Var& x, float p, bool training, Rng* rng) {
  if (!(p >= 0.0f && p < 1.0f)) throw Error("dropout: probability must be in [0, 1), got {}", p);
  if (!training || p == 0.0f) {
    return Var::make(x.value().clone(), "dropout", {x}, [](Node& self) { self.parents[0]->accumulate(self.grad); });
  }
  if (!rng) throw Error("dropout: training mode needs a random number generator");
  auto mask = std::make_shared<Tensor>(x.shape());
  const float scale = 1.0f / (1.0f - p);
  for (float& m : mask->values()) m = rng->uniform() < p ? 0.0f : scale;
  Tensor y = x.value().clone();
  for (std::int64_t i = 0, n = y.numel(); i < n; ++i) y[i] *= (*mask)[i];
  return Var::make(std::move(y), "dropout", {x}, [mask](Node& self) {
    Tensor g = self.grad.clone();
    for (std::int64_t i = 0, n = g.numel(); i < n; ++i) g[i] *= (*mask)[i];
    self.parents[0]->accumulate(g);
  });
}

Var softmax_cross_entropy(const Var& logits, const std::vector<std::int32_t>& labels) {
  const Tensor& z = logits.value();
  if (z.rank() != 2) throw Error("softmax_cross_entropy: logits must be (N, K), got shape {}", z.shape());
  const std::int64_t n = z.dim(0), k = z.dim(1);
  if (static_cast<std::int64_t>(labels.size()) != n) {
    throw Error("softmax_cross_entropy: {} labels for logits of shape {}", labels.size(), z.shape());
  }
  if (n == 0) throw Error("softmax_cross_entropy: empty batch");
  auto probs = std::make_shared<Tensor>(z.shape());
  double loss = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t c = labels[static_cast<std::size_t>(i)];
    if (c < 0 || c >= k) throw Error("softmax_cross_entropy: label {} of sample {} is outside [0, {})", c, i, k);
    const float* row = z.data() + i * k;
    // Subtracting the row maximum keeps exp() finite; log-sum-exp gives the loss directly.
    const float mx = *std::max_element(row, row + k);
    double s = 0.0;
    for (std::int64_t j = 0; j < k; ++j) s += std::exp(static_cast<double>(row[j] - mx));
    for (std::int64_t j = 0; j < k; ++j) (*probs)[i * k + j] = static_cast<float>(std::exp(static_cast<double>(row[j] - mx)) / s);
    loss += std::log(s) + static_cast<double>(mx) - static_cast<double>(row[c]);
  }
  auto lab = std::make_shared<std::vector<std::int32_t>>(labels);
  return Var::make(Tensor::full(Shape{1}, static_cast<float>(loss / static_cast<double>(n))), "softmax_cross_entropy",
                   {logits}, [probs, lab, n, k](Node& self) {
                     const float g = self.grad[0] / static_cast<float>(n);
                     Tensor d = probs->clone();
                     for (std::int64_t i = 0; i < n; ++i) d[i * k + (*lab)[static_cast<std::size_t>(i)]] -= 1.0f;
                     for (float& v : d.values()) v *= g;
                     self.parents[0]->accumulate(d);
                   });
}

Var mse(const Var& pred, const Tensor& target) {
  require_shape(target, pred.shape(), "mse", "target");
  if (target.numel() == 0) throw Error("mse: empty input");
  double s = 0.0;
  for (std::int64_t i = 0, n = target.numel(); i < n; ++i) {
    const double d = static_cast<double>(pred.value()[i]) - static_cast<double>(target[i]);
    s += d * d;
  }
  auto t = std::make_shared<Tensor>(target.clone());
  const auto count = static_cast<double>(target.numel());
  return Var::make(Tensor::full(Shape{1}, static_cast<float>(s / count)), "mse", {pred}, [t, count](Node& self) {
    const Tensor& p = self.parents[0]->value;
    Tensor d(p.shape());
    const float scale = static_cast<float>(2.0 / count) * self.grad[0];
    for (std::int64_t i = 0, n = p.numel(); i < n; ++i) d[i] = scale * (p[i] - (*t)[i]);
    self.parents[0]->accumulate(d);
  });
}

Var sum(const Var& x) {
  double s = 0.0;
  for (float v : x.value().values()) s += v;
  return Var::make(Tensor::full(Shape{1}, static_cast<float>(s)), "sum", {x}, [](Node& self) {
    self.parents[0]->accumulate(Tensor::full(self.parents[0]->value.shape(), self.grad[0]));
  });
}

Var add(const Var& a, const Var& b) {
  require_shape(b.value(), a.shape(), "add", "second operand");
  Tensor y = a.value().clone();
  for (std::int64_t i = 0, n = y.numel(); i < n; ++i) y[i] += b.value()[i];
  return Var::make(std::move(y), "add", {a, b}, [](Node& self) {
    if (wants(self, 0)) self.parents[0]->accumulate(self.grad);
    if (wants(self, 1)) self.parents[1]->accumulate(self.grad);
  });
}

Var mul_const(const Var& x, const Tensor& c) {
  require_shape(c, x.shape(), "mul_const", "factor");
  Tensor y = x.value().clone();
  for (std::int64_t i = 0, n = y.numel(); i < n; ++i) y[i] *= c[i];
  auto cc = std::make_shared<Tensor>(c.clone());
  return Var::make(std::move(y), "mul_const", {x}, [cc](Node& self) {
    Tensor g = self.grad.clone();
    for (std::int64_t i = 0, n = g.numel(); i < n; ++i) g[i] *= (*cc)[i];
    self.parents[0]->accumulate(g);
  });
}

}  // namespace pn::ag
