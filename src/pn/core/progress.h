// A progress bar with rate and ETA for long work (training, pattern fitting, experiments).
// It draws on stderr only when stderr is a terminal, at most ten times a second, so logs and CI
// output stay clean; finish() clears the line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pn {

class Progress {
public:
  Progress(std::string label, std::int64_t total, std::string unit = "items");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::int64_t n = 1, const std::string& note = {});
  void finish();
  double elapsed_seconds() const;
  bool active() const { return enabled_; }

private:
  void draw(const std::string& note);

  std::string label_, unit_;
  std::int64_t total_, done_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1h02m", "3m05s", "12.3s"
std::string format_duration(double seconds);

}  // namespace pn
