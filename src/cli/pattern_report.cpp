#include "cli/pattern_report.h"

#include <fmt/core.h>

#include <string>

namespace pn::cli {

void print_pattern_report(const explain::Patterns& p) {
  const bool two = p.estimator == explain::Estimator::two_component;
  fmt::print("{:<12} {:>14} {:>8} {:>6} {:>10} {:>14}\n", "layer", "rows", "neurons", "dead", "dead a-", "max|wᵀa-1|");
  for (const auto& l : p.layers) {
    fmt::print("{:<12} {:>14.0f} {:>8} {:>6} {:>10} {:>14.2e}\n", l.layer, l.rows, l.report.neurons, l.report.dead,
               two ? std::to_string(l.report.dead_negative) : "-", l.report.max_constraint_error);
  }
}

}  // namespace pn::cli
