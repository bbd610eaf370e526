#include "pn/nn/sequential.h"

#include "pn/autograd/ops.h"
#include "pn/core/error.h"
#include "pn/core/finite.h"
#include "pn/core/hash.h"
#include "pn/ops/ops.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

namespace pn::nn {

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::linear: return "linear";
    case Kind::conv2d: return "conv2d";
    case Kind::relu: return "relu";
    case Kind::maxpool2d: return "maxpool2d";
    case Kind::avgpool2d: return "avgpool2d";
    case Kind::flatten: return "flatten";
    case Kind::dropout: return "dropout";
  }
  return "?";
}

Kind kind_from_name(const std::string& name) {
  for (Kind k : {Kind::linear, Kind::conv2d, Kind::relu, Kind::maxpool2d, Kind::avgpool2d, Kind::flatten, Kind::dropout}) {
    if (name == kind_name(k)) return k;
  }
  throw Error("unknown layer type '{}' (known: linear, conv2d, relu, maxpool2d, avgpool2d, flatten, dropout)", name);
}

namespace {

// Output shape of one sample, checking that the layer fits its input.
Shape infer_shape(const LayerSpec& l, const Shape& in) {
  const auto need_image = [&] {
    if (in.rank() != 3) throw Error("layer '{}' ({}) needs an image input (C, H, W), got {}", l.name, kind_name(l.kind), in);
  };
  switch (l.kind) {
    case Kind::linear:
      if (in.rank() != 1) throw Error("layer '{}' (linear) needs a vector input; got {} (add a flatten layer before it)", l.name, in);
      if (in[0] != l.in) throw Error("layer '{}' (linear) expects {} input features, the previous layer gives {}", l.name, l.in, in[0]);
      if (l.out <= 0) throw Error("layer '{}' (linear): out_features must be positive, got {}", l.name, l.out);
      return Shape{l.out};
    case Kind::conv2d: {
      need_image();
      if (in[0] != l.in) throw Error("layer '{}' (conv2d) expects {} input channels, the previous layer gives {}", l.name, l.in, in[0]);
      if (l.out <= 0 || l.kernel <= 0 || l.stride <= 0 || l.padding < 0) {
        throw Error("layer '{}' (conv2d): out_channels {}, kernel {}, stride {}, padding {} are not all valid", l.name,
                    l.out, l.kernel, l.stride, l.padding);
      }
      const Shape y = ops::conv2d_output_shape(Shape{1, in[0], in[1], in[2]}, Shape{l.out, l.in, l.kernel, l.kernel},
                                               ops::Conv2dSpec{l.stride, l.padding});
      return Shape{y[1], y[2], y[3]};
    }
    case Kind::maxpool2d:
    case Kind::avgpool2d: {
      need_image();
      const Shape y = ops::pool_output_shape(Shape{1, in[0], in[1], in[2]}, ops::PoolSpec{l.kernel, l.stride}, kind_name(l.kind));
      return Shape{y[1], y[2], y[3]};
    }
    case Kind::flatten: return Shape{in.numel()};
    case Kind::relu:
    case Kind::dropout:
      if (l.kind == Kind::dropout && !(l.p >= 0.0f && l.p < 1.0f)) throw Error("layer '{}' (dropout): p must be in [0, 1), got {}", l.name, l.p);
      return in;
  }
  return in;
}

}  // namespace

Sequential::Sequential(Shape input, std::vector<LayerSpec> specs) : input_(input) {
  if (input.rank() != 1 && input.rank() != 3) throw Error("model input must be (C, H, W) or (D), got {}", input);
  std::set<std::string> names;
  Shape cur = input;
  for (auto& spec : specs) {
    if (spec.name.empty()) throw Error("layer {} has no name", layers_.size());
    if (!names.insert(spec.name).second) throw Error("layer name '{}' is used twice", spec.name);
    cur = infer_shape(spec, cur);
    Layer layer{spec, {}, {}};
    if (spec.kind == Kind::linear) {
      layer.weight = ag::Var::parameter(Tensor::zeros(Shape{spec.out, spec.in}));
      layer.bias = ag::Var::parameter(Tensor::zeros(Shape{spec.out}));
    } else if (spec.kind == Kind::conv2d) {
      layer.weight = ag::Var::parameter(Tensor::zeros(Shape{spec.out, spec.in, spec.kernel, spec.kernel}));
      layer.bias = ag::Var::parameter(Tensor::zeros(Shape{spec.out}));
    }
    layers_.push_back(std::move(layer));
    out_shapes_.push_back(cur);
  }
}

std::optional<std::size_t> Sequential::find(const std::string& name) const {
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i].spec.name == name) return i;
  return std::nullopt;
}

std::int64_t Sequential::num_classes() const { return out_shapes_.empty() ? input_.numel() : out_shapes_.back().numel(); }

