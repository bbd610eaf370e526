#include "pn/dist/shard.h"

#include "pn/core/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace pn::dist {

std::string Shard::text() const { return fmt::format("{}/{}", index, count); }

Shard parse_shard(const std::string& text, const char* flag) {
  const auto slash = text.find('/');
  const auto number = [&](std::string_view part, std::int64_t& v) {
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    return !part.empty() && ec == std::errc() && end == part.data() + part.size();
  };
  Shard s;
  if (slash == std::string::npos || !number(std::string_view(text).substr(0, slash), s.index) ||
      !number(std::string_view(text).substr(slash + 1), s.count)) {
    throw Error("{} '{}': expected I/N, e.g. 0/4 for the first of four shards", flag, text);
  }
  if (s.count < 1) throw Error("{} '{}': the number of shards N must be at least 1", flag, text);
  if (s.index < 0 || s.index >= s.count) {
    throw Error("{} '{}': the shard index I counts from 0 to N-1 = {}", flag, text, s.count - 1);
  }
  return s;
}

// [book:shard_range]
Range shard_range(std::int64_t n, std::int64_t batch, Shard s) {
  if (n < 0 || batch < 1) throw Error("shard_range: needs n >= 0 and batch >= 1, got n = {}, batch = {}", n, batch);
  if (s.count < 1 || s.index < 0 || s.index >= s.count) throw Error("shard_range: invalid shard {}", s.text());
  const std::int64_t batches = (n + batch - 1) / batch;
  // The first B mod N shards take one batch more than the others.
  const std::int64_t q = batches / s.count, r = batches % s.count;
  const auto first_batch = [&](std::int64_t i) { return i * q + std::min(i, r); };
  const std::int64_t b0 = first_batch(s.index), b1 = first_batch(s.index + 1);
  return {std::min(n, b0 * batch), std::min(n, b1 * batch)};
}
// [/book:shard_range]

}  // namespace pn::dist
