// `patternnet fit-patterns`: streams a data set through a model, collects every dense and conv
// layer's pattern statistics and writes the fitted patterns with a per-layer report. With
// --checkpoint the statistics are saved periodically (explain/stats_checkpoint.h), and --resume
// continues an interrupted run to the same bits an uninterrupted one would give. With --shard I/N
// it collects one shard's statistics for `merge-stats`; under mpirun every rank takes one shard
// and rank 0 sums them (dist/, chapter 11).
#include "cli/commands.h"
#include "cli/pattern_report.h"
#include "pn/dist/mpi.h"
#include "pn/dist/reduce_stats.h"
#include "pn/dist/shard.h"
#include "pn/nn/data_source.h"
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/core/hash.h"
#include "pn/core/progress.h"
#include "pn/explain/fit_patterns.h"
#include "pn/explain/stats_checkpoint.h"
#include "pn/io/idx.h"
#include "pn/io/npy.h"
#include "pn/kernels/kernels.h"
#include "pn/nn/data.h"
#include "pn/nn/model_io.h"

#include <fmt/core.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>
#include <vector>

namespace pn::cli {
namespace {

struct FitOptions {
  std::string model, arch, data, data_dir, estimator, out, preprocess = "auto";
  std::int64_t limit = 0;
  std::int64_t batch = 0;  // 0: nn::batch_for_memory
  std::uint64_t seed = 1;
  std::string checkpoint, shard, stats_out;
  std::int64_t checkpoint_every = 1000;
  bool resume = false;
  bool exact_stats = false;
  std::int64_t kill_after_checkpoints = 0;  // testing only: SIGKILL itself after that many checkpoints
};

// The samples a run uses and what identifies them in a checkpoint.
struct Source {
  nn::DataSource data;
  std::int64_t n = 0;  // samples used: the data set's, or --limit's if fewer
  std::string description, fingerprint, preprocess = "none";
};

Tensor load_inputs(const FitOptions& o, const nn::Sequential& model, std::string& description);

// The data set: a folder of image files streams (read and preprocessed per batch); everything else
// is one tensor in memory. The fingerprint covers exactly the samples used: the float bits of a
// tensor, the names and sizes of image files (reading every image twice would cost as much as
// the fit; a re-encoded or edited file of the same name and size is the user's to avoid).
Source load_source(const FitOptions& o, const nn::Sequential& model) {
  Source s;
  Hasher h;
  const auto use = [&](std::int64_t size) { s.n = o.limit > 0 ? std::min(size, o.limit) : size; };
  if (o.data != "fashion-mnist" && std::filesystem::is_directory(o.data)) {
    std::vector<std::string> images = nn::list_image_files(o.data);
    if (!images.empty()) {
      use(static_cast<std::int64_t>(images.size()));
      for (std::int64_t i = 0; i < s.n; ++i) {
        const std::filesystem::path f = images[static_cast<std::size_t>(i)];
        std::error_code ec;
        const auto bytes = std::filesystem::file_size(f, ec);
        if (ec) throw Error("--data: cannot read the size of '{}': {}", f.string(), ec.message());
        h.add_string(f.filename().string());
        h.add_u64(bytes);
      }
      s.description = fmt::format("image folder '{}' ({} images)", o.data, images.size());
      const nn::Preprocess p = nn::choose_preprocess(o.preprocess, o.arch, model);
      s.preprocess = nn::preprocess_name(p);
      s.data = nn::DataSource::from_images(std::move(images), model.input_shape(), p);
      s.fingerprint = h.hex();
      return s;
    }
  }
  Tensor x = load_inputs(o, model, s.description);
  use(x.dim(0));
  h.add(x.data(), static_cast<std::size_t>(x.numel() / std::max<std::int64_t>(1, x.dim(0)) * s.n) * sizeof(float));
  s.fingerprint = h.hex();
  s.data = nn::DataSource::from_tensor(std::move(x));
  return s;
}

// The data set as one tensor in the model's input shape: Fashion-MNIST's training split, one .npy
// batch, or a folder of .npy batches (read in name order).
Tensor load_inputs(const FitOptions& o, const nn::Sequential& model, std::string& description) {
  if (o.data == "fashion-mnist") {
    auto d = io::load_fashion_mnist(io::fashion_mnist_dir(o.data_dir), "train");
    description = "Fashion-MNIST training split";
    return nn::fit_to_input(d.images, model);
  }
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  if (fs::is_directory(o.data)) {
    for (const auto& e : fs::directory_iterator(o.data)) {
      if (e.path().extension() == ".npy") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw Error("--data '{}' is a folder without .npy or image (.png, .jpg, .jpeg, .bmp) files", o.data);
  } else if (fs::exists(o.data)) {
    files.push_back(o.data);
  } else {
    throw Error("--data '{}' is neither 'fashion-mnist', a .npy file nor a folder of them", o.data);
  }
  description = files.size() == 1 && !fs::is_directory(o.data) ? fmt::format("'{}'", o.data)
                                                                 : fmt::format("folder '{}' ({} .npy files)", o.data, files.size());
  std::vector<Tensor> parts;
  std::int64_t rows = 0;
  for (const auto& f : files) {
    Tensor t = io::read_npy(f);
    model.check_input(t, f.c_str());
    rows += t.dim(0);
    parts.push_back(std::move(t));
  }
  Shape s = parts[0].shape();
  Shape all{rows};
  for (int i = 1; i < s.rank(); ++i) all.push_back(s[i]);
  Tensor x(all);
  std::int64_t off = 0;
  for (const auto& p : parts) {
    std::copy(p.data(), p.data() + p.numel(), x.data() + off);
    off += p.numel();
  }
  return x;
}

double peak_resident_mib() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Loads a matching checkpoint into the collector; returns the samples it covers. Everything that
// decides the bits of the sums must agree, or the continued run would silently differ from (or
// be meaningless next to) an uninterrupted one.
std::int64_t resume_from(const FitOptions& o, const explain::StatsIdentity& id, dist::Range range,
                         explain::StatsCollector& collector) {
  const explain::StatsHeader h = [&] {
    try {
      return explain::read_stats_header(o.checkpoint);
    } catch (const Error& e) {
      throw Error("--resume: cannot continue from --checkpoint '{}': {}", o.checkpoint, e.what());
    }
  }();
  std::vector<std::string> mismatches = explain::identity_mismatches(h.identity, id);
  const std::vector<std::string> names = collector.layer_names();
  std::vector<explain::StatsLayer> ours;
  ours.reserve(names.size());
  for (std::size_t k = 0; k < names.size(); ++k) ours.push_back({names[k], collector.stats()[k].inputs(), collector.stats()[k].neurons()});
  if (h.layers != ours) mismatches.push_back("layers: the file's dense/conv layers (names, inputs, neurons) are not the model's");
  if (!mismatches.empty()) {
    std::string list;
    for (const auto& m : mismatches) list += "\n  " + m;
    throw Error("--resume: checkpoint '{}' belongs to another run:{}\nresume with the same --model, --estimator, --data, --limit, "
                "--batch and --preprocess, or name another --checkpoint file to start over",
                o.checkpoint, list);
  }
  if (h.identity.shard != id.shard) {
    throw Error("--resume: checkpoint '{}' belongs to {}, this run to {}", o.checkpoint,
                h.identity.shard.empty() ? "the whole data set" : "shard " + h.identity.shard,
                id.shard.empty() ? "the whole data set" : "shard " + id.shard);
  }
  const std::int64_t end = h.first + h.images;
  if (h.first != range.begin || end > range.end || (h.images % o.batch != 0 && end != range.end)) {
    throw Error("--resume: checkpoint '{}' covers samples [{}, {}), which is not a batch boundary of this run's samples "
                "[{}, {}) in batches of {}",
                o.checkpoint, h.first, end, range.begin, range.end, o.batch);
  }
  if (h.identity.kernels != id.kernels || h.identity.threads != id.threads) {
    fmt::print(stderr,
               "patternnet: warning: checkpoint '{}' was written with the {} kernels and {} threads, this run uses {} and {}: "
               "the patterns are as valid, but may differ in the last bits from an uninterrupted run\n",
               o.checkpoint, h.identity.kernels, h.identity.threads, id.kernels, id.threads);
  }
  try {
    explain::read_stats_sums(h, collector.stats());
  } catch (const Error& e) {
    throw Error("--resume: cannot continue from --checkpoint '{}': {}", o.checkpoint, e.what());
  }
  collector.set_rows_seen(static_cast<double>(h.images));
  return end;
}

// A SIGKILL leaves its temporary file behind (nothing runs to remove it). It is harmless and never
// read, but the user may want the space back; deleting it is theirs to decide.
void note_leftovers(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string prefix = p.filename().string() + ".tmp.";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) {
      fmt::print(stderr, "patternnet: note: '{}' is left over from an interrupted checkpoint write and is not needed\n",
                 e.path().string());
    }
  }
}

// Which part of the data this process collects: a --shard, its MPI rank's share, or everything.
dist::Shard choose_part(const FitOptions& o) {
  if (dist::size() > 1) {
    if (!o.shard.empty()) throw Error("--shard and mpirun do not combine: under mpirun every rank is one shard already");
    if (!o.checkpoint.empty()) {
      throw Error("--checkpoint under mpirun: a restartable distributed fit is a set of --shard runs (one per job, each "
                  "with its own --checkpoint) merged by merge-stats");
    }
    return {dist::rank(), dist::size()};
  }
  return o.shard.empty() ? dist::Shard{} : dist::parse_shard(o.shard, "--shard");
}

int run_fit(FitOptions o) {
  namespace fs = std::filesystem;
  const auto t_run = std::chrono::steady_clock::now();
  const bool root = dist::is_root();
  const explain::Estimator est = explain::estimator_from_name(o.estimator);
  if (est == explain::Estimator::identity) throw Error("--estimator identity has no pattern to fit (S_x(x) = x)");
  const bool needs_data = est == explain::Estimator::linear || est == explain::Estimator::two_component;
  const bool checkpointing = !o.checkpoint.empty();
  if (!o.shard.empty() && !o.out.empty()) {
    throw Error("--out with --shard: one shard's statistics are a part of the data set; write them with --stats-out and "
                "fit the patterns of all parts with `patternnet merge-stats PARTS... --out`");
  }
  if (!o.shard.empty() && o.stats_out.empty()) throw Error("--shard needs --stats-out FILE for the shard's statistics");
  if (o.out.empty() && o.stats_out.empty()) throw Error("name the output: --out patterns.safetensors and/or --stats-out");
  if (checkpointing && !needs_data) {
    throw Error("--checkpoint: the {} estimator uses no data, so there are no statistics to save", explain::estimator_name(est));
  }
  if (!o.stats_out.empty() && !needs_data) {
    throw Error("--stats-out: the {} estimator uses no data, so there are no statistics to write", explain::estimator_name(est));
  }
  const dist::Shard part = choose_part(o);
  if (!o.out.empty()) require_writable_destination(o.out);
  if (!o.stats_out.empty()) require_writable_destination(o.stats_out);
  std::error_code e1, e2;
  if (!o.out.empty() && !o.stats_out.empty() && fs::weakly_canonical(o.stats_out, e1) == fs::weakly_canonical(o.out, e2)) {
    throw Error("--stats-out and --out both name '{}'", o.out);
  }
  bool resuming = false;
  if (checkpointing) {
    require_writable_destination(o.checkpoint);
    if (fs::is_directory(o.checkpoint)) throw Error("--checkpoint '{}' is a folder; name a file", o.checkpoint);
    for (const std::string* other : {&o.out, &o.stats_out}) {
      if (!other->empty() && fs::weakly_canonical(o.checkpoint, e1) == fs::weakly_canonical(*other, e2) && !e1 && !e2) {
        throw Error("--checkpoint and --{} both name '{}'", other == &o.out ? "out" : "stats-out", *other);
      }
    }
    // Refused rather than overwritten: a checkpoint may hold hours of work, and deleting it is the
    // user's decision. Checked before the model loads, so a forgotten --resume fails at once.
    resuming = fs::exists(o.checkpoint);
    if (resuming && !o.resume) {
      throw Error("--checkpoint '{}' already exists: pass --resume to continue from it, or name another file "
                  "(an existing checkpoint is never overwritten)",
                  o.checkpoint);
    }
  }
  const nn::Sequential model = nn::load_model(o.model, o.arch);
  if (o.batch == 0) o.batch = nn::batch_for_memory(model);
  const Source src = load_source(o, model);
  const std::int64_t n = src.n;
  if (n == 0) throw Error("--data '{}' holds no samples", o.data);
  const dist::Range range = dist::shard_range(n, o.batch, part);

  // The linear estimator needs no regime sums: a third of the statistics work.
  explain::StatsCollector collector(model, false, est == explain::Estimator::two_component);
  collector.set_exact(o.exact_stats);
  explain::StatsIdentity id;
  id.model_fingerprint = model.fingerprint();
  id.estimator = explain::estimator_name(est);
  id.regimes = est == explain::Estimator::two_component;
  id.second_moments = false;
  id.data = src.description;
  id.data_fingerprint = src.fingerprint;
  id.samples = n;
  id.batch = o.batch;
  id.preprocess = src.preprocess;
  id.kernels = fmt::format("{}{}", kernels::active().name, o.exact_stats ? ", exact conv statistics" : "");
  id.threads = omp_get_max_threads();
  id.model_path = fs::absolute(o.model).string();
  id.arch = o.arch;
  id.shard = o.shard.empty() ? std::string() : part.text();

  std::int64_t start = range.begin;
  if (resuming) {
    note_leftovers(o.checkpoint);
    start = resume_from(o, id, range, collector);
    if (part.count == 1) {
      fmt::print("resumed from checkpoint '{}' at sample {} of {}\n", o.checkpoint, start, n);
    } else {
      fmt::print("resumed from checkpoint '{}' at sample {} of shard {}'s [{}, {})\n", o.checkpoint, start, part.text(),
                 range.begin, range.end);
    }
  } else if (checkpointing && o.resume) {
    fmt::print("no checkpoint '{}' yet: starting at sample {}\n", o.checkpoint, range.begin);
  }
  if (part.count > 1 && root) {
    fmt::print("{}: samples [{}, {}) of {} ({} batches of {})\n",
               dist::size() > 1 ? fmt::format("{} MPI ranks, rank 0", dist::size()) : fmt::format("shard {}", part.text()),
               range.begin, range.end, n, (range.size() + o.batch - 1) / o.batch, o.batch);
  }

  if (needs_data) {
    // A part that does not begin with the data set's first batch takes its reference points from
    // that batch, as a single pass would: then the parts' sums add up to the single pass's.
    if (!resuming && (range.begin > 0 || range.size() == 0)) collector.set_reference(src.data.batch(0, std::min(n, o.batch)));
    const std::vector<std::string> names = collector.layer_names();
    std::int64_t written = 0, last = start;
    double write_seconds = 0;
    // Checkpoints fall on batch boundaries only, so a resumed run forms the same batches as an
    // uninterrupted one; the last one, at the range's end, holds all of this run's statistics.
    const auto save = [&](std::int64_t upto) {
      const auto t0 = std::chrono::steady_clock::now();
      explain::write_stats_file(o.checkpoint, id, range.begin, upto - range.begin, names, collector.stats());
      write_seconds += seconds_since(t0);
      last = upto;
      if (++written == o.kill_after_checkpoints) {
        std::fflush(stdout);
        std::raise(SIGKILL);
      }
    };
    Progress bar("fit-patterns", root ? range.end - start : 0, "img");
    for (std::int64_t b = start; b < range.end; b += o.batch) {
      const std::int64_t e = std::min(range.end, b + o.batch);
      collector.add_batch(src.data.batch(b, e));
      if (checkpointing && (e - last >= o.checkpoint_every || e == range.end)) save(e);
      if (root) bar.advance(e - b, start > range.begin ? fmt::format("{}/{} overall", e - range.begin, range.size()) : std::string());
    }
    bar.finish();
    const double secs = bar.elapsed_seconds();
    const double rate = static_cast<double>(range.end - start) / std::max(1e-9, secs);
    const int digits = rate < 10 ? 2 : 0;  // VGG-16 at 224 fits about one image per second
    if (start == range.end && range.size() > 0) {
      fmt::print("statistics from {} samples, all from the checkpoint\n", range.size());
    } else if (start > range.begin) {
      fmt::print("statistics from {} samples: {} from the checkpoint, {} in {} ({:.{}f} samples/s)\n", range.size(),
                 start - range.begin, range.end - start, format_duration(secs), rate, digits);
    } else if (root) {
      fmt::print("statistics from {} samples in {} ({:.{}f} samples/s{})\n", range.size(), format_duration(secs), rate, digits,
                 dist::size() > 1 ? " on rank 0" : "");
    }
    if (written > 0) {
      std::error_code ec;
      const auto bytes = fs::file_size(o.checkpoint, ec);
      fmt::print("checkpoint '{}': written {} time{} ({:.1f} MiB, {} in all)\n", o.checkpoint, written, written == 1 ? "" : "s",
                 ec ? 0.0 : static_cast<double>(bytes) / (1 << 20), format_duration(write_seconds));
    }
    if (dist::size() > 1) {
      // Every rank's sums onto rank 0; the others are done.
      const auto t0 = std::chrono::steady_clock::now();
      dist::reduce_stats(collector.stats());
      if (!root) return 0;
      collector.set_rows_seen(static_cast<double>(n));
      fmt::print("statistics of {} ranks summed on rank 0 in {}\n", dist::size(), format_duration(seconds_since(t0)));
    }
    if (!o.stats_out.empty()) {
      const dist::Range whole = dist::size() > 1 ? dist::Range{0, n} : range;
      explain::write_stats_file(o.stats_out, id, whole.begin, whole.size(), names, collector.stats());
      fmt::print("statistics of samples [{}, {}) written to {}\n", whole.begin, whole.end, o.stats_out);
    }
  } else if (!root) {
    return 0;  // patterns without data: rank 0 alone writes them
  }
  if (!o.out.empty()) {
    explain::Patterns p = explain::fit_patterns(model, needs_data ? &collector : nullptr, est, o.seed);
    // Explaining an image must repeat the preprocessing the statistics saw (`explain` checks it).
    if (needs_data && src.preprocess != "none") p.preprocess = src.preprocess;
    print_pattern_report(p);
    explain::save_patterns(o.out, p);
    fmt::print("{} patterns for {} layers written to {}\n", explain::estimator_name(est), p.layers.size(), o.out);
  }
  const double total = seconds_since(t_run);
  const std::int64_t images = needs_data ? (dist::size() > 1 ? n : range.end - start) : 0;
  fmt::print("run: {} images in {} ({:.1f} images/s{}), peak resident memory {:.1f} MiB\n", images, format_duration(total),
             static_cast<double>(images) / std::max(1e-9, total), dist::size() > 1 ? " over all ranks" : "",
             peak_resident_mib());
  return 0;
}

}  // namespace

