// fit-patterns --checkpoint / --resume (chapter 5): statistics files round-trip bit for bit; a
// run killed by SIGKILL (at a checkpoint, or at a random moment) and resumed writes the same
// pattern bits as an uninterrupted run; checkpoints of another run are refused naming the
// difference; truncated or corrupt checkpoints give a clear error and are left untouched.
// The model is a tiny conv + dense network built here, so no data set download is needed.
#include "test_process.h"
#include "pn/core/error.h"
#include "pn/core/rng.h"
#include "pn/explain/fit_patterns.h"
#include "pn/explain/stats_checkpoint.h"
#include "pn/io/image.h"
#include "pn/io/npy.h"
#include "pn/io/safetensors.h"
#include "pn/nn/model_io.h"
#include "pn/nn/sequential.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace pn;

using pntest::layer_spec;

// conv (1 -> 6, 3x3 'same') + ReLU + 2x2 max-pool, dense 216 -> 16 + ReLU, dense 16 -> 4 on 1x12x12.
nn::Sequential tiny_model(std::uint64_t seed) {
  std::vector<nn::LayerSpec> l = {layer_spec("conv1", nn::Kind::conv2d, 1, 6, 3, 1, 1), layer_spec("relu1", nn::Kind::relu),
                                  layer_spec("pool1", nn::Kind::maxpool2d, 0, 0, 2, 2), layer_spec("flatten", nn::Kind::flatten),
                                  layer_spec("fc1", nn::Kind::linear, 216, 16),           layer_spec("relu2", nn::Kind::relu),
                                  layer_spec("fc2", nn::Kind::linear, 16, 4)};
  nn::Sequential m(Shape{1, 12, 12}, std::move(l));
  Rng rng(seed);
  m.init(rng);
  return m;
}

// Inputs far from the origin (in [2, 3]), so the first batch's reference points are not zero and
// resuming must restore them exactly.
Tensor tiny_data(std::int64_t n, std::uint64_t seed) {
  Tensor x(Shape{n, 1, 12, 12});
  Rng rng(seed);
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(rng.uniform(2.0, 3.0));
  return x;
}

using pntest::slurp;

using Result = pntest::ProgramResult;

// Each test works in its own folder (ctest may run them in parallel).
class FitCheckpoint : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::path(PN_FIT_CHECKPOINT_DIR) / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    model_ = (dir_ / "model.safetensors").string();
    data_ = (dir_ / "data.npy").string();
    nn::save_model(model_, tiny_model(7));
    io::write_npy(data_, tiny_data(200, 11));
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  pid_t spawn(const std::vector<std::string>& args) {
    std::vector<std::string> all = {PN_PATTERNNET_EXE, "fit-patterns"};
    all.insert(all.end(), args.begin(), args.end());
    return pntest::spawn_program(std::move(all), path("stdout.txt"), path("stderr.txt"));
  }

  Result wait_for(pid_t pid) { return pntest::wait_program(pid, path("stdout.txt"), path("stderr.txt")); }

  Result run(const std::vector<std::string>& args) { return wait_for(spawn(args)); }

  // fit-patterns on this test's model and data with the given extra arguments.
  std::vector<std::string> fit(const std::string& estimator, const std::string& out, std::int64_t batch,
                               std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"--model", model_, "--data", data_, "--estimator", estimator, "--batch",
                                  std::to_string(batch), "--out", path(out)};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  fs::path dir_;
  std::string model_, data_;
};

// Every tensor and every metadata entry of two safetensors files, bit for bit.
::testing::AssertionResult same_file_contents(const std::string& a, const std::string& b) {
  io::SafetensorsReader fa(a), fb(b);
  if (fa.entries().size() != fb.entries().size()) return ::testing::AssertionFailure() << "tensor counts differ";
  for (const auto& e : fa.entries()) {
    if (!fb.contains(e.name)) return ::testing::AssertionFailure() << "'" << e.name << "' missing in " << b;
    const Tensor x = fa.load(e.name), y = fb.load(e.name);
    if (x.shape() != y.shape() || (x.numel() > 0 && std::memcmp(x.data(), y.data(), static_cast<std::size_t>(x.numel()) * 4) != 0)) {
      return ::testing::AssertionFailure() << "tensor '" << e.name << "' differs";
    }
  }
  if (fa.metadata() != fb.metadata()) return ::testing::AssertionFailure() << "metadata differ";
  // And the bytes themselves: the writer is deterministic.
  if (slurp(a) != slurp(b)) return ::testing::AssertionFailure() << "file bytes differ";
  return ::testing::AssertionSuccess();
}

