// pn::AtomicFile: writes a file so that readers see either the old file or the complete new one.
// Data goes to a temporary file in the destination's folder; commit() flushes, fsyncs and renames
// it over the destination. If commit() is never reached (an error, an exception), the destructor
// removes the temporary file, so an interrupted run leaves no half-written output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace pn {

class AtomicFile {
public:
  explicit AtomicFile(std::string path);  // throws pn::Error when the folder is not writable
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t bytes);
  // Overwrites bytes already written, at offset from the start: for a value in a header that is
  // only known once the data after it has been written (a checksum), without holding it all.
  void write_at(std::uint64_t offset, const void* data, std::size_t bytes);
  void commit();

  const std::string& path() const { return path_; }

private:
  std::string path_;
  std::string temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// Throws pn::Error unless a file can be created at path (its folder exists and is writable):
// programs call it before long work, so a bad --out fails in a second, not after an hour.
void require_writable_destination(const std::string& path);

// Writes the whole string atomically (small text outputs: CSV, JSON, Markdown).
void write_file_atomic(const std::string& path, const std::string& contents);

}  // namespace pn
