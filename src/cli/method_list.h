// The --methods list shared by `patternnet explain` (the montage) and `patternnet benchmark`:
// comma-separated method names, or `all`.
#pragma once

#include <string>
#include <vector>

namespace pn::cli {

struct ListedMethod {
  std::string name;
  bool named = false;  // given by name, not only through `all`
};

// SmoothGrad and Integrated Gradients are many gradients by design (16 and 64 passes by default),
// so `all` leaves them out; they come only by name.
bool is_many_pass(const std::string& method);
bool is_pattern_method(const std::string& method);

// The methods in the order given, each once; `all` adds every single-pass method the library
// knows. Unknown or empty names are a pn::Error naming them and the known methods.
std::vector<ListedMethod> parse_method_list(const std::string& list);

}  // namespace pn::cli