bool same_raw(const explain::PatternStats& a, const explain::PatternStats& b) {
  const auto ra = a.raw(), rb = b.raw();
  const auto eq = [](const std::vector<double>& x, const std::vector<double>& y) {
    // memcmp must not see the null data() of an empty vector (sums a statistics kind does not keep).
    return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * 8) == 0);
  };
  return ra.d == rb.d && ra.o == rb.o && std::memcmp(&ra.n, &rb.n, 8) == 0 && eq(ra.shift_x, rb.shift_x) &&
         eq(ra.shift_y, rb.shift_y) && eq(ra.sy, rb.sy) && eq(ra.syy, rb.syy) && eq(ra.npos, rb.npos) &&
         eq(ra.sypos, rb.sypos) && eq(ra.syypos, rb.syypos) && eq(ra.sx, rb.sx) && eq(ra.sxy, rb.sxy) &&
         eq(ra.sxpos, rb.sxpos) && eq(ra.sxypos, rb.sxypos) && eq(ra.sxx, rb.sxx);
}

explain::StatsIdentity identity_for_tests(bool regimes) {
  explain::StatsIdentity id;
  id.model_fingerprint = "0123456789abcdef";
  id.estimator = regimes ? "two_component" : "linear";
  id.regimes = regimes;
  id.data = "test batches";
  id.data_fingerprint = "fedcba9876543210";
  id.samples = 64;
  id.batch = 16;
  id.preprocess = "none";
  id.kernels = "test";
  id.threads = 1;
  return id;
}

Tensor rows(const Tensor& x, std::int64_t b, std::int64_t e) {
  Shape s{e - b, 1, 12, 12};
  Tensor out(s);
  std::copy_n(x.data() + b * 144, (e - b) * 144, out.data());
  return out;
}

// In-process: sums written after 2 batches, read into a fresh collector and continued, equal the
// sums of one uninterrupted pass bit for bit (with and without the regime sums).
TEST(StatsFile, ResumedSumsAreBitIdentical) {
  const fs::path dir = fs::path(PN_FIT_CHECKPOINT_DIR) / "StatsFile";
  fs::create_directories(dir);
  const nn::Sequential model = tiny_model(3);
  const Tensor x = tiny_data(64, 5);
  for (bool regimes : {true, false}) {
    explain::StatsCollector whole(model, false, regimes), part(model, false, regimes);
    for (std::int64_t b = 0; b < 64; b += 16) whole.add_batch(rows(x, b, b + 16));
    for (std::int64_t b = 0; b < 32; b += 16) part.add_batch(rows(x, b, b + 16));
    const std::string file = (dir / (regimes ? "regimes.safetensors" : "linear.safetensors")).string();
    const explain::StatsIdentity id = identity_for_tests(regimes);
    explain::write_stats_file(file, id, 0, 32, part.layer_names(), part.stats());

    const explain::StatsHeader h = explain::read_stats_header(file);
    EXPECT_EQ(h.images, 32);
    EXPECT_EQ(h.first, 0);
    EXPECT_TRUE(explain::identity_mismatches(h.identity, id).empty());
    ASSERT_EQ(h.layers.size(), 3u);
    EXPECT_EQ(h.layers[0].name, "conv1");
    EXPECT_EQ(h.layers[0].d, 9);
    EXPECT_EQ(h.layers[0].o, 6);
    EXPECT_EQ(h.layers[1].d, 216);

    explain::StatsCollector resumed(model, false, regimes);
    explain::read_stats_sums(h, resumed.stats());
    resumed.set_rows_seen(32);
    for (std::size_t k = 0; k < part.stats().size(); ++k) EXPECT_TRUE(same_raw(resumed.stats()[k], part.stats()[k])) << k;
    for (std::int64_t b = 32; b < 64; b += 16) resumed.add_batch(rows(x, b, b + 16));
    for (std::size_t k = 0; k < whole.stats().size(); ++k) EXPECT_TRUE(same_raw(resumed.stats()[k], whole.stats()[k])) << k;
    EXPECT_EQ(resumed.rows_seen(), whole.rows_seen());
  }
}