void Sequential::check_input(const Tensor& x, const char* what) const {
  if (x.rank() != input_.rank() + 1) {
    throw Error("{}: the model expects input of shape (N, {}), got {}", what,
                input_.str().substr(1, input_.str().size() - 2), x.shape());
  }
  for (int i = 0; i < input_.rank(); ++i) {
    if (x.dim(i + 1) != input_[i]) {
      throw Error("{}: the model expects input of shape (N, {}), got {}", what,
                  input_.str().substr(1, input_.str().size() - 2), x.shape());
    }
  }
}

Tensor Sequential::forward(const Tensor& x, Trace* trace) const {
  check_input(x, "forward");
  if (trace) {
    trace->layers.clear();
    trace->layers.resize(layers_.size());
  }
  Tensor cur = x.clone();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    Tensor next;
    std::vector<std::int32_t> switches;
    switch (l.spec.kind) {
      case Kind::linear: next = ops::linear_forward(cur, l.weight.value(), &l.bias.value()); break;
      case Kind::conv2d:
        next = ops::conv2d_forward(cur, l.weight.value(), &l.bias.value(), ops::Conv2dSpec{l.spec.stride, l.spec.padding});
        break;
      case Kind::relu: next = ops::relu_forward(cur); break;
      case Kind::maxpool2d: {
        auto r = ops::maxpool2d_forward(cur, ops::PoolSpec{l.spec.kernel, l.spec.stride});
        next = std::move(r.y);
        switches = std::move(r.argmax);
        break;
      }
      case Kind::avgpool2d: next = ops::avgpool2d_forward(cur, ops::PoolSpec{l.spec.kernel, l.spec.stride}); break;
      case Kind::flatten: next = cur.clone().reshaped(Shape{cur.dim(0), cur.numel() / std::max<std::int64_t>(1, cur.dim(0))}); break;
      case Kind::dropout: next = cur.clone(); break;  // inference: identity
    }
    if (trace) {
      trace->layers[i].input = std::move(cur);
      trace->layers[i].switches = std::move(switches);
    }
    cur = std::move(next);
  }
  if (trace) trace->output = cur.clone();
  return cur;
}

void Sequential::check_finite(const Trace& trace, const char* what) const {
  if (trace.layers.size() != layers_.size()) throw Error("{}: the trace has {} layers, the model {}", what, trace.layers.size(), layers_.size());
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Tensor& out = i + 1 < layers_.size() ? trace.layers[i + 1].input : trace.output;
    if (const std::int64_t at = find_non_finite(out); at >= 0) {
      const bool input_finite = find_non_finite(trace.layers[i].input) < 0;
      throw Error("{}: the forward pass turned {} into {} in layer '{}' (element {} of its output {}); the weights or the "
                  "input's scale overflow float32",
                  what, i == 0 && !input_finite ? "a non-finite input" : "finite values", out.data()[at], layers_[i].spec.name, at,
                  out.shape());
    }
  }
}

ag::Var Sequential::forward(const ag::Var& x, bool training, Rng* rng) const {
  check_input(x.value(), "forward");
  ag::Var cur = x;
  for (const Layer& l : layers_) {
    switch (l.spec.kind) {
      case Kind::linear: cur = ag::linear(cur, l.weight, l.bias); break;
      case Kind::conv2d: cur = ag::conv2d(cur, l.weight, l.bias, ops::Conv2dSpec{l.spec.stride, l.spec.padding}); break;
      case Kind::relu: cur = ag::relu(cur); break;
      case Kind::maxpool2d: cur = ag::maxpool2d(cur, ops::PoolSpec{l.spec.kernel, l.spec.stride}); break;
      case Kind::avgpool2d: cur = ag::avgpool2d(cur, ops::PoolSpec{l.spec.kernel, l.spec.stride}); break;
      case Kind::flatten: cur = ag::flatten(cur); break;
      case Kind::dropout: cur = ag::dropout(cur, l.spec.p, training, rng); break;
    }
  }
  return cur;
}

std::vector<ag::Var> Sequential::parameters() const {
  std::vector<ag::Var> p;
  for (const Layer& l : layers_) {
    if (l.spec.has_params()) {
      p.push_back(l.weight);
      p.push_back(l.bias);
    }
  }
  return p;
}

std::int64_t Sequential::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& v : parameters()) n += v.value().numel();
  return n;
}

void Sequential::zero_grad() {
  for (auto& v : parameters()) v.zero_grad();
}

