// nn::Sequential: a chain of layers with canonical names, the one network type of patternnet.
// Chapter 2. It runs two ways: forward(Tensor, Trace*) for inference and explanation (no graph,
// dropout off, optionally recording a Trace), and forward(Var, training, rng) for training through
// the autograd graph. Shapes are checked once at construction, so a model that builds runs.
#pragma once

#include "pn/autograd/var.h"
#include "pn/core/rng.h"
#include "pn/nn/layer.h"
#include "pn/nn/trace.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pn::nn {

class Sequential {
public:
  Sequential() = default;
  // input is (C, H, W) for image models or (D) for vector models. Parameters start at zero; call
  // init() or load weights.
  Sequential(Shape input, std::vector<LayerSpec> specs);

  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential&&) noexcept = default;

  const Shape& input_shape() const { return input_; }
  std::size_t size() const { return layers_.size(); }
  const Layer& layer(std::size_t i) const { return layers_.at(i); }
  Layer& layer(std::size_t i) { return layers_.at(i); }
  std::optional<std::size_t> find(const std::string& name) const;
  // Shape of one sample after layer i (without the batch axis).
  const Shape& output_shape(std::size_t i) const { return out_shapes_.at(i); }
  std::int64_t num_classes() const;  // size of the final output

  // Inference: x is (N, input...) -> (N, outputs). With a trace, records every layer's input.
  Tensor forward(const Tensor& x, Trace* trace = nullptr) const;
  // Throws pn::Error naming the first layer whose output in the trace holds a NaN or infinity
  // (e.g. weights or inputs large enough to overflow float32); `what` starts the message.
  void check_finite(const Trace& trace, const char* what) const;
  // Training/gradient path through the autograd graph.
  ag::Var forward(const ag::Var& x, bool training, Rng* rng) const;

  // The weight and bias Vars of every parametrised layer, in layer order.
  std::vector<ag::Var> parameters() const;
  std::int64_t parameter_count() const;
  void zero_grad();

  // He (Kaiming) normal for layers followed by a ReLU, Glorot uniform otherwise; zero biases.
  void init(Rng& rng);

  // The pn.architecture JSON (see README: "Model files"), and its inverse.
  std::string architecture_json() const;
  static Sequential from_architecture_json(const std::string& json, const std::string& source = "architecture");

  // A 64-bit hash of the architecture and every weight bit: pattern files record it, so patterns
  // computed for another model (or other weights) are refused.
  std::string fingerprint() const;

  // Throws pn::Error naming both shapes unless x is (N, input...).
  void check_input(const Tensor& x, const char* what) const;

private:
  Shape input_;
  std::vector<Layer> layers_;
  std::vector<Shape> out_shapes_;
};

}  // namespace pn::nn