TEST(StatsFile, MismatchesAreNamed) {
  const explain::StatsIdentity a = identity_for_tests(true);
  explain::StatsIdentity b = identity_for_tests(false);
  b.batch = 8;
  b.kernels = "other";  // informational only
  b.threads = 7;
  const auto m = explain::identity_mismatches(a, b);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_NE(m[0].find("estimator: 'two_component' in the file, --estimator 'linear'"), std::string::npos) << m[0];
  EXPECT_NE(m[1].find("statistics: regimes in the file, linear for this run"), std::string::npos) << m[1];
  EXPECT_NE(m[2].find("batch: 16 in the file, --batch 8"), std::string::npos) << m[2];
}

// Killed by SIGKILL right after its second checkpoint, then resumed: the same patterns, bit for
// bit, as one uninterrupted run; the killed run left no patterns file.
TEST_F(FitCheckpoint, KilledAtCheckpointAndResumedIsBitIdentical) {
  for (const char* est : {"two_component", "linear"}) {
    SCOPED_TRACE(est);
    const std::string e = est;
    const std::string ck = path(e + ".ckpt.safetensors");
    const Result ref = run(fit(est, e + ".ref.safetensors", 16));
    ASSERT_EQ(ref.exit_code, 0) << ref.err;

    const std::vector<std::string> with_ck = {"--checkpoint", ck, "--checkpoint-every", "40"};
    auto killed_args = with_ck;
    killed_args.insert(killed_args.end(), {"--kill-after-checkpoints", "2"});
    const Result killed = run(fit(est, e + ".resumed.safetensors", 16, killed_args));
    ASSERT_EQ(killed.signal, SIGKILL) << killed.out << killed.err;
    EXPECT_FALSE(fs::exists(path(e + ".resumed.safetensors")));
    // Checkpoints after 48 and 96 samples (batches of 16, every >= 40 samples).
    EXPECT_EQ(explain::read_stats_header(ck).images, 96);

    auto resume_args = with_ck;
    resume_args.push_back("--resume");
    const Result resumed = run(fit(est, e + ".resumed.safetensors", 16, resume_args));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_NE(resumed.out.find("resumed from checkpoint '" + ck + "' at sample 96 of 200"), std::string::npos) << resumed.out;
    EXPECT_NE(resumed.out.find("statistics from 200 samples: 96 from the checkpoint, 104 in"), std::string::npos) << resumed.out;
    EXPECT_NE(resumed.out.find("peak resident memory"), std::string::npos) << resumed.out;
    EXPECT_TRUE(same_file_contents(path(e + ".ref.safetensors"), path(e + ".resumed.safetensors")));
    // The final checkpoint covers the whole data set; resuming from it again only refits.
    EXPECT_EQ(explain::read_stats_header(ck).images, 200);
    const Result again = run(fit(est, e + ".again.safetensors", 16, resume_args));
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("at sample 200 of 200"), std::string::npos) << again.out;
    EXPECT_TRUE(same_file_contents(path(e + ".ref.safetensors"), path(e + ".again.safetensors")));
  }
}

