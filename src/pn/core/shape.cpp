#include "pn/core/shape.h"

#include <limits>

namespace pn {

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what) {
  if (a < 0 || b < 0) throw Error("{}: negative size ({} x {})", what, a, b);
  if (a != 0 && b > std::numeric_limits<std::int64_t>::max() / a) {
    throw Error("{}: size {} x {} overflows 64 bits", what, a, b);
  }
  return a * b;
}

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  for (std::int64_t d : dims) push_back(d);
}

void Shape::push_back(std::int64_t d) {
  if (rank_ >= kMaxRank) throw Error("shape {} cannot grow past rank {}", str(), kMaxRank);
  if (d < 0) throw Error("shape {}: dimension {} is negative ({})", str(), rank_, d);
  checked_mul(numel(), d, "shape element count");  // refuse before changing anything
  dims_[static_cast<std::size_t>(rank_++)] = d;
}

std::int64_t Shape::dim(int i) const {
  const int j = i < 0 ? i + rank_ : i;
  if (j < 0 || j >= rank_) throw Error("shape {} has no dimension {}", str(), i);
  return dims_[static_cast<std::size_t>(j)];
}

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_) return false;
  for (int i = 0; i < rank_; ++i) {
    if (dims_[static_cast<std::size_t>(i)] != other.dims_[static_cast<std::size_t>(i)]) return false;
  }
  return true;
}

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  if (rank_ == 1) s += ",";
  return s + ")";
}

}  // namespace pn
