// Float64 dense-matrix forms of the explanation rules (paper §3 and the LRP literature), for the
// rule tests. A layer is an explicit matrix W (J outputs x I inputs, row-major) and bias b (J);
// a convolution is first unrolled into that matrix by conv_matrix. Every rule is written per
// contribution z_ij = x_i W_ji, the way the literature states it, not as the library computes it.
// No pn header is included (see oracle.h).
#pragma once

#include "oracle/oracle.h"

#include <cstdint>
#include <vector>

namespace oracle {

// The (out_c·out_h·out_w) x (in_c·in_h·in_w) matrix of one image's convolution (batch ignored).
std::vector<double> conv_matrix(const ConvGeom& g, const double* w);

enum class Rule { transpose, z, epsilon, alpha_beta, w_square, flat, zbox };

struct RuleParams {
  double epsilon = 0, alpha = 1, beta = 0, low = 0, high = 0;
  bool use_bias = true;
};

// R_in (I) from R (J) for the layer (W, b) at input x. transpose: Wᵀ R.
std::vector<double> apply_rule(Rule rule, const RuleParams& p, const std::vector<double>& W, const std::vector<double>& b,
                               const std::vector<double>& x, const std::vector<double>& R, std::int64_t J, std::int64_t I);

}  // namespace oracle
