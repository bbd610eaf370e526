// pn::Shape: the dimensions of a tensor of rank 0..4 (NCHW order for rank 4).
// A small value type with checked construction; element counts are computed with overflow checks
// so a hostile file cannot make us allocate a wrapped-around size.
#pragma once

#include "pn/core/error.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace pn {

inline constexpr int kMaxRank = 4;

class Shape {
public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);

  template <class It>
  static Shape from_range(It first, It last) {
    Shape s;
    for (; first != last; ++first) s.push_back(static_cast<std::int64_t>(*first));
    return s;
  }

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t dim(int i) const;  // checked; negative i counts from the back
  // Product of dims (1 for rank 0). push_back refuses a dimension that would overflow it, so the
  // plain product is safe; inline because element loops call it.
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
    return n;
  }
  const std::int64_t* begin() const { return dims_.data(); }
  const std::int64_t* end() const { return dims_.data() + rank_; }

  void push_back(std::int64_t d);

  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }

  std::string str() const;  // "(2, 3, 4)"

private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// Multiplies non-negative sizes, throwing pn::Error instead of overflowing.
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what);

}  // namespace pn

template <>
struct fmt::formatter<pn::Shape> : fmt::formatter<std::string> {
  auto format(const pn::Shape& s, format_context& ctx) const {
    return fmt::formatter<std::string>::format(s.str(), ctx);
  }
};