void Sequential::init(Rng& rng) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = layers_[i];
    if (!l.spec.has_params()) continue;
    // Is the next non-shape layer a ReLU? Then He init keeps the activation variance constant.
    bool relu_after = false;
    for (std::size_t j = i + 1; j < layers_.size(); ++j) {
      const Kind k = layers_[j].spec.kind;
      if (k == Kind::flatten || k == Kind::dropout) continue;
      relu_after = k == Kind::relu;
      break;
    }
    const Tensor& w = l.weight.value();
    const std::int64_t fan_out = w.dim(0);
    const std::int64_t fan_in = w.numel() / fan_out;
    Tensor& wm = l.weight.mutable_value();
    if (relu_after) {
      rng.fill_normal(wm.values(), 0.0f, static_cast<float>(std::sqrt(2.0 / static_cast<double>(fan_in))));
    } else {
      const std::int64_t receptive = l.spec.kind == Kind::conv2d ? l.spec.kernel * l.spec.kernel : 1;
      const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out * receptive));
      rng.fill_uniform(wm.values(), static_cast<float>(-limit), static_cast<float>(limit));
    }
    l.bias.mutable_value().fill(0.0f);
  }
}

std::string Sequential::architecture_json() const {
  nlohmann::ordered_json j;
  j["input"] = std::vector<std::int64_t>(input_.begin(), input_.end());
  j["layers"] = nlohmann::ordered_json::array();
  for (const Layer& l : layers_) {
    nlohmann::ordered_json o;
    o["name"] = l.spec.name;
    o["type"] = kind_name(l.spec.kind);
    switch (l.spec.kind) {
      case Kind::conv2d:
        o["in_channels"] = l.spec.in;
        o["out_channels"] = l.spec.out;
        o["kernel"] = l.spec.kernel;
        o["stride"] = l.spec.stride;
        o["padding"] = l.spec.padding;
        break;
      case Kind::linear:
        o["in_features"] = l.spec.in;
        o["out_features"] = l.spec.out;
        break;
      case Kind::maxpool2d:
      case Kind::avgpool2d:
        o["kernel"] = l.spec.kernel;
        o["stride"] = l.spec.stride;
        break;
      case Kind::dropout: o["p"] = l.spec.p; break;
      case Kind::relu:
      case Kind::flatten: break;
    }
    j["layers"].push_back(o);
  }
  return j.dump();
}

namespace {

// Limits of a pn.architecture read from a file, checked before any parameter is allocated. VGG-16,
// the largest network of the paper, has 39 layers, 138M parameters (2^27.04) and at most 3.2M
// values per sample after a layer; each limit leaves it room while keeping what a few bytes of
// hostile JSON can make the reader allocate to 1 GiB.
constexpr std::size_t kMaxArchitectureLayers = 1024;
constexpr std::int64_t kMaxArchitectureParameters = std::int64_t{1} << 28;
constexpr std::int64_t kMaxArchitectureActivation = std::int64_t{1} << 28;  // values per sample

// A JSON value for an error message: scalars as written (cut when long), containers by kind and
// size. dump() of a container would quote arbitrarily much text and recurse once per nesting level.
std::string describe(const nlohmann::json& v) {
  if (v.is_structured()) return fmt::format("{} of {} entries", v.type_name(), v.size());
  std::string s = v.dump();
  if (s.size() > 64) s = s.substr(0, 64) + "...";
  return s;
}

}  // namespace

