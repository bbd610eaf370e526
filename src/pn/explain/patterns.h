// Patterns: the fitted signal directions of every dense and conv layer of one model, and their
// safetensors file. Chapter 5.
// Tensors: "<layer>.a" (linear, filter, random) or "<layer>.a_pos" and "<layer>.a_neg"
// (two_component), each in the layer's weight layout (O, I) or (O, C, kH, kW). Metadata:
// "pn.estimator", "pn.model_fingerprint" (so patterns of another model, or of other weights, are
// refused), "pn.preprocess" (only for patterns fitted on image files: the preprocessing their
// inputs went through, which explaining an image must repeat), and "pn.layers": a JSON list of {name, shape, rows, dead, dead_negative,
// max_constraint_error}.
#pragma once

#include "pn/core/tensor.h"
#include "pn/explain/estimator.h"
#include "pn/nn/sequential.h"

#include <string>
#include <vector>

namespace pn::explain {

struct LayerPatterns {
  std::string layer;
  Tensor a;           // the pattern (two_component: a_+)
  Tensor a_negative;  // two_component: a_-; empty otherwise
  double rows = 0;    // statistics rows behind the fit (0 for filter and random)
  FitReport report;
};

struct Patterns {
  Estimator estimator = Estimator::linear;
  std::string model_fingerprint;
  std::string preprocess;  // caffe / torchvision / unit for patterns fitted on image files, else empty
  std::vector<LayerPatterns> layers;

  const LayerPatterns* find(const std::string& layer) const;
};

void save_patterns(const std::string& path, const Patterns& patterns);
Patterns load_patterns(const std::string& path);

// Throws pn::Error unless the patterns were fitted for exactly this model (fingerprint) and every
// dense/conv layer has a pattern of its weight's shape.
void check_patterns_match(const Patterns& patterns, const nn::Sequential& model, const std::string& source);

// Frees every layer's a_- (two_component). The explanation methods use a_+ alone (PatternNet and
// PatternAttribution back-project through the positive regime, the one a ReLU network's backward
// pass lets through), so an explanation need not hold VGG-16's second 553 MB of patterns.
void release_negative_patterns(Patterns& patterns);

}  // namespace pn::explain
