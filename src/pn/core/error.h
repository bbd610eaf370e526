// pn::Error: the one exception type of patternnet.
// Thrown at boundaries (files, flags, shapes, model binding) with a message that says what was
// expected, what was found and where; each program's main() catches it once and exits non-zero.
// Kernels never throw: they trust the checks made by their callers.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace pn {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}

  template <class... Args>
  explicit Error(fmt::format_string<Args...> format, Args&&... args)
      : std::runtime_error(fmt::format(format, std::forward<Args>(args)...)) {}
};

}  // namespace pn
