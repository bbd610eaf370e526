// Explanation methods as tables of backward rules. Chapters 4 and 7 (paper §3).
// A Method names the family (function, signal, attribution), the value the backward pass starts
// with at the explained output, and the rule for each layer kind (the first kernel layer may
// differ). Nothing here walks the network: backward_pass.h does that once for every method.
// The names are the command line's (`patternnet explain --method NAME`).
#pragma once

#include "pn/explain/rules.h"
#include "pn/nn/sequential.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pn::explain {

enum class Family { function, signal, attribution };
enum class Start { one, output };  // 1 or the explained output's value at the target

const char* family_name(Family f);

// The knobs of the command line; unset values take each method's default.
struct MethodOptions {
  std::optional<double> epsilon, alpha, beta, low, high;
  bool ignore_bias = false;
  std::optional<Start> start;
  std::int64_t samples = 16;   // smoothgrad
  double sigma = 0.15;         // smoothgrad: noise std as a fraction of each sample's value range
  std::int64_t steps = 64;     // integrated_gradients (left Riemann sum, alpha = k/steps)
  std::uint64_t seed = 1;      // smoothgrad noise
};

struct Method {
  std::string name;
  Family family = Family::function;
  Start start = Start::one;
  KernelRuleParams conv, dense;               // every conv / dense layer ...
  std::optional<KernelRuleParams> first;      // ... except the network's first kernel layer
  ReluRule relu = ReluRule::gate;
  AvgPoolRule avgpool = AvgPoolRule::gradient;
  bool needs_patterns = false;
  bool times_input = false;                   // multiply the result by the input (input x gradient)
  enum class Wrapper { none, smoothgrad, integrated_gradients } wrapper = Wrapper::none;
  std::int64_t samples = 0, steps = 0;
  double sigma = 0;
  std::uint64_t seed = 1;
};

// Throws pn::Error naming the known methods for an unknown name, or a missing/invalid parameter.
Method make_method(const std::string& name, const MethodOptions& options = {});
const std::vector<std::string>& method_names();

// The rule the method applies to kernel layer i of the model.
const KernelRuleParams& kernel_rule_for(const Method& m, const nn::Sequential& model, std::size_t i);

}  // namespace pn::explain