Runner add_fit_patterns(CLI::App& app) {
  auto o = std::make_shared<FitOptions>();
  auto* sub = app.add_subcommand("fit-patterns", "Fit signal-estimator patterns of every dense and conv layer");
  sub->add_option("--model", o->model, "Model file (.safetensors)")->required();
  sub->add_option("--arch", o->arch, "Bind a file without pn.architecture to this builder (e.g. vgg16)");
  sub->add_option("--data", o->data, "fashion-mnist, an (N, C, H, W) .npy file, a folder of them, or a folder of images")->required();
  sub->add_option("--preprocess", o->preprocess, "For image folders: auto, caffe, torchvision or unit");
  sub->add_option("--data-dir", o->data_dir, "Fashion-MNIST folder");
  sub->add_option("--estimator", o->estimator, "linear, two_component, filter or random")->required();
  sub->add_option("--limit", o->limit, "Use the first N samples only")->check(CLI::PositiveNumber);
  sub->add_option("--batch", o->batch,
                  "Samples per forward pass (default 128, fewer when one batch's trace would pass 2 GiB: 18 for VGG-16 at 224)")
      ->check(CLI::Range(1, 65536));
  sub->add_option("--seed", o->seed, "Seed of the random estimator");
  sub->add_option("--out", o->out, "Patterns file to write (.safetensors)");
  sub->add_flag("--exact-stats", o->exact_stats,
                "Sum the conv layers' statistics in double as the dense layers' are (about 1e-13 relative instead "
                "of about 1e-9; a few times slower)");
  sub->add_option("--stats-out", o->stats_out,
                  "Also (or, with --shard, only) write the raw statistics (.safetensors) for merge-stats");
  sub->add_option("--shard", o->shard,
                  "I/N: collect only shard I (0 to N-1) of N, whole batches of the data set; needs --stats-out");
  auto* ck = sub->add_option("--checkpoint", o->checkpoint,
                             "Statistics file (.safetensors) saved every --checkpoint-every samples and at the end; "
                             "an existing one is refused without --resume");
  sub->add_option("--checkpoint-every", o->checkpoint_every, "Samples between checkpoints (default 1000)")
      ->check(CLI::PositiveNumber)
      ->needs(ck);
  sub->add_flag("--resume", o->resume,
                "Continue from --checkpoint if it exists (same model, estimator, data, --limit, --batch, --preprocess)")
      ->needs(ck);
  // Testing only (hidden): dies by SIGKILL right after the N-th checkpoint, like a killed job.
  sub->add_option("--kill-after-checkpoints", o->kill_after_checkpoints)->group("")->check(CLI::PositiveNumber);
  return [o] { return run_fit(*o); };
}

}  // namespace pn::cli
