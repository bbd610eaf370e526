#include "cli/method_list.h"

#include "pn/core/error.h"
#include "pn/explain/method.h"

#include <fmt/format.h>

#include <algorithm>

namespace pn::cli {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

bool is_many_pass(const std::string& method) { return method == "smoothgrad" || method == "integrated_gradients"; }
bool is_pattern_method(const std::string& method) { return method == "pattern_net" || method == "pattern_attribution"; }

std::vector<ListedMethod> parse_method_list(const std::string& list) {
  const auto& known = explain::method_names();
  std::vector<ListedMethod> out;
  const auto add = [&](const std::string& n, bool named) {
    const auto it = std::find_if(out.begin(), out.end(), [&](const ListedMethod& m) { return m.name == n; });
    if (it == out.end()) {
      out.push_back({n, named});
    } else {
      it->named = it->named || named;
    }
  };
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = list.find(',', pos);
    const std::string name = trim(list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (name.empty()) throw Error("--methods: empty method name in '{}' (give a comma-separated list, or all)", list);
    if (name == "all") {
      for (const auto& n : known) {
        if (!is_many_pass(n)) add(n, false);
      }
    } else if (std::find(known.begin(), known.end(), name) == known.end()) {
      throw Error("--methods: unknown method '{}'; known methods: {} (or all)", name, fmt::join(known, ", "));
    } else {
      add(name, true);
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace pn::cli
