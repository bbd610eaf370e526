// The explanation rules and methods (chapters 4 and 7): every kernel-layer rule against the dense-
// matrix oracle (tests/oracle/rules_oracle.h) on conv (stride 2, padding) and dense layers; the
// gradient against autograd and float64 central differences through overlapping max-pooling; the
// identities of spec §3 (PatternNet with a := w, PatternAttribution with a := w, conservation on a
// ReLU-free network, gradient / DeConvNet / Guided BackProp on linear and ReLU networks); the toy
// table of spec §2.2; and the refusals.
#include "oracle/oracle.h"
#include "oracle/rules_oracle.h"
#include "pn/autograd/ops.h"
#include "pn/core/finite.h"
#include "pn/core/rng.h"
#include "pn/explain/explain.h"
#include "pn/explain/rules.h"
#include "pn/ops/ops.h"
#include "test_files.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace {

namespace ex = pn::explain;
using pn::Shape;
using pn::Tensor;

Tensor random_tensor(Shape s, std::uint64_t seed, double lo = -1, double hi = 1) {
  pn::Rng rng(seed);
  Tensor t(s);
  for (float& v : t.values()) v = static_cast<float>(rng.uniform(lo, hi));
  return t;
}

std::vector<double> to_double(const float* p, std::int64_t n) { return std::vector<double>(p, p + n); }

pn::nn::LayerSpec conv_spec(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride, std::int64_t pad) {
  pn::nn::LayerSpec s;
  s.name = "conv";
  s.kind = pn::nn::Kind::conv2d;
  s.in = in, s.out = out, s.kernel = k, s.stride = stride, s.padding = pad;
  return s;
}

struct RuleCase {
  ex::KernelRule rule;
  oracle::Rule oracle_rule;
  ex::KernelRuleParams params;
};

std::vector<RuleCase> rule_cases() {
  std::vector<RuleCase> c;
  const auto add = [&](ex::KernelRule r, oracle::Rule o, auto&& tweak) {
    ex::KernelRuleParams p;
    p.rule = r;
    tweak(p);
    c.push_back({r, o, p});
  };
  add(ex::KernelRule::weights, oracle::Rule::transpose, [](auto&) {});
  add(ex::KernelRule::lrp_z, oracle::Rule::z, [](auto&) {});
  add(ex::KernelRule::lrp_z, oracle::Rule::z, [](auto& p) { p.ignore_bias = true; });
  add(ex::KernelRule::lrp_epsilon, oracle::Rule::epsilon, [](auto& p) { p.epsilon = 0.25; });
  add(ex::KernelRule::lrp_alpha_beta, oracle::Rule::alpha_beta, [](auto& p) { p.alpha = 2, p.beta = 1; });
  add(ex::KernelRule::lrp_alpha_beta, oracle::Rule::alpha_beta, [](auto& p) { p.alpha = 1, p.beta = 0, p.ignore_bias = true; });
  add(ex::KernelRule::lrp_w_square, oracle::Rule::w_square, [](auto&) {});
  add(ex::KernelRule::lrp_flat, oracle::Rule::flat, [](auto&) {});
  add(ex::KernelRule::lrp_zbox, oracle::Rule::zbox, [](auto& p) { p.low = -1.5, p.high = 1.25; });
  return c;
}

