#include "pn/nn/model_io.h"

#include "pn/core/error.h"
#include "pn/core/finite.h"
#include "pn/io/safetensors.h"
#include "pn/nn/builders.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>
#include <vector>

namespace pn::nn {
namespace {

// file tensor name -> (layer name, "weight"|"bias")
using NameMap = std::map<std::string, std::pair<std::string, std::string>>;

NameMap patternnet_names(const Sequential& m) {
  NameMap map;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const auto& s = m.layer(i).spec;
    if (!s.has_params()) continue;
    map[s.name + ".weight"] = {s.name, "weight"};
    map[s.name + ".bias"] = {s.name, "bias"};
  }
  return map;
}

// torchvision and timm both number VGG-16's feature layers as features.0 ... features.30, counting
// every conv, ReLU and pool: the convolutions sit at 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28.
NameMap vgg16_names(const Sequential& m, bool timm) {
  NameMap map;
  int torch_index = 0;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const auto& s = m.layer(i).spec;
    if (s.kind == Kind::flatten) break;
    if (s.kind == Kind::conv2d) {
      map[fmt::format("features.{}.weight", torch_index)] = {s.name, "weight"};
      map[fmt::format("features.{}.bias", torch_index)] = {s.name, "bias"};
    }
    ++torch_index;
  }
  const char* fc[3][2] = {{"classifier.0", "pre_logits.fc1"}, {"classifier.3", "pre_logits.fc2"}, {"classifier.6", "head.fc"}};
  const char* ours[3] = {"fc6", "fc7", "fc8"};
  for (int k = 0; k < 3; ++k) {
    map[fmt::format("{}.weight", fc[k][timm])] = {ours[k], "weight"};
    map[fmt::format("{}.bias", fc[k][timm])] = {ours[k], "bias"};
  }
  return map;
}

// Binds the file's tensors to the model's parameters through map; everything must match.
void bind_tensors(Sequential& m, const io::SafetensorsReader& f, const NameMap& map, const std::string& naming) {
  std::vector<std::string> missing, extra, bad;
  std::set<std::string> used;
  for (const auto& [file_name, target] : map) {
    if (!f.contains(file_name)) missing.push_back(file_name);
  }
  for (const auto& e : f.entries()) {
    if (!map.count(e.name)) extra.push_back(e.name);
  }
  if (!missing.empty() || !extra.empty()) {
    std::string msg = fmt::format("'{}' does not match the model ({} naming):", f.path(), naming);
    if (!missing.empty()) msg += fmt::format(" missing tensors [{}]", fmt::join(missing, ", "));
    if (!extra.empty()) msg += fmt::format("{} unexpected tensors [{}]", missing.empty() ? "" : ";", fmt::join(extra, ", "));
    throw Error("{}", msg);
  }
  for (const auto& [file_name, target] : map) {
    const auto idx = m.find(target.first);
    Layer& layer = m.layer(*idx);
    ag::Var& dst = target.second == "weight" ? layer.weight : layer.bias;
    const Shape want = dst.value().shape();
    const auto* e = f.find(file_name);
    // A dense layer stored as a convolution over the whole map (timm's pre_logits.fc1 is a 7x7
    // conv, fc2 a 1x1 conv) has the same numbers: (O, C, kH, kW) flattens in the (C, H, W) order
    // of the flatten layer in front of our dense layer.
    if (e->shape != want && !(e->shape.numel() == want.numel() && want.rank() == 2 && e->shape.rank() == 4 &&
                              e->shape[0] == want[0])) {
      bad.push_back(fmt::format("{} is {} but {}.{} needs {}", file_name, e->shape, target.first, target.second, want));
      continue;
    }
    dst.mutable_value() = Tensor();  // the placeholder goes first: fc6's would double 411 MB while loading
    dst.mutable_value() = f.load(file_name).reshaped(want);
    require_finite(dst.value(), fmt::format("'{}': tensor '{}'", f.path(), file_name));
  }
  if (!bad.empty()) throw Error("'{}': mis-shaped tensors: {}", f.path(), fmt::join(bad, "; "));
}

}  // namespace

void save_model(const std::string& path, const Sequential& model, const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> meta = extra;
  meta[kArchitectureKey] = model.architecture_json();
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const auto& l = model.layer(i);
    if (!l.spec.has_params()) continue;
    tensors.emplace_back(l.spec.name + ".weight", &l.weight.value());
    tensors.emplace_back(l.spec.name + ".bias", &l.bias.value());
  }
  io::write_safetensors(path, tensors, meta);
}

Sequential load_model(const std::string& path, const std::string& arch) {
  io::SafetensorsReader f(path);
  if (arch.empty()) {
    const auto it = f.metadata().find(kArchitectureKey);
    if (it == f.metadata().end()) {
      throw Error("'{}' carries no {} metadata, so it does not say which network it holds; pass --arch "
                  "(e.g. --arch vgg16 for a torchvision or timm VGG-16)",
                  path, kArchitectureKey);
    }
    Sequential m = Sequential::from_architecture_json(it->second, path);
    bind_tensors(m, f, patternnet_names(m), "patternnet");
    return m;
  }
  if (f.metadata().count(kArchitectureKey)) {
    Sequential m = build_model(arch);
    Sequential stored = Sequential::from_architecture_json(f.metadata().at(kArchitectureKey), path);
    if (stored.architecture_json() != m.architecture_json()) {
      throw Error("'{}' holds a different network than --arch {} (its pn.architecture differs)", path, arch);
    }
    bind_tensors(m, f, patternnet_names(m), "patternnet");
    return m;
  }
  if (arch != "vgg16") {
    Sequential m = build_model(arch);
    bind_tensors(m, f, patternnet_names(m), "patternnet");
    return m;
  }
  // The topology is VGG-16's; the widths are read from the file (features.0 has 64 filters in the
  // real network, fewer in a narrowed test copy) and so is the number of classes.
  const bool timm = f.contains("head.fc.weight") || f.contains("pre_logits.fc1.weight");
  const bool ours = f.contains("conv1_1.weight");
  const auto* first = f.find(ours ? "conv1_1.weight" : "features.0.weight");
  const auto* last = f.find(ours ? "fc8.weight" : (timm ? "head.fc.weight" : "classifier.6.weight"));
  std::int64_t div = 1, classes = 1000;
  if (first && last && first->shape.rank() == 4 && last->shape.rank() == 2 && first->shape[0] > 0 &&
      64 % first->shape[0] == 0) {
    div = 64 / first->shape[0];
    classes = last->shape[0];
  }
  Sequential m = build_vgg16(div, classes);
  if (ours) {
    bind_tensors(m, f, patternnet_names(m), "patternnet");
  } else {
    bind_tensors(m, f, vgg16_names(m, timm), timm ? "timm vgg16" : "torchvision vgg16");
  }
  return m;
}

}  // namespace pn::nn
