// The method tables. Each entry is the paper's §3.2 table row (or the LRP / Deep Taylor
// literature's rule choice) written as data; see the header of method.h.
#include "pn/explain/method.h"

#include "pn/core/error.h"

#include <fmt/format.h>

namespace pn::explain {
namespace {

KernelRuleParams rule(KernelRule r) {
  KernelRuleParams p;
  p.rule = r;
  return p;
}

KernelRuleParams alpha_beta(double alpha, double beta, bool ignore_bias) {
  KernelRuleParams p = rule(KernelRule::lrp_alpha_beta);
  p.alpha = alpha;
  p.beta = beta;
  p.ignore_bias = ignore_bias;
  return p;
}

void everywhere(Method& m, const KernelRuleParams& p) {
  m.conv = p;
  m.dense = p;
}

KernelRuleParams bounded(const std::string& method, const MethodOptions& o) {
  if (!o.low || !o.high) throw Error("--method {} needs the input bounds --low and --high", method);
  if (!(*o.low < *o.high)) throw Error("--method {}: --low ({}) must be below --high ({})", method, *o.low, *o.high);
  KernelRuleParams p = rule(KernelRule::lrp_zbox);
  p.low = *o.low;
  p.high = *o.high;
  return p;
}

}  // namespace

const char* family_name(Family f) {
  switch (f) {
    case Family::function: return "function";
    case Family::signal: return "signal";
    case Family::attribution: return "attribution";
  }
  return "?";
}

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {
      "gradient",  "input_x_gradient", "smoothgrad",   "integrated_gradients", "deconvnet",  "guided_backprop",
      "pattern_net", "lrp_z",          "lrp_epsilon",  "lrp_zplus",            "lrp_alpha_beta", "lrp_w_square",
      "lrp_flat",  "lrp_zbox",         "lrp_preset_a", "lrp_preset_b",         "deep_taylor", "pattern_attribution"};
  return names;
}

Method make_method(const std::string& name, const MethodOptions& o) {
  Method m;
  m.name = name;
  const auto with_bias_choice = [&](KernelRuleParams p) {
    p.ignore_bias = p.ignore_bias || o.ignore_bias;
    return p;
  };
  if (name == "gradient" || name == "input_x_gradient" || name == "smoothgrad" || name == "integrated_gradients") {
    m.family = name == "gradient" || name == "smoothgrad" ? Family::function : Family::attribution;
    m.start = Start::one;
    everywhere(m, rule(KernelRule::weights));
    m.relu = ReluRule::gate;
    m.times_input = name == "input_x_gradient";
    if (name == "smoothgrad") {
      if (o.samples < 1) throw Error("--samples must be at least 1, got {}", o.samples);
      if (!(o.sigma >= 0)) throw Error("--sigma must be >= 0, got {}", o.sigma);
      m.wrapper = Method::Wrapper::smoothgrad;
      m.samples = o.samples;
      m.sigma = o.sigma;
      m.seed = o.seed;
    } else if (name == "integrated_gradients") {
      if (o.steps < 1) throw Error("--steps must be at least 1, got {}", o.steps);
      m.wrapper = Method::Wrapper::integrated_gradients;
      m.steps = o.steps;
    }
  } else if (name == "deconvnet" || name == "guided_backprop" || name == "pattern_net") {
    m.family = Family::signal;
    m.start = Start::output;
    everywhere(m, rule(name == "pattern_net" ? KernelRule::pattern : KernelRule::weights));
    m.relu = name == "deconvnet" ? ReluRule::rectify : name == "guided_backprop" ? ReluRule::guided : ReluRule::gate;
    m.needs_patterns = name == "pattern_net";
  } else if (name == "pattern_attribution") {
    m.family = Family::attribution;
    m.start = Start::output;
    everywhere(m, rule(KernelRule::pattern_attribution));
    m.relu = ReluRule::gate;
    m.needs_patterns = true;
  } else if (name.rfind("lrp_", 0) == 0 || name == "deep_taylor") {
    m.family = Family::attribution;
    m.start = Start::output;
    m.relu = ReluRule::pass;
    m.avgpool = AvgPoolRule::lrp_z;
    if (name == "lrp_z") {
      everywhere(m, with_bias_choice(rule(KernelRule::lrp_z)));
    } else if (name == "lrp_epsilon") {
      KernelRuleParams p = with_bias_choice(rule(KernelRule::lrp_epsilon));
      p.epsilon = o.epsilon.value_or(1e-7);
      if (!(p.epsilon >= 0)) throw Error("--epsilon must be >= 0, got {}", p.epsilon);
      everywhere(m, p);
    } else if (name == "lrp_zplus") {
      everywhere(m, alpha_beta(1.0, 0.0, true));
    } else if (name == "lrp_alpha_beta") {
      const double a = o.alpha.value_or(1.0), b = o.beta.value_or(0.0);
      if (!(a >= 0) || !(b >= 0)) throw Error("--alpha and --beta must be >= 0, got {} and {}", a, b);
      everywhere(m, with_bias_choice(alpha_beta(a, b, false)));
    } else if (name == "lrp_w_square") {
      everywhere(m, rule(KernelRule::lrp_w_square));
    } else if (name == "lrp_flat") {
      everywhere(m, rule(KernelRule::lrp_flat));
    } else if (name == "lrp_zbox") {
      everywhere(m, with_bias_choice(rule(KernelRule::lrp_z)));
      m.first = bounded(name, o);
    } else if (name == "lrp_preset_a" || name == "lrp_preset_b") {
      const bool b = name == "lrp_preset_b";
      m.conv = with_bias_choice(alpha_beta(b ? 2.0 : 1.0, b ? 1.0 : 0.0, false));
      KernelRuleParams eps = with_bias_choice(rule(KernelRule::lrp_epsilon));
      eps.epsilon = o.epsilon.value_or(0.1);
      m.dense = eps;
    } else if (name == "deep_taylor") {
      // Deep Taylor decomposition: the z⁺ rule for ReLU inputs (x >= 0) in every hidden layer; the
      // first layer sees an unbounded input (the w² rule) unless its bounds are given (zB rule).
      everywhere(m, alpha_beta(1.0, 0.0, true));
      m.first = (o.low || o.high) ? bounded(name, o) : rule(KernelRule::lrp_w_square);
    } else {
      throw Error("unknown method '{}'; known methods: {}", name, fmt::join(method_names(), ", "));
    }
  } else {
    throw Error("unknown method '{}'; known methods: {}", name, fmt::join(method_names(), ", "));
  }
  if (o.start) m.start = *o.start;
  return m;
}

const KernelRuleParams& kernel_rule_for(const Method& m, const nn::Sequential& model, std::size_t i) {
  const auto& spec = model.layer(i).spec;
  if (m.first) {
    std::size_t first = model.size();
    for (std::size_t k = 0; k < model.size(); ++k) {
      if (model.layer(k).spec.has_params()) {
        first = k;
        break;
      }
    }
    if (i == first) return *m.first;
  }
  return spec.kind == nn::Kind::conv2d ? m.conv : m.dense;
}

}  // namespace pn::explain