// Killed from outside at an arbitrary moment (possibly in the middle of writing a checkpoint):
// the checkpoint on disk is always a complete one, and resuming gives the uninterrupted bits.
TEST_F(FitCheckpoint, KilledAtRandomMomentsAndResumedIsBitIdentical) {
  const Result ref = run(fit("two_component", "ref.safetensors", 4));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const std::string ck = path("ckpt.safetensors");
  const std::vector<std::string> args = {"--checkpoint", ck, "--checkpoint-every", "1", "--resume"};
  // The inode of the checkpoint: every write renames a new file into place.
  const auto inode = [&] {
    struct stat st {};
    return ::stat(ck.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
  };
  for (int delay_ms : {0, 2, 5, 9}) {
    const ino_t before = inode();
    const pid_t pid = spawn(fit("two_component", "out.safetensors", 4, args));
    // Once this run has written a checkpoint of its own (so it is past loading), kill it a few
    // milliseconds later: wherever it then is, in a batch or in a write.
    const auto t0 = std::chrono::steady_clock::now();
    while (inode() == before && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20)) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    const Result r = wait_for(pid);
    ASSERT_TRUE(r.signal == SIGKILL || r.exit_code == 0) << r.err;
    // Whatever the moment, the file is a complete checkpoint at a batch boundary.
    const explain::StatsHeader h = explain::read_stats_header(ck);
    EXPECT_TRUE(h.images % 4 == 0) << h.images;
    std::printf("killed after %d ms: %s, checkpoint at %lld of 200 samples\n", delay_ms,
                r.signal == SIGKILL ? "SIGKILL" : "had finished", static_cast<long long>(h.images));
    explain::StatsCollector c(tiny_model(7), false, true);
    EXPECT_NO_THROW(explain::read_stats_sums(h, c.stats()));
  }
  const Result resumed = run(fit("two_component", "out.safetensors", 4, args));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(same_file_contents(path("ref.safetensors"), path("out.safetensors")));
}

