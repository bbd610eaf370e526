#include "oracle/rules_oracle.h"

#include <cmath>

namespace oracle {

std::vector<double> conv_matrix(const ConvGeom& g, const double* w) {
  const std::int64_t oh = g.out_h(), ow = g.out_w();
  const std::int64_t J = g.out_c * oh * ow, I = g.in_c * g.in_h * g.in_w;
  std::vector<double> m(static_cast<std::size_t>(J * I), 0.0);
  for (std::int64_t o = 0; o < g.out_c; ++o)
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox)
        for (std::int64_t c = 0; c < g.in_c; ++c)
          for (std::int64_t ky = 0; ky < g.kernel_h; ++ky)
            for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
              const std::int64_t iy = oy * g.stride + ky - g.pad, ix = ox * g.stride + kx - g.pad;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              const std::int64_t j = (o * oh + oy) * ow + ox, i = (c * g.in_h + iy) * g.in_w + ix;
              m[static_cast<std::size_t>(j * I + i)] = w[((o * g.in_c + c) * g.kernel_h + ky) * g.kernel_w + kx];
            }
  return m;
}

namespace {
double div0(double a, double b) { return b == 0.0 ? 0.0 : a / b; }
}  // namespace

std::vector<double> apply_rule(Rule rule, const RuleParams& p, const std::vector<double>& W, const std::vector<double>& b,
                               const std::vector<double>& x, const std::vector<double>& R, std::int64_t J, std::int64_t I) {
  std::vector<double> out(static_cast<std::size_t>(I), 0.0);
  const auto w = [&](std::int64_t j, std::int64_t i) { return W[static_cast<std::size_t>(j * I + i)]; };
  for (std::int64_t j = 0; j < J; ++j) {
    const double rj = R[static_cast<std::size_t>(j)];
    const double bj = p.use_bias ? b[static_cast<std::size_t>(j)] : 0.0;
    // The contribution of input i to output j under each rule, and its denominator.
    std::vector<double> zij(static_cast<std::size_t>(I), 0.0), zneg(static_cast<std::size_t>(I), 0.0);
    double den = 0, den_neg = 0;
    for (std::int64_t i = 0; i < I; ++i) {
      const double xi = x[static_cast<std::size_t>(i)], wji = w(j, i);
      double c = 0;
      switch (rule) {
        case Rule::transpose: c = wji; break;
        case Rule::z:
        case Rule::epsilon: c = xi * wji; break;
        case Rule::alpha_beta: {
          const double prod = xi * wji;
          c = prod > 0 ? prod : 0;
          zneg[static_cast<std::size_t>(i)] = prod < 0 ? prod : 0;
          den_neg += zneg[static_cast<std::size_t>(i)];
          break;
        }
        case Rule::w_square: c = wji * wji; break;
        case Rule::flat: c = wji != 0.0 ? 1.0 : 0.0; break;  // connected inputs (a zero weight inside the window counts 0 here too)
        case Rule::zbox: c = xi * wji - p.low * (wji > 0 ? wji : 0) - p.high * (wji < 0 ? wji : 0); break;
      }
      zij[static_cast<std::size_t>(i)] = c;
      den += c;
    }
    if (rule == Rule::transpose) {
      for (std::int64_t i = 0; i < I; ++i) out[static_cast<std::size_t>(i)] += w(j, i) * rj;
      continue;
    }
    if (rule == Rule::z || rule == Rule::epsilon) den += bj;
    if (rule == Rule::epsilon) den += den >= 0 ? p.epsilon : -p.epsilon;
    if (rule == Rule::alpha_beta) {
      // iNNvestigate's convention: both halves' denominators carry the whole bias.
      den += bj;
      den_neg += bj;
      for (std::int64_t i = 0; i < I; ++i)
        out[static_cast<std::size_t>(i)] += p.alpha * div0(zij[static_cast<std::size_t>(i)], den) * rj -
                                            p.beta * div0(zneg[static_cast<std::size_t>(i)], den_neg) * rj;
      continue;
    }
    for (std::int64_t i = 0; i < I; ++i) out[static_cast<std::size_t>(i)] += div0(zij[static_cast<std::size_t>(i)], den) * rj;
  }
  return out;
}

}  // namespace oracle
