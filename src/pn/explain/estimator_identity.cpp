// S_x, the identity estimator: the whole input is taken to be signal, d̂ = 0. It has no pattern
// to fit; the z-rule of LRP is what it yields in the attribution view (chapter 5, paper §4.1).
// The quality criterion is undefined for it (the residual is zero), so rho reports it as N/A.
#include "pn/explain/estimator.h"

#include "pn/core/error.h"

namespace pn::explain {

const char* estimator_name(Estimator e) {
  switch (e) {
    case Estimator::identity: return "identity";
    case Estimator::filter: return "filter";
    case Estimator::random: return "random";
    case Estimator::linear: return "linear";
    case Estimator::two_component: return "two_component";
  }
  return "?";
}

Estimator estimator_from_name(const std::string& name) {
  for (Estimator e : {Estimator::identity, Estimator::filter, Estimator::random, Estimator::linear, Estimator::two_component}) {
    if (name == estimator_name(e)) return e;
  }
  throw Error("unknown estimator '{}' (identity, filter, random, linear, two_component)", name);
}

}  // namespace pn::explain
