// The per-layer table fit-patterns and merge-stats print after fitting: rows behind each layer's
// patterns, dead neurons and how well the constraint wᵀa = 1 holds.
#pragma once

#include "pn/explain/patterns.h"

namespace pn::cli {

void print_pattern_report(const explain::Patterns& p);

}  // namespace pn::cli
