#include "pn/core/atomic_file.h"

#include "pn/core/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace pn {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  std::vector<char> name(path_.begin(), path_.end());
  const char suffix[] = ".tmp.XXXXXX";
  name.insert(name.end(), suffix, suffix + sizeof(suffix));  // includes the terminating zero
  const int fd = ::mkstemp(name.data());
  if (fd < 0) throw Error("cannot create a file next to '{}': {}", path_, std::strerror(errno));
  temp_ = name.data();
  ::fchmod(fd, 0644);
  file_ = ::fdopen(fd, "wb");
  if (!file_) {
    ::close(fd);
    ::unlink(temp_.c_str());
    throw Error("cannot open '{}' for writing: {}", temp_, std::strerror(errno));
  }
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t bytes) {
  if (bytes == 0) return;
  if (std::fwrite(data, 1, bytes, file_) != bytes) {
    throw Error("writing '{}' failed: {}", path_, std::strerror(errno));
  }
}

void AtomicFile::write_at(std::uint64_t offset, const void* data, std::size_t bytes) {
  if (bytes == 0) return;
  // pwrite leaves the stream's position (the end) alone, so later write() calls still append.
  if (std::fflush(file_) != 0 ||
      ::pwrite(::fileno(file_), data, bytes, static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes)) {
    throw Error("writing '{}' failed: {}", path_, std::strerror(errno));
  }
}

void AtomicFile::commit() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
    throw Error("writing '{}' failed: {}", path_, std::strerror(errno));
  }
  std::fclose(file_);
  file_ = nullptr;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    throw Error("cannot move the finished file into place as '{}': {}", path_, std::strerror(errno));
  }
  committed_ = true;
  // Persist the rename itself: fsync the folder.
  std::string dir = path_;
  const auto slash = dir.find_last_of('/');
  dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void require_writable_destination(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (::access(dir.c_str(), W_OK) != 0) {
    throw Error("cannot write '{}': folder '{}' {}", path, dir, errno == ENOENT ? "does not exist" : std::strerror(errno));
  }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  AtomicFile f(path);
  f.write(contents.data(), contents.size());
  f.commit();
}

}  // namespace pn
