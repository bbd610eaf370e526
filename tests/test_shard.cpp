// Sharded and distributed pattern fitting (chapter 11): shards are whole batches and cover every
// sample once; statistics collected in parts about the first batch's reference points merge into
// the single pass's sums to 1e-12 (relative to each array's largest value); `fit-patterns --shard`
// + `merge-stats` and `mpirun -np 3 patternnet fit-patterns` / `quality` give what one process
// gives; merge-stats refuses missing, duplicated and foreign parts naming them.
#include "test_process.h"
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/dist/shard.h"
#include "pn/explain/fit_patterns.h"
#include "pn/explain/patterns.h"
#include "pn/explain/quality_table.h"
#include "pn/io/npy.h"
#include "pn/io/safetensors.h"
#include "pn/nn/data_source.h"
#include "pn/nn/model_io.h"
#include "pn/nn/sequential.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace pn;
using pntest::layer_spec;

// --- shard ranges ------------------------------------------------------------------------------

TEST(ShardRange, EveryBatchInExactlyOneShard) {
  for (std::int64_t n : {0, 1, 5, 64, 65, 200, 1001}) {
    for (std::int64_t batch : {1, 7, 32, 128}) {
      for (std::int64_t count : {1, 2, 3, 5, 16}) {
        const std::int64_t batches = (n + batch - 1) / batch;
        std::int64_t covered = 0, smallest = batches + 1, largest = -1;
        bool seen_empty = false;
        for (std::int64_t i = 0; i < count; ++i) {
          const dist::Range r = dist::shard_range(n, batch, {i, count});
          SCOPED_TRACE(fmt::format("n {} batch {} shard {}/{}: [{}, {})", n, batch, i, count, r.begin, r.end));
          ASSERT_EQ(r.begin, covered);  // contiguous, in order, no overlap
          ASSERT_GE(r.end, r.begin);
          if (r.size() > 0) {
            EXPECT_EQ(r.begin % batch, 0);  // starts on a batch boundary of the single pass
          }
          const std::int64_t nb = (r.size() + batch - 1) / batch;
          if (r.end != n) {
            EXPECT_EQ(r.size() % batch, 0);
          }
          smallest = std::min(smallest, nb);
          largest = std::max(largest, nb);
          if (r.size() == 0) seen_empty = true;
          if (seen_empty) {
            EXPECT_EQ(r.size(), 0) << "an empty shard before a non-empty one";
          }
          covered = r.end;
        }
        EXPECT_EQ(covered, n);
        EXPECT_LE(largest - smallest, 1) << "n " << n << " batch " << batch << " shards " << count;
      }
    }
  }
}