// One layer (conv or dense), batch of two, every rule against the oracle.
void check_rules_on_layer(const pn::nn::LayerSpec& spec, const Tensor& w, const Tensor& b, const Tensor& x) {
  const Tensor z = ex::map_forward(spec, w, x, &b);
  const Tensor r = random_tensor(z.shape(), 77, -2, 2);
  const std::int64_t n = x.dim(0), I = x.numel() / n, J = z.numel() / n;
  std::vector<double> W;
  if (spec.kind == pn::nn::Kind::conv2d) {
    oracle::ConvGeom g;
    g.in_c = x.dim(1), g.in_h = x.dim(2), g.in_w = x.dim(3), g.out_c = w.dim(0), g.kernel_h = g.kernel_w = w.dim(2);
    g.stride = spec.stride, g.pad = spec.padding;
    const std::vector<double> wd = to_double(w.data(), w.numel());
    W = oracle::conv_matrix(g, wd.data());
  } else {
    W = to_double(w.data(), w.numel());
  }
  std::vector<double> bj(static_cast<std::size_t>(J));
  const std::int64_t per_channel = J / b.numel();
  for (std::int64_t j = 0; j < J; ++j) bj[static_cast<std::size_t>(j)] = b[j / per_channel];
  for (const RuleCase& c : rule_cases()) {
    SCOPED_TRACE(std::string(ex::kernel_rule_name(c.rule)) + (c.params.ignore_bias ? " (no bias)" : ""));
    const Tensor got = ex::apply_kernel_rule(c.params, ex::KernelLayerView{spec, w, b, x, z, nullptr}, r);
    ASSERT_EQ(got.shape(), x.shape());
    oracle::RuleParams op;
    op.epsilon = c.params.epsilon, op.alpha = c.params.alpha, op.beta = c.params.beta, op.low = c.params.low, op.high = c.params.high;
    op.use_bias = !c.params.ignore_bias;
    for (std::int64_t s = 0; s < n; ++s) {
      const auto want = oracle::apply_rule(c.oracle_rule, op, W, bj, to_double(x.data() + s * I, I), to_double(r.data() + s * J, J), J, I);
      double scale = 0;
      for (double v : want) scale = std::max(scale, std::fabs(v));
      for (std::int64_t i = 0; i < I; ++i)
        ASSERT_NEAR(got[s * I + i], want[static_cast<std::size_t>(i)], 1e-4 * (1 + scale)) << "sample " << s << " input " << i;
    }
  }
}

TEST(Rules, KernelRulesMatchTheDenseMatrixOracleOnConvLayers) {
  for (auto [stride, pad] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {2, 1}, {2, 0}}) {
    SCOPED_TRACE(::testing::Message() << "stride " << stride << " pad " << pad);
    const auto spec = conv_spec(2, 3, 3, stride, pad);
    check_rules_on_layer(spec, random_tensor(Shape{3, 2, 3, 3}, 1), random_tensor(Shape{3}, 2, -0.5, 0.5),
                         random_tensor(Shape{2, 2, 6, 7}, 3, -1, 2));
  }
}

TEST(Rules, KernelRulesMatchTheDenseMatrixOracleOnDenseLayers) {
  pn::nn::LayerSpec spec;
  spec.name = "fc";
  spec.kind = pn::nn::Kind::linear;
  spec.in = 9, spec.out = 4;
  check_rules_on_layer(spec, random_tensor(Shape{4, 9}, 4), random_tensor(Shape{4}, 5, -0.5, 0.5), random_tensor(Shape{2, 9}, 6, -1, 2));
}

// A dense layer explained in blocks of output neurons (what a backward pass does with VGG-16's fc6
// when its rule tensors are not prepared) gives the whole layer's r_in for every rule: blocks of 3
// of 10 outputs up to float rounding, one block covering all outputs bit for bit.
TEST(Rules, DenseRulesInBlocksOfOutputsEqualTheWholeLayer) {
  pn::nn::LayerSpec spec;
  spec.name = "fc";
  spec.kind = pn::nn::Kind::linear;
  spec.in = 9, spec.out = 10;
  const Tensor w = random_tensor(Shape{10, 9}, 14), b = random_tensor(Shape{10}, 15, -0.5, 0.5);
  const Tensor x = random_tensor(Shape{2, 9}, 16, -1, 2), a = random_tensor(Shape{10, 9}, 17);
  const Tensor z = ex::map_forward(spec, w, x, &b);
  const Tensor r = random_tensor(z.shape(), 18, -2, 2);
  std::vector<RuleCase> cases = rule_cases();
  for (ex::KernelRule pr : {ex::KernelRule::pattern, ex::KernelRule::pattern_attribution}) {
    ex::KernelRuleParams pp;
    pp.rule = pr;
    cases.push_back({pr, oracle::Rule::transpose, pp});
  }
  for (const RuleCase& c : cases) {
    SCOPED_TRACE(std::string(ex::kernel_rule_name(c.rule)) + (c.params.ignore_bias ? " (no bias)" : ""));
    const ex::KernelLayerView view{spec, w, b, x, z, &a};
    const Tensor whole = ex::apply_kernel_rule(c.params, view, r);
    const Tensor blocks = ex::apply_dense_rule_in_blocks(c.params, view, r, 3);
    const Tensor one_block = ex::apply_dense_rule_in_blocks(c.params, view, r, 10);
    ASSERT_EQ(blocks.shape(), whole.shape());
    double scale = 0;
    for (float v : whole.values()) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    ASSERT_GT(scale, 0.0);
    for (std::int64_t i = 0; i < whole.numel(); ++i) {
      ASSERT_NEAR(blocks[i], whole[i], 1e-5 * scale) << "input " << i;
      ASSERT_EQ(one_block[i], whole[i]) << "input " << i;
    }
  }
  ex::KernelRuleParams p;
  EXPECT_THROW((void)ex::apply_dense_rule_in_blocks(p, ex::KernelLayerView{spec, w, b, x, z, nullptr}, r, 0), pn::Error);
}

