// Statistics files: the raw double sums of every dense and conv layer's PatternStats, the number
// of samples behind them and what they were collected from, in one safetensors file. Chapter 5.
//
// `fit-patterns --checkpoint` writes one periodically and resumes from it. The same file is meant to
// be the statistics of one shard of a data set (the sums over samples [first, first + images)):
// every value that merging needs — the sums, their reference points and the row counts — is stored
// bit for bit, so shards written by separate runs can be merged later (PatternStats::merge) with
// nothing recomputed.
//
// Tensors, all F64, for each dense/conv layer L in model order (D inputs per row, O neurons; the
// names of PatternStats::Raw):
//   L.n [1]  L.shift_x [D]  L.shift_y [O]  L.sy [O]  L.syy [O]  L.sx [D]  L.sxy [O, D]
//   regimes only:         L.npos [O]  L.sypos [O]  L.syypos [O]  L.sxpos [O, D]  L.sxypos [O, D]
//   second moments only:  L.sxx [D, D]
// __metadata__ (all strings): see StatsHeader below and the README ("Statistics files").
#pragma once

#include "pn/core/hash.h"

#include "pn/explain/pattern_stats.h"
#include "pn/io/safetensors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pn::explain {

inline constexpr const char* kStatsFormat = "patternnet.pattern-stats";
inline constexpr int kStatsFormatVersion = 1;

// What the sums were collected from. A run may continue (or, later, merge) a file only when all of
// it agrees, except kernels and threads: they may change the last bits of the sums, never their
// meaning, so they are recorded for the bit-identity guarantee but not required to match.
struct StatsIdentity {
  std::string model_fingerprint;  // pn.model_fingerprint: nn::Sequential::fingerprint()
  std::string estimator;          // pn.estimator: the estimator the run fits ("linear", "two_component")
  bool regimes = false;           // pn.statistics: "regimes" (two-component sums) or "linear"
  bool second_moments = false;    // pn.second_moments: "true" / "false" (Σx·xᵀ kept)
  std::string data;               // pn.data: a description of the data source, for messages
  std::string data_fingerprint;   // pn.data_fingerprint: hash of the samples (see cmd_fit_patterns)
  std::int64_t samples = 0;       // pn.samples: samples in the whole data set (after --limit)
  std::int64_t batch = 0;         // pn.batch: samples per forward pass
  std::string preprocess;         // pn.preprocess: image folders' preprocessing; "none" for tensors
  std::string kernels;            // pn.kernels: the active kernel table (informational)
  int threads = 0;                // pn.threads: OpenMP threads (informational)
  // Informational too, optional when reading (files written before they existed lack them):
  std::string model_path;         // pn.model_path: the --model file, absolute (merge-stats' default --model)
  std::string arch;               // pn.arch: its --arch binding, if any
  std::string shard;              // pn.shard: "I/N" for a file of fit-patterns --shard, else empty
};

struct StatsLayer {
  std::string name;
  std::int64_t d = 0, o = 0;  // inputs per row and neurons
  bool operator==(const StatsLayer&) const = default;
};

// A statistics file's metadata and layout, validated; the sums stay on disk until read_stats_sums.
struct StatsHeader {
  std::string path;
  StatsIdentity identity;
  std::int64_t first = 0;   // pn.first: index of the first sample covered (0 for a checkpoint)
  std::int64_t images = 0;  // pn.images: samples covered, [first, first + images)
  std::vector<StatsLayer> layers;  // pn.layers: JSON list of the layer names, in model order
  std::string checksum;     // pn.checksum: hash of first, images and every tensor's bytes
  io::SafetensorsReader file;
};

// Writes atomically (temporary file in the same folder, fsync, rename): readers, and a later
// resume, see the previous file or the complete new one. One layer's sums are copied at a time,
// so the transient memory is that of the largest layer. names: one per stats entry.
void write_stats_file(const std::string& path, const StatsIdentity& identity, std::int64_t first, std::int64_t images,
                      const std::vector<std::string>& names, const std::vector<PatternStats>& stats);

// Throws pn::Error naming the file when it is not a statistics file of this format, or is
// truncated or inconsistent.
StatsHeader read_stats_header(const std::string& path);

// Replaces stats[k] by the file's sums of layer k, one layer at a time (each old entry is freed
// before the next is read), and verifies the checksum. stats must have the file's layer count.
void read_stats_sums(const StatsHeader& header, std::vector<PatternStats>& stats);

// The ways a file's identity differs from a run's, one readable line each (empty when they agree).
std::vector<std::string> identity_mismatches(const StatsIdentity& file, const StatsIdentity& run);


}  // namespace pn::explain