// An image folder streams from disk; its checkpoint records the preprocessing and file list.
TEST_F(FitCheckpoint, ImageFolderResumeIsBitIdentical) {
  const fs::path images = dir_ / "images";
  fs::create_directories(images);
  Rng rng(3);
  for (int i = 0; i < 30; ++i) {
    std::vector<std::uint8_t> gray(14 * 14);
    for (auto& g : gray) g = static_cast<std::uint8_t>(rng.next_u64() & 0xff);
    io::write_png_gray((images / fmt::format("img{:03}.png", i)).string(), gray, 14, 14);
  }
  const auto args = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"--model", model_, "--data", images.string(), "--estimator", "linear", "--batch", "4", "--out", path(out)};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const Result ref = run(args("ref.safetensors", {}));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const std::string ck = path("ckpt.safetensors");
  const Result killed = run(args("out.safetensors", {"--checkpoint", ck, "--checkpoint-every", "8", "--kill-after-checkpoints", "1"}));
  ASSERT_EQ(killed.signal, SIGKILL) << killed.err;
  const explain::StatsHeader h = explain::read_stats_header(ck);
  EXPECT_EQ(h.images, 8);
  EXPECT_EQ(h.identity.preprocess, "unit");
  EXPECT_NE(h.identity.data.find("image folder"), std::string::npos) << h.identity.data;
  const Result resumed = run(args("out.safetensors", {"--checkpoint", ck, "--checkpoint-every", "8", "--resume"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(same_file_contents(path("ref.safetensors"), path("out.safetensors")));
  // Another preprocessing forms other inputs: refused.
  const Result other = run(args("never.safetensors", {"--checkpoint", ck, "--resume", "--preprocess", "caffe"}));
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("preprocessing: 'unit' in the file, --preprocess 'caffe'"), std::string::npos) << other.err;
}

// Checkpoints of another run are refused, naming the difference; nothing is overwritten or written.
TEST_F(FitCheckpoint, MismatchingCheckpointIsRefused) {
  const std::string ck = path("ckpt.safetensors");
  const std::vector<std::string> ck_args = {"--checkpoint", ck, "--checkpoint-every", "50"};
  const Result first = run(fit("linear", "first.safetensors", 16, ck_args));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string before = slurp(ck);

  auto resume = ck_args;
  resume.push_back("--resume");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string other_model = path("other.safetensors");
  nn::save_model(other_model, tiny_model(8));
  std::vector<std::string> other_model_args = {"--model", other_model, "--data", data_, "--estimator", "linear",
                                               "--batch", "16", "--out", path("never.safetensors")};
  other_model_args.insert(other_model_args.end(), resume.begin(), resume.end());
  // Another network on the same inputs: fc1 has 20 neurons instead of 16.
  const std::string wider_model = path("wider.safetensors");
  {
    std::vector<nn::LayerSpec> l = {layer_spec("conv1", nn::Kind::conv2d, 1, 6, 3, 1, 1), layer_spec("relu1", nn::Kind::relu),
                                    layer_spec("pool1", nn::Kind::maxpool2d, 0, 0, 2, 2), layer_spec("flatten", nn::Kind::flatten),
                                    layer_spec("fc1", nn::Kind::linear, 216, 20),           layer_spec("relu2", nn::Kind::relu),
                                    layer_spec("fc2", nn::Kind::linear, 20, 4)};
    nn::Sequential wider(Shape{1, 12, 12}, std::move(l));
    Rng rng(9);
    wider.init(rng);
    nn::save_model(wider_model, wider);
  }
  std::vector<std::string> wider_args = other_model_args;
  wider_args[1] = wider_model;
  auto limited = fit("linear", "never.safetensors", 16, resume);
  limited.insert(limited.end(), {"--limit", "100"});
  const std::vector<Case> cases = {
      {fit("two_component", "never.safetensors", 16, resume), "estimator: 'linear' in the file, --estimator 'two_component'"},
      {other_model_args, "model: fingerprint "},
      {wider_args, "layers: the file's dense/conv layers (names, inputs, neurons) are not the model's"},
      {fit("linear", "never.safetensors", 8, resume), "batch: 16 in the file, --batch 8"},
      {limited, "(200 samples, fingerprint "},
      {fit("linear", "never.safetensors", 16, ck_args), "already exists: pass --resume"},
  };
  for (const Case& c : cases) {
    const Result r = run(c.args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    if (c.message.find("already") == std::string::npos) {
      EXPECT_NE(r.err.find("--resume: checkpoint '" + ck + "' belongs to another run"), std::string::npos) << r.err;
    }
    EXPECT_FALSE(fs::exists(path("never.safetensors")));
    EXPECT_EQ(slurp(ck), before) << "the checkpoint was modified";
  }
  // A data-free estimator has nothing to checkpoint.
  const Result filter = run(fit("filter", "never.safetensors", 16, ck_args));
  EXPECT_EQ(filter.exit_code, 1);
  EXPECT_NE(filter.err.find("--checkpoint: the filter estimator uses no data"), std::string::npos) << filter.err;
}

// Truncated, bit-flipped, foreign and garbage files: a clear error naming the file, exit code 1,
// no crash, and the file left as it was.
TEST_F(FitCheckpoint, CorruptCheckpointGivesClearError) {
  const std::string good = path("good.safetensors");
  const Result first = run(fit("two_component", "first.safetensors", 16, {"--checkpoint", good}));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string bytes = slurp(good);

  const auto write = [&](const std::string& name, const std::string& contents) {
    std::ofstream(path(name), std::ios::binary) << contents;
    return path(name);
  };
  std::string flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x10;  // a bit of the last layer's sums
  std::string bad_json = bytes;
  bad_json[8] = '#';  // the header's opening brace
  struct Case {
    std::string file, message;
  };
  const std::vector<Case> cases = {
      {write("truncated.safetensors", bytes.substr(0, bytes.size() / 2)), "data section"},
      {write("header_only.safetensors", bytes.substr(0, 40)), "is truncated"},
      {write("flipped.safetensors", flipped), "is corrupt: its contents do not match its checksum"},
      {write("bad_json.safetensors", bad_json), "is not valid JSON"},
      {write("garbage.safetensors", std::string(100, 'x')), "exceeds the limit"},
      {write("empty.safetensors", ""), "shorter than the 8-byte header length"},
      {model_, "is not a patternnet statistics file: its metadata lacks \"pn.format\""},
  };
  for (const Case& c : cases) {
    const std::string before = slurp(c.file);
    const Result r = run(fit("two_component", "never.safetensors", 16, {"--checkpoint", c.file, "--resume"}));
    EXPECT_EQ(r.signal, 0) << c.file;
    EXPECT_EQ(r.exit_code, 1) << c.file << "\n" << r.err;
    EXPECT_NE(r.err.find("--resume: cannot continue from --checkpoint '" + c.file + "'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(slurp(c.file), before);
    EXPECT_FALSE(fs::exists(path("never.safetensors")));
  }
}

}  // namespace