Sequential Sequential::from_architecture_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw Error("{}: pn.architecture is not valid JSON ({})", source, e.what());
  }
  if (!j.is_object() || !j.contains("input") || !j.contains("layers")) {
    throw Error("{}: pn.architecture must be an object with \"input\" and \"layers\"", source);
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "input" && it.key() != "layers") throw Error("{}: pn.architecture has an unknown key '{}'", source, it.key());
  }
  const auto get_int = [&](const nlohmann::json& o, const char* key, const std::string& layer) -> std::int64_t {
    if (!o.contains(key)) throw Error("{}: layer '{}' lacks \"{}\"", source, layer, key);
    const auto& v = o.at(key);
    // An unsigned value above 2^63 would turn negative in get<int64_t>(): test it unsigned first.
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > (std::uint64_t{1} << 31)) ||
        v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > (std::int64_t{1} << 31)) {
      throw Error("{}: layer '{}': \"{}\" must be an integer in 0..2^31, got {}", source, layer, key, describe(v));
    }
    return v.get<std::int64_t>();
  };
  const nlohmann::json& in_json = j.at("input");
  if (!in_json.is_array() || (in_json.size() != 1 && in_json.size() != 3)) {
    throw Error("{}: \"input\" must be [C, H, W] or [D], got {}", source, describe(in_json));
  }
  Shape input;
  for (const auto& d : in_json) {
    if (!d.is_number_integer() || d.get<std::int64_t>() <= 0 || d.get<std::int64_t>() > (1 << 20)) {
      throw Error("{}: \"input\" dimensions must be integers in 1..2^20, got {}", source, describe(d));
    }
    input.push_back(d.get<std::int64_t>());
  }
  if (input.numel() > kMaxArchitectureActivation) {
    throw Error("{}: \"input\" {} has {} values per sample, more than the limit of {}", source, input, input.numel(),
                kMaxArchitectureActivation);
  }
  const nlohmann::json& layers = j.at("layers");
  if (!layers.is_array()) throw Error("{}: \"layers\" must be an array", source);
  if (layers.size() > kMaxArchitectureLayers) {
    throw Error("{}: {} layers, more than the limit of {}", source, layers.size(), kMaxArchitectureLayers);
  }
  std::vector<LayerSpec> specs;
  std::int64_t param_count = 0;
  for (const auto& o : layers) {
    if (!o.is_object() || !o.contains("name") || !o["name"].is_string() || !o.contains("type") || !o["type"].is_string()) {
      throw Error("{}: every layer needs a string \"name\" and \"type\", got {}", source, describe(o));
    }
    LayerSpec s;
    s.name = o["name"].get<std::string>();
    try {
      s.kind = kind_from_name(o["type"].get<std::string>());
    } catch (const Error& e) {
      throw Error("{}: layer '{}': {}", source, s.name, e.what());
    }
    std::set<std::string> allowed = {"name", "type"};
    switch (s.kind) {
      case Kind::conv2d:
        allowed.insert({"in_channels", "out_channels", "kernel", "stride", "padding"});
        s.in = get_int(o, "in_channels", s.name);
        s.out = get_int(o, "out_channels", s.name);
        s.kernel = get_int(o, "kernel", s.name);
        s.stride = o.contains("stride") ? get_int(o, "stride", s.name) : 1;
        s.padding = o.contains("padding") ? get_int(o, "padding", s.name) : 0;
        break;
      case Kind::linear:
        allowed.insert({"in_features", "out_features"});
        s.in = get_int(o, "in_features", s.name);
        s.out = get_int(o, "out_features", s.name);
        break;
      case Kind::maxpool2d:
      case Kind::avgpool2d:
        allowed.insert({"kernel", "stride"});
        s.kernel = get_int(o, "kernel", s.name);
        s.stride = o.contains("stride") ? get_int(o, "stride", s.name) : s.kernel;
        break;
      case Kind::dropout: {
        allowed.insert("p");
        if (!o.contains("p") || !o["p"].is_number()) throw Error("{}: layer '{}' (dropout) needs a number \"p\"", source, s.name);
        // Range-checked before narrowing to float, so the message quotes the file's value.
        const double p = o["p"].get<double>();
        if (!(p >= 0.0 && p < 1.0)) throw Error("{}: layer '{}' (dropout): p must be in [0, 1), got {}", source, s.name, p);
        s.p = static_cast<float>(p);
        break;
      }
      case Kind::relu:
      case Kind::flatten: break;
    }
    for (auto it = o.begin(); it != o.end(); ++it) {
      if (!allowed.count(it.key())) {
        throw Error("{}: layer '{}' ({}) has an unknown key '{}'", source, s.name, kind_name(s.kind), it.key());
      }
    }
    // The parameters are allocated when the network is built: count them first, without overflow
    // (each factor is at most 2^31, and the running total stays below the limit).
    if (s.has_params()) {
      const std::string what = fmt::format("{}: layer '{}' parameter count", source, s.name);
      std::int64_t count = checked_mul(s.out, s.in, what.c_str());
      if (s.kind == Kind::conv2d) count = checked_mul(count, checked_mul(s.kernel, s.kernel, what.c_str()), what.c_str());
      if (count > kMaxArchitectureParameters - param_count - s.out) {
        throw Error("{}: layer '{}' brings the parameter count past the limit of {}", source, s.name,
                    kMaxArchitectureParameters);
      }
      param_count += count + s.out;  // weight and bias
    }
    specs.push_back(s);
  }
  Sequential m;
  try {
    m = Sequential(input, std::move(specs));
  } catch (const Error& e) {
    throw Error("{}: {}", source, e.what());
  }
  // Activations are allocated per forward pass, batch times these sizes: bound them here, where the
  // file is named, rather than in an allocation failure later.
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m.output_shape(i).numel() > kMaxArchitectureActivation) {
      throw Error("{}: layer '{}' outputs {} = {} values per sample, more than the limit of {}", source,
                  m.layer(i).spec.name, m.output_shape(i), m.output_shape(i).numel(), kMaxArchitectureActivation);
    }
  }
  return m;
}

std::string Sequential::fingerprint() const {
  Hasher h;
  for (char c : architecture_json()) h.add_u64(static_cast<unsigned char>(c));
  for (const auto& v : parameters()) h.add(v.value().data(), static_cast<std::size_t>(v.value().numel()) * sizeof(float));
  return h.hex();
}

}  // namespace pn::nn
