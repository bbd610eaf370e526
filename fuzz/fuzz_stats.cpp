// Statistics files (explain/stats_checkpoint): read_stats_header validates the metadata and the
// tensor layout of a safetensors file, read_stats_sums loads every layer's F64 sums into
// PatternStats and verifies the checksum. Both run on every input that gets that far.
#include "fuzz_common.h"

#include "pn/explain/stats_checkpoint.h"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const pnfuzz::TempFile file(".safetensors");
  const std::string& path = file.write(data, size);
  pnfuzz::expect_only_pn_errors([&] {
    const pn::explain::StatsHeader header = pn::explain::read_stats_header(path);
    std::vector<pn::explain::PatternStats> stats(header.layers.size());
    pn::explain::read_stats_sums(header, stats);
  });
  return 0;
}