// A small ReLU network with overlapping max-pooling (3x3 windows, stride 2).
pn::nn::Sequential small_cnn(std::uint64_t seed, bool with_relu = true, std::int64_t pad = 1) {
  std::vector<pn::nn::LayerSpec> specs;
  specs.push_back(conv_spec(2, 3, 3, 1, pad));
  specs[0].name = "conv1";
  if (with_relu) {
    pn::nn::LayerSpec r;
    r.name = "relu1";
    r.kind = pn::nn::Kind::relu;
    specs.push_back(r);
  }
  pn::nn::LayerSpec pool;
  pool.name = "pool1";
  pool.kind = pn::nn::Kind::maxpool2d;
  pool.kernel = 3, pool.stride = 2;
  specs.push_back(pool);
  pn::nn::LayerSpec flat;
  flat.name = "flat";
  flat.kind = pn::nn::Kind::flatten;
  specs.push_back(flat);
  pn::nn::LayerSpec fc;
  fc.name = "fc1";
  fc.kind = pn::nn::Kind::linear;
  const std::int64_t side = ((7 + 2 * pad - 3) + 1 - 3) / 2 + 1;
  fc.in = 3 * side * side, fc.out = 4;
  specs.push_back(fc);
  pn::nn::Sequential m(Shape{2, 7, 7}, specs);
  pn::Rng rng(seed);
  m.init(rng);
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (!m.layer(i).spec.has_params()) continue;
    for (float& v : m.layer(i).bias.mutable_value().values()) v = static_cast<float>(rng.uniform(-0.2, 0.2));
  }
  return m;
}

// The network's target output in double (oracle ops only), for central differences.
double forward_double(const pn::nn::Sequential& m, const std::vector<double>& x, std::int64_t target) {
  oracle::ConvGeom g;
  g.in_c = 2, g.in_h = g.in_w = 7, g.out_c = 3, g.kernel_h = g.kernel_w = 3, g.stride = 1, g.pad = 1;
  const auto& conv = m.layer(0);
  const std::vector<double> w = to_double(conv.weight.value().data(), conv.weight.value().numel());
  const std::vector<double> b = to_double(conv.bias.value().data(), 3);
  std::vector<double> y(static_cast<std::size_t>(g.y_size()));
  oracle::conv2d_forward(g, x.data(), w.data(), b.data(), y.data());
  for (double& v : y) v = v > 0 ? v : 0;
  oracle::PoolGeom pg;
  pg.planes = 3, pg.h = pg.w = 7, pg.kernel = 3, pg.stride = 2;
  std::vector<double> p(static_cast<std::size_t>(3 * 3 * 3));
  std::vector<std::int64_t> arg(p.size());
  oracle::maxpool_forward(pg, y.data(), p.data(), arg.data());
  const auto& fc = m.layer(m.size() - 1);
  double s = fc.bias.value()[target];
  for (std::size_t i = 0; i < p.size(); ++i) s += fc.weight.value()[target * 27 + static_cast<std::int64_t>(i)] * p[i];
  return s;
}

