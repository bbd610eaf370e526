// Reverse-mode automatic differentiation over pn::Tensor. Chapter 2.
// A Var is a handle to a node of the graph the forward pass records: the node holds its value,
// its gradient (once backward() has reached it), the nodes it was computed from and a function
// that pushes its gradient back to them. backward() on a scalar walks the graph in reverse
// topological order, so each node's gradient is complete before it is propagated. Gradients
// accumulate (+=) until zero_grad(), which is what mini-batch training and gradient checks need.
// The graph lives as long as some Var refers to its output; there is no global tape.
#pragma once

#include "pn/core/tensor.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pn::ag {

struct Node {
  Tensor value;
  Tensor grad;  // empty until something flows into it
  bool requires_grad = false;
  std::string op;  // "input", "parameter", "linear", ... (for messages)
  std::vector<std::shared_ptr<Node>> parents;
  std::function<void(Node& self)> backward;  // reads self.grad, accumulates into parents

  // Adds g into this node's gradient (allocating zeros on first use).
  void accumulate(const Tensor& g);
  // The gradient, allocated as zeros if nothing has flowed in yet.
  Tensor& grad_or_zeros();
};

class Var {
public:
  Var() = default;
  static Var constant(Tensor value);   // no gradient
  static Var parameter(Tensor value);  // a leaf that collects a gradient

  const Tensor& value() const;
  Tensor& mutable_value();  // for optimizers: updates a parameter in place
  const Shape& shape() const { return value().shape(); }
  bool requires_grad() const { return node_ && node_->requires_grad; }
  bool has_grad() const { return node_ && !node_->grad.empty(); }
  const Tensor& grad() const;  // throws if no gradient has been computed
  void zero_grad();

  // Seeds d(self)/d(self) = 1 (self must hold one element) and propagates to every node above.
  void backward();

  Node* node() const { return node_.get(); }
  std::shared_ptr<Node> shared() const { return node_; }
  explicit operator bool() const { return static_cast<bool>(node_); }

  // Builds a non-leaf node (used by the ops).
  static Var make(Tensor value, std::string op, const std::vector<Var>& parents, std::function<void(Node&)> backward);

private:
  std::shared_ptr<Node> node_;
};

}  // namespace pn::ag
