// Running gnuplot for the figures (plot.h) and the labelled image grids (grid.h): a scratch folder
// for the script and gnuplot's raw output, and one way to start gnuplot (no shell, stdin from
// /dev/null, its messages captured for the pn::Error when it fails).
#pragma once

#include <string>

namespace pn::viz {

// A fresh folder under $TMPDIR (or /tmp) named <prefix>-XXXXXX, removed with everything in it
// unless keep() was called (a failed run keeps its script and log for inspection).
class ScratchDir {
public:
  explicit ScratchDir(const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  void keep() { keep_ = true; }
  const std::string& path() const { return path_; }

private:
  std::string path_;
  bool keep_ = false;
};

// The file's bytes; empty when it cannot be read.
std::string read_file_bytes(const std::string& path);

// Runs `gnuplot <script>` with stdout and stderr into log. Throws pn::Error naming the command
// when gnuplot is missing, cannot start or fails (quoting the end of its log). ran (optional) is
// set once gnuplot has started: a failure after that is worth keeping the script for.
void run_gnuplot(const std::string& script, const std::string& log, bool* ran = nullptr);

}  // namespace pn::viz
