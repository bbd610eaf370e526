// The layer kinds of the paper's networks and their parameters. Chapter 2.
// A LayerSpec is pure description (what the pn.architecture JSON stores); a Layer adds the
// parameters of the two kinds that have them (linear: weight (out, in), conv2d: weight
// (O, C, kH, kW); both with a bias (out)), as autograd Vars so the same network trains and explains.
#pragma once

#include "pn/autograd/var.h"

#include <cstdint>
#include <string>

namespace pn::nn {

enum class Kind { linear, conv2d, relu, maxpool2d, avgpool2d, flatten, dropout };

const char* kind_name(Kind kind);  // the "type" string of the architecture JSON
Kind kind_from_name(const std::string& name);  // throws pn::Error for an unknown type

struct LayerSpec {
  std::string name;
  Kind kind = Kind::relu;
  std::int64_t in = 0, out = 0;  // linear: features; conv2d: channels
  std::int64_t kernel = 0;       // conv2d, pooling
  std::int64_t stride = 1;       // conv2d, pooling
  std::int64_t padding = 0;      // conv2d
  float p = 0.0f;                // dropout probability

  bool has_params() const { return kind == Kind::linear || kind == Kind::conv2d; }
};

struct Layer {
  LayerSpec spec;
  ag::Var weight;
  ag::Var bias;
};

}  // namespace pn::nn