TEST(Methods, GradientEqualsAutogradAndCentralDifferences) {
  const pn::nn::Sequential m = small_cnn(11);
  const Tensor x = random_tensor(Shape{1, 2, 7, 7}, 12);
  const ex::Explanation e = ex::explain(m, x, ex::make_method("gradient"), nullptr, std::int64_t{2});
  // Autograd: d(out[2]) / dx.
  pn::ag::Var xv = pn::ag::Var::parameter(x.clone());
  const pn::ag::Var out = m.forward(xv, false, nullptr);
  Tensor onehot = Tensor::zeros(out.shape());
  onehot[2] = 1.0f;
  pn::ag::sum(pn::ag::mul_const(out, onehot)).backward();
  for (std::int64_t i = 0; i < x.numel(); ++i) ASSERT_NEAR(e.result[i], xv.grad()[i], 1e-6) << "autograd at " << i;
  // Central differences in double (the step stays inside one ReLU/max-pool region at these inputs).
  const std::vector<double> xd = to_double(x.data(), x.numel());
  const double h = 1e-6;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    std::vector<double> a = xd, b = xd;
    a[static_cast<std::size_t>(i)] += h;
    b[static_cast<std::size_t>(i)] -= h;
    const double fd = (forward_double(m, a, 2) - forward_double(m, b, 2)) / (2 * h);
    ASSERT_NEAR(e.result[i], fd, 1e-4 * (1 + std::fabs(fd))) << "finite difference at " << i;
  }
}

// Patterns equal to the weights (a := w, not normalised: every identity below is exact then).
ex::Patterns weights_as_patterns(const pn::nn::Sequential& m) {
  ex::Patterns p;
  p.estimator = ex::Estimator::linear;
  p.model_fingerprint = m.fingerprint();
  for (std::size_t i = 0; i < m.size(); ++i) {
    const auto& l = m.layer(i);
    if (!l.spec.has_params()) continue;
    ex::LayerPatterns lp;
    lp.layer = l.spec.name;
    lp.a = l.weight.value().clone();
    p.layers.push_back(std::move(lp));
  }
  return p;
}

TEST(Methods, PatternNetWithWeightPatternsIsTheGradientTimesTheStart) {
  const pn::nn::Sequential m = small_cnn(21);
  const Tensor x = random_tensor(Shape{3, 2, 7, 7}, 22);
  const ex::Patterns p = weights_as_patterns(m);
  const ex::Explanation g = ex::explain(m, x, ex::make_method("gradient"), nullptr);
  const ex::Explanation pn_ = ex::explain(m, x, ex::make_method("pattern_net"), &p);
  const std::int64_t per = x.numel() / 3;
  for (std::int64_t i = 0; i < x.numel(); ++i)
    ASSERT_NEAR(pn_.result[i], g.result[i] * g.target_outputs[static_cast<std::size_t>(i / per)], 1e-5) << i;
}

TEST(Methods, PatternAttributionWithWeightPatternsIsTheUnnormalisedWSquareRule) {
  const pn::nn::Sequential m = small_cnn(31);
  const Tensor x = random_tensor(Shape{2, 2, 7, 7}, 32);
  const ex::Patterns p = weights_as_patterns(m);
  const ex::Explanation pa = ex::explain(m, x, ex::make_method("pattern_attribution"), &p);
  // Backprop with w ⊙ w through the same gates: PatternNet with a := w ⊙ w.
  ex::Patterns squared = weights_as_patterns(m);
  for (auto& l : squared.layers)
    for (float& v : l.a.values()) v *= v;
  const ex::Explanation sq = ex::explain(m, x, ex::make_method("pattern_net"), &squared);
  for (std::int64_t i = 0; i < x.numel(); ++i) ASSERT_NEAR(pa.result[i], sq.result[i], 1e-5) << i;
  bool nonzero = false;
  for (float v : pa.result.values()) nonzero = nonzero || v != 0.0f;
  EXPECT_TRUE(nonzero);
}

