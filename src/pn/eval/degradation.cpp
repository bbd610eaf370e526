#include "pn/eval/degradation.h"

#include "pn/core/error.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>

namespace pn::eval {
namespace {

struct ImageDims {
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t numel() const { return channels * height * width; }
};

// (C, H, W) of one image, or of each sample of an (N, C, H, W) batch.
ImageDims image_dims(const Tensor& t, int rank, const char* op, const char* what) {
  if (t.rank() != rank) {
    throw Error("{}: expected {} of rank {} ({}), got shape {}", op, what, rank, rank == 3 ? "C, H, W" : "N, C, H, W", t.shape());
  }
  const int o = rank - 3;
  return {t.dim(o), t.dim(o + 1), t.dim(o + 2)};
}

void scores_into(const float* r, const ImageDims& d, const PatchGrid& g, std::vector<double>& s) {
  s.assign(static_cast<std::size_t>(g.count()), 0.0);
  for (std::int64_t c = 0; c < d.channels; ++c) {
    for (std::int64_t h = 0; h < d.height; ++h) {
      // Integer division maps a pixel to its patch; the remainder pixels fall into the last,
      // narrower patch of their row / column (ceil(H / p) rows of patches).
      double* row = s.data() + (h / g.patch) * g.cols;
      const float* src = r + (c * d.height + h) * d.width;
      for (std::int64_t w = 0; w < d.width; ++w) row[w / g.patch] += static_cast<double>(src[w]);
    }
  }
}

// Requires order[0 .. n) to be distinct patch indices of a grid with `count` patches.
void check_order(std::span<const std::int64_t> order, std::int64_t n, std::int64_t count, const char* op) {
  if (n < 0 || n > static_cast<std::int64_t>(order.size())) {
    throw Error("{}: cannot replace {} patches with an order of {} patches", op, n, order.size());
  }
  std::vector<char> seen(static_cast<std::size_t>(count), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t k = order[static_cast<std::size_t>(i)];
    if (k < 0 || k >= count) throw Error("{}: patch index {} at position {} is outside the grid's {} patches", op, k, i, count);
    if (seen[static_cast<std::size_t>(k)]) throw Error("{}: patch {} is listed twice among the first {} of the order", op, k, n);
    seen[static_cast<std::size_t>(k)] = 1;
  }
}

// Replaces patch `rect` of image (C, H, W) by its mean per channel; the pixels outside the
// rectangle are not touched. Returns whether any value changed bit-wise (a constant patch already
// equals its mean, so replacing it is a no-op).
bool replace_patch(float* img, const ImageDims& d, const PatchRect& rect) {
  bool changed = false;
  const double pixels = static_cast<double>(rect.pixels());
  for (std::int64_t c = 0; c < d.channels; ++c) {
    float* plane = img + c * d.height * d.width;
    double sum = 0.0;
    for (std::int64_t h = rect.row0; h < rect.row1; ++h) {
      for (std::int64_t w = rect.col0; w < rect.col1; ++w) sum += static_cast<double>(plane[h * d.width + w]);
    }
    const float mean = static_cast<float>(sum / pixels);
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(mean);
    for (std::int64_t h = rect.row0; h < rect.row1; ++h) {
      for (std::int64_t w = rect.col0; w < rect.col1; ++w) {
        float& v = plane[h * d.width + w];
        changed = changed || std::bit_cast<std::uint32_t>(v) != bits;
        v = mean;
      }
    }
  }
  return changed;
}

std::int64_t argmax(std::span<const float> row) {
  std::int64_t best = 0;
  for (std::size_t j = 1; j < row.size(); ++j) {
    if (row[j] > row[static_cast<std::size_t>(best)]) best = static_cast<std::int64_t>(j);
  }
  return best;
}

}  // namespace

PatchRect PatchGrid::rect(std::int64_t k) const {
  if (k < 0 || k >= count()) throw Error("patch index {} is outside the grid's {} x {} patches", k, rows, cols);
  const std::int64_t r = k / cols, c = k % cols;
  return {r * patch, std::min(height, (r + 1) * patch), c * patch, std::min(width, (c + 1) * patch)};
}

PatchGrid patch_grid(std::int64_t height, std::int64_t width, std::int64_t patch) {
  if (height < 1 || width < 1) throw Error("patch grid: the image must be at least 1 x 1 pixels, got {} x {}", height, width);
  if (patch < 1 || patch > std::min(height, width)) {
    throw Error("--patch {} must be between 1 and the image's smaller side ({} x {} pixels)", patch, height, width);
  }
  return {height, width, patch, (height + patch - 1) / patch, (width + patch - 1) / patch};
}

std::vector<double> patch_scores(const Tensor& attribution, std::int64_t patch) {
  const ImageDims d = image_dims(attribution, 3, "patch_scores", "an attribution");
  const PatchGrid g = patch_grid(d.height, d.width, patch);
  std::vector<double> s;
  scores_into(attribution.data(), d, g, s);
  return s;
}

std::vector<double> patch_scores(const Tensor& attributions, std::int64_t sample, std::int64_t patch) {
  const ImageDims d = image_dims(attributions, 4, "patch_scores", "attributions");
  if (sample < 0 || sample >= attributions.dim(0)) {
    throw Error("patch_scores: sample {} is outside the batch of {} attributions", sample, attributions.dim(0));
  }
  const PatchGrid g = patch_grid(d.height, d.width, patch);
  std::vector<double> s;
  scores_into(attributions.data() + sample * d.numel(), d, g, s);
  return s;
}

std::vector<std::int64_t> order_by_score(std::span<const double> scores) {
  for (std::size_t k = 0; k < scores.size(); ++k) {
    if (std::isnan(scores[k])) throw Error("order_by_score: patch {} has a NaN score (is the attribution finite?)", k);
  }
  std::vector<std::int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::int64_t{0});
  // A strict weak order on (-score, index): deterministic whatever the sort's stability.
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const double sa = scores[static_cast<std::size_t>(a)], sb = scores[static_cast<std::size_t>(b)];
    return sa != sb ? sa > sb : a < b;
  });
  return order;
}

