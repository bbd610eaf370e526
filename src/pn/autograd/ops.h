// Differentiable operations for the autograd graph. Chapter 2. Each forward calls the shape-
// checked tensor op (pn/ops) and records a backward closure that calls the matching backward
// kernels: linear and conv2d use the GEMM orientations x·Wᵀ, dy·W and dyᵀ·x; pooling routes by
// the forward switches; ReLU gates by the forward pre-activation.
#pragma once

#include "pn/autograd/var.h"
#include "pn/core/rng.h"
#include "pn/ops/ops.h"

#include <cstdint>
#include <vector>

namespace pn::ag {

// x (N, D), w (O, D), b (O) or empty -> (N, O)
Var linear(const Var& x, const Var& w, const Var& b);
// x (N, C, H, W), w (O, C, kH, kW), b (O) or empty
Var conv2d(const Var& x, const Var& w, const Var& b, ops::Conv2dSpec spec);
Var maxpool2d(const Var& x, ops::PoolSpec spec);
Var avgpool2d(const Var& x, ops::PoolSpec spec);
Var relu(const Var& x);
// (N, ...) -> (N, prod(...))
Var flatten(const Var& x);
// Inverted dropout: in training, zeroes each value with probability p and scales the rest by
// 1/(1-p), drawing the mask from rng; otherwise the identity.
Var dropout(const Var& x, float p, bool training, Rng* rng);
// Mean over the batch of -log softmax(logits)[label]; logits (N, K), labels in [0, K).
Var softmax_cross_entropy(const Var& logits, const std::vector<std::int32_t>& labels);
// Mean of (pred - target)² over all elements.
Var mse(const Var& pred, const Tensor& target);
// Sum of all elements (for tests and gradient checks: d sum / dx = 1).
Var sum(const Var& x);
// Elementwise sum of two values of the same shape.
Var add(const Var& a, const Var& b);
// Elementwise product with a constant tensor of the same shape (a weighted sum's building block).
Var mul_const(const Var& x, const Tensor& c);

}  // namespace pn::ag