// Normalised patterns (wᵀa = 1 per neuron) for a ReLU-free network: PatternAttribution conserves.
// (Without padding: a padded border passes part of w ⊙ a to the zeros outside the image.)
TEST(Methods, ReluFreeNetworkConservesTheStartValue) {
  pn::nn::Sequential m = small_cnn(41, false, 0);
  const Tensor x = random_tensor(Shape{2, 2, 7, 7}, 42, 0.1, 1.0);
  ex::Patterns p = weights_as_patterns(m);
  pn::Rng rng(43);
  for (std::size_t k = 0; k < p.layers.size(); ++k) {
    Tensor& a = p.layers[k].a;
    const Tensor& w = m.layer(*m.find(p.layers[k].layer)).weight.value();
    const std::int64_t o = a.dim(0), d = a.numel() / o;
    for (std::int64_t j = 0; j < o; ++j) {
      double wa = 0;
      for (std::int64_t i = 0; i < d; ++i) {
        a[j * d + i] = static_cast<float>(rng.uniform(0.5, 1.5)) * w[j * d + i];
        wa += static_cast<double>(a[j * d + i]) * w[j * d + i];
      }
      for (std::int64_t i = 0; i < d; ++i) a[j * d + i] = static_cast<float>(a[j * d + i] / wa);
    }
  }
  ex::MethodOptions no_bias;
  no_bias.ignore_bias = true;
  for (const auto& [name, patterns] : {std::pair<std::string, const ex::Patterns*>{"pattern_attribution", &p}, {"lrp_z", nullptr}}) {
    const ex::Explanation e = ex::explain(m, x, ex::make_method(name, no_bias), patterns);
    const std::int64_t per = x.numel() / 2;
    for (std::int64_t s = 0; s < 2; ++s) {
      double sum = 0;
      for (std::int64_t i = 0; i < per; ++i) sum += e.result[s * per + i];
      EXPECT_NEAR(sum, e.target_outputs[static_cast<std::size_t>(s)], 1e-4 * (1 + std::fabs(e.target_outputs[static_cast<std::size_t>(s)])))
          << name << " sample " << s;
    }
  }
}

TEST(Methods, GradientDeconvnetGuidedAgreeOnLinearNetworksAndDifferWithRelus) {
  ex::MethodOptions one;
  one.start = ex::Start::one;
  for (bool relu : {false, true}) {
    const pn::nn::Sequential m = small_cnn(51, relu);
    const Tensor x = random_tensor(Shape{2, 2, 7, 7}, 52);
    const Tensor g = ex::explain(m, x, ex::make_method("gradient", one), nullptr).result.clone();
    const Tensor d = ex::explain(m, x, ex::make_method("deconvnet", one), nullptr).result.clone();
    const Tensor b = ex::explain(m, x, ex::make_method("guided_backprop", one), nullptr).result.clone();
    double gd = 0, gb = 0;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      gd = std::max(gd, static_cast<double>(std::fabs(g[i] - d[i])));
      gb = std::max(gb, static_cast<double>(std::fabs(g[i] - b[i])));
    }
    if (!relu) {
      EXPECT_EQ(gd, 0.0);
      EXPECT_EQ(gb, 0.0);
    } else {
      EXPECT_GT(gd, 1e-3);
      EXPECT_GT(gb, 1e-3);
    }
  }
}

