#include "pn/autograd/var.h"

#include "pn/core/error.h"

#include <unordered_set>

namespace pn::ag {

void Node::accumulate(const Tensor& g) {
  if (grad.empty()) {
    if (g.shape() != value.shape()) throw Error("autograd ({}): gradient of shape {} for a value of shape {}", op, g.shape(), value.shape());
    grad = g.clone();
    return;
  }
  require_shape(g, grad.shape(), "autograd accumulate", "gradient");
  float* dst = grad.data();
  const float* src = g.data();
  for (std::int64_t i = 0, n = g.numel(); i < n; ++i) dst[i] += src[i];
}

Tensor& Node::grad_or_zeros() {
  if (grad.empty()) grad = Tensor::zeros(value.shape());
  return grad;
}

Var Var::constant(Tensor value) {
  Var v;
  v.node_ = std::make_shared<Node>();
  v.node_->value = std::move(value);
  v.node_->op = "input";
  return v;
}

Var Var::parameter(Tensor value) {
  Var v = constant(std::move(value));
  v.node_->requires_grad = true;
  v.node_->op = "parameter";
  return v;
}

Var Var::make(Tensor value, std::string op, const std::vector<Var>& parents, std::function<void(Node&)> backward) {
  Var v;
  v.node_ = std::make_shared<Node>();
  v.node_->value = std::move(value);
  v.node_->op = std::move(op);
  for (const Var& p : parents) {
    if (!p) throw Error("autograd ({}): an input is an empty Var", v.node_->op);
    if (p.node_->requires_grad) v.node_->requires_grad = true;
    v.node_->parents.push_back(p.node_);
  }
  // A node that nothing upstream needs a gradient for keeps no closure (and so no saved inputs).
  if (v.node_->requires_grad) v.node_->backward = std::move(backward);
  return v;
}

const Tensor& Var::value() const {
  if (!node_) throw Error("autograd: value() of an empty Var");
  return node_->value;
}

Tensor& Var::mutable_value() {
  if (!node_) throw Error("autograd: value() of an empty Var");
  return node_->value;
}

const Tensor& Var::grad() const {
  if (!has_grad()) throw Error("autograd: no gradient has reached this {} node", node_ ? node_->op : "empty");
  return node_->grad;
}

void Var::zero_grad() {
  if (node_) node_->grad = Tensor();
}

void Var::backward() {
  if (!node_) throw Error("autograd: backward() of an empty Var");
  if (node_->value.numel() != 1) {
    throw Error("autograd: backward() needs a scalar, got shape {} from {}", node_->value.shape(), node_->op);
  }
  // Reverse topological order by an iterative depth-first search (deep networks would overflow
  // a recursive one only in pathological cases, but the loop costs nothing).
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, std::size_t>> stack{{node_.get(), 0}};
  seen.insert(node_.get());
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->parents.size()) {
      Node* p = n->parents[next++].get();
      if (p->requires_grad && seen.insert(p).second) stack.emplace_back(p, 0);
    } else {
      order.push_back(n);
      stack.pop_back();
    }
  }
  node_->accumulate(Tensor::full(node_->value.shape(), 1.0f));
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = *it;
    if (n->backward && !n->grad.empty()) {
      n->backward(*n);
      // An interior gradient is spent once propagated; leaves keep theirs for the optimizer.
      if (!n->parents.empty()) n->grad = Tensor();
    }
  }
}

}  // namespace pn::ag