TEST(ShardRange, ParseAndRefuse) {
  const dist::Shard s = dist::parse_shard("2/5", "--shard");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  EXPECT_EQ(s.text(), "2/5");
  const auto message = [](const char* text) {
    try {
      dist::parse_shard(text, "--shard");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("3/3").find("--shard '3/3': the shard index I counts from 0 to N-1 = 2"), std::string::npos) << message("3/3");
  EXPECT_NE(message("1/0").find("the number of shards N must be at least 1"), std::string::npos) << message("1/0");
  EXPECT_NE(message("-1/2").find("counts from 0"), std::string::npos) << message("-1/2");
  for (const char* bad : {"", "2", "a/3", "1/b", "1/2/3", "1 /2", "/2", "+1/2"}) {
    EXPECT_NE(message(bad).find("expected I/N"), std::string::npos) << bad << ": " << message(bad);
  }
  EXPECT_THROW(dist::shard_range(10, 0, {0, 1}), Error);
  EXPECT_THROW(dist::shard_range(10, 4, {2, 2}), Error);
}

// --- statistics in parts -----------------------------------------------------------------------

// conv (2 -> 5, 3x3, stride 2, pad 1) + ReLU, dense 80 -> 12 + ReLU, dense 12 -> 3 on 2x8x8.
nn::Sequential small_model(std::uint64_t seed) {
  std::vector<nn::LayerSpec> l = {layer_spec("conv1", nn::Kind::conv2d, 2, 5, 3, 2, 1), layer_spec("relu1", nn::Kind::relu),
                                  layer_spec("flatten", nn::Kind::flatten),           layer_spec("fc1", nn::Kind::linear, 80, 12),
                                  layer_spec("relu2", nn::Kind::relu),                layer_spec("fc2", nn::Kind::linear, 12, 3)};
  nn::Sequential m(Shape{2, 8, 8}, std::move(l));
  Rng rng(seed);
  m.init(rng);
  return m;
}

// Values far from the origin (in [3, 5]), so every part must share the first batch's reference
// points: each part centring on its own would change the float products.
Tensor small_data(std::int64_t n, std::uint64_t seed) {
  Tensor x(Shape{n, 2, 8, 8});
  Rng rng(seed);
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(rng.uniform(3.0, 5.0));
  return x;
}

Tensor rows_of(const Tensor& x, std::int64_t b, std::int64_t e) {
  const std::int64_t per = x.numel() / x.dim(0);
  Tensor out(Shape{e - b, x.dim(1), x.dim(2), x.dim(3)});
  std::copy_n(x.data() + b * per, (e - b) * per, out.data());
  return out;
}

// max |a - b| <= tol · max |a| over the array (relative to its scale: elements near zero carry the
// same absolute rounding as the large ones).
::testing::AssertionResult close_arrays(const std::vector<double>& a, const std::vector<double>& b, double tol, const char* what) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << what << ": sizes " << a.size() << " and " << b.size();
  double scale = 0, diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(a[i]));
    diff = std::max(diff, std::fabs(a[i] - b[i]));
  }
  if (diff > tol * scale) return ::testing::AssertionFailure() << what << ": max difference " << diff << " at scale " << scale;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult same_sums(const explain::PatternStats& x, const explain::PatternStats& y, double tol) {
  const auto a = x.raw(), b = y.raw();
  if (a.n != b.n) return ::testing::AssertionFailure() << "row counts " << a.n << " and " << b.n;
  if (a.shift_x != b.shift_x || a.shift_y != b.shift_y) return ::testing::AssertionFailure() << "reference points differ";
  for (auto [va, vb, name] : {std::tuple{&a.sy, &b.sy, "sy"}, {&a.syy, &b.syy, "syy"}, {&a.sx, &b.sx, "sx"}, {&a.sxy, &b.sxy, "sxy"},
                              {&a.npos, &b.npos, "npos"}, {&a.sypos, &b.sypos, "sypos"}, {&a.syypos, &b.syypos, "syypos"},
                              {&a.sxpos, &b.sxpos, "sxpos"}, {&a.sxypos, &b.sxypos, "sxypos"}, {&a.sxx, &b.sxx, "sxx"}}) {
    const auto r = close_arrays(*va, *vb, tol, name);
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

TEST(ShardedStats, PartsMergeIntoTheSinglePassSums) {
  const nn::Sequential model = small_model(5);
  const std::int64_t n = 150, batch = 16;
  const Tensor x = small_data(n, 9);
  for (bool second : {false, true}) {
    explain::StatsCollector whole(model, second);
    for (std::int64_t b = 0; b < n; b += batch) whole.add_batch(rows_of(x, b, std::min(n, b + batch)));
    std::vector<explain::StatsCollector> parts;
    for (std::int64_t i = 0; i < 3; ++i) {
      parts.emplace_back(model, second);
      const dist::Range r = dist::shard_range(n, batch, {i, 3});
      if (r.begin > 0) parts.back().set_reference(rows_of(x, 0, batch));
      for (std::int64_t b = r.begin; b < r.end; b += batch) parts.back().add_batch(rows_of(x, b, std::min(r.end, b + batch)));
    }
    for (std::size_t k = 0; k < whole.stats().size(); ++k) {
      explain::PatternStats merged = parts[0].stats()[k];
      merged.merge(parts[1].stats()[k]);
      merged.merge(parts[2].stats()[k]);
      EXPECT_TRUE(same_sums(whole.stats()[k], merged, 1e-12)) << "layer " << k << (second ? " with" : " without") << " Σxxᵀ";

      // Sharing the reference point, merging is plain element-wise addition (what MPI's sum does).
      explain::PatternStats added = parts[0].stats()[k];
      for (std::size_t p = 1; p < parts.size(); ++p) {
        auto into = added.additive_sums();
        auto from = parts[p].stats()[k].additive_sums();
        ASSERT_EQ(into.size(), from.size());
        for (std::size_t a = 0; a < into.size(); ++a)
          for (std::size_t i = 0; i < into[a].size(); ++i) into[a][i] += from[a][i];
      }
      EXPECT_TRUE(same_sums(merged, added, 0.0)) << "layer " << k;
    }
  }
}

// Without the shared reference point the parts still merge correctly in exact arithmetic, but a
// conv layer's float products differ: the agreement drops from 1e-12 to float rounding. This is
// why every part calls set_reference (and shows the check above can fail). A dense layer's sums
// are formed in double, so there the parts agree to double rounding either way.
TEST(ShardedStats, OwnReferencePointsAgreeOnlyToFloatRounding) {
  const nn::Sequential model = small_model(5);
  const std::int64_t n = 150, batch = 16;
  const Tensor x = small_data(n, 9);
  explain::StatsCollector whole(model, false), first(model, false), second(model, false);
  for (std::int64_t b = 0; b < n; b += batch) whole.add_batch(rows_of(x, b, std::min(n, b + batch)));
  for (std::int64_t b = 0; b < 80; b += batch) first.add_batch(rows_of(x, b, b + batch));
  for (std::int64_t b = 80; b < n; b += batch) second.add_batch(rows_of(x, b, std::min(n, b + batch)));
  explain::PatternStats conv = first.stats()[0];
  conv.merge(second.stats()[0]);
  EXPECT_FALSE(same_sums(whole.stats()[0], conv, 1e-12));
  const auto a = whole.stats()[0].raw(), b = conv.raw();
  EXPECT_TRUE(close_arrays(a.sxy, b.sxy, 1e-5, "sxy"));
  explain::PatternStats dense = first.stats()[1];
  dense.merge(second.stats()[1]);
  EXPECT_TRUE(same_sums(whole.stats()[1], dense, 1e-12));
}

// rho under a memory budget: a layer whose statistics and solves would not fit is skipped and
// named, the others are evaluated exactly as without the budget (each layer's sums and its random
// patterns do not depend on which other layers are evaluated).
TEST(QualityBudget, LayersBeyondTheMemoryBudgetAreSkippedAndNamed) {
  const nn::Sequential model = small_model(5);
  const Tensor x = small_data(90, 9);
  const explain::QualitySplits splits{nn::DataSource::from_tensor(rows_of(x, 0, 30)), nn::DataSource::from_tensor(rows_of(x, 30, 60)),
                                      nn::DataSource::from_tensor(rows_of(x, 60, 90))};
  const std::vector<explain::Estimator> ests = {explain::Estimator::random, explain::Estimator::filter, explain::Estimator::linear,
                                                explain::Estimator::two_component};
  const auto full = explain::quality_per_layer(model, splits, ests, 1e-6, 1, 16, {}, 1e12);
  // conv1 (D 18, O 5) and fc2 (D 12, O 3) fit; fc1 (D 80, O 12) does not.
  const explain::QualityMemory conv = explain::quality_memory(18, 5), fc1 = explain::quality_memory(80, 12),
                               fc2 = explain::quality_memory(12, 3);
  const double budget = conv.statistics + fc2.statistics + std::max(conv.workspace, fc2.workspace) + 1;
  ASSERT_GT(conv.statistics + fc1.statistics + std::max(conv.workspace, fc1.workspace), budget);
  const auto part = explain::quality_per_layer(model, splits, ests, 1e-6, 1, 16, {}, budget);
  ASSERT_EQ(part.size(), full.size());
  ASSERT_EQ(part.size(), 3 * ests.size());
  for (std::size_t i = 0; i < part.size(); ++i) {
    SCOPED_TRACE(part[i].layer + " " + explain::estimator_name(part[i].estimator));
    EXPECT_EQ(part[i].layer, full[i].layer);
    EXPECT_TRUE(full[i].skipped.empty());
    if (part[i].layer == "fc1") {
      EXPECT_NE(part[i].skipped.find("more than the"), std::string::npos) << part[i].skipped;
      EXPECT_TRUE(std::isnan(part[i].quality.mean));
      EXPECT_TRUE(part[i].quality.rho.empty());
    } else {
      EXPECT_TRUE(part[i].skipped.empty());
      EXPECT_EQ(part[i].quality.mean, full[i].quality.mean);
      EXPECT_EQ(part[i].quality.median, full[i].quality.median);
    }
  }
  EXPECT_NE(explain::quality_csv(part).find("fc1,linear,nan,nan,0,0"), std::string::npos) << explain::quality_csv(part);
}

// fit-patterns' and quality's default batch: one batch's forward trace within the budget.
TEST(DefaultBatch, KeepsOneBatchTraceUnderTheBudget) {
  const nn::Sequential model = small_model(1);
  // Traced floats per sample: input 2x8x8 = 128, conv1 5x4x4 = 80, relu1 80, flatten 80, fc1 12,
  // relu2 12, fc2 3: 395 floats, 1580 bytes.
  EXPECT_EQ(nn::batch_for_memory(model, 128, 1580 * 10), 10);
  EXPECT_EQ(nn::batch_for_memory(model, 128, 1580 * 10 - 1), 9);
  EXPECT_EQ(nn::batch_for_memory(model, 8, 1580 * 10), 8);
  EXPECT_EQ(nn::batch_for_memory(model, 128, 100), 1);  // never zero
  EXPECT_EQ(nn::batch_for_memory(model), 128);          // small models keep the old default
}

// --- the programs ------------------------------------------------------------------------------

class ShardedFit : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::path(PN_SHARD_TEST_DIR) / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    model_ = path("model.safetensors");
    data_ = path("data.npy");
    nn::save_model(model_, small_model(3));
    io::write_npy(data_, small_data(150, 4));
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  pntest::ProgramResult run(std::vector<std::string> args) {
    args.insert(args.begin(), PN_PATTERNNET_EXE);
    return pntest::run_program(std::move(args), path("stdout.txt"), path("stderr.txt"));
  }

  std::vector<std::string> fit(const std::string& estimator, std::vector<std::string> extra) const {
    std::vector<std::string> a = {"fit-patterns", "--model", model_, "--data", data_, "--estimator", estimator, "--batch", "16"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  fs::path dir_;
  std::string model_, data_;
};

// Every F64 tensor of two statistics files to tol (relative to the tensor's largest value).
::testing::AssertionResult same_stats_files(const std::string& a, const std::string& b, double tol) {
  io::SafetensorsReader fa(a), fb(b);
  if (fa.entries().size() != fb.entries().size()) return ::testing::AssertionFailure() << "tensor counts differ";
  for (const auto& e : fa.entries()) {
    if (!fb.contains(e.name)) return ::testing::AssertionFailure() << "'" << e.name << "' missing in " << b;
    const auto r = close_arrays(fa.load_f64(e.name), fb.load_f64(e.name), tol, e.name.c_str());
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

// Patterns are stored as float. Sums that agree to 1e-15 round to the same floats except when a
// value lies within 1e-15 of a rounding boundary, so in practice the files are bit-identical; 1e-12
// (relative to each tensor's largest value) asks for exactly that while naming the difference.
::testing::AssertionResult same_patterns(const std::string& a, const std::string& b) {
  const explain::Patterns pa = explain::load_patterns(a), pb = explain::load_patterns(b);
  if (pa.layers.size() != pb.layers.size()) return ::testing::AssertionFailure() << "layer counts differ";
  for (std::size_t k = 0; k < pa.layers.size(); ++k) {
    for (auto [ta, tb] : {std::pair{&pa.layers[k].a, &pb.layers[k].a}, {&pa.layers[k].a_negative, &pb.layers[k].a_negative}}) {
      const std::span<const float> va = ta->values(), vb = tb->values();
      const auto r = close_arrays({va.begin(), va.end()}, {vb.begin(), vb.end()}, 1e-12, pa.layers[k].layer.c_str());
      if (!r) return r;
    }
    if (pa.layers[k].rows != pb.layers[k].rows) return ::testing::AssertionFailure() << "rows differ in " << pa.layers[k].layer;
  }
  return ::testing::AssertionSuccess();
}

// --exact-stats: the conv layer's sums in double too. The patterns agree with the default ones to
// float rounding but not bit for bit (the conv products differ); the dense layers' sums are in
// double either way, so their patterns are the same. The checkpoint identity names the mode.
TEST_F(ShardedFit, ExactStatsAgreeWithTheFastOnesToFloatRounding) {
  auto r = run(fit("two_component", {"--out", path("fast.safetensors")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run(fit("two_component", {"--exact-stats", "--out", path("exact.safetensors"), "--stats-out", path("exact_stats.safetensors")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const explain::Patterns fast = explain::load_patterns(path("fast.safetensors"));
  const explain::Patterns exact = explain::load_patterns(path("exact.safetensors"));
  ASSERT_EQ(fast.layers.size(), 3u);
  for (std::size_t k = 0; k < fast.layers.size(); ++k) {
    const std::span<const float> va = fast.layers[k].a.values(), vb = exact.layers[k].a.values();
    EXPECT_TRUE(close_arrays({va.begin(), va.end()}, {vb.begin(), vb.end()}, 1e-4, fast.layers[k].layer.c_str()));
  }
  const std::span<const float> conv_fast = fast.layers[0].a.values(), conv_exact = exact.layers[0].a.values();
  EXPECT_FALSE(std::equal(conv_fast.begin(), conv_fast.end(), conv_exact.begin())) << "the conv sums took the same path";
  for (std::size_t k = 1; k < fast.layers.size(); ++k) {
    const std::span<const float> da = fast.layers[k].a.values(), db = exact.layers[k].a.values();
    EXPECT_TRUE(std::equal(da.begin(), da.end(), db.begin())) << fast.layers[k].layer << ": dense sums differ";
  }
  io::SafetensorsReader stats(path("exact_stats.safetensors"));
  EXPECT_NE(stats.metadata().at("pn.kernels").find("exact conv statistics"), std::string::npos);
}

TEST_F(ShardedFit, MergedShardsEqualOneRun) {
  for (const std::string est : {"two_component", "linear"}) {
    SCOPED_TRACE(est);
    auto r = run(fit(est, {"--out", path("whole.safetensors"), "--stats-out", path("whole_stats.safetensors")}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> merge = {"merge-stats"};
    for (int i = 0; i < 3; ++i) {
      const std::string part = path(fmt::format("part_{}.safetensors", i));
      r = run(fit(est, {"--shard", fmt::format("{}/3", i), "--stats-out", part}));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_NE(r.out.find(fmt::format("shard {}/3: samples", i)), std::string::npos) << r.out;
      merge.push_back(part);
    }
    // The parts in any order; the model comes from the path recorded in them.
    std::swap(merge[1], merge[3]);
    merge.insert(merge.end(), {"--out", path("merged.safetensors"), "--stats-out", path("merged_stats.safetensors")});
    r = run(merge);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("merged 3 parts covering samples [0, 150)"), std::string::npos) << r.out;
    EXPECT_TRUE(same_stats_files(path("whole_stats.safetensors"), path("merged_stats.safetensors"), 1e-12));
    EXPECT_TRUE(same_patterns(path("whole.safetensors"), path("merged.safetensors")));
    // The merged statistics are a complete statistics file again: merge-stats takes it alone.
    r = run({"merge-stats", path("merged_stats.safetensors"), "--model", model_, "--out", path("again.safetensors")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(same_patterns(path("merged.safetensors"), path("again.safetensors")));
  }
}

TEST_F(ShardedFit, MergeRefusesMissingDuplicateAndForeignParts) {
  for (int i = 0; i < 3; ++i) {
    const auto r = run(fit("linear", {"--shard", fmt::format("{}/3", i), "--stats-out", path(fmt::format("p{}.safetensors", i))}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto r = run(fit("two_component", {"--shard", "1/3", "--stats-out", path("other.safetensors")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string out = path("never.safetensors");
  const auto refused = [&](std::vector<std::string> parts, const std::string& message) {
    std::vector<std::string> args = {"merge-stats"};
    args.insert(args.end(), parts.begin(), parts.end());
    args.insert(args.end(), {"--out", out});
    const auto res = run(args);
    EXPECT_EQ(res.exit_code, 1) << res.err;
    EXPECT_NE(res.err.find(message), std::string::npos) << res.err;
    EXPECT_FALSE(fs::exists(out));
  };
  // Shard 1/3 of 150 samples in batches of 16 (10 batches: 4 + 3 + 3) is samples [64, 112).
  refused({path("p0.safetensors"), path("p2.safetensors")}, "samples [64, 112) of 150 are in no part: a shard is missing");
  refused({path("p0.safetensors"), path("p1.safetensors")}, "samples [112, 150) of 150 are in no part");
  refused({path("p0.safetensors"), path("p1.safetensors"), path("p1.safetensors"), path("p2.safetensors")},
          "they overlap (a shard given twice?)");
  refused({path("p0.safetensors"), path("other.safetensors"), path("p2.safetensors")}, "are not parts of one fit");
  refused({path("p0.safetensors"), path("other.safetensors"), path("p2.safetensors")},
          "estimator: 'two_component' in the file, --estimator 'linear'");

  // A part fitted on another network (fc1 with 20 neurons instead of 12) holds other layers.
  {
    std::vector<nn::LayerSpec> l = {layer_spec("conv1", nn::Kind::conv2d, 2, 5, 3, 2, 1), layer_spec("relu1", nn::Kind::relu),
                                    layer_spec("flatten", nn::Kind::flatten),           layer_spec("fc1", nn::Kind::linear, 80, 20),
                                    layer_spec("relu2", nn::Kind::relu),                layer_spec("fc2", nn::Kind::linear, 20, 3)};
    nn::Sequential wider(Shape{2, 8, 8}, std::move(l));
    Rng rng(5);
    wider.init(rng);
    nn::save_model(path("wider.safetensors"), wider);
    auto args = fit("linear", {"--shard", "1/3", "--stats-out", path("wider_part.safetensors")});
    args[2] = path("wider.safetensors");
    r = run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  refused({path("p0.safetensors"), path("wider_part.safetensors"), path("p2.safetensors")},
          "layers: the two files hold the statistics of different layers");

  // Another model's file given as --model.
  nn::save_model(path("other_model.safetensors"), small_model(99));
  r = run({"merge-stats", path("p0.safetensors"), path("p1.safetensors"), path("p2.safetensors"), "--model",
           path("other_model.safetensors"), "--out", out});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not the model the parts were fitted with"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(ShardedFit, ShardFlagsAreChecked) {
  const auto refused = [&](std::vector<std::string> extra, const std::string& message) {
    const auto r = run(fit("linear", std::move(extra)));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  };
  refused({"--shard", "3/3", "--stats-out", path("s.safetensors")}, "--shard '3/3': the shard index I counts from 0 to N-1 = 2");
  refused({"--shard", "0/3", "--out", path("p.safetensors"), "--stats-out", path("s.safetensors")}, "--out with --shard");
  refused({"--shard", "0/3"}, "--shard needs --stats-out");
  refused({}, "name the output: --out patterns.safetensors and/or --stats-out");
  EXPECT_FALSE(fs::exists(path("s.safetensors")));
  EXPECT_FALSE(fs::exists(path("p.safetensors")));

  // More shards than batches: the last ones are empty and still merge.
  std::vector<std::string> merge = {"merge-stats"};
  for (int i = 0; i < 12; ++i) {
    const std::string part = path(fmt::format("tiny_{}.safetensors", i));
    const auto r = run(fit("linear", {"--limit", "40", "--shard", fmt::format("{}/12", i), "--stats-out", part}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    merge.push_back(part);
  }
  merge.insert(merge.end(), {"--out", path("tiny.safetensors")});
  auto r = run(merge);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run(fit("linear", {"--limit", "40", "--out", path("tiny_whole.safetensors")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(same_patterns(path("tiny_whole.safetensors"), path("tiny.safetensors")));
}

// --- MPI -----------------------------------------------------------------------------------------

#ifdef PN_MPIEXEC
std::vector<std::string> under_mpirun(int ranks, std::vector<std::string> args) {
  // Root runs are what CI containers do; detect_leaks=0: Open MPI's own start-up allocations are
  // never freed, and the sanitizer build would report them (our code's leaks are checked by the
  // same paths in the one-process tests).
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  ::setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
  const char* asan = std::getenv("ASAN_OPTIONS");
  ::setenv("ASAN_OPTIONS", (std::string(asan ? asan : "") + ":detect_leaks=0").c_str(), 1);
  std::vector<std::string> all = {PN_MPIEXEC, "--oversubscribe", "-np", std::to_string(ranks), "-x", "OMP_NUM_THREADS=1",
                                  PN_PATTERNNET_EXE};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

TEST_F(ShardedFit, MpirunWithThreeRanksEqualsOneProcess) {
  auto r = run(fit("two_component", {"--out", path("one.safetensors"), "--stats-out", path("one_stats.safetensors")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> a = fit("two_component", {"--out", path("mpi.safetensors"), "--stats-out", path("mpi_stats.safetensors")});
  r = pntest::run_program(under_mpirun(3, a), path("stdout.txt"), path("stderr.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 MPI ranks, rank 0: samples [0, 64) of 150"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("statistics of 3 ranks summed on rank 0"), std::string::npos) << r.out;
  EXPECT_TRUE(same_stats_files(path("one_stats.safetensors"), path("mpi_stats.safetensors"), 1e-12));
  EXPECT_TRUE(same_patterns(path("one.safetensors"), path("mpi.safetensors")));

  // Sharded + merged equals both.
  std::vector<std::string> merge = {"merge-stats"};
  for (int i = 0; i < 3; ++i) {
    merge.push_back(path(fmt::format("s{}.safetensors", i)));
    r = run(fit("two_component", {"--shard", fmt::format("{}/3", i), "--stats-out", merge.back()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  merge.insert(merge.end(), {"--stats-out", path("merged_stats.safetensors")});
  r = run(merge);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(same_stats_files(path("mpi_stats.safetensors"), path("merged_stats.safetensors"), 1e-12));
}

std::vector<double> csv_numbers(const std::string& csv) {
  std::vector<double> v;
  std::stringstream lines(csv);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::stringstream cells(line);
    std::string cell;
    for (int c = 0; std::getline(cells, cell, ','); ++c) {
      if (c >= 2) v.push_back(std::stod(cell));
    }
  }
  return v;
}

TEST_F(ShardedFit, QualityUnderMpirunEqualsOneProcess) {
  const std::vector<std::string> q = {"quality", "--model", model_, "--data", data_, "--batch", "8"};
  std::vector<std::string> one = q, many = q;
  one.insert(one.end(), {"--out", path("one.csv")});
  many.insert(many.end(), {"--out", path("mpi.csv")});
  auto r = run(one);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = pntest::run_program(under_mpirun(3, many), path("stdout.txt"), path("stderr.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::vector<double> a = csv_numbers(pntest::slurp(path("one.csv"))), b = csv_numbers(pntest::slurp(path("mpi.csv")));
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 8u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 2e-6) << i;  // the CSV has 6 decimals
}

TEST_F(ShardedFit, OtherCommandsAndFailuresUnderMpirunEndEveryRank) {
  // A command that does not split its work is refused by every rank.
  auto r = pntest::run_program(under_mpirun(2, {"selfcheck"}), path("stdout.txt"),
                               path("stderr.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("does not run under mpirun"), std::string::npos) << r.out << r.err;
  // A bad input fails on every rank; the run ends instead of waiting in a collective.
  r = pntest::run_program(under_mpirun(2, {"fit-patterns", "--model", model_, "--data", path("missing.npy"), "--estimator", "linear",
                                             "--out", path("never.safetensors")}),
                          path("stdout.txt"), path("stderr.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("missing.npy"), std::string::npos) << r.out << r.err;
  EXPECT_FALSE(fs::exists(path("never.safetensors")));
}
#else
TEST(ShardedFitMpi, NeedsAnMpiBuild) { GTEST_SKIP() << "patternnet was built without MPI (install libopenmpi-dev)"; }
#endif

}  // namespace
