// Finding NaN and infinity. Issue 8's numerical robustness: model and pattern files are checked when
// they are loaded, the forward pass and every rule of the backward pass when they run, so a
// non-finite value is reported where it first appears instead of spreading into a heatmap.
#pragma once

#include "pn/core/tensor.h"

#include <cstdint>
#include <string_view>

namespace pn {

// The flat index of the first NaN or infinite element, or -1 when every element is finite.
std::int64_t find_non_finite(const Tensor& t);

// Throws pn::Error "<what> holds <value> at element <i> of <shape>" unless every element is finite.
void require_finite(const Tensor& t, std::string_view what);

}  // namespace pn
