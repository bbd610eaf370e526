// Shared by the libFuzzer targets: a private temporary file for the readers that take a path, and
// the rule every target applies: pn::Error is the expected answer to a bad file, anything else that
// escapes (another exception type, a crash, a sanitizer report, a leak, a time-out) is a finding.
#pragma once

#include "pn/core/error.h"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace pnfuzz {

// One file per fuzzing process, created once and rewritten for every input (libFuzzer runs inputs
// one after another in the same process). Removed at exit.
class TempFile {
public:
  explicit TempFile(const char* suffix) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/pn_fuzz_XXXXXX" + suffix;
    const int fd = ::mkstemps(tmpl.data(), static_cast<int>(std::string(suffix).size()));
    if (fd < 0) {
      std::perror("pn fuzz: mkstemps");
      std::abort();
    }
    ::close(fd);
    path_ = tmpl;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  // Replaces the file's contents; aborts (a harness failure, not a finding) if the disk refuses.
  const std::string& write(const std::uint8_t* data, std::size_t size) const {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
      std::perror("pn fuzz: writing the input file");
      std::abort();
    }
    return path_;
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

// Runs f; pn::Error is swallowed (the reader refused the input, as it should), and printed when
// PN_FUZZ_VERBOSE is set (to see why a seed is refused: run the target on the file alone). Any other
// exception is reported with its message and turned into an abort, which libFuzzer records as a
// crash.
template <class F>
void expect_only_pn_errors(F&& f) {
  static const bool verbose = std::getenv("PN_FUZZ_VERBOSE") != nullptr;
  try {
    f();
  } catch (const pn::Error& e) {
    if (verbose) std::fprintf(stderr, "pn::Error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pn fuzz: an exception other than pn::Error escaped: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "pn fuzz: a non-std exception escaped\n");
    std::abort();
  }
}

}  // namespace pnfuzz
