// pn::eval: the image degradation experiment of the paper's Fig. 4 (spec §6), as a library.
//
// A heat map ranks the image's regions; the regions are destroyed in that order, most relevant
// first, and the network's confidence in its original answer is followed. A heat map that points
// at what the network really uses makes the confidence fall fast.
//
//   1. The image (C, H, W) is cut into non-overlapping p x p patches (PatchGrid).
//   2. Each patch scores s_k = Σ_c Σ_{(h,w) ∈ patch k} R[c, h, w], the signed sum of the
//      attribution R over its pixels and over the colour channels (patch_scores).
//   3. The patches are sorted by decreasing s_k (order_by_score); the baseline draws a uniformly
//      random order instead (random_order).
//   4. x⁽ⁿ⁾ is x with the first n patches of the order replaced, channel by channel, by the
//      patch's own mean: x⁽ⁿ⁾[c, h, w] = (1/|P_k|) Σ_{(h',w') ∈ P_k} x[c, h', w'] (perturb).
//   5. With t the arg-max class of the clean image, p_i(n) = softmax(f(x_i⁽ⁿ⁾))_t, and the curve
//      is its mean over images, for n = 0 .. steps (degradation_curve).
//   6. AOPC = (1/steps) Σ_{n=1..steps} (p̄(0) - p̄(n)), the area over the perturbation curve:
//      higher means a faster drop, i.e. a better ranking (Samek et al. 2017, without their n = 0
//      term, which is zero).
//
// The spec's [UNVERIFIED] choices and the ones made here:
//   - Border: when H or W is not a multiple of p (224 = 24·9 + 8), the last row / column of
//     patches is smaller and covers the remainder (at 224 and p = 9: 25 x 25 patches, the last
//     ones 8 pixels wide). iNNvestigate instead reflect-pads image and heat map to a multiple of p
//     and crops afterwards; the two agree wherever H and W are multiples of p (28, 32 with p = 4).
//     A smaller border patch also has a smaller score (a sum over fewer pixels), so it is ranked
//     later than a full patch of the same density.
//   - Channels: the score sums over the colour channels (a single heat map per image).
//   - Mean: the patch's own per-channel mean, in the network's input space (after
//     preprocessing), not the image-wide mean; computed in double, rounded once to float.
//   - y-axis: the raw soft-max probability, not normalised to p(0).
//   - Heat maps are computed once on the clean image, never recomputed after a step.
//   - Ties in the score keep the lower patch index first, so the order is deterministic.
#pragma once

#include "pn/core/rng.h"
#include "pn/core/tensor.h"
#include "pn/nn/sequential.h"

#include <cstdint>
#include <span>
#include <vector>

namespace pn::eval {

// Rectangle of one patch: rows [row0, row1), columns [col0, col1).
struct PatchRect {
  std::int64_t row0 = 0, row1 = 0, col0 = 0, col1 = 0;
  std::int64_t pixels() const { return (row1 - row0) * (col1 - col0); }
};

// The non-overlapping p x p tiling of an H x W image, patches numbered row-major
// (k = r · cols + c). rows = ceil(H / p), cols = ceil(W / p): a remainder forms a last, narrower
// row / column of patches (see the border choice above).
struct PatchGrid {
  std::int64_t height = 0, width = 0, patch = 0, rows = 0, cols = 0;
  std::int64_t count() const { return rows * cols; }
  PatchRect rect(std::int64_t k) const;
};

// Throws pn::Error unless height, width >= 1 and 1 <= patch <= min(height, width).
PatchGrid patch_grid(std::int64_t height, std::int64_t width, std::int64_t patch);

// s_k = Σ_c Σ_{(h,w) ∈ P_k} R[c, h, w] in double, for every patch k of the grid of R's H x W.
// attribution: one image (C, H, W), or sample `sample` of a batch (N, C, H, W).
std::vector<double> patch_scores(const Tensor& attribution, std::int64_t patch);
std::vector<double> patch_scores(const Tensor& attributions, std::int64_t sample, std::int64_t patch);

// Patch indices sorted by decreasing score, equal scores by increasing index. Throws pn::Error
// for a NaN score (it has no place in the order).
std::vector<std::int64_t> order_by_score(std::span<const double> scores);

// A uniformly random permutation of 0 .. count-1 (Fisher-Yates driven by rng).
std::vector<std::int64_t> random_order(std::int64_t count, Rng& rng);

// The ordering of every sample of a batch of attributions (N, C, H, W): order_by_score of its
// patch_scores.
std::vector<std::vector<std::int64_t>> orders_from_attributions(const Tensor& attributions, std::int64_t patch);

// x⁽ⁿ⁾: a copy of image (C, H, W) with patches order[0 .. n) replaced by their per-channel means;
// every other pixel is copied bit for bit. Throws pn::Error for n outside [0, order.size()], a
// patch index outside the grid or a patch listed twice among the first n.
Tensor perturb(const Tensor& image, std::span<const std::int64_t> order, std::int64_t n, std::int64_t patch);

struct DegradationOptions {
  std::int64_t patch = 4;   // p
  std::int64_t steps = 32;  // the curve has n = 0 .. steps (steps <= the number of patches)
  std::int64_t batch = 64;  // perturbed images per model.forward
};

// The per-image degradation data of a set of images; the curve and the AOPC are derived from it.
struct Curve {
  std::int64_t steps = 0;
  std::vector<std::int64_t> original_class;  // per image: arg-max of f(x) on the clean image
  std::vector<double> probability;           // p_i(n) at [i · (steps + 1) + n]
  std::vector<std::uint8_t> original;        // 1 where arg-max f(x_i⁽ⁿ⁾) is still original_class[i]
  std::vector<std::uint8_t> noop;            // 1 where step n replaced an already constant patch: x⁽ⁿ⁾ = x⁽ⁿ⁻¹⁾

  std::int64_t images() const { return static_cast<std::int64_t>(original_class.size()); }
  std::vector<double> mean_probability() const;  // p̄(n), n = 0 .. steps
  std::vector<double> still_original() const;    // fraction of images still classified as at n = 0
  double aopc() const;                           // (1/steps) Σ_{n=1..steps} (p̄(0) - p̄(n))
  std::vector<double> aopc_per_image() const;    // the same per image (its mean is aopc())
  // Share of the steps n = 1 .. steps, over all images, that changed nothing (a wasted step: the
  // heat map ranked a constant patch, e.g. black background, among the most relevant).
  double noop_fraction() const;
  // Appends other's images (same steps), e.g. the next chunk of a data set.
  void append(const Curve& other);
};

// AOPC of a mean curve p̄(0 .. steps): (1/steps) Σ_{n=1..steps} (p̄(0) - p̄(n)); 0 for steps = 0.
double aopc(std::span<const double> mean_probability);

// Numerically stable soft-max probability of class t of one logit row: e^(z_t - m) / Σ_j e^(z_j - m)
// with m = max_j z_j, in double.
double softmax_probability(std::span<const float> logits, std::int64_t t);

// The degradation data of images (N, C, H, W) under the given patch orders (orders[i] for image
// i, at least `steps` distinct patches each). The model ends with its logits; the soft-max is
// applied here. The perturbed images are evaluated opt.batch at a time through model.forward;
// a step that leaves the image bit-identical (a patch already constant in every channel, e.g.
// Fashion-MNIST's black background) reuses the previous step's output instead of a forward pass.
Curve degradation_curve(const nn::Sequential& model, const Tensor& images, const std::vector<std::vector<std::int64_t>>& orders,
                        const DegradationOptions& opt);

}  // namespace pn::eval