// The rules' input-independent tensors (RuleWeights) derived once by an Explainer give exactly
// what each rule derives on the spot, for every method, on a network with two padded convolutions
// (the second with stride 2 behind a ReLU) and a dense layer; and an Explainer reused over several
// inputs carries nothing from one explanation to the next.
TEST(Methods, PreparedRuleWeightsEqualDerivingThemPerCall) {
  std::vector<pn::nn::LayerSpec> specs;
  specs.push_back(conv_spec(2, 3, 3, 1, 1));
  specs.back().name = "conv1";
  pn::nn::LayerSpec relu;
  relu.kind = pn::nn::Kind::relu;
  relu.name = "relu1";
  specs.push_back(relu);
  specs.push_back(conv_spec(3, 4, 3, 2, 1));
  specs.back().name = "conv2";
  relu.name = "relu2";
  specs.push_back(relu);
  pn::nn::LayerSpec flat;
  flat.name = "flat";
  flat.kind = pn::nn::Kind::flatten;
  specs.push_back(flat);
  pn::nn::LayerSpec fc;
  fc.name = "fc";
  fc.kind = pn::nn::Kind::linear;
  fc.in = 4 * 4 * 4, fc.out = 5;
  specs.push_back(fc);
  pn::nn::Sequential m(Shape{2, 7, 7}, specs);
  pn::Rng rng(61);
  m.init(rng);
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (!m.layer(i).spec.has_params()) continue;
    for (float& v : m.layer(i).bias.mutable_value().values()) v = static_cast<float>(rng.uniform(-0.2, 0.2));
  }
  ex::Patterns p = weights_as_patterns(m);
  for (auto& l : p.layers)
    for (float& v : l.a.values()) v *= static_cast<float>(rng.uniform(0.5, 1.5));
  const Tensor x1 = random_tensor(Shape{3, 2, 7, 7}, 62), x2 = random_tensor(Shape{2, 2, 7, 7}, 63, 0.0, 2.0);
  ex::MethodOptions o;
  o.low = -1.0, o.high = 2.0;
  for (const std::string& name : ex::method_names()) {
    const ex::Method method = ex::make_method(name, o);
    const ex::Patterns* patterns = method.needs_patterns ? &p : nullptr;
    const std::vector<ex::RuleWeights> prepared = ex::prepare_rule_weights(m, method, patterns);
    pn::nn::Trace trace;
    m.forward(x1, &trace);
    const Tensor r = ex::start_signal(trace.output, ex::choose_targets(trace.output, std::nullopt), method.start);
    const Tensor per_call = ex::backward_pass(m, trace, method, patterns, r.clone());
    const Tensor once = ex::backward_pass(m, trace, method, patterns, r.clone(), nullptr, &prepared);
    ASSERT_EQ(per_call.shape(), once.shape()) << name;
    bool nonzero = false;
    for (std::int64_t i = 0; i < once.numel(); ++i) {
      ASSERT_EQ(per_call[i], once[i]) << name << " at " << i;
      nonzero = nonzero || once[i] != 0.0f;
    }
    EXPECT_TRUE(nonzero) << name;
    // A budget prepares the layers that fit (in order) and leaves the rest to the backward pass:
    // none with budget 0, conv1 alone with exactly its need; the result is the same bits.
    const std::int64_t conv1_need = ex::derived_floats(ex::kernel_rule_for(method, m, 0).rule, m.layer(0).weight.value().numel());
    for (const std::int64_t budget : {std::int64_t{0}, conv1_need}) {
      const std::vector<ex::RuleWeights> part = ex::prepare_rule_weights(m, method, patterns, budget);
      for (std::size_t i = 0; i < m.size(); ++i) {
        if (!m.layer(i).spec.has_params()) continue;
        const std::int64_t need = ex::derived_floats(ex::kernel_rule_for(method, m, i).rule, m.layer(i).weight.value().numel());
        // A layer that derives nothing always fits; of the others only conv1, given its need.
        const bool expect = need == 0 || (i == 0 && need <= budget);
        EXPECT_EQ(part[i].derived, expect) << name << " layer " << i << " budget " << budget;
      }
      const Tensor partly = ex::backward_pass(m, trace, method, patterns, r.clone(), nullptr, &part);
      for (std::int64_t i = 0; i < once.numel(); ++i) ASSERT_EQ(partly[i], once[i]) << name << " budget " << budget << " at " << i;
    }

    const ex::Explainer explainer(m, method, patterns);
    for (const Tensor* x : {&x1, &x2, &x1}) {
      const ex::Explanation fresh = ex::explain(m, *x, method, patterns, std::int64_t{1});
      const ex::Explanation reused = explainer(*x, std::int64_t{1});
      for (std::int64_t i = 0; i < x->numel(); ++i) ASSERT_EQ(fresh.result[i], reused.result[i]) << name << " at " << i;
    }
  }
}

