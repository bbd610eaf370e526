// Helpers for tests that read and write files: a temporary folder removed afterwards, and the
// message of the pn::Error a call throws.
#pragma once

#include "pn/core/error.h"

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <iterator>
#include <string>

namespace pntest {

class TempDir {
public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pn_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }
  // Entries in the folder (to check that no temporary file was left behind).
  std::size_t count() const {
    return static_cast<std::size_t>(
        std::distance(std::filesystem::directory_iterator(path_), std::filesystem::directory_iterator()));
  }

private:
  std::string path_;
};

// The what() of the pn::Error that f throws, or "<no error>".
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pn::Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace pntest
