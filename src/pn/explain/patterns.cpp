#include "pn/explain/patterns.h"

#include "pn/core/error.h"
#include "pn/core/finite.h"
#include "pn/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <map>

namespace pn::explain {

const LayerPatterns* Patterns::find(const std::string& layer) const {
  for (const auto& l : layers)
    if (l.layer == layer) return &l;
  return nullptr;
}

void save_patterns(const std::string& path, const Patterns& p) {
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  const bool two = p.estimator == Estimator::two_component;
  for (const auto& l : p.layers) {
    layers.push_back({{"name", l.layer},
                      {"shape", std::vector<std::int64_t>(l.a.shape().begin(), l.a.shape().end())},
                      {"rows", l.rows},
                      {"dead", l.report.dead},
                      {"dead_negative", l.report.dead_negative},
                      {"max_constraint_error", l.report.max_constraint_error}});
    if (two) {
      tensors.emplace_back(l.layer + ".a_pos", &l.a);
      tensors.emplace_back(l.layer + ".a_neg", &l.a_negative);
    } else {
      tensors.emplace_back(l.layer + ".a", &l.a);
    }
  }
  std::map<std::string, std::string> meta = {{"pn.estimator", estimator_name(p.estimator)},
                                              {"pn.model_fingerprint", p.model_fingerprint},
                                              {"pn.layers", layers.dump()}};
  if (!p.preprocess.empty()) meta["pn.preprocess"] = p.preprocess;
  io::write_safetensors(path, tensors, meta);
}

Patterns load_patterns(const std::string& path) {
  io::SafetensorsReader f(path);
  const auto& meta = f.metadata();
  for (const char* key : {"pn.estimator", "pn.model_fingerprint", "pn.layers"}) {
    if (!meta.count(key)) throw Error("'{}' is not a patterns file: its metadata lacks \"{}\"", path, key);
  }
  Patterns p;
  p.estimator = estimator_from_name(meta.at("pn.estimator"));
  p.model_fingerprint = meta.at("pn.model_fingerprint");
  if (const auto it = meta.find("pn.preprocess"); it != meta.end()) p.preprocess = it->second;
  nlohmann::json layers;
  try {
    layers = nlohmann::json::parse(meta.at("pn.layers"));
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw Error("'{}': pn.layers is not valid JSON ({})", path, e.what());
  }
  if (!layers.is_array()) throw Error("'{}': pn.layers must be a list", path);
  const bool two = p.estimator == Estimator::two_component;
  for (const auto& l : layers) {
    if (!l.is_object() || !l.contains("name") || !l["name"].is_string()) throw Error("'{}': a pn.layers entry lacks its name", path);
    LayerPatterns lp;
    lp.layer = l["name"].get<std::string>();
    try {
      lp.rows = l.value("rows", 0.0);
      lp.report.dead = l.value("dead", std::int64_t{0});
      lp.report.dead_negative = l.value("dead_negative", std::int64_t{0});
      lp.report.max_constraint_error = l.value("max_constraint_error", 0.0);
    } catch (const nlohmann::json::exception& e) {  // e.g. "dead": "many"
      throw Error("'{}': pn.layers entry '{}' has a field of the wrong type ({})", path, lp.layer, e.what());
    }
    lp.a = f.load(lp.layer + (two ? ".a_pos" : ".a"));
    if (two) lp.a_negative = f.load(lp.layer + ".a_neg");
    require_finite(lp.a, fmt::format("'{}': the pattern of layer '{}'", path, lp.layer));
    if (two) require_finite(lp.a_negative, fmt::format("'{}': the negative pattern of layer '{}'", path, lp.layer));
    lp.report.neurons = lp.a.rank() > 0 ? lp.a.dim(0) : 0;
    p.layers.push_back(std::move(lp));
  }
  return p;
}

void check_patterns_match(const Patterns& p, const nn::Sequential& model, const std::string& source) {
  const std::string fp = model.fingerprint();
  if (p.model_fingerprint != fp) {
    throw Error("'{}' holds patterns for another model (fingerprint {}, this model is {}); fit patterns for this model "
                "with `patternnet fit-patterns`",
                source, p.model_fingerprint, fp);
  }
  for (std::size_t i = 0; i < model.size(); ++i) {
    const auto& l = model.layer(i);
    if (!l.spec.has_params()) continue;
    const LayerPatterns* lp = p.find(l.spec.name);
    if (!lp) throw Error("'{}' has no pattern for layer '{}'", source, l.spec.name);
    if (lp->a.shape() != l.weight.shape()) {
      throw Error("'{}': the pattern of layer '{}' is {} but its weight is {}", source, l.spec.name, lp->a.shape(), l.weight.shape());
    }
  }
}

void release_negative_patterns(Patterns& patterns) {
  for (LayerPatterns& l : patterns.layers) l.a_negative = Tensor();
}

}  // namespace pn::explain