// Spec §2.2 on the toy: x = (y + ε, ε), w = (1, -1), a = a_s = (1, 0).
TEST(Methods, ToyTableOfSpecSection2) {
  pn::nn::LayerSpec fc;
  fc.name = "fc";
  fc.kind = pn::nn::Kind::linear;
  fc.in = 2, fc.out = 1;
  pn::nn::Sequential m(Shape{2}, {fc});
  m.layer(0).weight.mutable_value() = Tensor::from(Shape{1, 2}, std::vector<float>{1.0f, -1.0f});
  m.layer(0).bias.mutable_value() = Tensor::zeros(Shape{1});
  const float y = 0.6f, eps = 0.4f;
  const Tensor x = Tensor::from(Shape{1, 2}, std::vector<float>{y + eps, eps});
  ex::Patterns pa;
  pa.model_fingerprint = m.fingerprint();
  pa.layers.push_back(ex::LayerPatterns{"fc", Tensor::from(Shape{1, 2}, std::vector<float>{1.0f, 0.0f}), Tensor(), 0, {}});
  const auto run = [&](const std::string& name, const ex::Patterns* p) { return ex::explain(m, x, ex::make_method(name), p, std::int64_t{0}).result.clone(); };
  const auto expect2 = [](const Tensor& t, float a, float b, const char* what) {
    EXPECT_NEAR(t[0], a, 1e-6) << what;
    EXPECT_NEAR(t[1], b, 1e-6) << what;
  };
  expect2(run("gradient", nullptr), 1.0f, -1.0f, "gradient = w");
  expect2(run("deconvnet", nullptr), y, -y, "DeConvNet = w·y on a linear model");
  expect2(run("guided_backprop", nullptr), y, -y, "Guided BackProp = w·y");
  expect2(run("pattern_net", &pa), y, 0.0f, "PatternNet = a·y = the signal");
  expect2(run("pattern_attribution", &pa), y, 0.0f, "PatternAttribution = w ⊙ a·y");
  expect2(run("lrp_z", nullptr), y + eps, -eps, "LRP z = w ⊙ x");
  expect2(run("input_x_gradient", nullptr), y + eps, -eps, "input x gradient = w ⊙ x");
  expect2(run("lrp_w_square", nullptr), y / 2, y / 2, "w² rule = (w ⊙ w)/(wᵀw)·y");
}

TEST(Methods, Refusals) {
  const pn::nn::Sequential m = small_cnn(61);
  const Tensor x = random_tensor(Shape{1, 2, 7, 7}, 62);
  EXPECT_NE(pntest::message_of([] { (void)ex::make_method("saliency_magic"); }).find("unknown method 'saliency_magic'"), std::string::npos);
  EXPECT_NE(pntest::message_of([&] { (void)ex::explain(m, x, ex::make_method("pattern_net"), nullptr); }).find("needs patterns"),
            std::string::npos);
  ex::Patterns other = weights_as_patterns(small_cnn(62));
  EXPECT_NE(pntest::message_of([&] { (void)ex::explain(m, x, ex::make_method("pattern_attribution"), &other); }).find("fingerprint"),
            std::string::npos);
  EXPECT_NE(pntest::message_of([&] { (void)ex::explain(m, x, ex::make_method("gradient"), nullptr, std::int64_t{4}); })
                .find("--target 4 is outside the model's 4 outputs"),
            std::string::npos);
  const Tensor wrong = random_tensor(Shape{1, 3, 7, 7}, 63);
  EXPECT_NE(pntest::message_of([&] { (void)ex::explain(m, wrong, ex::make_method("gradient"), nullptr); }).find("explain"), std::string::npos);
  EXPECT_NE(pntest::message_of([] { (void)ex::make_method("lrp_zbox"); }).find("--low and --high"), std::string::npos);
  Tensor nan = x.clone();
  nan[3] = std::nanf("");
  EXPECT_NE(pntest::message_of([&] { (void)ex::explain(m, nan, ex::make_method("gradient"), nullptr); }).find("NaN"), std::string::npos);
}

