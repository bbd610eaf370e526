// `patternnet merge-stats PARTS... --out patterns.safetensors`: the reduce step of a sharded fit.
// Each part is a statistics file of `fit-patterns --shard I/N --stats-out`; the parts must come
// from the same model, estimator, data and preprocessing and together cover every sample exactly
// once. Their sums are merged (PatternStats::merge) and the patterns fitted from the total, as
// fit-patterns would on the whole data set. Chapter 11.
#include "cli/commands.h"
#include "cli/pattern_report.h"
#include "pn/core/atomic_file.h"
#include "pn/core/error.h"
#include "pn/explain/fit_patterns.h"
#include "pn/explain/stats_checkpoint.h"
#include "pn/nn/model_io.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

namespace pn::cli {
namespace {

struct MergeOptions {
  std::vector<std::string> parts;
  std::string out, stats_out, model, arch;
};

std::string label(const explain::StatsHeader& h) {
  return h.identity.shard.empty() ? fmt::format("'{}'", h.path) : fmt::format("'{}' (shard {})", h.path, h.identity.shard);
}

// Every sample in exactly one part: sorted by their first sample, each part must start where the
// previous one ended, from 0 to the data set's size.
void check_coverage(std::vector<const explain::StatsHeader*> parts) {
  std::stable_sort(parts.begin(), parts.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  const std::int64_t n = parts.front()->identity.samples;
  std::int64_t covered = 0;
  const explain::StatsHeader* prev = nullptr;
  for (const auto* p : parts) {
    if (p->first < covered) {
      throw Error("{} covers samples [{}, {}) and {} covers [{}, {}): they overlap (a shard given twice?)", label(*prev),
                  prev->first, prev->first + prev->images, label(*p), p->first, p->first + p->images);
    }
    if (p->first > covered) {
      throw Error("samples [{}, {}) of {} are in no part: a shard is missing{}", covered, p->first, n,
                  prev ? fmt::format(" (between {} and {})", label(*prev), label(*p)) : fmt::format(" (before {})", label(*p)));
    }
    covered = p->first + p->images;
    prev = p;
  }
  if (covered != n) {
    throw Error("samples [{}, {}) of {} are in no part: a shard is missing (after {})", covered, n, n, label(*prev));
  }
}

int run_merge(const MergeOptions& o) {
  if (o.out.empty() && o.stats_out.empty()) throw Error("name the output: --out patterns.safetensors and/or --stats-out");
  if (!o.out.empty()) require_writable_destination(o.out);
  if (!o.stats_out.empty()) require_writable_destination(o.stats_out);

  std::vector<explain::StatsHeader> headers;
  headers.reserve(o.parts.size());
  for (const auto& path : o.parts) headers.push_back(explain::read_stats_header(path));
  const explain::StatsHeader& first = headers.front();
  for (std::size_t k = 1; k < headers.size(); ++k) {
    const explain::StatsHeader& h = headers[k];
    const std::vector<std::string> m = explain::identity_mismatches(h.identity, first.identity);
    const bool same_layers = h.layers == first.layers;
    if (!m.empty() || !same_layers) {
      std::string list;
      for (const auto& line : m) list += "\n  " + line;
      if (!same_layers) list += "\n  layers: the two files hold the statistics of different layers";
      throw Error("{} and {} are not parts of one fit (\"file\" below is the first, \"run\" the other):{}", label(h),
                  label(first), list);
    }
  }
  std::vector<const explain::StatsHeader*> ptrs;
  ptrs.reserve(headers.size());
  for (const auto& h : headers) ptrs.push_back(&h);
  check_coverage(ptrs);

  // The model: --model, or the file the parts were fitted with (recorded in them).
  const std::string model_path = !o.model.empty() ? o.model : first.identity.model_path;
  const std::string arch = !o.model.empty() ? o.arch : (!o.arch.empty() ? o.arch : first.identity.arch);
  if (model_path.empty()) throw Error("{} does not record its model file: pass --model", label(first));
  if (o.model.empty() && !std::filesystem::exists(model_path)) {
    throw Error("the parts were fitted with the model '{}', which does not exist here: pass --model", model_path);
  }
  const nn::Sequential model = nn::load_model(model_path, arch);
  if (model.fingerprint() != first.identity.model_fingerprint) {
    throw Error("model '{}' (fingerprint {}) is not the model the parts were fitted with (fingerprint {})", model_path,
                model.fingerprint(), first.identity.model_fingerprint);
  }

  // Sum the parts, one file at a time (peak memory: the total plus one part).
  const explain::StatsIdentity& id = first.identity;
  explain::StatsCollector total(model, id.second_moments, id.regimes);
  const std::vector<std::string> names = total.layer_names();
  if (names.size() != first.layers.size()) {
    throw Error("model '{}' has {} dense/conv layers, the parts {}", model_path, names.size(), first.layers.size());
  }
  for (std::size_t l = 0; l < names.size(); ++l) {
    const auto& s = total.stats()[l];
    if (names[l] != first.layers[l].name || s.inputs() != first.layers[l].d || s.neurons() != first.layers[l].o) {
      throw Error("model '{}': layer {} is '{}' ({} inputs, {} neurons), the parts have '{}' ({}, {})", model_path, l, names[l],
                  s.inputs(), s.neurons(), first.layers[l].name, first.layers[l].d, first.layers[l].o);
    }
  }
  for (const auto* h : ptrs) {
    std::vector<explain::PatternStats> part(total.stats().size());
    explain::read_stats_sums(*h, part);
    for (std::size_t l = 0; l < part.size(); ++l) total.stats()[l].merge(part[l]);
  }
  total.set_rows_seen(static_cast<double>(id.samples));
  fmt::print("merged {} part{} covering samples [0, {}) of {}\n", headers.size(), headers.size() == 1 ? "" : "s", id.samples,
             id.data);

  if (!o.stats_out.empty()) {
    explain::StatsIdentity merged = id;
    merged.shard.clear();
    explain::write_stats_file(o.stats_out, merged, 0, id.samples, names, total.stats());
    fmt::print("statistics of samples [0, {}) written to {}\n", id.samples, o.stats_out);
  }
  if (!o.out.empty()) {
    const explain::Estimator est = explain::estimator_from_name(id.estimator);
    explain::Patterns p = explain::fit_patterns(model, &total, est);
    if (id.preprocess != "none") p.preprocess = id.preprocess;
    print_pattern_report(p);
    explain::save_patterns(o.out, p);
    fmt::print("{} patterns for {} layers written to {}\n", id.estimator, p.layers.size(), o.out);
  }
  return 0;
}

}  // namespace

Runner add_merge_stats(CLI::App& app) {
  auto o = std::make_shared<MergeOptions>();
  auto* sub = app.add_subcommand("merge-stats", "Merge the statistics files of fit-patterns --shard runs and fit the patterns");
  sub->add_option("parts", o->parts, "Statistics files (.safetensors) of all shards")->required()->check(CLI::ExistingFile);
  sub->add_option("--out", o->out, "Patterns file to write (.safetensors)");
  sub->add_option("--stats-out", o->stats_out, "Also write the merged statistics (.safetensors)");
  sub->add_option("--model", o->model, "Model file (default: the one recorded in the parts)");
  sub->add_option("--arch", o->arch, "Bind a --model file without pn.architecture to this builder");
  return [o] { return run_merge(*o); };
}

}  // namespace pn::cli