std::vector<std::int64_t> random_order(std::int64_t count, Rng& rng) {
  if (count < 0) throw Error("random_order: the patch count must be >= 0, got {}", count);
  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  // Fisher-Yates: position i takes a uniform pick among the not yet placed elements [0, i].
  for (std::int64_t i = count - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

std::vector<std::vector<std::int64_t>> orders_from_attributions(const Tensor& attributions, std::int64_t patch) {
  image_dims(attributions, 4, "orders_from_attributions", "attributions");
  std::vector<std::vector<std::int64_t>> orders;
  orders.reserve(static_cast<std::size_t>(attributions.dim(0)));
  for (std::int64_t i = 0; i < attributions.dim(0); ++i) orders.push_back(order_by_score(patch_scores(attributions, i, patch)));
  return orders;
}

// [book:perturb]
Tensor perturb(const Tensor& image, std::span<const std::int64_t> order, std::int64_t n, std::int64_t patch) {
  const ImageDims d = image_dims(image, 3, "perturb", "an image");
  const PatchGrid g = patch_grid(d.height, d.width, patch);
  check_order(order, n, g.count(), "perturb");
  Tensor out = image.clone();
  // Patches are disjoint, so each one's mean is that of the clean image whatever was replaced
  // before it.
  for (std::int64_t i = 0; i < n; ++i) replace_patch(out.data(), d, g.rect(order[static_cast<std::size_t>(i)]));
  return out;
}
// [/book:perturb]

double softmax_probability(std::span<const float> logits, std::int64_t t) {
  if (t < 0 || t >= static_cast<std::int64_t>(logits.size())) {
    throw Error("softmax_probability: class {} is outside the {} outputs", t, logits.size());
  }
  const double m = static_cast<double>(*std::max_element(logits.begin(), logits.end()));
  double z = 0.0;
  for (float v : logits) z += std::exp(static_cast<double>(v) - m);
  return std::exp(static_cast<double>(logits[static_cast<std::size_t>(t)]) - m) / z;
}

// [book:aopc]
double aopc(std::span<const double> mean_probability) {
  if (mean_probability.empty()) throw Error("aopc: the curve has no points (not even n = 0)");
  const std::size_t steps = mean_probability.size() - 1;
  if (steps == 0) return 0.0;
  double s = 0.0;
  for (std::size_t n = 1; n <= steps; ++n) s += mean_probability[0] - mean_probability[n];
  return s / static_cast<double>(steps);
}
// [/book:aopc]

std::vector<double> Curve::mean_probability() const {
  if (images() == 0) throw Error("degradation curve: no images to average over");
  const auto w = static_cast<std::size_t>(steps + 1);
  std::vector<double> m(w, 0.0);
  for (std::size_t i = 0; i < original_class.size(); ++i) {
    for (std::size_t n = 0; n < w; ++n) m[n] += probability[i * w + n];
  }
  for (double& v : m) v /= static_cast<double>(images());
  return m;
}

std::vector<double> Curve::still_original() const {
  if (images() == 0) throw Error("degradation curve: no images to average over");
  const auto w = static_cast<std::size_t>(steps + 1);
  std::vector<double> m(w, 0.0);
  for (std::size_t i = 0; i < original_class.size(); ++i) {
    for (std::size_t n = 0; n < w; ++n) m[n] += original[i * w + n];
  }
  for (double& v : m) v /= static_cast<double>(images());
  return m;
}

double Curve::aopc() const { return eval::aopc(mean_probability()); }

std::vector<double> Curve::aopc_per_image() const {
  const auto w = static_cast<std::size_t>(steps + 1);
  std::vector<double> a(original_class.size());
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = eval::aopc(std::span<const double>(probability).subspan(i * w, w));
  return a;
}

double Curve::noop_fraction() const {
  if (images() == 0 || steps == 0) return 0.0;
  const auto w = static_cast<std::size_t>(steps + 1);
  double wasted = 0;
  for (std::size_t i = 0; i < original_class.size(); ++i) {
    for (std::size_t n = 1; n < w; ++n) wasted += noop[i * w + n];
  }
  return wasted / (static_cast<double>(images()) * static_cast<double>(steps));
}

void Curve::append(const Curve& other) {
  if (images() == 0) steps = other.steps;
  if (other.steps != steps) throw Error("degradation curve: cannot append a curve of {} steps to one of {} steps", other.steps, steps);
  original_class.insert(original_class.end(), other.original_class.begin(), other.original_class.end());
  probability.insert(probability.end(), other.probability.begin(), other.probability.end());
  original.insert(original.end(), other.original.begin(), other.original.end());
  noop.insert(noop.end(), other.noop.begin(), other.noop.end());
}

Curve degradation_curve(const nn::Sequential& model, const Tensor& images, const std::vector<std::vector<std::int64_t>>& orders,
                        const DegradationOptions& opt) {
  const ImageDims d = image_dims(images, 4, "degradation_curve", "images");
  model.check_input(images, "degradation_curve");
  const std::int64_t count = images.dim(0);
  if (static_cast<std::int64_t>(orders.size()) != count) {
    throw Error("degradation_curve: {} patch orders for {} images", orders.size(), count);
  }
  if (opt.batch < 1) throw Error("degradation_curve: the batch size must be >= 1, got {}", opt.batch);
  const PatchGrid g = patch_grid(d.height, d.width, opt.patch);
  if (opt.steps < 0 || opt.steps > g.count()) {
    throw Error("--steps {} must be between 0 and the {} patches of a {} x {} image with --patch {}", opt.steps, g.count(), d.height,
                d.width, opt.patch);
  }
  for (std::size_t i = 0; i < orders.size(); ++i) {
    if (static_cast<std::int64_t>(orders[i].size()) < opt.steps) {
      throw Error("degradation_curve: the order of image {} lists {} patches, fewer than --steps {}", i, orders[i].size(), opt.steps);
    }
    check_order(orders[i], opt.steps, g.count(), "degradation_curve");
  }

  Curve curve;
  curve.steps = opt.steps;
  const auto w = static_cast<std::size_t>(opt.steps + 1);
  curve.original_class.resize(static_cast<std::size_t>(count));
  curve.probability.assign(static_cast<std::size_t>(count) * w, 0.0);
  curve.original.assign(static_cast<std::size_t>(count) * w, 0);
  curve.noop.assign(static_cast<std::size_t>(count) * w, 0);
  const std::int64_t per = d.numel();
  const std::int64_t classes = model.num_classes();

  // Pending forward passes: slot s of the batch holds image i after n replacements.
  struct Slot {
    std::size_t image, step;
  };
  std::vector<Slot> slots;
  slots.reserve(static_cast<std::size_t>(opt.batch));
  Tensor batch(Shape{opt.batch, d.channels, d.height, d.width});
  const auto flush = [&](bool clean) {
    if (slots.empty()) return;
    const auto b = static_cast<std::int64_t>(slots.size());
    Tensor x(Shape{b, d.channels, d.height, d.width});
    std::memcpy(x.data(), batch.data(), static_cast<std::size_t>(b * per) * sizeof(float));
    const Tensor logits = model.forward(x);
    for (std::int64_t s = 0; s < b; ++s) {
      const Slot& slot = slots[static_cast<std::size_t>(s)];
      const std::span<const float> row(logits.data() + s * classes, static_cast<std::size_t>(classes));
      if (clean) curve.original_class[slot.image] = argmax(row);
      const std::int64_t t = curve.original_class[slot.image];
      curve.probability[slot.image * w + slot.step] = softmax_probability(row, t);
      curve.original[slot.image * w + slot.step] = argmax(row) == t ? 1 : 0;
    }
    slots.clear();
  };
  const auto push = [&](const float* img, std::size_t i, std::size_t n, bool clean) {
    std::memcpy(batch.data() + static_cast<std::int64_t>(slots.size()) * per, img, static_cast<std::size_t>(per) * sizeof(float));
    slots.push_back({i, n});
    if (static_cast<std::int64_t>(slots.size()) == opt.batch) flush(clean);
  };

  // n = 0: the clean images fix each one's original class t and p_i(0).
  for (std::int64_t i = 0; i < count; ++i) push(images.data() + i * per, static_cast<std::size_t>(i), 0, true);
  flush(true);

  // n = 1 .. steps, incrementally: x⁽ⁿ⁾ is x⁽ⁿ⁻¹⁾ with one more patch replaced. Steps that change
  // nothing are resolved after the forward passes from the step before them.
  std::vector<std::uint8_t>& unchanged = curve.noop;
  std::vector<float> work(static_cast<std::size_t>(per));
  for (std::int64_t i = 0; i < count; ++i) {
    std::memcpy(work.data(), images.data() + i * per, static_cast<std::size_t>(per) * sizeof(float));
    const auto ii = static_cast<std::size_t>(i);
    for (std::size_t n = 1; n < w; ++n) {
      if (replace_patch(work.data(), d, g.rect(orders[ii][n - 1]))) {
        push(work.data(), ii, n, false);
      } else {
        unchanged[ii * w + n] = 1;
      }
    }
  }
  flush(false);
  for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
    for (std::size_t n = 1; n < w; ++n) {
      if (!unchanged[i * w + n]) continue;
      curve.probability[i * w + n] = curve.probability[i * w + n - 1];
      curve.original[i * w + n] = curve.original[i * w + n - 1];
    }
  }
  return curve;
}

}  // namespace pn::eval