// Non-finite values are refused where they arise, and the message names the layer (issue 8).
TEST(Methods, NonFiniteValuesNameTheLayerThatMadeThem) {
  const Tensor x = random_tensor(Shape{1, 2, 7, 7}, 72, 0.5, 1.0);
  // Forward: weights of 1e38 overflow float32 in conv1's own sums; the input is finite.
  pn::nn::Sequential big = small_cnn(71);
  for (float& v : big.layer(0).weight.mutable_value().values()) v = 1e38f;
  const std::string fwd = pntest::message_of([&] { (void)ex::explain(big, x, ex::make_method("gradient"), nullptr); });
  EXPECT_NE(fwd.find("forward pass turned finite values into"), std::string::npos) << fwd;
  EXPECT_NE(fwd.find("layer 'conv1'"), std::string::npos) << fwd;
  // Backward: fc1 with zero weights and a subnormal bias makes every z = 1e-39, a finite output;
  // the z-rule started at 1 divides 1 by it, which overflows float32 in fc1's rule (not before it).
  pn::nn::Sequential tiny = small_cnn(73);
  const std::size_t fc = tiny.size() - 1;
  tiny.layer(fc).weight.mutable_value().fill(0.0f);
  tiny.layer(fc).bias.mutable_value().fill(1e-39f);
  ex::MethodOptions one;
  one.start = ex::Start::one;
  const std::string bwd = pntest::message_of([&] { (void)ex::explain(tiny, x, ex::make_method("lrp_z", one), nullptr); });
  EXPECT_NE(bwd.find("--method lrp_z: layer 'fc1' (rule lrp_z) turned a finite signal into"), std::string::npos) << bwd;
  EXPECT_NE(bwd.find("--epsilon"), std::string::npos) << bwd;
  // The stabilised rule on the same network stays finite: eps = 1e-7 bounds 1 / z by 1e7.
  const ex::Explanation eps = ex::explain(tiny, x, ex::make_method("lrp_epsilon", one), nullptr);
  EXPECT_LT(pn::find_non_finite(eps.result), 0);
  // The gradient of that network is finite too (zero weights, no division).
  EXPECT_LT(pn::find_non_finite(ex::explain(tiny, x, ex::make_method("gradient"), nullptr).result), 0);
  // A start signal the caller hands in must be finite.
  pn::nn::Trace trace;
  const Tensor out = tiny.forward(x, &trace);
  Tensor r = Tensor::zeros(out.shape());
  r[0] = std::numeric_limits<float>::infinity();
  const std::string start = pntest::message_of([&] { (void)ex::backward_pass(tiny, trace, ex::make_method("gradient"), nullptr, r.clone()); });
  EXPECT_NE(start.find("the start signal holds inf at element 0"), std::string::npos) << start;
}

TEST(Tensor, FindNonFinite) {
  Tensor t = Tensor::zeros(Shape{2, 3});
  EXPECT_EQ(pn::find_non_finite(t), -1);
  t[4] = std::nanf("");
  t[5] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(pn::find_non_finite(t), 4);
  const std::string msg = pntest::message_of([&] { pn::require_finite(t, "probe"); });
  EXPECT_NE(msg.find("probe holds nan at element 4 of (2, 3)"), std::string::npos) << msg;
  t[4] = std::numeric_limits<float>::max();
  EXPECT_EQ(pn::find_non_finite(t), 5);
  // In a longer tensor the first non-finite value wins, wherever it lies; the largest, smallest
  // and subnormal finite values never count.
  Tensor big = Tensor::zeros(Shape{3001});
  big[0] = std::numeric_limits<float>::max();
  big[1] = -std::numeric_limits<float>::max();
  big[2] = std::numeric_limits<float>::denorm_min();
  big[1023] = std::numeric_limits<float>::lowest();
  EXPECT_EQ(pn::find_non_finite(big), -1);
  big[3000] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(pn::find_non_finite(big), 3000);
  big[2047] = std::nanf("");
  EXPECT_EQ(pn::find_non_finite(big), 2047);
  big[1024] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(pn::find_non_finite(big), 1024);
  // From 2^18 elements the threads scan halves: the first value is found in either half, and the
  // earlier of two in different halves wins.
  Tensor huge = Tensor::zeros(Shape{(std::int64_t{1} << 20) + 5});
  EXPECT_EQ(pn::find_non_finite(huge), -1);
  huge[huge.numel() - 1] = std::nanf("");
  EXPECT_EQ(pn::find_non_finite(huge), huge.numel() - 1);
  huge[700001] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(pn::find_non_finite(huge), 700001);
  huge[3] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(pn::find_non_finite(huge), 3);
}

}  // namespace
